//go:build slurm

// Tests of `hetalign run --executor slurm` against a real Slurm: run them
// with `go tool task test-slurm` (scripts/test-slurm.sh starts a private
// one-node cluster and sets SLURM_CONF). The driver and the array tasks
// are this test binary acting as hetalign (HETALIGN_TEST_MAIN=1, which
// sbatch passes on to the tasks with the rest of the environment).
package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"hetalign/runner/store/storetest"
)

// cacheLocation is one kind of store the Slurm tests run against: new
// returns a fresh cache location (a path or URL) the cluster's tasks can
// open, and the driver directory on the filesystem they share.
type cacheLocation struct {
	name string
	new  func(t *testing.T) (cache, dir string)
}

// cacheLocations lists the stores under test: a directory, the same as a
// file:// URL, and the in-process S3 server (storetest; its credentials
// are in the environment, which sbatch passes on to the tasks).
func cacheLocations() []cacheLocation {
	return []cacheLocation{
		{"dir", func(t *testing.T) (string, string) {
			c := filepath.Join(t.TempDir(), "cache")
			return c, filepath.Join(c, "slurm")
		}},
		{"file", func(t *testing.T) (string, string) {
			c := filepath.Join(t.TempDir(), "cache")
			return "file://" + c, filepath.Join(c, "slurm")
		}},
		{"s3", func(t *testing.T) (string, string) {
			return storetest.S3(t), filepath.Join(t.TempDir(), "slurm")
		}},
	}
}

// someLocations are the directory and S3 stores, for the tests that
// need not run on all three.
func someLocations() []cacheLocation {
	var out []cacheLocation
	for _, l := range cacheLocations() {
		if l.name != "file" {
			out = append(out, l)
		}
	}
	return out
}

// slurmSpecs are the specs most tests run: the paper's toy (432 steps) and
// the quickstart example (21 steps). The paper's circular spec (~3 minutes
// locally on two CPUs) has its own test, TestSlurmCircular.
var slurmSpecs = []string{"../../specs/paper/toy.cue", "../../specs/examples/quickstart.cue"}

// hetalign runs this binary as hetalign; env adds variables.
func hetalign(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := hetalignCmd(env, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("hetalign %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

func hetalignCmd(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "HETALIGN_TEST_MAIN=1"), env...)
	return cmd
}

func requireSlurm(t *testing.T) {
	t.Helper()
	if os.Getenv("SLURM_CONF") == "" {
		t.Skip("no SLURM_CONF: run go tool task test-slurm")
	}
	if err := exec.Command("sinfo", "-h").Run(); err != nil {
		t.Skipf("no Slurm: %v", err)
	}
}

// slurmArgs are the flags of every Slurm run of the tests.
func slurmArgs(cache, dir, out string) []string {
	return []string{"run", "--executor", "slurm", "--slurm-chunk", "20", "--slurm-poll", "300ms", "--cache", cache, "--slurm-dir", dir, "--out", out}
}

// localReport runs spec locally into a fresh cache and returns its
// report.json.
func localReport(t *testing.T, spec string) []byte {
	t.Helper()
	dir := t.TempDir()
	if _, e, code := hetalign(t, nil, "run", "--cache", filepath.Join(dir, "cache"), "--out", filepath.Join(dir, "out"), spec); code != 0 {
		t.Fatalf("local run of %s: exit %d\n%s", spec, code, e)
	}
	return readReport(t, filepath.Join(dir, "out"), spec)
}

func readReport(t *testing.T, out, spec string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, strings.TrimSuffix(filepath.Base(spec), ".cue"), "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// submissions counts, per step key, the batches of the driver directory
// that held it.
func submissions(t *testing.T, dir string) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "batches", "*", "keys.*"))
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range strings.Fields(string(b)) {
			n[k]++
		}
	}
	return n
}

