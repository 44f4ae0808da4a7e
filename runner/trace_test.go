package runner

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"

	rexec "hetalign/runner/exec"
	"hetalign/runner/plan"
	"hetalign/runner/spec"
	"hetalign/runner/store"
)

// trace is a recorded run: every step of a plan with its cost class, its
// inputs (indices of earlier steps) and the seconds it took (written by
// TestRecordTrace, replayed by TestETAReplay).
type trace struct {
	Jobs    int           `json:"jobs"`
	Specs   []string      `json:"specs"`
	Reports []traceReport `json:"reports"`
	Steps   []traceStep   `json:"steps"`
}

type traceReport struct {
	Name string `json:"name"`
	Step int    `json:"step"`
}

type traceStep struct {
	Kind    string  `json:"kind"`
	Class   string  `json:"class"`
	Size    float64 `json:"size"`
	Inputs  []int   `json:"inputs,omitempty"`
	Seconds float64 `json:"seconds"`
}

// replayed is what a replay saw: the ETA every simulated second, the
// true time left then, and when each report finished.
type replayed struct {
	at, eta, left []float64
	reports       map[string]float64
	end           float64
}

// replay runs the recorded trace through a tracker on a fake clock:
// jobs workers take ready steps in the ready queue's order (rexec.Priorities
// on the tracker's costs; fifo: in the graph's order, as before the queue
// had priorities), step i taking dur[i] seconds.
func replay(t *testing.T, tr *trace, shipped map[string]float64, dur []float64, fifo bool) replayed {
	t.Helper()
	g := &plan.Graph{}
	classes := make([]string, len(tr.Steps))
	sizes := make([]float64, len(tr.Steps))
	for i, ts := range tr.Steps {
		s := &plan.Step{Index: i, Kind: ts.Kind, Label: fmt.Sprintf("%s #%d", ts.Class, i)}
		for _, in := range ts.Inputs {
			s.Inputs = append(s.Inputs, g.Steps[in])
		}
		g.Steps = append(g.Steps, s)
		classes[i], sizes[i] = ts.Class, ts.Size
	}
	for _, r := range tr.Reports {
		g.Reports = append(g.Reports, plan.Report{File: &spec.File{Name: r.Name}, Step: g.Steps[r.Step]})
	}
	clock := time.Unix(0, 0)
	now := func() time.Time { return clock }
	m := newCostModel(classes, sizes, func(int) bool { return true }, func(int) (float64, bool) { return 0, false }, shipped)
	trk := newTrackerModel(g, m, Options{Jobs: tr.Jobs, Log: zerolog.Nop()}, now, nil)
	prio := rexec.Priorities(g, make([]*rexec.Outcome, len(g.Steps)), trk.Cost)
	before := func(a, b int) bool {
		if fifo {
			return a < b
		}
		return prio[a].Before(prio[b])
	}
	left := make([]int, len(g.Steps))
	users := make([][]int, len(g.Steps))
	var ready []int
	for i, s := range g.Steps {
		left[i] = len(s.Inputs)
		for _, in := range s.Inputs {
			users[in.Index] = append(users[in.Index], i)
		}
		if left[i] == 0 {
			ready = append(ready, i)
		}
	}
	type job struct {
		step int
		end  float64
	}
	var running []job
	out := replayed{reports: map[string]float64{}}
	reportName := map[int]string{}
	for _, r := range tr.Reports {
		reportName[r.Step] = r.Name
	}
	sec := func() float64 { return clock.Sub(time.Unix(0, 0)).Seconds() }
	set := func(s float64) { clock = time.Unix(0, 0).Add(time.Duration(s * float64(time.Second))) }
	nextSample := 0.0
	for len(ready) > 0 || len(running) > 0 {
		for len(running) < tr.Jobs && len(ready) > 0 {
			best := 0
			for k := range ready {
				if before(ready[k], ready[best]) {
					best = k
				}
			}
			i := ready[best]
			ready = append(ready[:best], ready[best+1:]...)
			trk.Started(g.Steps[i])
			running = append(running, job{i, sec() + dur[i]})
		}
		first := 0
		for k := range running {
			if running[k].end < running[first].end {
				first = k
			}
		}
		j := running[first]
		running = append(running[:first], running[first+1:]...)
		for ; nextSample < j.end; nextSample++ {
			set(nextSample)
			eta := trk.shownETA()
			out.at = append(out.at, nextSample)
			out.eta = append(out.eta, eta.Seconds())
		}
		set(j.end)
		trk.Finished(g.Steps[j.step], &rexec.Outcome{Manifest: &store.Manifest{}})
		if name, ok := reportName[j.step]; ok {
			out.reports[name] = j.end
		}
		for _, u := range users[j.step] {
			if left[u]--; left[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	out.end = sec()
	for _, a := range out.at {
		out.left = append(out.left, out.end-a)
	}
	return out
}

func loadTrace(t *testing.T) *trace {
	t.Helper()
	b, err := os.ReadFile("testdata/trace.json")
	if err != nil {
		t.Fatal(err)
	}
	tr := new(trace)
	if err := json.Unmarshal(b, tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// recorded are the trace's durations, times slow.
func recorded(tr *trace, slow float64) []float64 {
	d := make([]float64, len(tr.Steps))
	for i, ts := range tr.Steps {
		d[i] = ts.Seconds * slow
	}
	return d
}

// steady are durations at a steady rate: each step takes its class's
// shipped seconds per unit of size times its size, times slow (a machine
// that slow against the one that measured them).
func steady(tr *trace, shipped map[string]float64, slow float64) []float64 {
	d := make([]float64, len(tr.Steps))
	for i, ts := range tr.Steps {
		d[i] = shipped[ts.Class] * ts.Size * slow
	}
	return d
}

// TestETAReplay replays the recorded trace of a cold run of every paper
// spec (toy, survey, circular and lengths: the first `go tool task run`,
// two workers, 1,025 s) on a fake clock. At a steady
// rate — every step as long as the cost model expects, on a machine 2×
// faster, as fast or 3× slower — once the first third of the run has
// shown the machine's speed, the ETA shown every second never rises and is
// within a quarter of the time really left (or 5 s). With the durations as
// recorded (steps of one class vary), it is within half of the time left
// (or 20 s) past the first fifth of the run. Both failed before the
// shipped costs came from one run (the recorded replay showed 256 s with
// 512 s left) and before the ETA shown caught up with an estimate settled
// within its slack (at 3× slower it jumped by 395 s a third of the way).
func TestETAReplay(t *testing.T) {
	tr := loadTrace(t)
	shipped := loadShipped()
	check := func(t *testing.T, r replayed, monotone bool, from, tol, abs float64) {
		t.Helper()
		bad := 0
		for k := range r.at {
			if monotone && r.at[k] >= from*r.end && r.eta[k] > r.eta[k-1]+1e-9 {
				t.Errorf("t=%.0fs of %.0fs: the ETA rose from %.1fs to %.1fs", r.at[k], r.end, r.eta[k-1], r.eta[k])
			}
			if r.at[k] >= from*r.end && math.Abs(r.eta[k]-r.left[k]) > max(tol*r.left[k], abs) && bad < 5 {
				bad++
				t.Errorf("t=%.0fs of %.0fs: ETA %.1fs, but %.1fs were left", r.at[k], r.end, r.eta[k], r.left[k])
			}
		}
	}
	for _, slow := range []float64{0.5, 1, 3} {
		t.Run(fmt.Sprintf("steady×%v", slow), func(t *testing.T) {
			check(t, replay(t, tr, shipped, steady(tr, shipped, slow), false), true, 1.0/3, 0.25, 5)
		})
	}
	t.Run("recorded", func(t *testing.T) {
		check(t, replay(t, tr, shipped, recorded(tr, 1), false), false, 0.2, 0.5, 20)
	})
}
