package exec

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"hetalign/runner/plan"
	"hetalign/runner/spec"
	"hetalign/runner/store"
)

// twoReports is a synthetic graph of two reports listed long one first:
// "long" needs n independent steps of cost 10 each, "short" three steps
// of cost 1: a1 and a2, then b, which reads both. Steps are in
// topological order.
func twoReports(n int) (*plan.Graph, map[string]float64) {
	g := &plan.Graph{}
	cost := map[string]float64{}
	add := func(label string, c float64, inputs ...*plan.Step) *plan.Step {
		s := &plan.Step{Index: len(g.Steps), Key: fmt.Sprintf("%064x", len(g.Steps)+1), Kind: "train", Label: label, Inputs: inputs}
		for range inputs {
			s.InputNames = append(s.InputNames, "in")
		}
		g.Steps = append(g.Steps, s)
		cost[label] = c
		return s
	}
	var long []*plan.Step
	for i := range n {
		long = append(long, add(fmt.Sprintf("long/%d", i), 10))
	}
	a1 := add("short/a1", 1)
	a2 := add("short/a2", 1)
	b := add("short/b", 1, a1, a2)
	for _, r := range []struct {
		name   string
		inputs []*plan.Step
	}{{"long", long}, {"short", []*plan.Step{b}}} {
		s := add(r.name+"/report", 0.1, r.inputs...)
		s.Kind, s.Partial = "report", true
		g.Reports = append(g.Reports, plan.Report{File: &spec.File{Name: r.name}, Step: s})
	}
	return g, cost
}

type startOrder struct {
	mu    sync.Mutex
	order []string
}

func (o *startOrder) Started(s *plan.Step) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.order = append(o.order, "start "+s.Label)
}

func (o *startOrder) Finished(s *plan.Step, _ *Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.order = append(o.order, "finish "+s.Label)
}

// TestShortReportFirst: the short report's steps run before the long
// report's, whose steps come first in the graph: with one worker, the
// short report is finished before any step of the long one starts; with
// two, a1 and a2 start first (a long step takes only a slot that no step
// of the short report can use).
func TestShortReportFirst(t *testing.T) {
	for _, jobs := range []int{1, 2} {
		t.Run(fmt.Sprint("jobs=", jobs), func(t *testing.T) {
			g, cost := twoReports(12)
			rec := &startOrder{}
			// Steps take a moment, as real ones do, so a goroutine's
			// wake-up is not mistaken for the order.
			fn := func(ctx context.Context, s *plan.Step, inputs [][]byte) ([]byte, error) {
				time.Sleep(2 * time.Millisecond)
				return []byte(`{}`), nil
			}
			outs := Execute(context.Background(), g, openStore(t), fn, Options{Jobs: jobs, Log: zerolog.Nop(), NoLeases: true,
				Observer: rec, Cost: func(s *plan.Step) float64 { return cost[s.Label] }})
			for i, o := range outs {
				if o.Err != nil {
					t.Fatalf("%s: %v", g.Steps[i].Label, o.Err)
				}
			}
			var starts []string
			for _, e := range rec.order {
				if strings.HasPrefix(e, "start ") {
					starts = append(starts, strings.TrimPrefix(e, "start "))
				}
			}
			want := []string{"short/a1", "short/a2", "short/b", "short/report"}
			if jobs == 2 {
				want = want[:2]
			}
			got := slices.Clone(starts[:len(want)])
			slices.Sort(got[:2]) // a1 and a2 start at once
			if !slices.Equal(got, want) {
				t.Errorf("steps started in the order %v, want first %v", starts, want)
			}
		})
	}
}

