package main

import (
	"fmt"
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

// Mistakes that vet catches, each at its position in the file, with words
// that point at the fix: repeated or missing seeds and sweep values,
// conflicting values (both places), too few alternatives, and a swept
// field without a default.
func TestVetPointsAtTheFix(t *testing.T) {
	random := strings.Replace(base, `env: {kind: "analytic", alternatives: ["y1", "y2"]}`, `env: {kind: "random", alternatives: 2}`, 1)
	random = strings.Replace(random, "reward: {y1: 1, y2: 2}", "", 1)
	random = strings.Replace(random, "reward: {y1: 2, y2: 0}", "", 1)
	tests := []struct {
		name     string
		src      string
		from, to string
		marker   string   // the (first) error is at this text
		want     []string // in the message
	}{
		{"seed twice", base, `sweep:`, "seeds: [0, 0, 1]\n\tsweep:", "0, 1]", []string{"seed 0 is listed twice", "first at"}},
		{"no seeds", base, `sweep:`, "seeds: []\n\tsweep:", "seeds: []", []string{"seeds is empty"}},
		{"sweep value twice", base, `[1, 2]`, `[1, 1.0, 2]`, "1.0, 2]", []string{`1.0 is the same value as 1 at `, "list each value once"}},
		{"zip tuple twice", base, `sweep: "methods.dpo.beta": [1, 2]`, `sweep: zip: [{"methods.dpo.beta": [1, 2, 1], "preference.temperature": [1, 1, 1]}]
	preference: temperature: number | *1`, "1]", []string{"zip group", "list each value once"}},
		{"conflicting values", base, "preference: temperature: 1\n", "preference: temperature: 1\n\tpreference: temperature: 2\n", "", []string{"conflicting values"}},
		{"one alternative", base, `alternatives: ["y1", "y2"]`, `alternatives: ["y1"]`, `alternatives:`, []string{"one alternative: an environment needs at least 2"}},
		{"no alternatives", base, `alternatives: ["y1", "y2"]`, `alternatives: []`, `alternatives:`, []string{"no alternatives: an environment needs at least 2"}},
		{"one random alternative", random, `alternatives: 2`, `alternatives: 1`, `1}`, []string{"one alternative: an environment needs at least 2"}},
		{"swept field without default", base, `beta: number | *1}`, `beta: 1}`, "2]", []string{"conflicting values 2 and 1", "write `beta: number | *1`"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.src, tc.from) {
				t.Fatalf("%q not in the spec", tc.from)
			}
			src := strings.Replace(tc.src, tc.from, tc.to, 1)
			p := writeSpec(t, t.TempDir(), "s.cue", src)
			_, stderr, code := cli(t, "vet", p)
			if code != exitInvalid {
				t.Fatalf("exit %d, want %d; stderr:\n%s\nspec:\n%s", code, exitInvalid, stderr, src)
			}
			at := p + ":" + lineCol(src, tc.marker)
			if tc.marker == "" {
				// Both values, each where it is written.
				one := lineCol(src, "temperature: 1")
				two := lineCol(src, "temperature: 2")
				shift := func(lc string) string { // past "temperature: "
					var l, c int
					fmt.Sscanf(lc, "%d:%d", &l, &c)
					return fmt.Sprintf("%s:%d:%d", p, l, c+len("temperature: "))
				}
				at = shift(one)
				tc.want = append(tc.want, "set at "+shift(one)+" and "+shift(two))
			}
			if !strings.Contains(stderr, at) {
				t.Errorf("no error at %s; got:\n%s", at, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("want %q; got:\n%s", w, stderr)
				}
			}
		})
	}
}
