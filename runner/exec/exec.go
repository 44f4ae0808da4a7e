// Package exec runs a plan on demand, from its report steps back: a step
// whose key is in the store is not run again and its inputs are not even
// looked at; the others run on a pool of workers (plus one GPU slot for steps
// that need the accelerator) as soon as their inputs are ready. A failing or
// panicking step fails the steps that need it, and everything independent
// of it still runs. Cancelling the context stops new steps from starting;
// finished steps are already committed, so a rerun resumes.
package exec

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"hetalign/runner/plan"
	"hetalign/runner/store"
)

// Func computes one step from its inputs' outputs (nil for a failed input
// of a Partial step).
type Func func(ctx context.Context, s *plan.Step, inputs [][]byte) ([]byte, error)

// Options configure Execute.
type Options struct {
	// Jobs is the number of CPU workers (at least 1).
	Jobs int
	// Log receives progress (info every few seconds) and step results (debug).
	Log zerolog.Logger
	// ProgressEvery is the interval of progress lines (default 2 s).
	ProgressEvery time.Duration
	// Observer, when set, hears each step start and finish (from the
	// workers' goroutines) and replaces the progress log lines.
	Observer Observer
}

// Observer follows a run: Started when a step begins computing, Finished
// for every step once its outcome is known (cached and skipped steps
// first, before any step starts).
type Observer interface {
	Started(s *plan.Step)
	Finished(s *plan.Step, o *Outcome)
}

// Outcome is what happened to one step.
type Outcome struct {
	// Manifest of the step's output (nil if it failed).
	Manifest *store.Manifest
	// Cached is true when the output came from the store.
	Cached bool
	// Skipped is true for a step nothing needed: every step that reads it
	// was cached.
	Skipped bool
	// Incomplete is true for a Partial step that ran with failed inputs;
	// its output is not stored.
	Incomplete bool
	// Output holds an incomplete step's output.
	Output []byte
	// Err is why the step failed.
	Err error
}

// ErrInputFailed marks steps that did not run because an input failed.
var ErrInputFailed = errors.New("input failed")

// Execute runs every step of g and returns one outcome per step, indexed
// like g.Steps.
func Execute(ctx context.Context, g *plan.Graph, st *store.Store, fn Func, opts Options) []*Outcome {
	if opts.Jobs < 1 {
		opts.Jobs = 1
	}
	if opts.ProgressEvery == 0 {
		opts.ProgressEvery = 2 * time.Second
	}
	n := len(g.Steps)
	out := make([]*Outcome, n)
	done := make([]chan struct{}, n)
	for i := range done {
		done[i] = make(chan struct{})
	}
	cpu := make(chan struct{}, opts.Jobs)
	gpu := make(chan struct{}, 1)
	var finished, computed, failed atomic.Int64
	stopProgress := make(chan struct{})
	go func() {
		if opts.Observer != nil {
			return
		}
		t := time.NewTicker(opts.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				opts.Log.Info().Int64("done", finished.Load()).Int("steps", n).
					Int64("computed", computed.Load()).Int64("failed", failed.Load()).Msg("progress")
			}
		}
	}()
	// Decide what must run, from the reports back (Steps are in
	// topological order, so users come after their inputs).
	needed := make([]bool, n)
	for _, r := range g.Reports {
		needed[r.Step.Index] = true
	}
	for i := n - 1; i >= 0; i-- {
		s := g.Steps[i]
		switch {
		case !needed[i]:
			out[i] = &Outcome{Skipped: true}
		default:
			if m, ok := st.Get(s.Key); ok {
				out[i] = &Outcome{Manifest: m, Cached: true}
				continue
			}
			for _, in := range s.Inputs {
				needed[in.Index] = true
			}
		}
	}
	var wg sync.WaitGroup
	for _, s := range g.Steps {
		if out[s.Index] != nil {
			close(done[s.Index])
			finished.Add(1)
			if opts.Observer != nil {
				opts.Observer.Finished(s, out[s.Index])
			}
			continue
		}
		wg.Add(1)
		go func(s *plan.Step) {
			defer wg.Done()
			defer close(done[s.Index])
			o := runOne(ctx, s, st, fn, done, out, cpu, gpu, opts.Log, opts.Observer)
			out[s.Index] = o
			finished.Add(1)
			if opts.Observer != nil {
				opts.Observer.Finished(s, o)
			}
			if o.Err != nil {
				failed.Add(1)
			} else {
				computed.Add(1)
			}
		}(s)
	}
	wg.Wait()
	close(stopProgress)
	return out
}

func runOne(ctx context.Context, s *plan.Step, st *store.Store, fn Func, done []chan struct{}, out []*Outcome,
	cpu, gpu chan struct{}, log zerolog.Logger, obs Observer) *Outcome {
	for _, in := range s.Inputs {
		<-done[in.Index]
	}
	inputs := make([][]byte, len(s.Inputs))
	partial := false
	for i, in := range s.Inputs {
		o := out[in.Index]
		if o.Err != nil {
			if !s.Partial {
				return &Outcome{Err: fmt.Errorf("%w: %s (%s)", ErrInputFailed, s.InputNames[i], in.Label)}
			}
			partial = true
			continue
		}
		if o.Incomplete {
			inputs[i] = o.Output
			partial = true
			continue
		}
		b, err := st.Output(o.Manifest, "out")
		if err != nil {
			return &Outcome{Err: fmt.Errorf("reading input %s: %w", s.InputNames[i], err)}
		}
		inputs[i] = b
	}
	slot := cpu
	if s.GPU {
		slot = gpu
	}
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return &Outcome{Err: fmt.Errorf("not started: %w", ctx.Err())}
	}
	defer func() { <-slot }()
	if err := ctx.Err(); err != nil {
		return &Outcome{Err: fmt.Errorf("not started: %w", err)}
	}
	if obs != nil {
		obs.Started(s)
	}
	start := time.Now()
	b, err := safeRun(ctx, fn, s, inputs)
	secs := time.Since(start).Seconds()
	if err != nil {
		log.Warn().Str("step", s.Label).Err(err).Msg("step failed")
		return &Outcome{Err: err}
	}
	if partial {
		return &Outcome{Incomplete: true, Output: b}
	}
	m, err := st.Put(s.Key, s.Kind, s.Label, map[string][]byte{"out": b}, secs)
	if err != nil {
		return &Outcome{Err: fmt.Errorf("storing output: %w", err)}
	}
	log.Debug().Str("step", s.Label).Float64("seconds", secs).Msg("step done")
	return &Outcome{Manifest: m}
}

// safeRun turns a panic into an error that carries the stack.
func safeRun(ctx context.Context, fn Func, s *plan.Step, inputs [][]byte) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(ctx, s, inputs)
}
