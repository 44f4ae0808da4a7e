// Package exec runs a plan on demand, from its report steps back: a step
// whose key is in the store is not run again and its inputs are not even
// looked at; the others run on a pool of workers (plus one GPU slot for steps
// that need the accelerator) as soon as their inputs are ready. A failing or
// panicking step fails the steps that need it, and everything independent
// of it still runs. Cancelling the context stops new steps from starting;
// finished steps are already committed, so a rerun resumes.
//
// Two drivers on one store (two `hetalign run` processes) do not compute a
// step twice: before computing, a worker takes the step's lease in the
// store (see store.TryLease); a step leased by another live owner is
// waited for until its manifest appears or the lease expires.
//
// An Executor runs a graph: Local is the worker pool of this process,
// Slurm hands steps to a Slurm cluster as job arrays of `hetalign step`.
package exec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
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
	// Owner names this run in the leases it takes (default NewOwner()).
	Owner string
	// LeaseTTL is how long a lease lasts unless renewed (default
	// DefaultLeaseTTL); a step that computes longer renews it every third
	// of that.
	LeaseTTL time.Duration
	// NoLeases computes without taking leases (a store only this run
	// uses).
	NoLeases bool
	// LeaseFast: a step kind whose first few computations in this run
	// (leaseProbe) each took less than LeaseFast computes without leases
	// from then on — computing such a step twice costs less than
	// coordinating it. Zero means DefaultLeaseFast; negative, always lease.
	LeaseFast time.Duration
	// Compute is the GoMLX backend configuration of the run, written into
	// the step descriptions an executor hands to other processes.
	Compute string
	// Cost, when set, estimates the seconds a step computes: the ready
	// queue runs first the steps of the report with the least work left,
	// each report's along its critical path (see Priorities).
	Cost func(s *plan.Step) float64
}

// DefaultLeaseTTL is the lease lifetime when Options.LeaseTTL is zero.
const DefaultLeaseTTL = 2 * time.Minute

// DefaultLeaseFast is Options.LeaseFast when zero.
const DefaultLeaseFast = 2 * time.Millisecond

// Executor runs every step of a graph, like Execute, and returns one
// outcome per step, indexed like g.Steps.
type Executor interface {
	Execute(ctx context.Context, g *plan.Graph, st *store.Store, fn Func, opts Options) []*Outcome
}

// Local is the executor of this process: the worker pool of Execute.
type Local struct{}

// Execute runs g with the worker pool (see the package function Execute).
func (Local) Execute(ctx context.Context, g *plan.Graph, st *store.Store, fn Func, opts Options) []*Outcome {
	return Execute(ctx, g, st, fn, opts)
}

