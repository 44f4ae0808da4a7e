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

// The README's commands work as written, typed into one shell: its
// runnable blocks run in order in one bash process, in a scratch checkout
// holding the example spec, where bin/hetalign is this test binary (so
// `go build` is skipped), and the plan summary a block shows as a comment
// is what plan prints. The example works in a fresh temporary directory:
// it leaves the checkout as it found it (the spec unedited, no reports/,
// no commit) and writes no fixed path in a shared temporary directory.
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
	fixed := regexp.MustCompile(`(^|[\s'"=])/tmp/`)
	for i, b := range blocks {
		if fixed.MatchString(b) {
			t.Errorf("README block %d writes to a fixed path in /tmp, which another user may own:\n%s", i+1, b)
		}
	}
	dir := t.TempDir()
	tmp := t.TempDir() // $TMPDIR of the blocks: where mktemp -d makes the scratch directory
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
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "HETALIGN_CACHE=") && !strings.HasPrefix(e, "TMPDIR=") {
			env = append(env, e)
		}
	}
	env = append(env, "TMPDIR="+tmp, "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	git := func(args ...string) string {
		c := exec.Command("git", args...)
		c.Dir = dir
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "scratch")
	head := git("rev-parse", "HEAD")

	// One shell, as a reader types the blocks; a marker line before each
	// block splits the output.
	var script strings.Builder
	for i, block := range blocks {
		fmt.Fprintf(&script, "echo '@@ block %d @@'\n", i+1)
		for _, l := range strings.Split(block, "\n") {
			if !strings.HasPrefix(l, "go build ") {
				script.WriteString(l + "\n")
			}
		}
	}
	c := exec.Command("bash", "-euo", "pipefail", "-c", script.String())
	c.Dir = dir
	c.Env = env
	out, err := c.CombinedOutput()
	parts := regexp.MustCompile(`(?m)^@@ block \d+ @@\n`).Split(string(out), -1)[1:]
	if err != nil {
		t.Fatalf("README block %d failed: %v\n%s\n--- output:\n%s", len(parts), err, blocks[max(len(parts)-1, 0)], out)
	}
	summary := regexp.MustCompile(`(?m)^# (\d+ steps: .*)$`)
	for i, block := range blocks {
		for _, m := range summary.FindAllStringSubmatch(block, -1) {
			if i >= len(parts) || !strings.Contains(parts[i], m[1]) {
				t.Errorf("README block %d says %q; the commands printed:\n%s", i+1, m[1], out)
			}
		}
	}

	// The checkout is as it was.
	if st := git("status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Errorf("the README's example changed the checkout:\n%s", st)
	}
	if now := git("rev-parse", "HEAD"); now != head {
		t.Errorf("the README's example committed in the checkout")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "specs", "examples", "quickstart.cue")); string(b) != string(spec) {
		t.Error("the README's example edited specs/examples/quickstart.cue")
	}
}

// The spec the README shows is specs/examples/quickstart.cue as it is
// (after its header comment).
func TestREADMEShowsTheQuickstart(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```cue\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("the README shows no CUE block")
	}
	if !strings.HasSuffix(quickstart(t), string(m[1])) {
		t.Errorf("the README's CUE block is not the end of specs/examples/quickstart.cue:\n%s", m[1])
	}
}
