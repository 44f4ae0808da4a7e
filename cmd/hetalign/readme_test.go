package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runnableBlocks are the README's shell blocks marked <!-- runnable -->.
func runnableBlocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- runnable -->\n```sh\n(.*?)```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

// The README's commands work as written: its runnable blocks run in order
// with bash in a scratch checkout holding the example spec, where
// bin/hetalign is this test binary (so `go build` is skipped), and the
// plan summary a block shows as a comment is what plan prints.
func TestREADMECommands(t *testing.T) {
	blocks := runnableBlocks(t)
	if len(blocks) < 3 {
		t.Fatalf("%d runnable blocks in the README", len(blocks))
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	spec, err := os.ReadFile("../../specs/examples/quickstart.cue")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "specs", "examples"), 0o755)
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	writeSpec(t, filepath.Join(dir, "specs", "examples"), "quickstart.cue", string(spec))
	wrapper := fmt.Sprintf("#!/bin/sh\nHETALIGN_TEST_MAIN=1 exec %q \"$@\"\n", os.Args[0])
	if err := os.WriteFile(filepath.Join(dir, "bin", "hetalign"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) {
		c := exec.Command("git", args...)
		c.Dir = dir
		c.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "scratch")
	summary := regexp.MustCompile(`(?m)^# (\d+ steps: .*)$`)
	for i, block := range blocks {
		var lines []string
		for _, l := range strings.Split(block, "\n") {
			if strings.HasPrefix(l, "go build ") {
				continue // bin/hetalign is this test binary
			}
			lines = append(lines, l)
		}
		c := exec.Command("bash", "-euo", "pipefail", "-c", strings.Join(lines, "\n"))
		c.Dir = dir
		c.Env = append(os.Environ(), "HETALIGN_CACHE="+filepath.Join(dir, ".hetalign"), "GIT_AUTHOR_NAME=t",
			"GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("README block %d failed: %v\n%s\n--- output:\n%s", i+1, err, block, out)
		}
		for _, m := range summary.FindAllStringSubmatch(block, -1) {
			if !strings.Contains(string(out), m[1]) {
				t.Errorf("README block %d says %q; the commands printed:\n%s", i+1, m[1], out)
			}
		}
	}
}
