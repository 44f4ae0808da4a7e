package runner

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	rexec "hetalign/runner/exec"
	"hetalign/runner/plan"
	"hetalign/runner/steps"
	"hetalign/runner/store"
)

// tracker follows a run (rexec.Observer): on a terminal one live line —
// steps done of total, the running steps' names, an ETA — redrawn in
// place; elsewhere a structured "progress" log event every few seconds.
// It also hands each finished report step to onReport at once, so a
// spec's report appears as soon as it is complete.
type tracker struct {
	mu       sync.Mutex
	log      zerolog.Logger
	live     *LiveLine // the terminal's status line, or nil
	every    time.Duration
	jobs     int
	total    int
	done     int
	computed int
	failed   int
	started  time.Time
	lastDraw time.Time
	shown    bool
	running  map[int]runningStep
	outcomes map[int]*rexec.Outcome
	expect   map[int]float64 // expected seconds of the steps to run
	left     float64         // expected seconds of those not finished
	known    bool            // some expectation came from the cache
	onReport func(s *plan.Step, o *rexec.Outcome)
	observe  func(Progress)
	stop     chan struct{}
}

// Progress is the state of a run as the progress line shows it: steps
// done of total, computed and failed so far, the running steps' labels
// (oldest first) and the expected time left ("" while unknown).
type Progress struct {
	Done     int      `json:"done"`
	Total    int      `json:"total"`
	Computed int      `json:"computed"`
	Failed   int      `json:"failed"`
	Running  []string `json:"running"`
	ETA      string   `json:"eta,omitempty"`
}

type runningStep struct {
	label string
	since time.Time
}

func newTracker(g *plan.Graph, st *store.Store, opts Options, onReport func(*plan.Step, *rexec.Outcome)) *tracker {
	t := &tracker{log: opts.Log, live: opts.Progress, every: 2 * time.Second, jobs: max(1, opts.Jobs), total: len(g.Steps),
		started: time.Now(), running: map[int]runningStep{}, outcomes: map[int]*rexec.Outcome{}, onReport: onReport, observe: opts.Observe}
	t.expect, t.known = expectedSeconds(g, st)
	for _, v := range t.expect {
		t.left += v
	}
	// Redraw while long steps run, when no step starts or finishes.
	t.stop = make(chan struct{})
	tick := t.every
	if t.live != nil {
		tick = time.Second
	}
	go func() {
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tk.C:
				t.mu.Lock()
				t.draw(t.live != nil)
				t.mu.Unlock()
			}
		}
	}()
	return t
}

// expectedSeconds estimates how long each step that is not cached will
// take: what the cache's manifest says the same place took in the last
// run of its report (the index maps each role to the step that filled
// it), else the mean of the steps of the same kind that have a record.
func expectedSeconds(g *plan.Graph, st *store.Store) (map[int]float64, bool) {
	prev := map[string]string{} // role → key of the last run
	for _, r := range g.Reports {
		b, ok := st.Index(plan.IndexID(r.File.Name))
		if !ok {
			continue
		}
		idx := new(plan.Index)
		if json.Unmarshal(b, idx) == nil {
			for role, key := range idx.Roles {
				prev[role] = key
			}
		}
	}
	out := map[int]float64{}
	sum, n := map[string]float64{}, map[string]int{}
	var unknown []*plan.Step
	for _, s := range g.Steps {
		if st.Has(s.Key) {
			continue
		}
		found := false
		for _, role := range s.Roles {
			if key, ok := prev[role]; ok {
				if m, ok := st.Get(key); ok {
					out[s.Index] = m.Seconds
					sum[s.Kind] += m.Seconds
					n[s.Kind]++
					found = true
					break
				}
			}
		}
		if !found {
			unknown = append(unknown, s)
		}
	}
	for _, s := range unknown {
		if n[s.Kind] > 0 {
			out[s.Index] = sum[s.Kind] / float64(n[s.Kind])
		}
	}
	return out, len(n) > 0
}

