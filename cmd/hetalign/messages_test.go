package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hetalign/reports"
)

// An unknown --log-level is an error that lists the valid levels.
func TestLogLevelValues(t *testing.T) {
	dir := t.TempDir()
	p := writeSpec(t, dir, "q.cue", quickstart(t))
	for _, lvl := range []string{"verbose", "trace", "INFO", ""} {
		_, errs, code := cli(t, "vet", "--log-level", lvl, p)
		if code != exitInvalid || !strings.Contains(errs, "debug, info, warn, error") || !strings.Contains(errs, `"`+lvl+`"`) {
			t.Errorf("--log-level %q: exit %d, stderr %q; want exit 2 naming the valid levels", lvl, code, errs)
		}
	}
	for _, lvl := range []string{"debug", "info", "warn", "error"} {
		if _, errs, code := cli(t, "vet", "--log-level", lvl, p); code != exitOK {
			t.Errorf("--log-level %s: exit %d: %s", lvl, code, errs)
		}
	}
}

// writeReport writes a minimal report.json named name and returns its path.
func writeReportJSON(t *testing.T, dir, file, name string) string {
	t.Helper()
	b, err := (&reports.Report{Name: name, Experiments: []reports.Experiment{}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// --tolerance is a finite number ≥ 0: a negative tolerance would count
// equal cells as changes, NaN or Inf would hide every change.
func TestDiffToleranceRange(t *testing.T) {
	dir := t.TempDir()
	a := writeReportJSON(t, dir, "a.json", "quickstart")
	for _, tol := range []string{"-1", "NaN", "Inf", "-Inf"} {
		_, errs, code := cli(t, "diff", "--tolerance", tol, a, a)
		if code != exitInvalid || !strings.Contains(errs, "--tolerance must be a finite number ≥ 0") {
			t.Errorf("--tolerance %s: exit %d, stderr %q", tol, code, errs)
		}
	}
	if _, errs, code := cli(t, "diff", "--tolerance", "0.5", a, a); code != exitOK {
		t.Errorf("--tolerance 0.5: exit %d: %s", code, errs)
	}
}

// diff of two reports with different names warns on stderr (and says
// which file is which report); equal names do not.
func TestDiffWarnsOnDifferentNames(t *testing.T) {
	dir := t.TempDir()
	a := writeReportJSON(t, dir, "a.json", "toy")
	b := writeReportJSON(t, dir, "b.json", "survey")
	_, errs, _ := cli(t, "diff", a, b)
	if !strings.Contains(errs, "different reports") || !strings.Contains(errs, `"toy"`) || !strings.Contains(errs, `"survey"`) {
		t.Errorf("diff of toy and survey: stderr %q; want a warning naming both", errs)
	}
	if _, errs, _ := cli(t, "diff", a, a); strings.Contains(errs, "different reports") {
		t.Errorf("diff of a report with itself warns: %q", errs)
	}
}
