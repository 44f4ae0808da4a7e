package runner

import (
	"os"
	"path/filepath"
	"testing"
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