// NewOwner returns a lease owner unique to this process and call:
// host:pid:random.
func NewOwner() string {
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
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
	// Manifest of the step's output (nil if it failed). Execute keeps it
	// only for a step that no step of the run reads (a report): a step
	// that others read holds just its output's blob sum (about 80 bytes
	// rather than 600) until the last of them has finished, and then
	// nothing, so a run of 10^5 steps does not hold 10^5 manifests to its
	// end. The store keeps every manifest (store.Get of the step's key).
	Manifest *store.Manifest
	// out is the blob sum of output "out" while steps still read it (see
	// Manifest).
	out string
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
	if opts.Owner == "" {
		opts.Owner = NewOwner()
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	n := len(g.Steps)
	out := make([]*Outcome, n)
	done := newDoneSet(n)
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
	decide(g, st, out)
	readers := countReaders(g, out)
	for i, o := range out {
		if o != nil && readers[i].Load() > 0 {
			o.compact()
		}
	}
	prio := Priorities(g, out, opts.Cost)
	rq := newReadyQueue(g, out, prio, opts.Jobs)
	var lz *leaser
	if !opts.NoLeases {
		if opts.LeaseFast == 0 {
			opts.LeaseFast = DefaultLeaseFast
		}
		lz = &leaser{st: st, owner: opts.Owner, ttl: opts.LeaseTTL, fast: opts.LeaseFast, log: opts.Log, kinds: map[string]*kindTimes{}}
	}
	var wg sync.WaitGroup
	for _, s := range g.Steps {
		if out[s.Index] != nil {
			done.close(s.Index)
			finished.Add(1)
			if opts.Observer != nil {
				opts.Observer.Finished(s, out[s.Index])
			}
		}
	}
	// A step's goroutine starts once the step is ready and has a slot
	// (see readyQueue): a graph of 10^5 steps does not hold 10^5
	// goroutines waiting on their inputs.
	rq.start(func(s *plan.Step) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done.close(s.Index)
			defer rq.drop(s.Index)
			o := runOne(ctx, s, st, fn, done, out, rq, lz, opts.Log, opts.Observer)
			if readers[s.Index].Load() > 0 {
				o.compact()
			}
			out[s.Index] = o
			release(s, out, readers)
			rq.finished(s) // its users, if runOne returned before it did this
			finished.Add(1)
			if opts.Observer != nil {
				opts.Observer.Finished(s, o)
			}
			switch {
			case o.Err != nil && !Interrupted(o.Err):
				failed.Add(1)
			case o.Err == nil:
				computed.Add(1)
			}
		}()
	})
	wg.Wait()
	close(stopProgress)
	return out
}

// doneSet marks the steps whose outcome is set: one flag a step and one
// condition variable for all, not a channel a step (about 100 bytes each,
// 35 MB for the 351,001 steps of specs/beyond). A step seldom waits: its
// goroutine starts once its inputs have finished (readyQueue), and only
// the last instants between that and their outcome's assignment remain.
type doneSet struct {
	flags []atomic.Bool
	mu    sync.Mutex
	cond  sync.Cond
}

func newDoneSet(n int) *doneSet {
	d := &doneSet{flags: make([]atomic.Bool, n)}
	d.cond.L = &d.mu
	return d
}

// close marks step i done (its outcome is set) and wakes the waiters.
func (d *doneSet) close(i int) {
	d.mu.Lock()
	d.flags[i].Store(true)
	d.mu.Unlock()
	d.cond.Broadcast()
}

// wait returns once step i is done.
func (d *doneSet) wait(i int) {
	if d.flags[i].Load() {
		return
	}
	d.mu.Lock()
	for !d.flags[i].Load() {
		d.cond.Wait()
	}
	d.mu.Unlock()
}

// countReaders counts, for each step, the steps that will run and read
// its output (an input named twice counts twice).
func countReaders(g *plan.Graph, out []*Outcome) []atomic.Int32 {
	readers := make([]atomic.Int32, len(g.Steps))
	for i, s := range g.Steps {
		if out[i] != nil {
			continue
		}
		for _, in := range s.Inputs {
			readers[in.Index].Add(1)
		}
	}
	return readers
}

// release drops the manifests of s's inputs that no running or waiting
// step reads any more, now that s (one of their readers) has finished:
// runOne has waited for every input and read what it needed. The
// outcome itself stays (its Err, Cached, … are the run's tally).
func release(s *plan.Step, out []*Outcome, readers []atomic.Int32) {
	for _, in := range s.Inputs {
		if readers[in.Index].Add(-1) == 0 {
			if o := out[in.Index]; o != nil {
				o.Manifest, o.out = nil, ""
			}
		}
	}
}

// compact replaces the manifest of a step that other steps read by its
// output's blob sum (see Outcome.Manifest).
func (o *Outcome) compact() {
	if o.Manifest != nil {
		o.out = o.Manifest.Outputs["out"]
		o.Manifest = nil
	}
}

// output reads the output of a finished step: through its manifest, or
// the blob sum that replaced it.
func (o *Outcome) output(st *store.Store) ([]byte, error) {
	if o.Manifest == nil && o.out != "" {
		return st.Blob(o.out)
	}
	if o.Manifest == nil {
		return nil, errors.New("its output was released: every step that reads it had finished")
	}
	return st.Output(o.Manifest, "out")
}

