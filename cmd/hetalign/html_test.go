package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hetalign/reports/page"
	"hetalign/runner"
)

// TestHTMLPages: run writes the report's page and the index; diff --html
// writes a page with the text diff's exit status, between two report
// folders; report --index rewrites the pages from the files alone.
func TestHTMLPages(t *testing.T) {
	dir := t.TempDir()
	spec := writeSpec(t, dir, "quickstart.cue", quickstart(t))
	cache := filepath.Join(dir, "cache")
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if _, e, code := cli(t, "run", "--cache", cache, "--out", a, spec); code != 0 {
		t.Fatal(e)
	}
	for _, p := range []string{filepath.Join(a, "quickstart", page.FileName), filepath.Join(a, page.FileName)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("run did not write %s", p)
		}
	}
	idx, _ := os.ReadFile(filepath.Join(a, page.FileName))
	if !strings.Contains(string(idx), `<a href="quickstart/index.html">quickstart</a>`) {
		t.Errorf("the index does not link the report:\n%s", idx)
	}
	writeSpec(t, dir, "quickstart.cue", strings.Replace(quickstart(t), "B: {weight: 1,", "B: {weight: 1.5,", 1))
	if _, e, code := cli(t, "run", "--cache", cache, "--out", b, spec); code != 0 {
		t.Fatal(e)
	}
	out := filepath.Join(dir, "diff.html")
	qa, qb := filepath.Join(a, "quickstart"), filepath.Join(b, "quickstart")
	cases := []struct {
		args []string
		code int
		says string
	}{
		{[]string{qa, qb}, exitFailed, "changed past the tolerance 0"},
		{[]string{"--tolerance", "10", qa, qb}, exitOK, "0 changed past the tolerance 10"},
		{[]string{qa, filepath.Join(a, "quickstart", "report.json")}, exitOK, "No cell differs."},
	}
	for _, c := range cases {
		os.Remove(out)
		_, e, code := cli(t, append([]string{"diff", "--html", out}, c.args...)...)
		if code != c.code {
			t.Errorf("diff --html %v: exit %d, want %d\n%s", c.args, code, c.code, e)
		}
		body, err := os.ReadFile(out)
		if err != nil {
			t.Errorf("diff --html %v wrote no page: %v", c.args, err)
			continue
		}
		if !strings.Contains(string(body), c.says) {
			t.Errorf("diff --html %v: the page does not say %q", c.args, c.says)
		}
		// Each side's provenance is on the page.
		if strings.Count(string(body), "<dt>spec</dt>") != 2 {
			t.Errorf("diff --html %v: the page lacks a side's provenance", c.args)
		}
	}
	// report --index: pages from the files alone, no cache needed.
	os.Remove(filepath.Join(b, "quickstart", page.FileName))
	os.Remove(filepath.Join(b, page.FileName))
	if _, e, code := cli(t, "report", "--index", "--out", b, "--cache", filepath.Join(dir, "no-cache")); code != 0 {
		t.Fatal(e)
	}
	for _, p := range []string{filepath.Join(b, "quickstart", page.FileName), filepath.Join(b, page.FileName)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("report --index did not write %s", p)
		}
	}
}

func TestServeAddr(t *testing.T) {
	for in, want := range map[string]string{"8080": "127.0.0.1:8080", ":8080": "127.0.0.1:8080", "0.0.0.0:80": "0.0.0.0:80", "127.0.0.1:0": "127.0.0.1:0", "[::1]:9": "[::1]:9"} {
		if got := serveAddr(in); got != want {
			t.Errorf("serveAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestServeOnlyOut: the live server answers the status and the files
// under --out, and nothing outside it, symbolic links included.
func TestServeOnlyOut(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	os.MkdirAll(filepath.Join(out, "r"), 0o755)
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("outside"), 0o644)
	os.WriteFile(filepath.Join(out, "r", "a.txt"), []byte("inside"), 0o644)
	if err := os.Symlink(filepath.Join(dir, "secret.txt"), filepath.Join(out, "r", "link.txt")); err != nil {
		t.Fatal(err)
	}
	s, err := startServe("127.0.0.1:0", out)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	s.observe(runner.Progress{Done: 3, Total: 7})
	get := func(p string) (int, string) {
		resp, err := http.Get(s.URL() + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("r/a.txt"); code != 200 || body != "inside" {
		t.Errorf("r/a.txt: %d %q", code, body)
	}
	for _, p := range []string{"../secret.txt", "..%2fsecret.txt", "r/..%2f..%2fsecret.txt", "r/link.txt"} {
		if _, body := get(p); strings.Contains(body, "outside") {
			t.Errorf("GET %s served a file outside --out", p)
		}
	}
	if _, body := get("_status"); !strings.Contains(body, `"done":3`) || !strings.Contains(body, `"total":7`) {
		t.Errorf("_status: %s", body)
	}
	if _, body := get(""); !strings.Contains(body, `id="live"`) {
		t.Errorf("/ is not the live index")
	}
}
