package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/blob"

	"hetalign/runner/store"
	"hetalign/runner/store/storetest"
)

// eachCache runs f on a fresh cache of each kind the CLI can share between
// commands: a directory, a file:// URL and the in-process S3 server
// (mem:// is left out: every command opens a new, empty mem:// store).
func eachCache(t *testing.T, f func(t *testing.T, cache string)) {
	t.Helper()
	for _, kind := range []string{"dir", "file", "s3"} {
		t.Run(kind, func(t *testing.T) { f(t, storetest.URLs(t)[kind]) })
	}
}

// bucket opens the cache at loc as a plain gocloud bucket, to read and
// damage its objects behind the store's back.
func bucket(t *testing.T, loc string) *blob.Bucket {
	t.Helper()
	if !strings.Contains(loc, "://") {
		loc = "file://" + filepath.ToSlash(loc)
	}
	if strings.HasPrefix(loc, "file://") {
		loc += "?no_tmp_dir=true&metadata=skip"
	}
	b, err := blob.OpenBucket(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func readObject(t *testing.T, cache, key string) []byte {
	t.Helper()
	b, err := bucket(t, cache).ReadAll(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeObject(t *testing.T, cache, key string, data []byte) {
	t.Helper()
	if err := bucket(t, cache).WriteAll(context.Background(), key, data, nil); err != nil {
		t.Fatal(err)
	}
}

// manifestOf finds the manifest of the one step of kind in cache.
func manifestOf(t *testing.T, cache, kind string) store.Manifest {
	t.Helper()
	st, err := store.Open(cache)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	var found []store.Manifest
	for _, m := range ms {
		if m.Kind == kind {
			found = append(found, *m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s steps in the cache, want 1", len(found), kind)
	}
	return found[0]
}

func blobKey(sum string) string { return "cas/" + sum[:2] + "/" + sum }

func manifestKey(key string) string { return "ac/" + key[:2] + "/" + key + ".json" }

// flipObject inverts one byte of the object key of cache.
func flipObject(t *testing.T, cache, key string) {
	t.Helper()
	b := readObject(t, cache, key)
	b[len(b)/2] ^= 0xff
	writeObject(t, cache, key, b)
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
func TestCorruptBlobRerunHeals(t *testing.T) { eachCache(t, testCorruptBlobRerunHeals) }

func testCorruptBlobRerunHeals(t *testing.T, cache string) {
	dir := t.TempDir()
	spec := writeSpec(t, dir, "quickstart.cue", quickstart(t))
	out := filepath.Join(dir, "out")
	if _, e, code := cli(t, "run", "--cache", cache, "--out", out, spec); code != 0 {
		t.Fatal(e)
	}
	want, _ := os.ReadFile(filepath.Join(out, "quickstart", "report.json"))
	sum := manifestOf(t, cache, "report").Outputs["out"]
	flipObject(t, cache, blobKey(sum))

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
	if b := readObject(t, cache, blobKey(sum)); store.Sum(b) != sum {
		t.Fatal("blob not rewritten correctly")
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
func TestTruncatedManifestReruns(t *testing.T) { eachCache(t, testTruncatedManifestReruns) }

func testTruncatedManifestReruns(t *testing.T, cache string) {
	dir := t.TempDir()
	spec := writeSpec(t, dir, "quickstart.cue", quickstart(t))
	out := filepath.Join(dir, "out")
	if _, e, code := cli(t, "run", "--cache", cache, "--out", out, spec); code != 0 {
		t.Fatal(e)
	}
	k := manifestOf(t, cache, "report").Key
	b := readObject(t, cache, manifestKey(k))
	writeObject(t, cache, manifestKey(k), b[:len(b)/3])
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
func TestVerifyRepairExitCodes(t *testing.T) { eachCache(t, testVerifyRepairExitCodes) }

func testVerifyRepairExitCodes(t *testing.T, cache string) {
	st, err := store.Open(cache)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := st.Put(store.Sum([]byte("k")), "eval", "e", map[string][]byte{"out": []byte("data")}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if o, _, code := cli(t, "cache", "verify", "--cache", cache); code != exitOK || !strings.Contains(o, "consistent") {
		t.Fatalf("clean cache: exit %d\n%s", code, o)
	}
	flipObject(t, cache, blobKey(m.Outputs["out"]))

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
	p := filepath.Join(cache, filepath.FromSlash(blobKey(m.Outputs["out"])))
	flipObject(t, cache, blobKey(m.Outputs["out"]))
	os.Chmod(filepath.Dir(p), 0o555)
	defer os.Chmod(filepath.Dir(p), 0o755)
	o, _, code := cli(t, "cache", "verify", "--repair", "--cache", cache)
	if code != exitFailed || !strings.Contains(o, "still broken") || !strings.Contains(o, "removing it failed") {
		t.Errorf("verify --repair on a read-only cache: exit %d\n%s", code, o)
	}
}
