package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"hetalign/runner/plan"
	"hetalign/runner/store"
)

func runCache(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: hetalign cache ls|verify|gc [--cache DIR|URL]")
		return exitInvalid
	}
	sub := args[0]
	fs := flag.NewFlagSet("hetalign cache "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cache := fs.String("cache", defaultCache(), cacheHelp)
	repair := fs.Bool("repair", false, "verify: delete damaged entries so that their steps rerun (exit 0 when that fixed everything)")
	maxAge := fs.Duration("max-age", 0, "gc: also remove steps unused for longer than this (e.g. 720h); 0 keeps every step")
	if _, err := parse(fs, args[1:]); err != nil {
		return exitInvalid
	}
	st, err := store.Open(*cache)
	if err != nil {
		fmt.Fprintln(stderr, "hetalign:", err)
		return exitInvalid
	}
	defer st.Close()
	st.SetPlanCheck(plan.Check)
	switch sub {
	case "ls":
		ms, err := st.List()
		if err != nil {
			fmt.Fprintln(stderr, "hetalign:", err)
			return exitFailed
		}
		var total int64
		for _, m := range ms {
			total += m.Size
			fmt.Fprintf(stdout, "%s  %-7s  %8d B  %7.3fs  %s  %s\n", m.Key[:12], m.Kind, m.Size, m.Seconds, m.Created, m.Label)
		}
		fmt.Fprintf(stdout, "%d steps, %d bytes of outputs in %s\n", len(ms), total, st.Root())
	case "verify":
		return verifyCache(st, *repair, stdout, stderr)
	case "gc":
		s, err := st.GC(*maxAge)
		if err != nil {
			fmt.Fprintln(stderr, "hetalign:", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "removed %d steps, %d blobs (%d bytes), %d temporary files, %d expired leases\n", s.Manifests, s.Blobs, s.Bytes, s.Temps, s.Leases)
	default:
		fmt.Fprintf(stderr, "hetalign cache: unknown subcommand %q (want ls, verify or gc)\n", sub)
		return exitInvalid
	}
	return exitOK
}

// verifyCache runs `hetalign cache verify [--repair]`. Plain verify exits
// 1 when it finds damage and says how to repair it; --repair removes the
// damaged entries, verifies again, and exits 0 when the cache is then
// consistent, 1 only when something is still broken.
func verifyCache(st *store.Store, repair bool, stdout, stderr io.Writer) int {
	probs, err := st.Verify(repair)
	var damaged, unread []store.Problem
	for _, p := range probs {
		if p.Unreadable {
			unread = append(unread, p)
			continue
		}
		damaged = append(damaged, p)
		mark := ""
		if p.Repaired {
			mark = " (removed)"
		}
		fmt.Fprintf(stdout, "%s: %s%s\n", p.Path, p.Msg, mark)
	}
	for _, p := range unread {
		fmt.Fprintf(stdout, "%s: %s\n", p.Path, p.Msg)
	}
	if err != nil {
		if errors.Is(err, store.ErrUnreachable) {
			fmt.Fprintf(stderr, "hetalign: %v; nothing more was checked or removed\n", err)
		} else {
			fmt.Fprintf(stderr, "hetalign: %v; %s\n", err, store.RepairHint)
		}
		return exitFailed
	}
	if len(unread) > 0 {
		defer fmt.Fprintf(stderr, "hetalign: %d objects of %s could not be read (not damage: nothing was removed for them); check the store and verify again\n",
			len(unread), st.Root())
	}
	if len(damaged) == 0 {
		if len(unread) > 0 {
			return exitFailed
		}
		fmt.Fprintln(stdout, "cache is consistent")
		return exitOK
	}
	if !repair {
		fmt.Fprintf(stdout, "%d problems in %s; run `hetalign cache verify --repair` to remove the damaged entries (their steps rerun on the next run)\n",
			len(damaged), st.Root())
		return exitFailed
	}
	left, err := st.Verify(false)
	if err != nil {
		fmt.Fprintf(stderr, "hetalign: after repair: %v\n", err)
		return exitFailed
	}
	var still []store.Problem
	for _, p := range left {
		if !p.Unreadable {
			still = append(still, p)
		}
	}
	if len(still) > 0 {
		fixed := 0
		for _, p := range damaged {
			if p.Repaired {
				fixed++
			}
		}
		for _, p := range still {
			fmt.Fprintf(stdout, "still broken: %s: %s\n", p.Path, p.Msg)
		}
		fmt.Fprintf(stdout, "repaired %d of %d problems; %d remain in %s (remove them by hand, or remove the whole cache)\n",
			fixed, len(damaged), len(still), st.Root())
		return exitFailed
	}
	fmt.Fprintf(stdout, "repaired %d problems: damaged entries removed, their steps will rerun; cache is consistent\n", len(damaged))
	if len(unread) > 0 {
		return exitFailed
	}
	return exitOK
}
