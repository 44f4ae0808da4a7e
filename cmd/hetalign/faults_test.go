//go:build faults

// Faults of the store, the disk and the driver during a run, against a
// real S3 server (versitygw, a tool dependency; its process killed,
// stopped and restarted by pid) and the in-process one; run them with
// `go tool task test-faults`. Each asserts that the rerun after recovery
// writes the report.json of an undisturbed run, and the substance of the
// message the fault produced. With HETALIGN_FAULT_TABLE set, each appends
// a row (fault, tries, survived, lost, message) to that file.
package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hetalign/runner/store/storetest"
)

// faultRow appends a row to the table named by HETALIGN_FAULT_TABLE.
func faultRow(t *testing.T, fault string, tries, survived, lost int, msg string) {
	t.Helper()
	t.Logf("fault %q: tries %d, survived %d, lost %d: %s", fault, tries, survived, lost, msg)
	p := os.Getenv("HETALIGN_FAULT_TABLE")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	fmt.Fprintf(f, "| %s | %d | %d | %d | %s |\n", fault, tries, survived, lost, strings.ReplaceAll(msg, "|", "/"))
}

// countFiles counts the files under dir.
func countFiles(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".tmp") {
			n++
		}
		return nil
	})
	return n
}

// waitFiles waits until dir holds at least n files.
func waitFiles(t *testing.T, dir string, n int, done <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for countFiles(dir) < n {
		select {
		case <-done:
			t.Fatalf("the run ended before %d steps were stored", n)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d steps stored after 2 minutes", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// cliAsync runs the CLI as its own process (this test binary), in the
// background: a run that ends on a fault leaves its leases behind, and a
// rerun takes them over once that process is gone, as it would in use.
func cliAsync(t *testing.T, args ...string) (*exec.Cmd, <-chan cliResult, <-chan struct{}) {
	t.Helper()
	res := make(chan cliResult, 1)
	done := make(chan struct{})
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HETALIGN_TEST_MAIN=1")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	go func() {
		cmd.Wait()
		res <- cliResult{o.String(), e.String(), cmd.ProcessState.ExitCode()}
		close(done)
	}()
	return cmd, res, done
}

var doneCounts = regexp.MustCompile(`cached=(\d+) computed=(\d+) failed=(\d+)`)

// counts reads cached, computed and failed from a run's "done" line.
func counts(t *testing.T, stderr string) (cached, computed, failed int) {
	t.Helper()
	m := doneCounts.FindStringSubmatch(doneLine(stderr))
	if m == nil {
		t.Fatalf("no done line:\n%s", stderr)
	}
	cached, _ = strconv.Atoi(m[1])
	computed, _ = strconv.Atoi(m[2])
	failed, _ = strconv.Atoi(m[3])
	return
}

// recoverAndCompare reruns spec on cache and checks report.json against
// want; it returns the rerun's cached count (the steps that survived).
func recoverAndCompare(t *testing.T, cache, spec, name string, want []byte) int {
	t.Helper()
	out := t.TempDir()
	_, e, code := cli(t, "run", "--cache", cache, "--out", out, spec)
	if code != 0 {
		t.Fatalf("rerun after recovery: exit %d\n%s", code, e)
	}
	got, err := os.ReadFile(filepath.Join(out, name, "report.json"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("report.json after recovery differs from an undisturbed run's (%v)", err)
	}
	cached, _, _ := counts(t, e)
	return cached
}

// The S3 server is killed during a run: the run stops with one message
// naming the store and the refused connection; the server restarted, the
// rerun resumes from what was stored.
func TestFaultServerKilled(t *testing.T) {
	want := referenceReport(t, toySpec, "toy")
	v := storetest.Versity(t)
	ac := filepath.Join(v.Root, storetest.Bucket, "ac")
	_, res, done := cliAsync(t, "run", "--jobs", "2", "--cache", v.URL, "--out", t.TempDir(), toySpec)
	waitFiles(t, ac, 60, done)
	before := countFiles(ac)
	v.Kill()
	r := <-res
	stored := countFiles(ac)
	if r.code != exitFailed {
		t.Fatalf("run on a killed server: exit %d\n%s", r.code, r.stderr)
	}
	last := lastLine(r.stderr)
	if !strings.Contains(last, "the cache s3://"+storetest.Bucket+" is unreachable") || !strings.Contains(last, "connection refused") ||
		!strings.Contains(last, "rerun to resume") {
		t.Errorf("last line %q does not name the store and the refused connection", last)
	}
	if strings.Contains(r.stderr, "corrupt") {
		t.Errorf("a dead server was called corrupt:\n%s", r.stderr)
	}
	if n := strings.Count(r.stderr, "is unreachable"); n > 2 {
		t.Errorf("the store's failure said %d times:\n%s", n, r.stderr)
	}
	v.Restart()
	recoverAndCompare(t, v.URL, toySpec, "toy", want)
	faultRow(t, "S3 server (versitygw) killed mid-run, restarted", 2, stored, max(0, before-stored), last)
}

// The S3 server is stopped (SIGSTOP) during a run: with timeout=2s each
// operation gives up after 2 s, the run stops with one message saying the
// store does not answer; continued (SIGCONT), the rerun resumes.
func TestFaultServerStopped(t *testing.T) {
	want := referenceReport(t, toySpec, "toy")
	v := storetest.Versity(t)
	ac := filepath.Join(v.Root, storetest.Bucket, "ac")
	url := v.URL + "&timeout=2s"
	_, res, done := cliAsync(t, "run", "--jobs", "2", "--cache", url, "--out", t.TempDir(), toySpec)
	waitFiles(t, ac, 60, done)
	before := countFiles(ac)
	v.Stop()
	start := time.Now()
	var r cliResult
	select {
	case r = <-res:
	case <-time.After(90 * time.Second):
		v.Cont()
		t.Fatal("the run hung on a stopped server for 90 s")
	}
	took := time.Since(start)
	v.Cont()
	if r.code != exitFailed {
		t.Fatalf("run on a stopped server: exit %d\n%s", r.code, r.stderr)
	}
	last := lastLine(r.stderr)
	if !strings.Contains(last, "is unreachable") || !strings.Contains(last, "no answer within 2s") {
		t.Errorf("last line %q does not say the store stopped answering", last)
	}
	stored := countFiles(ac)
	recoverAndCompare(t, url, toySpec, "toy", want)
	faultRow(t, fmt.Sprintf("S3 server stopped (SIGSTOP) mid-run, timeout=2s (gave up after %.0f s)", took.Seconds()), 2, stored, max(0, before-stored), last)
}

// A driver is SIGKILLed mid-run (its leases stay behind) and resumed: the
// resume takes the dead run's leases over at once instead of waiting for
// them to expire, and writes the report of an undisturbed run.
func TestFaultDriverKilled(t *testing.T) {
	for _, kind := range []string{"dir", "s3"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			cache, ac := filepath.Join(dir, "cache"), filepath.Join(dir, "cache", "ac")
			if kind == "s3" {
				v := storetest.Versity(t)
				cache, ac = v.URL, filepath.Join(v.Root, storetest.Bucket, "ac")
			}
			spec, name := toySpec, "toy"
			want := referenceReport(t, spec, name)
			cmd, _, exited := cliAsync(t, "run", "--jobs", "2", "--cache", cache, "--out", filepath.Join(dir, "out1"), spec)
			waitFiles(t, ac, 3, exited)
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			stored := countFiles(ac)
			leases := countFiles(filepath.Join(filepath.Dir(ac), "leases"))
			start := time.Now()
			out := t.TempDir()
			_, e, code := cli(t, "run", "--jobs", "2", "--cache", cache, "--out", out, spec)
			took := time.Since(start)
			if code != 0 {
				t.Fatalf("resume: exit %d\n%s", code, e)
			}
			if strings.Contains(e, "waiting for a step that another run computes") {
				t.Errorf("the resume waited on the dead run's leases:\n%s", e)
			}
			got, err := os.ReadFile(filepath.Join(out, name, "report.json"))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("report.json after kill and resume differs (%v)", err)
			}
			taken := strings.Count(e, "taking over the lease")
			cached, _, _ := counts(t, e)
			faultRow(t, fmt.Sprintf("driver SIGKILLed mid-run, resumed (%s cache)", kind), 2, stored, 0,
				fmt.Sprintf("resume took %.1f s; %d leases left by the killed run, %d taken over at once; %d steps cached", took.Seconds(), leases, taken, cached))
		})
	}
}

