package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path"
	"path/filepath"

	"hetalign/reports"
	"hetalign/reports/page"
)

func runDiff(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hetalign diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var revs multi
	fs.Var(&revs, "rev", "git revision to read reports/<REPORT>/report.json from (once: compare with the working tree; twice: compare the two)")
	tol := fs.Float64("tolerance", 0, "largest |new − old| of a number that is not a change that fails")
	dir := fs.String("reports", "reports", "reports directory inside the repository (with --rev)")
	htmlOut := fs.String("html", "", "also write the diff as one self-contained HTML page to this file")
	pos, err := parse(fs, args)
	if err != nil {
		return exitInvalid
	}
	if *tol < 0 || math.IsNaN(*tol) || math.IsInf(*tol, 0) {
		fmt.Fprintf(stderr, "hetalign diff: --tolerance must be a finite number ≥ 0, got %g\n", *tol)
		return exitInvalid
	}
	var a, b []byte
	var an, bn string
	// Provenance of each side, for the page (nil when there is none).
	var ap, bp []byte
	switch {
	case len(revs) == 0 && len(pos) == 2:
		an, bn = pos[0], pos[1]
		if a, ap, err = readSide(an); err == nil {
			b, bp, err = readSide(bn)
		}
	case len(revs) > 0 && len(revs) <= 2 && len(pos) == 1:
		file := path.Join(*dir, pos[0], "report.json")
		an = revs[0] + ":" + file
		prov := path.Join(*dir, pos[0], "provenance.json")
		a, err = gitShow(revs[0], file)
		ap, _ = gitShow(revs[0], prov)
		if err == nil && len(revs) == 2 {
			bn = revs[1] + ":" + file
			b, err = gitShow(revs[1], file)
			bp, _ = gitShow(revs[1], prov)
		} else if err == nil {
			bn = file
			b, err = os.ReadFile(file)
			bp, _ = os.ReadFile(prov)
		}
	default:
		fmt.Fprintln(stderr, "usage: hetalign diff [--tolerance X] [--html FILE] A B (report.json files or report directories) | hetalign diff [--tolerance X] [--html FILE] --rev R1 [--rev R2] REPORT")
		return exitInvalid
	}
	if err != nil {
		fmt.Fprintln(stderr, "hetalign diff:", err)
		return exitInvalid
	}
	ra, err := reports.ParseReport(a)
	if err != nil {
		fmt.Fprintf(stderr, "hetalign diff: reading %s: %v\n", an, err)
		return exitInvalid
	}
	rb, err := reports.ParseReport(b)
	if err != nil {
		fmt.Fprintf(stderr, "hetalign diff: reading %s: %v\n", bn, err)
		return exitInvalid
	}
	if ra.Name != rb.Name {
		// Two different reports: every cell will differ, which is rarely
		// what was meant.
		fmt.Fprintf(stderr, "hetalign diff: warning: comparing two different reports: %s is report %q, %s is report %q\n", an, ra.Name, bn, rb.Name)
	}
	changes := reports.Diff(ra, rb)
	fmt.Fprintf(stdout, "--- %s\n+++ %s\n", an, bn)
	n := reports.WriteChanges(stdout, changes, *tol)
	fmt.Fprintf(stdout, "%d cells differ, %d beyond tolerance %g\n", len(changes), n, *tol)
	if *htmlOut != "" {
		in := page.DiffInput{Old: page.Side{Label: an, Report: ra}, New: page.Side{Label: bn, Report: rb}, Tolerance: *tol}
		if ap != nil {
			in.Old.Provenance, _ = page.ParseProvenance(ap)
		}
		if bp != nil {
			in.New.Provenance, _ = page.ParseProvenance(bp)
		}
		doc, _, err := page.Diff(in)
		if err == nil {
			err = os.WriteFile(*htmlOut, doc, 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "hetalign diff:", err)
			return exitInvalid
		}
	}
	if n > 0 {
		return exitFailed
	}
	return exitOK
}

func gitShow(rev, file string) ([]byte, error) {
	out, err := exec.Command("git", "show", rev+":"+file).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("git show %s:%s: %s", rev, file, ee.Stderr)
		}
		return nil, fmt.Errorf("git show %s:%s: %w", rev, file, err)
	}
	return out, nil
}

// readSide reads one side of a diff: a report.json file, or a report
// directory (its report.json, and its provenance.json when there is one).
func readSide(p string) (report, prov []byte, err error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, nil, err
	}
	if !fi.IsDir() {
		b, err := os.ReadFile(p)
		if err == nil {
			prov, _ = os.ReadFile(filepath.Join(filepath.Dir(p), "provenance.json"))
		}
		return b, prov, err
	}
	b, err := os.ReadFile(filepath.Join(p, "report.json"))
	if err != nil {
		return nil, nil, err
	}
	prov, _ = os.ReadFile(filepath.Join(p, "provenance.json"))
	return b, prov, nil
}