// decide fills out with the steps that need not run, from the reports
// back (Steps are in topological order, so users come after their
// inputs): cached steps, and steps nothing needed (every user cached).
func decide(g *plan.Graph, st *store.Store, out []*Outcome) {
	n := len(g.Steps)
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
}

func runOne(ctx context.Context, s *plan.Step, st *store.Store, fn Func, done *doneSet, out []*Outcome,
	rq *readyQueue, lz *leaser, log zerolog.Logger, obs Observer) *Outcome {
	for _, in := range s.Inputs {
		done.wait(in.Index)
	}
	inputs, partial, fail := gather(s, st, out)
	if fail != nil {
		return fail
	}
	held := false // whether this step holds a slot
	take := func() error {
		if err := rq.acquire(ctx, s.Index); err != nil {
			return err
		}
		held = true
		return nil
	}
	give := func() {
		if held {
			rq.slot(s.Index).release()
			held = false
		}
	}
	defer give()
	defer rq.finished(s) // before the slot goes back: see readyQueue
	if err := take(); err != nil {
		return &Outcome{Err: fmt.Errorf("not started: %w", err)}
	}
	if !partial && lz.need(s) {
		// Another driver may compute the step: take its lease, or wait
		// for its output without holding a slot.
		m, lease, err := lz.acquire(ctx, s.Key, give, take)
		if err != nil {
			return &Outcome{Err: fmt.Errorf("not started: %w", err)}
		}
		if m != nil {
			return &Outcome{Manifest: m, Cached: true}
		}
		if lease != nil {
			defer lease.release()
		}
	}
	if err := ctx.Err(); err != nil {
		return &Outcome{Err: fmt.Errorf("not started: %w", err)}
	}
	if obs != nil {
		obs.Started(s)
	}
	start := time.Now()
	b, err := safeRun(ctx, fn, s, inputs)
	took := time.Since(start)
	secs := took.Seconds()
	lz.observe(s, took)
	if err != nil && ctx.Err() != nil {
		// Cancelled while computing: interrupted, not failed.
		return &Outcome{Err: fmt.Errorf("interrupted: %w", ctx.Err())}
	}
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

// gather reads the outputs of s's inputs (every input has its outcome):
// partial is true when a Partial step runs with failed or incomplete
// inputs; fail is the outcome of a step that cannot run.
func gather(s *plan.Step, st *store.Store, out []*Outcome) (inputs [][]byte, partial bool, fail *Outcome) {
	inputs = make([][]byte, len(s.Inputs))
	if o := interruptedInput(s, out); o != nil {
		return nil, false, o
	}
	for i, in := range s.Inputs {
		o := out[in.Index]
		if o.Err != nil {
			if !s.Partial {
				return nil, false, &Outcome{Err: fmt.Errorf("%w: %s (%s)", ErrInputFailed, s.InputNames[i], in.Label)}
			}
			partial = true
			continue
		}
		if o.Incomplete {
			inputs[i] = o.Output
			partial = true
			continue
		}
		b, err := o.output(st)
		if err != nil {
			return nil, false, &Outcome{Err: fmt.Errorf("reading input %s: %w", s.InputNames[i], err)}
		}
		inputs[i] = b
	}
	return inputs, partial, nil
}

// failedInput is the outcome of a step that cannot run because one of its
// inputs failed (nil when none did): gather's check without reading any
// input's bytes, for steps that are not Partial.
func failedInput(s *plan.Step, out []*Outcome) *Outcome {
	if o := interruptedInput(s, out); o != nil {
		return o
	}
	for i, in := range s.Inputs {
		if o := out[in.Index]; o.Err != nil {
			return &Outcome{Err: fmt.Errorf("%w: %s (%s)", ErrInputFailed, s.InputNames[i], in.Label)}
		}
	}
	return nil
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
