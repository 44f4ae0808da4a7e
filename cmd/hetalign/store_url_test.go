package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hetalign/runner/store/storetest"
)

// `hetalign run` with its cache in a bucket (the in-process S3 server)
// writes the same report.json, byte for byte, as with a directory cache;
// a second run, here with the bucket from $HETALIGN_CACHE, computes
// nothing; report, plan and cache ls|verify|gc work on the bucket.
func TestRunOnS3(t *testing.T) {
	dir := t.TempDir()
	spec := writeSpec(t, dir, "quickstart.cue", quickstart(t))
	if _, e, code := cli(t, "run", "--cache", filepath.Join(dir, "cache"), "--out", filepath.Join(dir, "local"), spec); code != 0 {
		t.Fatalf("run on a directory: exit %d\n%s", code, e)
	}
	want, err := os.ReadFile(filepath.Join(dir, "local", "quickstart", "report.json"))
	if err != nil {
		t.Fatal(err)
	}

	s3 := storetest.S3(t)
	out := filepath.Join(dir, "s3")
	_, e, code := cli(t, "run", "--cache", s3, "--out", out, spec)
	if code != 0 || !strings.Contains(doneLine(e), "cached=0 ") {
		t.Fatalf("run on s3: exit %d\n%s", code, e)
	}
	got, err := os.ReadFile(filepath.Join(out, "quickstart", "report.json"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("report.json from the s3 cache differs from the directory cache's (%v)", err)
	}

	t.Setenv("HETALIGN_CACHE", s3)
	os.RemoveAll(out)
	if _, e, code := cli(t, "run", "--out", out, spec); code != 0 || !strings.Contains(doneLine(e), "computed=0 ") {
		t.Fatalf("second run on s3 computed steps: exit %d\n%s", code, e)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "quickstart", "report.json")); !bytes.Equal(got, want) {
		t.Error("report.json of the cached run differs")
	}
	if _, e, code := cli(t, "report", "--out", filepath.Join(dir, "rebuilt"), spec); code != 0 {
		t.Errorf("report from s3: exit %d\n%s", code, e)
	}
	if o, e, code := cli(t, "plan", "-q", spec); code != 0 || !strings.Contains(o, "0 to run") {
		t.Errorf("plan on s3: exit %d\n%s%s", code, o, e)
	}
	o, e, code := cli(t, "cache", "ls")
	if code != 0 || !strings.Contains(o, " steps, ") || !strings.Contains(o, "in "+s3) || !strings.Contains(o, "report") {
		t.Errorf("cache ls: exit %d\n%s%s", code, o, e)
	}
	if o, e, code := cli(t, "cache", "verify", "--cache", s3); code != 0 || !strings.Contains(o, "consistent") {
		t.Errorf("cache verify: exit %d\n%s%s", code, o, e)
	}
	if o, e, code := cli(t, "cache", "gc", "--cache", s3); code != 0 || !strings.Contains(o, "removed 0 steps, 0 blobs") {
		t.Errorf("cache gc: exit %d\n%s%s", code, o, e)
	}
}

// A bad cache location fails with an error that names it.
func TestCacheURLErrors(t *testing.T) {
	for _, loc := range []string{"ftp://host/cache", "s3://hetalign?endpoint=http://127.0.0.1:1&use_path_style=true&region=us-east-1"} {
		storetest.S3(t) // static credentials: keep the SDK off the user's
		_, e, code := cli(t, "cache", "ls", "--cache", loc)
		if code != exitInvalid || !strings.Contains(e, "opening cache "+loc+": ") {
			t.Errorf("cache ls --cache %s: exit %d\n%s", loc, code, e)
		}
	}
}

// doneLine is the run's closing log line ("done cached=… computed=…").
func doneLine(log string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, " done ") {
			return l
		}
	}
	return ""
}
