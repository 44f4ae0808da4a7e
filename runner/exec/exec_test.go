package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"hetalign/runner/plan"
	"hetalign/runner/spec"
	"hetalign/runner/steps"
	"hetalign/runner/store"
)

const src = `experiments: x: {
	population: types: {
		A: {reward: {y1: 1, y2: 2}}
		B: {reward: {y1: 2, y2: 0}}
	}
	env: {kind: "analytic", alternatives: ["y1", "y2"]}
	data: pop: {regime: "anonymous", pairs: 200}
	methods: {
		oracle: {kind: "oracle"}
		dpo: {kind: "dpo", data: "pop"}
	}
	seeds: [0, 1, 2, 3]
	report: tables: t: {rows: "seed", columns: "method", cell: "tv"}
}
`

func graph(t *testing.T) *plan.Graph {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.cue")
	os.WriteFile(p, []byte(src), 0o644)
	files, err := spec.Load([]string{p}, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := plan.Build(files, plan.Options{Code: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func real(ctx context.Context, s *plan.Step, inputs [][]byte) ([]byte, error) {
	return steps.Run(ctx, s.Kind, s.Params, s.Seed, inputs, steps.Options{})
}

func openStore(t *testing.T) *store.Store {
	st, err := store.Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func reportBytes(t *testing.T, g *plan.Graph, st *store.Store, outs []*Outcome) []byte {
	t.Helper()
	o := outs[g.Reports[0].Step.Index]
	if o.Err != nil {
		t.Fatalf("report failed: %v", o.Err)
	}
	b, err := st.Output(o.Manifest, "out")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRunThenCached(t *testing.T) {
	g, st := graph(t), openStore(t)
	outs := Execute(context.Background(), g, st, real, Options{Jobs: 2, Log: zerolog.Nop()})
	for i, o := range outs {
		if o.Err != nil || o.Cached {
			t.Fatalf("step %s: err %v cached %v", g.Steps[i].Label, o.Err, o.Cached)
		}
	}
	first := reportBytes(t, g, st, outs)
	var calls atomic.Int64
	count := func(ctx context.Context, s *plan.Step, in [][]byte) ([]byte, error) {
		calls.Add(1)
		return real(ctx, s, in)
	}
	outs = Execute(context.Background(), g, st, count, Options{Jobs: 2, Log: zerolog.Nop()})
	if calls.Load() != 0 {
		t.Errorf("rerun computed %d steps", calls.Load())
	}
	if string(reportBytes(t, g, st, outs)) != string(first) {
		t.Error("rerun gave a different report")
	}
}

// A panicking step fails, the steps that need it fail with ErrInputFailed,
// independent steps complete, and the report is built with failed cells.
func TestPanicIsContained(t *testing.T) {
	g, st := graph(t), openStore(t)
	boom := func(ctx context.Context, s *plan.Step, in [][]byte) ([]byte, error) {
		if s.Kind == steps.Train && strings.Contains(s.Label, "dpo") && strings.Contains(s.Label, "seed=2") {
			panic("boom")
		}
		return real(ctx, s, in)
	}
	outs := Execute(context.Background(), g, st, boom, Options{Jobs: 2, Log: zerolog.Nop()})
	var panicked, inputFailed, ok int
	for i, o := range outs {
		s := g.Steps[i]
		switch {
		case o.Err != nil && strings.Contains(o.Err.Error(), "panic: boom"):
			panicked++
		case errors.Is(o.Err, ErrInputFailed):
			inputFailed++
			if !strings.Contains(s.Label, "seed=2") {
				t.Errorf("%s failed though it does not need the panicking step", s.Label)
			}
		case o.Err == nil:
			ok++
		default:
			t.Errorf("%s: %v", s.Label, o.Err)
		}
	}
	if panicked != 1 || inputFailed != 1 {
		t.Errorf("panicked %d, input-failed %d; want 1 and 1 (the eval of that train step)", panicked, inputFailed)
	}
	rep := outs[g.Reports[0].Step.Index]
	if !rep.Incomplete || !strings.Contains(string(rep.Output), `"failed"`) {
		t.Errorf("report should be built with failed cells, got incomplete=%v", rep.Incomplete)
	}
	if _, stored := st.Get(g.Reports[0].Step.Key); stored {
		t.Error("an incomplete report was stored in the cache")
	}
}

// Cancelling stops new steps; what finished is kept; a rerun resumes and
// gives the same report as an uninterrupted run.
func TestCancelAndResume(t *testing.T) {
	g, st := graph(t), openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	stopAfter := func(c context.Context, s *plan.Step, in [][]byte) ([]byte, error) {
		if calls.Add(1) == 5 {
			cancel()
		}
		return real(c, s, in)
	}
	outs := Execute(ctx, g, st, stopAfter, Options{Jobs: 1, Log: zerolog.Nop()})
	var notStarted int
	for _, o := range outs {
		if o.Err != nil && errors.Is(o.Err, context.Canceled) {
			notStarted++
		}
	}
	if notStarted == 0 {
		t.Fatal("cancel stopped nothing")
	}
	outs = Execute(context.Background(), g, st, real, Options{Jobs: 2, Log: zerolog.Nop()})
	resumed := reportBytes(t, g, st, outs)

	g2, st2 := graph(t), openStore(t)
	outs2 := Execute(context.Background(), g2, st2, real, Options{Jobs: 2, Log: zerolog.Nop()})
	if string(reportBytes(t, g2, st2, outs2)) != string(resumed) {
		t.Error("resumed run differs from an uninterrupted one")
	}
	if probs, _ := st.Verify(false); len(probs) > 0 {
		t.Errorf("cache inconsistent after cancel: %v", probs)
	}
}

func TestErrorStepFails(t *testing.T) {
	g, st := graph(t), openStore(t)
	fail := func(ctx context.Context, s *plan.Step, in [][]byte) ([]byte, error) {
		if s.Kind == steps.Truth {
			return nil, fmt.Errorf("no truth today")
		}
		return real(ctx, s, in)
	}
	outs := Execute(context.Background(), g, st, fail, Options{Jobs: 2, Log: zerolog.Nop()})
	for i, o := range outs {
		if g.Steps[i].Kind != steps.Report && o.Err == nil {
			t.Errorf("%s succeeded without its truth", g.Steps[i].Label)
		}
	}
}

// With a GPU backend, computing steps take the single GPU slot: never two
// at once, while CPU steps (datasets) keep running beside them.
func TestGPUSlot(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.cue")
	sgd := strings.Replace(src, `dpo: {kind: "dpo", data: "pop"}`, `dpo: {kind: "dpo", data: "pop", optimizer: steps: 10}`, 1)
	sgd = strings.Replace(sgd, "seeds: [0, 1, 2, 3]", "seeds: [0, 1, 2, 3, 4, 5, 6, 7]", 1)
	os.WriteFile(p, []byte(sgd), 0o644)
	files, err := spec.Load([]string{p}, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := plan.Build(files, plan.Options{Code: "test", Backend: "cuda@fake", GPU: true})
	if err != nil {
		t.Fatal(err)
	}
	nGPU := 0
	for _, s := range g.Steps {
		if s.GPU != (s.Kind == steps.Train && strings.Contains(s.Label, "dpo")) {
			t.Fatalf("step %s: GPU = %v", s.Label, s.GPU)
		}
		if s.GPU {
			nGPU++
		}
	}
	if nGPU != 8 {
		t.Fatalf("%d GPU steps, want one per seed", nGPU)
	}
	var gpuNow, gpuMax, overlap atomic.Int32
	fake := func(ctx context.Context, s *plan.Step, inputs [][]byte) ([]byte, error) {
		if s.GPU {
			n := gpuNow.Add(1)
			defer gpuNow.Add(-1)
			for m := gpuMax.Load(); n > m && !gpuMax.CompareAndSwap(m, n); m = gpuMax.Load() {
			}
			time.Sleep(30 * time.Millisecond)
			return []byte("{}"), nil
		}
		if s.Kind == steps.Dataset {
			time.Sleep(15 * time.Millisecond)
			if gpuNow.Load() > 0 {
				overlap.Add(1)
			}
		}
		return []byte("{}"), nil
	}
	Execute(context.Background(), g, openStore(t), fake, Options{Jobs: 4, Log: zerolog.Nop()})
	if gpuMax.Load() != 1 {
		t.Errorf("%d GPU steps ran at once", gpuMax.Load())
	}
	if overlap.Load() == 0 {
		t.Error("no CPU step ran while a GPU step did")
	}
}