func TestSlurmReportMatchesLocal(t *testing.T) {
	requireSlurm(t)
	for _, loc := range cacheLocations() {
		for _, spec := range slurmSpecs {
			if loc.name != "dir" && spec != slurmSpecs[1] {
				continue // the paper's toy on the directory store only: time
			}
			t.Run(loc.name+"/"+filepath.Base(spec), func(t *testing.T) {
				want := localReport(t, spec)
				cache, dir := loc.new(t)
				out := filepath.Join(t.TempDir(), "out")
				start := time.Now()
				_, e, code := hetalign(t, nil, append(slurmArgs(cache, dir, out), spec)...)
				if code != 0 {
					t.Fatalf("slurm run: exit %d\n%s", code, e)
				}
				t.Logf("%s on Slurm: %v", filepath.Base(spec), time.Since(start).Round(time.Millisecond))
				if got := readReport(t, out, spec); !bytes.Equal(got, want) {
					t.Errorf("report.json differs from the local run's (%d and %d bytes)", len(got), len(want))
				}
				for k, n := range submissions(t, dir) {
					if n != 1 {
						t.Errorf("step %.12s submitted %d times", k, n)
					}
				}
				// A second run finds everything in the store.
				_, e, code = hetalign(t, nil, append(slurmArgs(cache, dir, out), spec)...)
				if code != 0 || !strings.Contains(e, "computed=0") {
					t.Errorf("rerun: exit %d, want nothing computed:\n%s", code, e)
				}
			})
		}
	}
}

