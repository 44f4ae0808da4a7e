package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func key(s string) string { return Sum([]byte(s)) }

func TestPutGet(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k := key("step")
	if _, ok := st.Get(k); ok {
		t.Fatal("empty store has the step")
	}
	m, err := st.Put(k, "train", "a step", map[string][]byte{"out": []byte("hello")}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := st.Get(k)
	if !ok || got.Outputs["out"] != Sum([]byte("hello")) || m.Size != 5 {
		t.Fatalf("manifest %+v", got)
	}
	b, err := st.Output(got, "out")
	if err != nil || string(b) != "hello" {
		t.Fatalf("output %q, %v", b, err)
	}
	if _, ok := st.Get("not-a-key"); ok {
		t.Error("invalid key found")
	}
	tmp, _ := os.ReadDir(filepath.Join(st.Root(), "tmp"))
	if len(tmp) != 0 {
		t.Errorf("%d temporary files left", len(tmp))
	}
}

func TestVerifyFindsCorruption(t *testing.T) {
	st, _ := Open(t.TempDir())
	k := key("x")
	m, _ := st.Put(k, "eval", "", map[string][]byte{"out": []byte("data")}, 0)
	if probs, err := st.Verify(false); err != nil || len(probs) != 0 {
		t.Fatalf("clean store: %v %v", probs, err)
	}
	sum := m.Outputs["out"]
	os.WriteFile(filepath.Join(st.Root(), "cas", sum[:2], sum), []byte("tampered"), 0o644)
	if _, err := st.Blob(sum); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("reading a corrupt blob: %v", err)
	}
	probs, _ := st.Verify(false)
	if len(probs) != 2 { // the blob and the manifest that points at it
		t.Fatalf("problems %v, want 2", probs)
	}
	st.Verify(true)
	if _, ok := st.Get(k); ok {
		t.Error("repair left the broken step in the cache")
	}
	if probs, _ := st.Verify(false); len(probs) != 0 {
		t.Errorf("after repair: %v", probs)
	}
}

func TestGetNeedsBlobs(t *testing.T) {
	st, _ := Open(t.TempDir())
	st.SetWarn(nil)
	k := key("y")
	m, _ := st.Put(k, "eval", "", map[string][]byte{"out": []byte("data")}, 0)
	sum := m.Outputs["out"]
	os.Remove(filepath.Join(st.Root(), "cas", sum[:2], sum))
	if _, ok := st.Get(k); ok {
		t.Error("a manifest without its blob counts as cached")
	}
}

func TestGC(t *testing.T) {
	st, _ := Open(t.TempDir())
	st.Put(key("keep"), "eval", "", map[string][]byte{"out": []byte("keep")}, 0)
	orphan, _ := st.PutBlob([]byte("orphan"))
	old := key("old")
	st.Put(old, "eval", "", map[string][]byte{"out": []byte("old")}, 0)
	past := time.Now().Add(-48 * time.Hour)
	os.Chtimes(filepath.Join(st.Root(), "ac", old[:2], old+".json"), past, past)
	stale := filepath.Join(st.Root(), "tmp", "w-1")
	os.WriteFile(stale, nil, 0o644)
	os.Chtimes(stale, past, past)

	s, err := st.GC(24 * time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if s.Manifests != 1 || s.Blobs != 2 || s.Temps != 1 {
		t.Errorf("gc removed %+v; want 1 manifest, 2 blobs (orphan and old), 1 temp", s)
	}
	if _, err := st.Blob(orphan); err == nil {
		t.Error("orphan blob survived")
	}
	if _, ok := st.Get(key("keep")); !ok {
		t.Error("gc removed a live step")
	}
}
