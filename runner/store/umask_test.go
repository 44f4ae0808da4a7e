//go:build unix

package store

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// setUmask sets the process's umask and returns a func that restores it.
func setUmask(m int) func() {
	old := syscall.Umask(m)
	return func() { syscall.Umask(old) }
}

// Directory and file:// stores write files the group can read: mode 0666
// and directories 0777, less the umask (here 022).
func TestModes(t *testing.T) {
	defer setUmask(0o022)()
	for _, kind := range []string{"dir", "file"} {
		t.Run(kind, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			loc := dir
			if kind == "file" {
				loc = "file://" + filepath.ToSlash(dir)
			}
			st, err := Open(loc)
			if err != nil {
				t.Fatal(err)
			}
			d := testDesc(t, "eval", "{}")
			k := d.Key
			st.Put(k, "eval", "", map[string][]byte{"out": []byte("x")}, 0)
			if err := st.PutStepDesc(d); err != nil {
				t.Fatal(err)
			}
			st.TryLease(k, "me", time.Minute)
			st.PutIndex("id", []byte("{}"))
			files := 0
			err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				want := fs.FileMode(0o644)
				if d.IsDir() {
					want = 0o755
				} else {
					files++
				}
				if fi.Mode().Perm() != want {
					t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
				}
				return nil
			})
			if err != nil || files != 5 {
				t.Errorf("%d files (%v), want 5", files, err)
			}
		})
	}
}
