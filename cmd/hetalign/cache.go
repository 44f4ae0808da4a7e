package main

import (
	"flag"
	"fmt"
	"io"

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
		return exitFailed
	}
	defer st.Close()
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
		fmt.Fprintf(stdout, "removed %d steps, %d blobs (%d bytes), %d temporary files\n", s.Manifests, s.Blobs, s.Bytes, s.Temps)
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
	for _, p := range probs {
		mark := ""
		if p.Repaired {
			mark = " (removed)"
		}
		fmt.Fprintf(stdout, "%s: %s%s\n", p.Path, p.Msg, mark)
	}
	if err != nil {
		fmt.Fprintf(stderr, "hetalign: %v; %s\n", err, store.RepairHint)
		return exitFailed
	}
	if len(probs) == 0 {
		fmt.Fprintln(stdout, "cache is consistent")
		return exitOK
	}
	if !repair {
		fmt.Fprintf(stdout, "%d problems in %s; run `hetalign cache verify --repair` to remove the damaged entries (their steps rerun on the next run)\n",
			len(probs), st.Root())
		return exitFailed
	}
	left, err := st.Verify(false)
	if err != nil {
		fmt.Fprintf(stderr, "hetalign: after repair: %v\n", err)
		return exitFailed
	}
	if len(left) > 0 {
		fixed := 0
		for _, p := range probs {
			if p.Repaired {
				fixed++
			}
		}
		for _, p := range left {
			fmt.Fprintf(stdout, "still broken: %s: %s\n", p.Path, p.Msg)
		}
		fmt.Fprintf(stdout, "repaired %d of %d problems; %d remain in %s (remove them by hand, or remove the whole cache)\n",
			fixed, len(probs), len(left), st.Root())
		return exitFailed
	}
	fmt.Fprintf(stdout, "repaired %d problems: damaged entries removed, their steps will rerun; cache is consistent\n", len(probs))
	return exitOK
}