// TestSlurmResume kills the driver once it has submitted, then runs it
// again: the second driver adopts the queued and running tasks of the
// first, submits every step once, and writes the same report.
func TestSlurmResume(t *testing.T) {
	requireSlurm(t)
	spec := slurmSpecs[1]
	want := localReport(t, spec)
	for _, loc := range someLocations() {
		t.Run(loc.name, func(t *testing.T) {
			cache, dir := loc.new(t)
			out := filepath.Join(t.TempDir(), "out")
			env := []string{"HETALIGN_TEST_STEP_DELAY=1s"}
			args := append(append(slurmArgs(cache, dir, out), "--slurm-chunk", "2"), spec)
			first := hetalignCmd(env, args...)
			var e1 bytes.Buffer
			first.Stderr = &e1
			if err := first.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				jobs, _ := filepath.Glob(filepath.Join(dir, "batches", "*", "job"))
				if len(jobs) > 0 {
					break
				}
				if time.Now().After(deadline) {
					first.Process.Kill()
					first.Wait()
					t.Fatalf("no submission in 60 s:\n%s", e1.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			first.Process.Signal(syscall.SIGKILL)
			first.Wait()
			before := submissions(t, dir)
			_, e, code := hetalign(t, env, args...)
			if code != 0 {
				t.Fatalf("resumed run: exit %d\n%s", code, e)
			}
			if got := readReport(t, out, spec); !bytes.Equal(got, want) {
				t.Error("report.json differs from the local run's")
			}
			after := submissions(t, dir)
			for k, n := range after {
				if n != 1 {
					t.Errorf("step %.12s submitted %d times", k, n)
				}
			}
			if len(after) <= len(before) {
				t.Logf("the first driver had submitted %d steps, the resumed one none", len(before))
			}
			t.Logf("first driver submitted %d steps; %d in all", len(before), len(after))
		})
	}
}

// TestSlurmCancelledTaskIsRetried scancels a running task: its steps are
// submitted again and the report is still the local one.
func TestSlurmCancelledTaskIsRetried(t *testing.T) {
	requireSlurm(t)
	spec := slurmSpecs[1]
	want := localReport(t, spec)
	for _, loc := range someLocations() {
		t.Run(loc.name, func(t *testing.T) {
			cache, dir := loc.new(t)
			out := filepath.Join(t.TempDir(), "out")
			args := append(append(slurmArgs(cache, dir, out), "--slurm-chunk", "3", "--retries", "2"), spec)
			cmd := hetalignCmd([]string{"HETALIGN_TEST_STEP_DELAY=2s"}, args...)
			var e bytes.Buffer
			cmd.Stderr = &e
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var task string
			for task == "" && ctx.Err() == nil {
				o, _ := exec.Command("squeue", "-h", "-r", "-t", "RUNNING", "-o", "%i %j").Output()
				for _, line := range strings.Split(string(o), "\n") {
					f := strings.Fields(line)
					if len(f) == 2 && strings.HasPrefix(f[1], "hetalign-") {
						task = f[0]
						break
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
			if task == "" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("no running task in 60 s:\n%s", e.String())
			}
			if o, err := exec.Command("scancel", task).CombinedOutput(); err != nil {
				t.Fatalf("scancel %s: %v %s", task, err, o)
			}
			err := cmd.Wait()
			if err != nil {
				t.Fatalf("driver: %v\n%s", err, e.String())
			}
			if !strings.Contains(e.String(), "submitting it again") {
				t.Errorf("no step of the cancelled task %s was submitted again:\n%s", task, e.String())
			}
			if got := readReport(t, out, spec); !bytes.Equal(got, want) {
				t.Error("report.json differs from the local run's")
			}
			twice := 0
			for _, n := range submissions(t, dir) {
				if n > 1 {
					twice++
				}
			}
			if twice == 0 {
				t.Error("no step submitted a second time")
			}
		})
	}
}

// TestSlurmFailureIsolated makes one step fail in its task: it fails after
// its retries with the task's log tail in the error; the steps that do not
// need it finish and the report is written with its cells failed.
func TestSlurmFailureIsolated(t *testing.T) {
	requireSlurm(t)
	spec := slurmSpecs[1]
	const label = "train dpo quickstart/disagree/methods.dpo.beta=2 seed=0"
	for _, loc := range someLocations() {
		t.Run(loc.name, func(t *testing.T) {
			cache, dir := loc.new(t)
			out := filepath.Join(t.TempDir(), "out")
			args := append(append(slurmArgs(cache, dir, out), "--retries", "1"), spec)
			_, e, code := hetalign(t, []string{"HETALIGN_TEST_FAIL_STEP=" + label}, args...)
			if code != exitFailed {
				t.Fatalf("exit %d, want %d\n%s", code, exitFailed, e)
			}
			for _, want := range []string{label, "attempt 2 of 2", "failing on purpose", "log "} {
				if !strings.Contains(e, want) {
					t.Errorf("stderr lacks %q:\n%s", want, e)
				}
			}
			// The failed step and the evaluation that reads it; the
			// other 19 steps (the report among them) finish.
			if m := regexp.MustCompile(`computed=(\d+) failed=(\d+)`).FindStringSubmatch(e); m == nil || m[1] != "19" || m[2] != "2" {
				t.Errorf("want computed=19 failed=2, got %v:\n%s", m, e)
			}
			if _, err := os.Stat(filepath.Join(out, "quickstart", "report.json")); err != nil {
				t.Errorf("no report: %v", err)
			}
		})
	}
}

// TestSlurmCircular runs the paper's circular spec (quick profile: exact
// fits, sampled datasets and the published MLP trained by Adam) on Slurm
// with the cache on a file:// URL: its report.json is the local run's,
// byte for byte. It is the longest of these tests (a few minutes on a
// two-CPU node): SLURM_TEST_RUN can leave it out.
func TestSlurmCircular(t *testing.T) {
	requireSlurm(t)
	spec := "../../specs/paper/circular.cue"
	want := localReport(t, spec)
	var loc cacheLocation
	for _, l := range cacheLocations() {
		if l.name == "file" {
			loc = l
		}
	}
	cache, dir := loc.new(t)
	out := filepath.Join(t.TempDir(), "out")
	start := time.Now()
	_, e, code := hetalign(t, nil, append(slurmArgs(cache, dir, out), spec)...)
	if code != 0 {
		t.Fatalf("slurm run: exit %d\n%s", code, e)
	}
	t.Logf("circular on Slurm: %v", time.Since(start).Round(time.Millisecond))
	if got := readReport(t, out, spec); !bytes.Equal(got, want) {
		t.Errorf("report.json differs from the local run's (%d and %d bytes)", len(got), len(want))
	}
	for k, n := range submissions(t, dir) {
		if n != 1 {
			t.Errorf("step %.12s submitted %d times", k, n)
		}
	}
}
