package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"hetalign/runner/spec"
)

func TestReadmeLicence(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ readme, want string }{
		{"# data\n\nLicence: CC BY 4.0 (see the source)\n", "CC BY 4.0 (see the source)"},
		{"# data\n- **License:** GPL-2 | GPL-3\n", "GPL-2 | GPL-3"},
		{"# data\nThe licence of the source is GPL.\n", "see " + filepath.ToSlash(filepath.Join(dir, "README.md"))},
	}
	for _, c := range cases {
		p := filepath.Join(dir, "README.md")
		if err := os.WriteFile(p, []byte(c.readme), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := readmeLicence(p); got != c.want {
			t.Errorf("readme %q: licence %q, want %q", c.readme, got, c.want)
		}
	}
	if got, want := readmeLicence(filepath.Join(dir, "none", "README.md")), "see "+filepath.ToSlash(filepath.Join(dir, "none", "README.md")); got != want {
		t.Errorf("no README: %q, want %q", got, want)
	}
}

// TestDataFiles: the comparisons spec's provenance names both of its data
// files with the SHA-256 of their bytes and its data README's licence.
func TestDataFiles(t *testing.T) {
	files, err := spec.Load([]string{"../specs/beyond/comparisons.cue"}, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := dataFiles(files[0])
	want := []string{"../specs/beyond/data/cemschoice.csv", "../specs/beyond/data/topmodel2007.csv"}
	if len(got) != len(want) {
		t.Fatalf("data files %+v, want %v", got, want)
	}
	for i, d := range got {
		b, err := os.ReadFile(want[i])
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if d.Path != want[i] || d.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("data file %d: %s %s, want %s %x", i, d.Path, d.SHA256, want[i], sum)
		}
		if d.Licence != readmeLicence("../specs/beyond/data/README.md") || d.Licence == "" {
			t.Errorf("%s: licence %q", d.Path, d.Licence)
		}
	}
}
