package main

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
)

// Report files are group-readable like the cache's: mode 0666 less the
// umask, 0644 under the usual 022 (not os.CreateTemp's 0600).
func TestReportFilesGroupReadable(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	spec := writeSpec(t, dir, "quickstart.cue", quickstart(t))
	out := filepath.Join(dir, "out")
	if _, e, code := cli(t, "run", "--cache", filepath.Join(dir, "cache"), "--out", out, spec); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, e)
	}
	n := 0
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		if fi, err := d.Info(); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v (%v), want 0644", p, fi.Mode().Perm(), err)
		}
		return nil
	})
	if n == 0 {
		t.Fatal("no report files")
	}
}
