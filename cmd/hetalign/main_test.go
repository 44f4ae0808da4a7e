package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hetalign/runner/device"
	"hetalign/runner/plan"
)

// The test binary doubles as the CLI when HETALIGN_TEST_MAIN is set, so
// tests can run it as a separate process (to kill it).
func TestMain(m *testing.M) {
	if os.Getenv("HETALIGN_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return o.String(), e.String(), code
}

func writeSpec(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func quickstart(t *testing.T) string {
	b, err := os.ReadFile("../../specs/examples/quickstart.cue")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVersionAndUsage(t *testing.T) {
	out, _, code := cli(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "hetalign ") {
		t.Errorf("--version: %q, exit %d", out, code)
	}
	if _, _, code := cli(t, "frobnicate"); code != exitInvalid {
		t.Errorf("unknown command exit %d", code)
	}
	if _, _, code := cli(t, "run", "--backend", "tpu", "x.cue"); code != exitInvalid {
		t.Errorf("unknown backend exit %d", code)
	}
}

// --backend cuda on a machine without the plugin fails before computing,
// listing every place it looked.
func TestCUDAWithoutPlugin(t *testing.T) {
	if p, _ := device.FindCUDAPlugin(device.OS()); p != "" {
		t.Skipf("this machine has a CUDA plugin (%s)", p)
	}
	dir := t.TempDir()
	good := writeSpec(t, dir, "good.cue", quickstart(t))
	_, stderr, code := cli(t, "run", "--backend", "cuda", "--cache", filepath.Join(dir, "c"), "--out", filepath.Join(dir, "o"), good)
	if code != exitInvalid || !(strings.Contains(stderr, "in any of these places") || strings.Contains(stderr, "without the XLA backend")) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "o")); err == nil {
		t.Error("reports written although the backend was missing")
	}
}

func TestVetExitStatus(t *testing.T) {
	dir := t.TempDir()
	p := writeSpec(t, dir, "bad.cue", strings.Replace(quickstart(t), "preference:", "preferences:", 1))
	_, stderr, code := cli(t, "vet", p)
	if code != exitInvalid || !strings.Contains(stderr, "bad.cue:") || !strings.Contains(stderr, "field not allowed") {
		t.Errorf("vet: exit %d, stderr %q", code, stderr)
	}
	good := writeSpec(t, dir, "good.cue", quickstart(t))
	if _, stderr, code := cli(t, "vet", good); code != 0 {
		t.Errorf("vet of a valid spec: exit %d, %s", code, stderr)
	}
}

// Two real runs that differ in one parameter, then diff.
func TestDiff(t *testing.T) {
	dir := t.TempDir()
	spec := writeSpec(t, dir, "quickstart.cue", quickstart(t))
	cache := filepath.Join(dir, "cache")
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if _, e, code := cli(t, "run", "--cache", cache, "--out", a, spec); code != 0 {
		t.Fatal(e)
	}
	writeSpec(t, dir, "quickstart.cue", strings.Replace(quickstart(t), "B: {weight: 1,", "B: {weight: 1.5,", 1))
	if _, e, code := cli(t, "run", "--cache", cache, "--out", b, spec); code != 0 {
		t.Fatal(e)
	}
	ra, rb := filepath.Join(a, "quickstart", "report.json"), filepath.Join(b, "quickstart", "report.json")
	out, _, code := cli(t, "diff", ra, rb)
	if code != exitFailed || !strings.Contains(out, "changed  disagree/tv") {
		t.Errorf("diff: exit %d\n%s", code, out)
	}
	if _, _, code := cli(t, "diff", "--tolerance", "10", ra, rb); code != 0 {
		t.Errorf("diff within tolerance: exit %d", code)
	}
	if out, _, code := cli(t, "diff", ra, ra); code != 0 || !strings.Contains(out, "0 cells differ") {
		t.Errorf("self-diff: exit %d\n%s", code, out)
	}

	// --rev reads committed reports through git.
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := filepath.Join(dir, "repo")
	os.MkdirAll(filepath.Join(repo, "reports", "quickstart"), 0o755)
	gitRun := func(args ...string) {
		c := exec.Command("git", append([]string{"-C", repo, "-c", "user.email=t@t", "-c", "user.name=t"}, args...)...)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	copyFile := func(from string) {
		b, _ := os.ReadFile(from)
		os.WriteFile(filepath.Join(repo, "reports", "quickstart", "report.json"), b, 0o644)
	}
	gitRun("init", "-q")
	copyFile(ra)
	gitRun("add", ".")
	gitRun("commit", "-qm", "a")
	copyFile(rb)
	t.Chdir(repo)
	out, _, code = cli(t, "diff", "--rev", "HEAD", "quickstart")
	if code != exitFailed || !strings.Contains(out, "changed") {
		t.Errorf("diff --rev HEAD: exit %d\n%s", code, out)
	}
	gitRun("commit", "-qam", "b")
	if out, _, code := cli(t, "diff", "--rev", "HEAD~1", "--rev", "HEAD", "quickstart"); code != exitFailed || !strings.Contains(out, "changed") {
		t.Errorf("diff --rev HEAD~1 --rev HEAD: exit %d\n%s", code, out)
	}
}

// slowSpec takes a few seconds to run: long enough to interrupt.
const slowSpec = `import "list"
experiments: slow: {
	population: types: {
		A: {reward: {y1: 6, y2: 1, y3: 4}}
		B: {reward: {y1: 3, y2: 9, y3: 4}}
	}
	env: {
		kind: "analytic"
		alternatives: ["y1", "y2", "y3"]
		sampling: {y3: number | *0.02, y1: (1 - y3) / 2, y2: (1 - y3) / 2}
	}
	data: big: {regime: "full", pairs: 60_000}
	methods: {
		dpo: {kind: "dpo", data: "big"}
		consistent: {kind: "consistent", data: "big"}
	}
	seeds: [0, 1, 2, 3]
	sweep: "env.sampling.y3": [for i in list.Range(0, 30, 1) {0.01 + i*0.002}]
	report: tables: tv: {rows: "env.sampling.y3", columns: "method", cell: "tv", where: seed: 0}
}
`

// startSlow starts the CLI on slowSpec as its own process and waits until
// it has committed at least n steps.
func startSlow(t *testing.T, dir, cache string, n int, stderr io.Writer, flags ...string) (*exec.Cmd, string) {
	t.Helper()
	spec := writeSpec(t, dir, "slow.cue", slowSpec)
	args := append(append([]string{"run", "--jobs", "2", "--cache", cache, "--out", filepath.Join(dir, "out1")}, flags...), spec)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HETALIGN_TEST_MAIN=1")
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		k := 0
		filepath.WalkDir(filepath.Join(cache, "ac"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				k++
			}
			return nil
		})
		if k >= n {
			return cmd, spec
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the run made no progress")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A run killed with SIGKILL halfway leaves a consistent cache; the rerun
// finishes and writes the same report.json as an uninterrupted run.
func TestKillAndResume(t *testing.T) {
	dir := t.TempDir()
	killed := filepath.Join(dir, "killed")
	cmd, spec := startSlow(t, dir, killed, 20, nil)
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	if err == nil {
		t.Skip("the run finished before it could be killed; make the spec slower")
	}
	if out, _, code := cli(t, "cache", "verify", "--cache", killed); code != 0 {
		t.Fatalf("cache inconsistent after SIGKILL:\n%s", out)
	}
	out, _, _ := cli(t, "plan", "-q", "--cache", killed, spec)
	if !strings.Contains(out, "cached") || strings.Contains(out, " 0 cached") {
		t.Errorf("nothing survived the kill: %s", out)
	}
	if _, e, code := cli(t, "run", "--cache", killed, "--out", filepath.Join(dir, "out1"), spec); code != 0 {
		t.Fatal(e)
	}
	if _, e, code := cli(t, "run", "--cache", filepath.Join(dir, "clean"), "--out", filepath.Join(dir, "out2"), spec); code != 0 {
		t.Fatal(e)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "out1", "slow", "report.json"))
	b, _ := os.ReadFile(filepath.Join(dir, "out2", "slow", "report.json"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("report.json after kill and resume differs from an uninterrupted run")
	}
}

func TestCacheCommands(t *testing.T) {
	dir := t.TempDir()
	spec := writeSpec(t, dir, "quickstart.cue", quickstart(t))
	cache := filepath.Join(dir, "cache")
	if _, e, code := cli(t, "run", "--cache", cache, "--out", filepath.Join(dir, "out"), spec); code != 0 {
		t.Fatal(e)
	}
	out, _, code := cli(t, "cache", "ls", "--cache", cache)
	if code != 0 || !strings.Contains(out, "train") || !strings.Contains(out, "report") {
		t.Errorf("cache ls: %d\n%s", code, out)
	}
	if out, _, code := cli(t, "cache", "verify", "--cache", cache); code != 0 || !strings.Contains(out, "consistent") {
		t.Errorf("cache verify: %d\n%s", code, out)
	}
	if _, _, code := cli(t, "cache", "gc", "--cache", cache); code != 0 {
		t.Errorf("cache gc: %d", code)
	}
	// report rebuilds from the cache without computing.
	os.RemoveAll(filepath.Join(dir, "out"))
	if _, e, code := cli(t, "report", "--cache", cache, "--out", filepath.Join(dir, "out"), spec); code != 0 {
		t.Fatal(e)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "quickstart", "report.md")); err != nil {
		t.Error(err)
	}
}

// --max-cells refuses a sweep above it, before evaluating a cell, naming
// the spec, the experiment, the count and the flag.
func TestMaxCells(t *testing.T) {
	dir := t.TempDir()
	src := `import "list"
experiments: big: {
	population: types: {
		A: {reward: {y1: 1, y2: 2}}
		B: {reward: {y1: 2, y2: 0}}
	}
	preference: temperature: number | *1
	env: {kind: "analytic", alternatives: ["y1", "y2"], beta: number | *1}
	data: pop: regime: "anonymous"
	methods: dpo: {kind: "dpo", data: "pop", beta: number | *1}
	seeds: [0, 1]
	sweep: {
		"preference.temperature": [for i in list.Range(1, 1001, 1) {i}]
		"env.beta": [for i in list.Range(1, 1001, 1) {i}]
	}
	report: tables: t: {rows: "preference.temperature", columns: "env.beta", cell: "tv", where: {method: "dpo", seed: 0}}
}
`
	p := writeSpec(t, dir, "big.cue", src)
	for _, cmd := range []string{"vet", "plan", "run"} {
		_, stderr, code := cli(t, cmd, "--max-cells", "1000", "--cache", filepath.Join(dir, "c"), "--out", filepath.Join(dir, "o"), p)
		for _, want := range []string{"big.cue", "experiment big", "2000000 cells", "1000 × 1000 values × 2 seeds", "--max-cells", "1000"} {
			if code != exitInvalid || !strings.Contains(stderr, want) {
				t.Errorf("%s: exit %d, stderr %q lacks %q", cmd, code, stderr, want)
			}
		}
	}
	// The default limit (plan.DefaultMaxCells: what plans in about 1 GB)
	// refuses it too, and a 200,000-cell sweep (which took about 2 GB),
	// saying how much memory it would need.
	if _, stderr, code := cli(t, "vet", p); code != exitInvalid || !strings.Contains(stderr, fmt.Sprintf("above the limit of %d", plan.DefaultMaxCells)) {
		t.Errorf("default limit: exit %d, %q", code, stderr)
	}
	p200k := writeSpec(t, dir, "big200k.cue", strings.Replace(strings.Replace(src, "seeds: [0, 1]", "seeds: [0]", 1), "Range(1, 1001, 1)", "Range(1, 201, 1)", 1))
	if _, stderr, code := cli(t, "vet", p200k); code != exitInvalid || !strings.Contains(stderr, "200000 cells") || !strings.Contains(stderr, "1.8 GB") {
		t.Errorf("200,000 cells at the default limit: exit %d, %q", code, stderr)
	}
}
