package main

import (
	"errors"
	"fmt"
	"io"

	"hetalign/runner"
	"hetalign/runner/plan"
	"hetalign/runner/spec"
	"hetalign/runner/store"
)

// printPlan prints one line per step: its status, key prefix and label,
// and for a step that will run, why.
func printPlan(files []*spec.File, opts runner.Options, quiet bool, stdout, stderr io.Writer) int {
	st, err := store.Open(opts.Cache)
	if err != nil {
		fmt.Fprintln(stderr, "hetalign:", err)
		return exitInvalid
	}
	defer st.Close()
	g, err := runner.Plan(files, opts, st)
	if err != nil {
		var se spec.Errors
		if errors.As(err, &se) {
			fmt.Fprintln(stderr, se)
			return exitInvalid
		}
		var mc *plan.MaxCellsError
		if errors.As(err, &mc) {
			fmt.Fprintln(stderr, "hetalign:", err)
			return exitInvalid
		}
		fmt.Fprintln(stderr, "hetalign:", err)
		return exitFailed
	}
	cached, torun := 0, 0
	for _, s := range runner.Status(g, st) {
		if s.Cached {
			cached++
		} else {
			torun++
		}
		if quiet {
			continue
		}
		label := s.Step.Label
		if n := len(s.Step.Roles); n > 1 {
			label += fmt.Sprintf(" [+%d places]", n-1)
		}
		if s.Cached {
			fmt.Fprintf(stdout, "cached  %s  %s\n", s.Step.Key[:12], label)
		} else {
			fmt.Fprintf(stdout, "to-run  %s  %s  (%s)\n", s.Step.Key[:12], label, s.Why)
		}
	}
	fmt.Fprintf(stdout, "%d steps: %d cached, %d to run\n", cached+torun, cached, torun)
	return exitOK
}
