package main

import (
	"flag"
	"fmt"
	"io"

	"hetalign/runner/store"
)

func runCache(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: hetalign cache ls|verify|gc [--cache DIR]")
		return exitInvalid
	}
	sub := args[0]
	fs := flag.NewFlagSet("hetalign cache "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cache := fs.String("cache", defaultCache(), "cache directory (default $HETALIGN_CACHE or .hetalign)")
	repair := fs.Bool("repair", false, "verify: delete broken entries so that their steps rerun")
	maxAge := fs.Duration("max-age", 0, "gc: also remove steps unused for longer than this (e.g. 720h); 0 keeps every step")
	if _, err := parse(fs, args[1:]); err != nil {
		return exitInvalid
	}
	st, err := store.Open(*cache)
	if err != nil {
		fmt.Fprintln(stderr, "hetalign:", err)
		return exitFailed
	}
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
		probs, err := st.Verify(*repair)
		for _, p := range probs {
			fmt.Fprintf(stdout, "%s: %s\n", p.Path, p.Msg)
		}
		if err != nil {
			fmt.Fprintln(stderr, "hetalign:", err)
			return exitFailed
		}
		if len(probs) > 0 {
			action := "run with --repair to delete them"
			if *repair {
				action = "deleted; their steps will rerun"
			}
			fmt.Fprintf(stdout, "%d problems (%s)\n", len(probs), action)
			return exitFailed
		}
		fmt.Fprintln(stdout, "cache is consistent")
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
