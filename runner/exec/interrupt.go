package exec

import (
	"context"
	"errors"
	"fmt"

	"hetalign/runner/plan"
)

// Interrupted reports whether err is a cancellation (Ctrl-C, a deadline):
// the step did not fail, it did not finish.
func Interrupted(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// interruptedInput is the outcome of a step one of whose inputs was
// interrupted (nil when none was): it is interrupted too, not failed —
// a Partial step (a report) included, so a cancelled run writes no report
// with holes where the cancelled steps were.
func interruptedInput(s *plan.Step, out []*Outcome) *Outcome {
	for i, in := range s.Inputs {
		if o := out[in.Index]; o.Err != nil && Interrupted(o.Err) {
			return &Outcome{Err: fmt.Errorf("not started: input %s (%s) was interrupted: %w", s.InputNames[i], in.Label, context.Canceled)}
		}
	}
	return nil
}