// Started records a step that began computing.
func (t *tracker) Started(s *plan.Step) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running[s.Index] = runningStep{label: s.Label, since: time.Now()}
	t.draw(false)
}

// Finished records a step's outcome and writes a finished report.
func (t *tracker) Finished(s *plan.Step, o *rexec.Outcome) {
	t.mu.Lock()
	t.done++
	if o.Err != nil {
		t.failed++
	} else if !o.Cached && !o.Skipped {
		t.computed++
	}
	delete(t.running, s.Index)
	t.outcomes[s.Index] = o
	t.left -= t.expect[s.Index]
	t.draw(false)
	t.mu.Unlock()
	if s.Kind == steps.Report && t.onReport != nil {
		t.onReport(s, o)
	}
}

// outcome is the outcome of step i, nil while it is not finished.
func (t *tracker) outcome(i int) *rexec.Outcome {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.outcomes[i]
}

// Print runs f (which writes to stdout) with the live line cleared.
func (t *tracker) Print(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clear()
	f()
	t.draw(true)
}

// finish stops redrawing and clears the live line.
func (t *tracker) finish() {
	close(t.stop)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clear()
}

func (t *tracker) clear() {
	if t.live != nil && t.shown {
		t.live.Set("")
		t.shown = false
	}
}

// eta is the expected time to the end: the expected seconds of the steps
// left spread over the workers, less what the running ones have done;
// without records, the mean duration of the steps computed so far.
func (t *tracker) eta() (time.Duration, bool) {
	now := time.Now()
	left := t.left
	if !t.known {
		if t.computed == 0 {
			return 0, false
		}
		per := now.Sub(t.started).Seconds() * float64(t.jobs) / float64(t.computed)
		left = per * float64(t.total-t.done)
	}
	for i, r := range t.running {
		left -= min(t.expect[i], now.Sub(r.since).Seconds())
	}
	return time.Duration(max(0, left) / float64(t.jobs) * float64(time.Second)), true
}

func (t *tracker) runningNames(n int) []string {
	type entry struct {
		label string
		since time.Time
	}
	var es []entry
	for _, r := range t.running {
		es = append(es, entry{r.label, r.since})
	}
	sort.Slice(es, func(i, j int) bool {
		return es[i].since.Before(es[j].since) || es[i].since.Equal(es[j].since) && es[i].label < es[j].label
	})
	var out []string
	for i, e := range es {
		if i == n {
			out = append(out, fmt.Sprintf("+%d more", len(es)-n))
			break
		}
		out = append(out, e.label)
	}
	return out
}

// draw shows the state: the live line at most every 100 ms (force: now),
// or a log event every few seconds.
func (t *tracker) draw(force bool) {
	now := time.Now()
	eta, etaOK := t.eta()
	if t.observe != nil {
		p := Progress{Done: t.done, Total: t.total, Computed: t.computed, Failed: t.failed, Running: t.runningNames(8)}
		if etaOK {
			p.ETA = eta.Round(time.Second).String()
		}
		t.observe(p)
	}
	if t.live == nil {
		if now.Sub(t.lastDraw) < t.every && !force {
			return
		}
		t.lastDraw = now
		ev := t.log.Info().Int("done", t.done).Int("steps", t.total).Int("computed", t.computed).Int("failed", t.failed).
			Strs("running", t.runningNames(3))
		if etaOK {
			ev = ev.Str("eta", eta.Round(time.Second).String())
		}
		ev.Msg("progress")
		return
	}
	if now.Sub(t.lastDraw) < 100*time.Millisecond && !force {
		return
	}
	t.lastDraw = now
	line := fmt.Sprintf("%d/%d steps", t.done, t.total)
	if t.failed > 0 {
		line += fmt.Sprintf(", %d failed", t.failed)
	}
	if etaOK {
		line += ", ETA " + eta.Round(time.Second).String()
	}
	if names := t.runningNames(2); len(names) > 0 {
		line += " · " + strings.Join(names, "; ")
	}
	if r := []rune(line); len(r) > 150 {
		line = string(r[:149]) + "…"
	}
	t.live.Set(line)
	t.shown = true
}
