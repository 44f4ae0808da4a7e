package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// claimsSpec is a small exact experiment with one claim that holds and,
// with bad set, one that does not.
func claimsSpec(bad bool) string {
	extra := ""
	if bad {
		extra = `wrong: {says: "DPO prefers y1", cell: {table: "top", row: "dpo", column: "top"}, equals: "y1", paper: "DPO prefers y1"}`
	}
	return `experiments: x: {
	population: types: {
		A: {weight: 1, reward: {y1: 6, y2: 1}}
		B: {weight: 1, reward: {y1: 3, y2: 9}}
	}
	env: {kind: "analytic", alternatives: ["y1", "y2"]}
	data: pop: regime: "anonymous"
	methods: {
		oracle: kind: "oracle"
		dpo: {kind: "dpo", data: "pop"}
	}
	metrics: ["top", "tv"]
	report: tables: top: {rows: "method", columns: "metric", cell: ["top", "tv"]}
	report: claims: {
		right: {says: "π* prefers y2", cell: {table: "top", row: "oracle", column: "top"}, equals: "y2"}
		` + extra + `
	}
}
`
}

func TestRunAndCheckClaims(t *testing.T) {
	tests := []struct {
		name string
		bad  bool
		code int
		want []string
	}{
		{"claims hold", false, exitOK, []string{"✓ right: π* prefers y2", "1 of 1 claims hold"}},
		{"a claim fails", true, exitClaims, []string{"✓ right", "✗ wrong: DPO prefers y1", "1 of 2 claims hold"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			spec := writeSpec(t, dir, "claims.cue", claimsSpec(tc.bad))
			cache, out := filepath.Join(dir, "cache"), filepath.Join(dir, "out")
			if _, code := cliCode(t, "check", "--cache", cache, spec); code != exitFailed {
				t.Errorf("check before run: status %d, want %d", code, exitFailed)
			}
			stdout, stderr, code := cli(t, "run", "--cache", cache, "--out", out, spec)
			if code != tc.code {
				t.Fatalf("run: status %d, want %d\n%s", code, tc.code, stderr)
			}
			// The reports are written either way.
			md, err := os.ReadFile(filepath.Join(out, "claims", "report.md"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(md), "### Claims") || !strings.Contains(stdout, "✓ right") {
				t.Errorf("no claims in report.md or the terminal output:\n%s\n%s", md, stdout)
			}
			if tc.bad && !strings.Contains(string(md), "The paper states: DPO prefers y1") {
				t.Errorf("report.md lacks the paper's statement:\n%s", md)
			}
			stdout, code = cliCode(t, "check", "--cache", cache, spec)
			if code != tc.code {
				t.Errorf("check: status %d, want %d\n%s", code, tc.code, stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("check output lacks %q:\n%s", w, stdout)
				}
			}
		})
	}
}

// check reads claims edited since the run from the cached evaluations.
func TestCheckEditedClaims(t *testing.T) {
	dir := t.TempDir()
	spec := writeSpec(t, dir, "claims.cue", claimsSpec(false))
	cache := filepath.Join(dir, "cache")
	if _, e, code := cli(t, "run", "--cache", cache, "--out", filepath.Join(dir, "out"), spec); code != exitOK {
		t.Fatal(e)
	}
	writeSpec(t, dir, "claims.cue", claimsSpec(true))
	if out, code := cliCode(t, "check", "--cache", cache, spec); code != exitClaims || !strings.Contains(out, "✗ wrong") {
		t.Errorf("check: status %d\n%s", code, out)
	}
}

func cliCode(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, _, code := cli(t, args...)
	return out, code
}

// check shows each claim's margin and source; --weak R lists only the
// claims whose relative margin is under R (or that have none). Here π*'s
// TV to itself is 0 < 1e-9 (margin 100%) and the text claim has none.
func TestCheckWeak(t *testing.T) {
	dir := t.TempDir()
	src := strings.Replace(claimsSpec(false), `equals: "y2"}`, `equals: "y2", source: "exact: a text"}
		exact: {says: "π* is π*", cell: {table: "top", row: "oracle", column: "tv"}, less: 1e-9, source: "solver tolerance"}`, 1)
	spec := writeSpec(t, dir, "claims.cue", src)
	cache, out := filepath.Join(dir, "cache"), filepath.Join(dir, "out")
	if _, stderr, code := cli(t, "run", "--cache", cache, "--out", out, spec); code != exitOK {
		t.Fatalf("run: status %d\n%s", code, stderr)
	}
	stdout, code := cliCode(t, "check", "--cache", cache, spec)
	if code != exitOK || !strings.Contains(stdout, "margin +100%; threshold: solver tolerance") || !strings.Contains(stdout, "no margin; threshold: exact: a text") {
		t.Errorf("check: status %d, output lacks margins or sources:\n%s", code, stdout)
	}
	stdout, code = cliCode(t, "check", "--weak", "0.5", "--cache", cache, spec)
	if code != exitOK || strings.Contains(stdout, "solver tolerance") || !strings.Contains(stdout, "right:") || !strings.Contains(stdout, "claims have a relative margin under 0.5 or none") {
		t.Errorf("check --weak 0.5: status %d, want the text claim and not the exact one:\n%s", code, stdout)
	}
	md, _ := os.ReadFile(filepath.Join(out, "claims", "report.md"))
	if !strings.Contains(string(md), "threshold: solver tolerance") {
		t.Errorf("report.md lacks the source:\n%s", md)
	}
	if _, code := cliCode(t, "run", "--weak", "0.1", "--cache", cache, "--out", out, spec); code != exitInvalid {
		t.Errorf("run --weak: status %d, want %d", code, exitInvalid)
	}
}
