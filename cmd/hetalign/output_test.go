package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"hetalign/runner/plan"
)

// Ctrl-C (SIGINT) ends a run with one summary line, not a line per step
// that did not start.
func TestInterruptPrintsOneLine(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	cmd, _ := startSlow(t, dir, filepath.Join(dir, "cache"), 10, &stderr)
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err == nil {
		t.Skip("the run finished before the interrupt")
	}
	log := stderr.String()
	if n := strings.Count(log, "interrupted"); n != 1 {
		t.Errorf("%d interrupted lines:\n%s", n, log)
	}
	if n := strings.Count(log, " ERR "); n > 0 {
		t.Errorf("%d ERR lines on Ctrl-C:\n%s", n, log)
	}
}

// reportFiles reads every file of a report folder.
func reportFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// A second run that changes no result leaves every file of the report,
// provenance.json included, as it was; a renamed table leaves no stale
// CSV; a cache whose index cannot be written still gives exit 0 when the
// report is complete.
func TestReportFolderFollowsTheReport(t *testing.T) {
	dir := t.TempDir()
	spec := writeSpec(t, dir, "quickstart.cue", quickstart(t))
	cache, out := filepath.Join(dir, "cache"), filepath.Join(dir, "out")
	if _, e, code := cli(t, "run", "--cache", cache, "--out", out, spec); code != 0 {
		t.Fatal(e)
	}
	first := reportFiles(t, filepath.Join(out, "quickstart"))
	if _, e, code := cli(t, "run", "--cache", cache, "--out", out, spec); code != 0 {
		t.Fatal(e)
	}
	second := reportFiles(t, filepath.Join(out, "quickstart"))
	for name, b := range first {
		if !bytes.Equal(b, second[name]) {
			t.Errorf("%s changed on a run that changed no result", name)
		}
	}
	if len(second) != len(first) {
		t.Errorf("%d files after the second run, %d after the first", len(second), len(first))
	}
	// Rename a table: its old CSV goes.
	src := quickstart(t)
	const table = "tv"
	old := "disagree." + table + ".csv"
	if _, ok := first[old]; !ok || !strings.Contains(src, "\t\t"+table+": {title") {
		t.Fatalf("the quickstart spec has no table %s (files: %v)", table, first)
	}
	writeSpec(t, dir, "quickstart.cue", strings.Replace(src, "\t\t"+table+": {title", "\t\t"+table+"_renamed: {title", 1))
	// The index cannot be written (a folder where its file should be, as
	// on a read-only cache): the run still succeeds.
	idx := filepath.Join(cache, "index", plan.IndexID("quickstart")+".json")
	os.Remove(idx)
	if err := os.MkdirAll(filepath.Join(idx, "blocked"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, e, code := cli(t, "run", "--cache", cache, "--out", out, spec); code != 0 {
		t.Fatalf("exit %d with an unwritable index:\n%s", code, e)
	}
	third := reportFiles(t, filepath.Join(out, "quickstart"))
	if _, ok := third[old]; ok {
		t.Errorf("stale %s left after renaming table %s", old, table)
	}
	if _, ok := third[strings.Replace(old, table, table+"_renamed", 1)]; !ok {
		t.Errorf("no CSV for the renamed table: %v", third)
	}
}

// Off a terminal, progress is structured log events naming the running
// steps.
func TestProgressEvents(t *testing.T) {
	dir := t.TempDir()
	spec := writeSpec(t, dir, "quickstart.cue", quickstart(t))
	_, e, code := cli(t, "run", "--log-format", "json", "--cache", filepath.Join(dir, "c"), "--out", filepath.Join(dir, "o"), spec)
	if code != 0 {
		t.Fatal(e)
	}
	if !strings.Contains(e, `"message":"progress"`) || !strings.Contains(e, `"running":`) || !strings.Contains(e, `"steps":`) {
		t.Errorf("no progress events:\n%s", e)
	}
}
