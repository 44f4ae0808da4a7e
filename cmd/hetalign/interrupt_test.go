package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// logEvent finds the JSON log line whose message starts with msg.
func logEvent(t *testing.T, log, msg string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil {
			if m, _ := ev["message"].(string); strings.HasPrefix(m, msg) {
				return ev
			}
		}
	}
	t.Fatalf("no %q line in:\n%s", msg, log)
	return nil
}

// Ctrl-C (SIGINT) halfway: exit status 130, no step counted as failed,
// and the counts printed agree with the rerun: it computes exactly the
// steps the interrupted run said were left, and its cached steps are at
// least the ones the interrupted run computed or found cached (some may
// now be not needed: every step that reads them is cached).
func TestInterruptCountsAgreeWithRerun(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	var stderr bytes.Buffer
	cmd, spec := startSlow(t, dir, cache, 10, &stderr, "--log-format", "json")
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if err == nil {
		t.Skip("the run finished before the interrupt")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Errorf("exit %v after Ctrl-C, want %d", err, exitInterrupted)
	}
	ev := logEvent(t, stderr.String(), "interrupted")
	n := func(ev map[string]any, k string) int {
		v, ok := ev[k].(float64)
		if !ok {
			t.Fatalf("no %s in %v", k, ev)
		}
		return int(v)
	}
	if f := n(ev, "failed"); f != 0 {
		t.Errorf("%d steps counted as failed after Ctrl-C:\n%s", f, stderr.String())
	}
	if strings.Contains(stderr.String(), "step failed") {
		t.Errorf("a cancelled step was logged as failed:\n%s", stderr.String())
	}
	if got := n(ev, "computed") + n(ev, "cached") + n(ev, "not_needed") + n(ev, "failed") + n(ev, "not_finished"); got != n(ev, "steps") {
		t.Errorf("counts add up to %d, not the %d steps: %v", got, n(ev, "steps"), ev)
	}
	_, e, code := cli(t, "run", "--log-format", "json", "--cache", cache, "--out", filepath.Join(dir, "out1"), spec)
	if code != 0 {
		t.Fatal(e)
	}
	done := logEvent(t, e, "done")
	if got, want := n(done, "computed"), n(ev, "rerun_computes"); got != want {
		t.Errorf("the rerun computed %d steps; the interrupted run said %d were left", got, want)
	}
	if got, want := n(done, "cached")+n(done, "not_needed"), n(ev, "computed")+n(ev, "cached")+n(ev, "not_needed"); got != want {
		t.Errorf("the rerun found %d steps cached or not needed; the interrupted run finished %d", got, want)
	}
}