// TestPriorities checks the two orders on the synthetic graph: the short
// report's work is 3.1 (its steps and report step), the long one's 120.1;
// within the short report a1 (path a1→b→report: 2.1) before b (1.1).
func TestPriorities(t *testing.T) {
	g, cost := twoReports(12)
	out := make([]*Outcome, len(g.Steps))
	pr := Priorities(g, out, func(s *plan.Step) float64 { return cost[s.Label] })
	by := map[string]Priority{}
	for i, s := range g.Steps {
		by[s.Label] = pr[i]
	}
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	for _, c := range []struct {
		label      string
		report, cp float64
	}{
		{"short/a1", 3.1, 2.1},
		{"short/a2", 3.1, 2.1},
		{"short/b", 3.1, 1.1},
		{"short/report", 3.1, 0.1},
		{"long/0", 10*12 + 0.1, 10.1},
		{"long/report", 10*12 + 0.1, 0.1},
	} {
		p := by[c.label]
		if !near(p.Report, c.report) || !near(p.Path, c.cp) {
			t.Errorf("%s: report work %g, path %g; want %g, %g", c.label, p.Report, p.Path, c.report, c.cp)
		}
	}
	if !by["short/b"].Before(by["long/0"]) || !by["short/a1"].Before(by["short/b"]) {
		t.Error("short/a1, short/b should come before long/0, in that order")
	}
	// A step shared by both reports takes the short one's priority; a
	// cached step (an outcome) is left out of the work.
	shared := g.Steps[0]
	g.Reports[1].Step.Inputs = append(g.Reports[1].Step.Inputs, shared)
	out[1] = &Outcome{Cached: true}
	pr = Priorities(g, out, func(s *plan.Step) float64 { return cost[s.Label] })
	if p := pr[shared.Index]; !near(p.Report, 13.1) || !near(p.Path, 10.1) {
		t.Errorf("shared step: %+v, want report work 13.1 (3.1 + 10), path 10.1", p)
	}
	if p := pr[g.Reports[0].Step.Index]; !near(p.Report, 110.1) {
		t.Errorf("long report with one input cached: work %g, want 110.1", p.Report)
	}
}

// TestSlotsOrder: waiters get a freed slot best priority first, and a
// waiter whose context ends leaves the queue.
func TestSlotsOrder(t *testing.T) {
	s := newSlots(1)
	if err := s.acquire(context.Background(), -1, Priority{}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []int
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	queued := func() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.q) }
	for i, p := range []float64{5, 1, 3} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.acquire(context.Background(), i, Priority{Report: p, Index: i}); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, int(p))
			mu.Unlock()
			s.release()
		}()
		for queued() != i+1 {
			// wait until it queued
		}
	}
	gone := make(chan error)
	go func() { gone <- s.acquire(ctx, 9, Priority{Report: 0}) }()
	for queued() != 4 {
	}
	cancel()
	if err := <-gone; err == nil {
		t.Fatal("a cancelled waiter got a slot")
	}
	s.release()
	wg.Wait()
	if fmt.Sprint(got) != "[1 3 5]" {
		t.Errorf("slots handed over in order %v, want [1 3 5]", got)
	}
}

// BenchmarkExecuteMemory runs a graph of n independent steps feeding one
// report (the shape of a big sweep) on an in-memory store and reports the
// most goroutines alive at once and the memory the process obtained from
// the system: a step's goroutine starts when it is ready, not all at the
// start (before: n goroutines, each with its stack, for the whole run).
func BenchmarkExecuteMemory(b *testing.B) {
	const n = 50_000
	for range b.N {
		g := &plan.Graph{}
		root := &plan.Step{Index: 0, Key: fmt.Sprintf("%064x", 1), Kind: "truth", Label: "root"}
		g.Steps = append(g.Steps, root)
		var leaves []*plan.Step
		for i := range n {
			s := &plan.Step{Index: len(g.Steps), Key: fmt.Sprintf("%064x", len(g.Steps)+1), Kind: "eval", Label: fmt.Sprint("leaf ", i),
				Inputs: []*plan.Step{root}, InputNames: []string{"truth"}}
			g.Steps = append(g.Steps, s)
			leaves = append(leaves, s)
		}
		rep := &plan.Step{Index: len(g.Steps), Key: fmt.Sprintf("%064x", len(g.Steps)+1), Kind: "report", Label: "report", Inputs: leaves, Partial: true}
		for range leaves {
			rep.InputNames = append(rep.InputNames, "eval")
		}
		g.Steps = append(g.Steps, rep)
		g.Reports = []plan.Report{{File: &spec.File{Name: "r"}, Step: rep}}
		st, err := store.Open("mem://")
		if err != nil {
			b.Fatal(err)
		}
		var peak atomic.Int64
		fn := func(ctx context.Context, s *plan.Step, inputs [][]byte) ([]byte, error) {
			if k := int64(runtime.NumGoroutine()); k > peak.Load() {
				peak.Store(k)
			}
			return []byte(`{}`), nil
		}
		Execute(context.Background(), g, st, fn, Options{Jobs: 2, Log: zerolog.Nop(), NoLeases: true})
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(peak.Load()), "peak-goroutines")
		b.ReportMetric(float64(ms.StackSys)/(1<<20), "MiB-stacks")
		b.ReportMetric(float64(ms.Sys)/(1<<20), "MiB-sys")
	}
}
