package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run whose steps failed never overwrites the last good report: it
// writes its report beside it, in <name>.failed/, and says so; the next
// good run writes <name>/ again and removes <name>.failed/.
func TestFailedRunKeepsTheGoodReport(t *testing.T) {
	dir := t.TempDir()
	good := quickstart(t)
	// apo-down has no finite minimiser on these data: its train steps fail.
	bad := strings.Replace(good, `dpo_2k: {kind: "dpo", data: "small"}`, `dpo_2k: {kind: "dpo", data: "small"}
		down: {kind: "apo-down", data: "anon"}`, 1)
	if bad == good {
		t.Fatal("the quickstart changed: no dpo_2k line to add a method after")
	}
	p := writeSpec(t, dir, "quickstart.cue", good)
	out, cache := filepath.Join(dir, "reports"), filepath.Join(dir, "cache")
	args := []string{"run", "--jobs", "2", "--out", out, "--cache", cache, p}
	if _, errs, code := cli(t, args...); code != exitOK {
		t.Fatalf("good run: exit %d\n%s", code, errs)
	}
	kept := filepath.Join(out, "quickstart")
	failedDir := kept + ".failed"
	before := map[string][]byte{}
	for _, f := range []string{"report.json", "report.md", "provenance.json"} {
		b, err := os.ReadFile(filepath.Join(kept, f))
		if err != nil {
			t.Fatal(err)
		}
		before[f] = b
	}

	writeSpec(t, dir, "quickstart.cue", bad)
	_, errs, code := cli(t, args...)
	if code != exitFailed {
		t.Fatalf("failing run: exit %d, want %d\n%s", code, exitFailed, errs)
	}
	for f, b := range before {
		if now, _ := os.ReadFile(filepath.Join(kept, f)); string(now) != string(b) {
			t.Errorf("the failed run rewrote %s of the good report", f)
		}
	}
	md, err := os.ReadFile(filepath.Join(failedDir, "report.md"))
	if err != nil || !strings.Contains(string(md), "failed") {
		t.Errorf("the failed run's report is not in %s: %v", failedDir, err)
	}
	if !strings.Contains(errs, "the last good report is kept") || !strings.Contains(errs, failedDir) {
		t.Errorf("the run does not say where the reports are:\n%s", errs)
	}

	// A failing run over a failed report replaces it; a good run restores
	// the report and clears the failed one.
	writeSpec(t, dir, "quickstart.cue", good)
	if _, errs, code := cli(t, args...); code != exitOK {
		t.Fatalf("good rerun: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(failedDir); !os.IsNotExist(err) {
		t.Errorf("the good rerun left %s (%v)", failedDir, err)
	}
	if now, _ := os.ReadFile(filepath.Join(kept, "report.json")); string(now) != string(before["report.json"]) {
		t.Error("the good rerun changed report.json")
	}
}
