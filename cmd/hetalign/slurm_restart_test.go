//go:build slurm

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSlurmControllerRestart takes slurmctld down for 60 s while a run is
// under way (scripts/test-slurm.sh runs it under a loop that restarts it
// once $HETALIGN_SLURMCTLD_DIR/ctld.hold is gone): the submissions that
// fail meanwhile back off and spend no tries (--retries 1), and once the
// controller is back the run finishes with the local report.
func TestSlurmControllerRestart(t *testing.T) {
	requireSlurm(t)
	ctl := os.Getenv("HETALIGN_SLURMCTLD_DIR")
	if ctl == "" {
		t.Skip("HETALIGN_SLURMCTLD_DIR is unset: run with go tool task test-slurm")
	}
	spec := slurmSpecs[1]
	want := localReport(t, spec)
	cache, dir := cacheLocations()[0].new(t)
	out := filepath.Join(t.TempDir(), "out")
	args := append(append(slurmArgs(cache, dir, out), "--slurm-chunk", "2", "--retries", "1"), spec)
	cmd := hetalignCmd([]string{"HETALIGN_TEST_STEP_DELAY=1s"}, args...)
	var e bytes.Buffer
	cmd.Stderr = &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	// Down as soon as the first step is stored: the driver's next
	// submission (the steps that read it) falls in the outage.
	deadline := time.Now().Add(90 * time.Second)
	for {
		stored, _ := filepath.Glob(filepath.Join(cache, "ac", "*", "*.json"))
		if len(stored) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no step stored in 90 s:\n%s", e.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Down: hold the loop, stop the controller by its pid.
	hold := filepath.Join(ctl, "ctld.hold")
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(hold)
	b, err := os.ReadFile(filepath.Join(ctl, "slurmctld.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stopping slurmctld (pid %d): %v", pid, err)
	}
	down := time.Now()
	time.Sleep(60 * time.Second)
	os.Remove(hold)
	t.Logf("slurmctld (pid %d) down for %v", pid, time.Since(down).Round(time.Second))
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("driver: %v\n%s", err, e.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("the run did not finish 3 minutes after the controller came back:\n%s", e.String())
	}
	if got := readReport(t, out, spec); !bytes.Equal(got, want) {
		t.Error("report.json differs from the local run's")
	}
	if !strings.Contains(e.String(), "the Slurm controller does not answer sbatch") {
		t.Errorf("no submission fell in the outage:\n%s", e.String())
	}
	if strings.Contains(e.String(), "step failed") {
		t.Errorf("a step failed during the controller's restart:\n%s", e.String())
	}
	t.Logf("fault row: | slurmctld down 60 s mid-run (--retries 1) | %d | all | 0 | %s |", len(submissions(t, dir)),
		lastLine(e.String()))
}
