package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hetalign/runner/store"
)

// manifestOf finds the manifest of the one step of kind in cache.
func manifestOf(t *testing.T, cache, kind string) store.Manifest {
	t.Helper()
	ps, _ := filepath.Glob(filepath.Join(cache, "ac", "*", "*.json"))
	var found []store.Manifest
	for _, p := range ps {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m store.Manifest
		if json.Unmarshal(b, &m) == nil && m.Kind == kind {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s steps in the cache, want 1", len(found), kind)
	}
	return found[0]
}

func blobFile(cache, sum string) string { return filepath.Join(cache, "cas", sum[:2], sum) }

func flipByte(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// captureStderr runs f with os.Stderr redirected (the store warns there)
// and returns what was written.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = tmp
	defer func() { os.Stderr = old }()
	f()
	tmp.Close()
	b, _ := os.ReadFile(tmp.Name())
	return string(b)
}

// A blob with flipped bytes is a cache miss: the rerun recomputes the step,
// rewrites the blob and writes the same report.
func TestCorruptBlobRerunHeals(t *testing.T) {
	dir := t.TempDir()
	spec := writeSpec(t, dir, "quickstart.cue", quickstart(t))
	cache := filepath.Join(dir, "cache")
	out := filepath.Join(dir, "out")
	if _, e, code := cli(t, "run", "--cache", cache, "--out", out, spec); code != 0 {
		t.Fatal(e)
	}
	want, _ := os.ReadFile(filepath.Join(out, "quickstart", "report.json"))
	sum := manifestOf(t, cache, "report").Outputs["out"]
	flipByte(t, blobFile(cache, sum))

	var e string
	var code int
	warned := captureStderr(t, func() { _, e, code = cli(t, "run", "--cache", cache, "--out", out, spec) })
	if code != 0 {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, e, warned)
	}
	if !strings.Contains(e, "computed=1 ") {
		t.Errorf("the report step was not recomputed:\n%s", e)
	}
	// The warning goes to the run's log (stderr).
	warned += e
	for _, w := range []string{sum[:12], "corrupt", "hetalign cache verify --repair"} {
		if !strings.Contains(warned, w) {
			t.Errorf("warning %q does not mention %q", warned, w)
		}
	}
	b, err := os.ReadFile(blobFile(cache, sum))
	if err != nil || store.Sum(b) != sum {
		t.Fatalf("blob not rewritten correctly (%v)", err)
	}
	got, _ := os.ReadFile(filepath.Join(out, "quickstart", "report.json"))
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Error("report.json after healing differs")
	}
	if o, _, code := cli(t, "cache", "verify", "--cache", cache); code != 0 {
		t.Errorf("verify after healing: exit %d\n%s", code, o)
	}
}

// A truncated manifest is a miss: the step reruns.
func TestTruncatedManifestReruns(t *testing.T) {
	dir := t.TempDir()
	spec := writeSpec(t, dir, "quickstart.cue", quickstart(t))
	cache := filepath.Join(dir, "cache")
	out := filepath.Join(dir, "out")
	if _, e, code := cli(t, "run", "--cache", cache, "--out", out, spec); code != 0 {
		t.Fatal(e)
	}
	k := manifestOf(t, cache, "report").Key
	p := filepath.Join(cache, "ac", k[:2], k+".json")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)/3], 0o644)
	var e string
	var code int
	warned := captureStderr(t, func() { _, e, code = cli(t, "run", "--cache", cache, "--out", out, spec) })
	if code != 0 || !strings.Contains(e, "computed=1 ") {
		t.Fatalf("rerun: exit %d\n%s", code, e)
	}
	warned += e
	if !strings.Contains(warned, k[:12]) || !strings.Contains(warned, "does not parse") {
		t.Errorf("warning %q", warned)
	}
	if o, _, code := cli(t, "cache", "verify", "--cache", cache); code != 0 {
		t.Errorf("verify after rerun: exit %d\n%s", code, o)
	}
}

// verify exits 1 on damage and says how to repair; --repair exits 0 when
// it fixed everything, and the cache is then consistent.
func TestVerifyRepairExitCodes(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	st, err := store.Open(cache)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Put(store.Sum([]byte("k")), "eval", "e", map[string][]byte{"out": []byte("data")}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if o, _, code := cli(t, "cache", "verify", "--cache", cache); code != exitOK || !strings.Contains(o, "consistent") {
		t.Fatalf("clean cache: exit %d\n%s", code, o)
	}
	flipByte(t, blobFile(cache, m.Outputs["out"]))

	o, _, code := cli(t, "cache", "verify", "--cache", cache)
	if code != exitFailed || !strings.Contains(o, "2 problems") || !strings.Contains(o, "run `hetalign cache verify --repair`") {
		t.Errorf("verify of a damaged cache: exit %d\n%s", code, o)
	}
	o, _, code = cli(t, "cache", "verify", "--repair", "--cache", cache)
	if code != exitOK || !strings.Contains(o, "repaired 2 problems") || !strings.Contains(o, "(removed)") {
		t.Errorf("verify --repair: exit %d\n%s", code, o)
	}
	if o, _, code := cli(t, "cache", "verify", "--cache", cache); code != exitOK {
		t.Errorf("verify after repair: exit %d\n%s", code, o)
	}
}

// --repair exits 1 when it cannot remove a damaged entry (a read-only
// directory; root ignores the permission, so the test skips there).
func TestVerifyRepairStillBroken(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can remove files from a read-only directory")
	}
	cache := filepath.Join(t.TempDir(), "cache")
	st, _ := store.Open(cache)
	m, _ := st.Put(store.Sum([]byte("k")), "eval", "e", map[string][]byte{"out": []byte("data")}, 0)
	p := blobFile(cache, m.Outputs["out"])
	flipByte(t, p)
	os.Chmod(filepath.Dir(p), 0o555)
	defer os.Chmod(filepath.Dir(p), 0o755)
	o, _, code := cli(t, "cache", "verify", "--repair", "--cache", cache)
	if code != exitFailed || !strings.Contains(o, "still broken") || !strings.Contains(o, "removing it failed") {
		t.Errorf("verify --repair on a read-only cache: exit %d\n%s", code, o)
	}
}
