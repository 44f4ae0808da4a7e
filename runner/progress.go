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
	begun    time.Time
	lastDraw time.Time
	shown    bool
	running  map[int]runningStep
	outcomes []*rexec.Outcome // by step index, nil while not finished
	cost     *costModel
	now      func() time.Time // the clock (a fake one replays a trace)
	// The critical path: path[i] is the estimated seconds of the longest
	// chain from step i to its report (rexec.Priorities); byPath lists the
	// steps to run longest path first, next the first of them not
	// started yet.
	path    []float64
	byPath  []int
	next    int
	started map[int]bool
	// The ETA shown last and when (see shownETA).
	lastETA   time.Duration
	lastETAAt time.Time
	etaShown  bool
	onReport  func(s *plan.Step, o *rexec.Outcome)
	observe   func(Progress)
	stop      chan struct{}
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
	classes, sizes := stepClass(g)
	t := newTrackerModel(g, newCostModel(classes, sizes, func(i int) bool { return !st.Has(g.Steps[i].Key) }, recordedSeconds(g, st), loadShipped()),
		opts, time.Now, onReport)
	t.observe = opts.Observe
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

// newTrackerModel is a tracker of g with cost model m and clock now that
// does not redraw by itself.
func newTrackerModel(g *plan.Graph, m *costModel, opts Options, now func() time.Time, onReport func(*plan.Step, *rexec.Outcome)) *tracker {
	t := &tracker{log: opts.Log, live: opts.Progress, every: 2 * time.Second, jobs: max(1, opts.Jobs), total: len(g.Steps),
		begun: now(), running: map[int]runningStep{}, outcomes: make([]*rexec.Outcome, len(g.Steps)), cost: m, now: now, onReport: onReport,
		started: map[int]bool{}}
	out := make([]*rexec.Outcome, len(g.Steps))
	for i := range out {
		if m.class[i] < 0 {
			out[i] = &rexec.Outcome{Cached: true}
		} else {
			t.byPath = append(t.byPath, i)
		}
	}
	pr := rexec.Priorities(g, out, t.Cost)
	t.path = make([]float64, len(g.Steps))
	for i := range pr {
		t.path[i] = pr[i].Path
	}
	sort.SliceStable(t.byPath, func(a, b int) bool { return t.path[t.byPath[a]] > t.path[t.byPath[b]] })
	return t
}

// recordedSeconds is the warm estimate of each step: what the cache's
// manifest says the same place took in the last run of its report (the
// index maps each role to the step that filled it).
func recordedSeconds(g *plan.Graph, st *store.Store) func(i int) (float64, bool) {
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
	return func(i int) (float64, bool) {
		if len(prev) == 0 {
			return 0, false
		}
		for _, role := range g.Steps[i].Roles {
			if key, ok := prev[role]; ok {
				if m, ok := st.Get(key); ok {
					return m.Seconds, true
				}
			}
		}
		return 0, false
	}
}

// Cost is the estimated seconds of step s (for the ready queue's order).
func (t *tracker) Cost(s *plan.Step) float64 {
	return t.cost.base[s.Index]
}

// Started records a step that began computing.
func (t *tracker) Started(s *plan.Step) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running[s.Index] = runningStep{label: s.Label, since: t.now()}
	t.started[s.Index] = true
	t.draw(false)
}

// Finished records a step's outcome and writes a finished report.
func (t *tracker) Finished(s *plan.Step, o *rexec.Outcome) {
	t.mu.Lock()
	t.done++
	if o.Err != nil {
		if !rexec.Interrupted(o.Err) {
			t.failed++
		}
	} else if !o.Cached && !o.Skipped {
		t.computed++
	}
	r, ran := t.running[s.Index]
	delete(t.running, s.Index)
	t.outcomes[s.Index] = o
	computed := ran && o.Err == nil && !o.Cached && !o.Skipped
	t.cost.finished(s.Index, t.now().Sub(r.since).Seconds(), computed)
	delete(t.started, s.Index)
	t.path[s.Index] = -1 // finished: off the critical path
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
// left (see costModel) less what the running ones have done, spread over
// the workers, or the longest chain of steps left if that is longer (the
// workers cannot all be busy to the end).
func (t *tracker) eta() time.Duration {
	now := t.now()
	ids := make([]int, 0, len(t.running))
	for i := range t.running {
		ids = append(ids, i)
	}
	t.cost.running(ids, func(i int) float64 { return now.Sub(t.running[i].since).Seconds() })
	left := t.cost.remaining()
	speed := t.cost.speed()
	chain := 0.0
	for i, r := range t.running {
		done := min(t.cost.estimate(i), now.Sub(r.since).Seconds())
		left -= done
		chain = max(chain, t.path[i]*speed-done)
	}
	for t.next < len(t.byPath) && (t.path[t.byPath[t.next]] < 0 || t.started[t.byPath[t.next]]) {
		t.next++
	}
	if t.next < len(t.byPath) {
		chain = max(chain, t.path[t.byPath[t.next]]*speed)
	}
	return time.Duration(max(0, left/float64(t.jobs), chain) * float64(time.Second))
}

// etaSlack is how far above the ETA shown (less the time since) a new
// estimate may be and still be taken as noise: the ETA shown keeps
// falling unless the estimate exceeds it by more than a quarter and
// etaSlackMin.
const etaSlackMin = 10 * time.Second

// shownETA is the ETA to show now: the estimate (eta) when it is below
// the last one shown less the time since, or far above it (the run has
// really slowed down); else the last one shown falling at half the rate
// of the clock (or the estimate, if that is lower), so that the ETA never
// rises while work proceeds at a steady rate, yet catches up with an
// estimate that has settled above it (the machine's speed learned from
// the first steps) instead of trailing it until the gap exceeds the slack.
func (t *tracker) shownETA() time.Duration {
	now := t.now()
	raw := t.eta()
	if t.etaShown {
		dt := now.Sub(t.lastETAAt)
		fall := max(0, t.lastETA-dt)
		if raw > fall && raw <= fall+max(fall/4, etaSlackMin) {
			raw = min(raw, max(0, t.lastETA-dt/2))
		}
	}
	t.lastETA, t.lastETAAt, t.etaShown = raw, now, true
	return raw
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
	now := t.now()
	eta := t.shownETA()
	if t.observe != nil {
		t.observe(Progress{Done: t.done, Total: t.total, Computed: t.computed, Failed: t.failed, Running: t.runningNames(8),
			ETA: eta.Round(time.Second).String()})
	}
	if t.live == nil {
		if now.Sub(t.lastDraw) < t.every && !force {
			return
		}
		t.lastDraw = now
		ev := t.log.Info().Int("done", t.done).Int("steps", t.total).Int("computed", t.computed).Int("failed", t.failed).
			Str("elapsed", now.Sub(t.begun).Round(time.Second).String()).Strs("running", t.runningNames(3))
		ev = ev.Str("eta", eta.Round(time.Second).String())
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
	line += ", ETA " + eta.Round(time.Second).String()
	if names := t.runningNames(2); len(names) > 0 {
		line += " · " + strings.Join(names, "; ")
	}
	if r := []rune(line); len(r) > 150 {
		line = string(r[:149]) + "…"
	}
	t.live.Set(line)
	t.shown = true
}