// The disk holding the cache fills up during a run (a 1 MiB tmpfs, where
// this process may mount one): the final line says the disk is full.
func TestFaultFullDisk(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (%v: %s): the full-disk fault needs root and CAP_SYS_ADMIN", err, bytes.TrimSpace(out))
	}
	defer exec.Command("umount", mnt).Run()
	want := referenceReport(t, toySpec, "toy")
	cache := filepath.Join(mnt, "cache")
	_, e, code := cli(t, "run", "--cache", cache, "--out", t.TempDir(), toySpec)
	if code != exitFailed {
		t.Fatalf("run on a full disk: exit %d\n%s", code, lastLine(e))
	}
	last := lastLine(e)
	if !strings.Contains(last, "is full (no space left on device)") {
		t.Errorf("last line %q does not say the disk is full", last)
	}
	stored := countFiles(filepath.Join(cache, "ac"))
	if o, _, code := cli(t, "cache", "verify", "--cache", cache); code != 0 {
		t.Errorf("cache inconsistent after the disk filled:\n%s", o)
	}
	// Space again: the cache moves to a roomy disk, the rerun resumes.
	big := filepath.Join(dir, "cache")
	if err := exec.Command("cp", "-a", cache, big).Run(); err != nil {
		t.Fatal(err)
	}
	recoverAndCompare(t, big, toySpec, "toy", want)
	faultRow(t, "disk of the cache full (1 MiB tmpfs)", 2, stored, 0, last)
}

// A store that stops answering (kill -STOP, here in front of the
// in-process server) fails the run within its deadlines (timeout= in the
// URL), saying so, instead of hanging.
func TestFaultStoreHangs(t *testing.T) {
	url, fault := storetest.S3Faulty(t)
	defer fault.Up()
	fault.Hang(300)
	_, e, code := cli(t, "run", "--cache", url+"&timeout=300ms", "--out", t.TempDir(), toySpec)
	if code != exitFailed {
		t.Fatalf("run on a held store: exit %d\n%s", code, e)
	}
	last := lastLine(e)
	if !strings.Contains(last, "is unreachable") || !strings.Contains(last, "no answer within 300ms") {
		t.Errorf("last line %q does not say the store stopped answering", last)
	}
}
