//go:build faults

// Faults of the store during a run, injected in front of the in-process
// S3 server; run with `go tool task test-faults` (they take tens of
// seconds: the S3 client retries each failed request).
package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hetalign/runner/store/storetest"
)

// A store that dies during a run (its server drops every connection):
// the run stops starting steps after store.MaxStoreErrors failed
// operations and ends with one message naming the store and the error,
// not one per step and never "corrupt"; once the server is back, a rerun
// finishes with the report of an uninterrupted run.
func TestStoreDiesMidRun(t *testing.T) {
	want := referenceReport(t, toySpec, "toy")
	url, fault := storetest.S3Faulty(t)
	fault.Down(400)
	out := t.TempDir()
	_, e, code := cli(t, "run", "--cache", url, "--out", out, toySpec)
	if code != exitFailed {
		t.Fatalf("run on a dying store: exit %d\n%s", code, e)
	}
	last := lastLine(e)
	if !strings.Contains(last, "the cache s3://"+storetest.Bucket+" is unreachable") || !strings.Contains(last, "rerun to resume") {
		t.Errorf("last line %q does not name the unreachable store", last)
	}
	if strings.Contains(e, "corrupt") {
		t.Errorf("a dead store was called corrupt:\n%s", e)
	}
	if n := strings.Count(e, "\n"); n > 12 {
		t.Errorf("%d lines of errors for one dead store:\n%s", n, e)
	}
	fault.Up()
	out2 := t.TempDir()
	if _, e, code := cli(t, "run", "--cache", url, "--out", out2, toySpec); code != 0 {
		t.Fatalf("rerun: exit %d\n%s", code, e)
	}
	got, err := os.ReadFile(filepath.Join(out2, "toy", "report.json"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("report.json after the store came back differs (%v)", err)
	}
}

// A store that stops answering (kill -STOP) fails the run within its
// deadlines (timeout= in the URL), saying so, instead of hanging.
func TestStoreHangsMidRun(t *testing.T) {
	url, fault := storetest.S3Faulty(t)
	defer fault.Up()
	fault.Hang(300)
	_, e, code := cli(t, "run", "--cache", url+"&timeout=300ms", "--out", t.TempDir(), toySpec)
	if code != exitFailed {
		t.Fatalf("run on a held store: exit %d\n%s", code, e)
	}
	if last := lastLine(e); !strings.Contains(last, "is unreachable") || !strings.Contains(last, "no answer within 300ms") {
		t.Errorf("last line %q does not say the store stopped answering", last)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
