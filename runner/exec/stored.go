package exec

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"hetalign/runner/plan"
	"hetalign/runner/store"
)

// StoredFunc computes one step from its stored description and its
// inputs' outputs.
type StoredFunc func(ctx context.Context, d *store.StepDesc, inputs [][]byte) ([]byte, error)

// StoredOptions configure RunStored.
type StoredOptions struct {
	// Jobs steps are computed at once (at least 1).
	Jobs int
	// Owner names this process in leases (default NewOwner()); LeaseTTL
	// as in Options.
	Owner    string
	LeaseTTL time.Duration
	// Log receives one line per step.
	Log zerolog.Logger
}

// RunStored computes the steps keys from the store alone — what a cluster
// task runs (`hetalign step`): each step's description (PutStepDesc) and
// its inputs' outputs are read from st, the step computed under its lease
// (renewed while it computes) and its output Put. A step already in the
// store is skipped, and one leased by another live owner is waited for.
// Steps fail independently; the error joins one error per failed step,
// each naming it.
func RunStored(ctx context.Context, st *store.Store, keys []string, fn StoredFunc, opts StoredOptions) error {
	if opts.Jobs < 1 {
		opts.Jobs = 1
	}
	if opts.Owner == "" {
		opts.Owner = NewOwner()
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	lz := &leaser{st: st, owner: opts.Owner, ttl: opts.LeaseTTL, fast: -1, log: opts.Log}
	errs := make([]error, len(keys))
	sem := make(chan struct{}, opts.Jobs)
	var wg sync.WaitGroup
	for i, key := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = runStoredOne(ctx, st, key, fn, lz, opts.Log)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func runStoredOne(ctx context.Context, st *store.Store, key string, fn StoredFunc, lz *leaser, log zerolog.Logger) (err error) {
	short := key
	if len(short) > 12 {
		short = short[:12]
	}
	if st.Has(key) {
		log.Debug().Str("step", short).Msg("already in the store")
		return nil
	}
	d, err := st.StepDesc(key)
	if err != nil {
		return fmt.Errorf("step %s: %w", short, err)
	}
	name := fmt.Sprintf("step %s (%s)", d.Label, short)
	// The lease first: a step another owner computes needs no inputs here.
	m, held, err := lz.acquire(ctx, key, func() {}, func() error { return nil })
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if m != nil {
		log.Info().Str("step", d.Label).Msg("computed by another owner")
		return nil
	}
	if held != nil {
		defer held.release()
	}
	inputs := make([][]byte, len(d.Inputs))
	for i, in := range d.Inputs {
		m, ok := st.Get(in)
		if !ok {
			return fmt.Errorf("%s: input %s (%.12s) is not in the store", name, d.InputNames[i], in)
		}
		if inputs[i], err = st.Output(m, "out"); err != nil {
			return fmt.Errorf("%s: reading input %s: %w", name, d.InputNames[i], err)
		}
	}
	start := time.Now()
	b, err := safeStored(ctx, fn, d, inputs)
	secs := time.Since(start).Seconds()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := st.Put(key, d.Kind, d.Label, map[string][]byte{"out": b}, secs); err != nil {
		return fmt.Errorf("%s: storing output: %w", name, err)
	}
	log.Info().Str("step", d.Label).Float64("seconds", secs).Msg("step done")
	return nil
}

// safeStored turns a panic into an error that carries the stack, as
// safeRun.
func safeStored(ctx context.Context, fn StoredFunc, d *store.StepDesc, inputs [][]byte) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(ctx, d, inputs)
}

// Desc is the description of step s for the store: what RunStored needs to
// compute it elsewhere. compute is the run's GoMLX backend configuration.
func Desc(s *plan.Step, compute string) *store.StepDesc {
	d := &store.StepDesc{Key: s.Key, Kind: s.Kind, Label: s.Label, Params: s.Params, Seed: s.Seed,
		InputNames: s.InputNames, GPU: s.GPU, Compute: compute, Code: s.Code, Backend: s.Backend}
	for _, in := range s.Inputs {
		d.Inputs = append(d.Inputs, in.Key)
	}
	return d
}
