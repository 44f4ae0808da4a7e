package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// warnings collects what a store warns about.
func warnings(st *Store) *[]string {
	var ws []string
	st.SetWarn(func(msg string) { ws = append(ws, msg) })
	return &ws
}

// flip inverts one byte of the object k, keeping its size.
func flip(t *testing.T, st *Store, k string) {
	t.Helper()
	b := object(t, st, k)
	b[len(b)/2] ^= 0xff
	setObject(t, st, k, b)
}

// A blob that fails its hash is a miss with a warning naming the step, the
// blob and the repair; putting the recomputed output heals it.
func TestCorruptBlobIsMissAndHeals(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		ws := warnings(st)
		k := key("step")
		out := map[string][]byte{"out": []byte("the step's output")}
		m, err := st.Put(k, "train", "a step", out, 0)
		if err != nil {
			t.Fatal(err)
		}
		sum := m.Outputs["out"]
		flip(t, st, blobKey(sum))

		if _, ok := st.Get(k); ok {
			t.Fatal("a step with a corrupt blob counts as cached")
		}
		if len(*ws) != 1 {
			t.Fatalf("warnings %q, want one", *ws)
		}
		w := (*ws)[0]
		for _, want := range []string{k[:12], sum[:12], "corrupt", "hetalign cache verify --repair", "reruns"} {
			if !strings.Contains(w, want) {
				t.Errorf("warning %q does not mention %q", w, want)
			}
		}
		_, err = st.Blob(sum)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "hetalign cache verify --repair") {
			t.Errorf("reading the corrupt blob: %v", err)
		}

		// The rerun stores the same bytes: the blob is replaced.
		if _, err := st.Put(k, "train", "a step", out, 0); err != nil {
			t.Fatal(err)
		}
		if len(*ws) != 2 || !strings.Contains((*ws)[1], "replacing") {
			t.Errorf("warnings %q, want one about replacing the blob", *ws)
		}
		if b := object(t, st, blobKey(sum)); Sum(b) != sum {
			t.Fatal("blob not rewritten")
		}
		if _, ok := st.Get(k); !ok {
			t.Error("healed step is not cached")
		}
		if probs, _ := st.Verify(false); len(probs) != 0 {
			t.Errorf("after healing: %v", probs)
		}
	})
}

// A damaged blob of another size is replaced too.
func TestPutBlobReplacesWrongSize(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		warnings(st)
		data := []byte("payload")
		sum := Sum(data)
		setObject(t, st, blobKey(sum), []byte("pay"))
		if _, err := st.PutBlob(data); err != nil {
			t.Fatal(err)
		}
		if b, err := st.Blob(sum); err != nil || string(b) != "payload" {
			t.Errorf("blob %q, %v", b, err)
		}
		// An intact blob is left alone (no warning).
		ws := warnings(st)
		st.PutBlob(data)
		if len(*ws) != 0 {
			t.Errorf("rewriting an intact blob warned: %q", *ws)
		}
	})
}

// Damaged manifests are misses: truncated, edited (fails its checksum),
// naming another key; a missing blob too. A manifest without a checksum
// (written before there was one) is still read.
func TestDamagedManifestIsMiss(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, st *Store, k, manifest string, m *Manifest)
		want   string
	}{
		{"truncated", func(t *testing.T, st *Store, k, p string, m *Manifest) {
			b := object(t, st, p)
			setObject(t, st, p, b[:len(b)/2])
		}, "does not parse"},
		{"edited", func(t *testing.T, st *Store, k, p string, m *Manifest) {
			b := object(t, st, p)
			setObject(t, st, p, []byte(strings.Replace(string(b), `"seconds": 1.5`, `"seconds": 2.5`, 1)))
		}, "checksum"},
		{"other key", func(t *testing.T, st *Store, k, p string, m *Manifest) {
			b := object(t, st, p)
			setObject(t, st, p, []byte(strings.Replace(string(b), k, key("other"), 1)))
		}, "names key"},
		{"missing blob", func(t *testing.T, st *Store, k, p string, m *Manifest) {
			removeObject(t, st, blobKey(m.Outputs["out"]))
		}, "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, st *Store) {
				ws := warnings(st)
				k := key("m")
				m, _ := st.Put(k, "eval", "", map[string][]byte{"out": []byte("data")}, 1.5)
				tc.damage(t, st, k, manifestKey(k), m)
				if _, ok := st.Get(k); ok {
					t.Fatal("damaged step counts as cached")
				}
				if len(*ws) != 1 || !strings.Contains((*ws)[0], tc.want) || !strings.Contains((*ws)[0], k[:12]) ||
					!strings.Contains((*ws)[0], "verify --repair") {
					t.Errorf("warnings %q, want one naming the step, %q and the repair", *ws, tc.want)
				}
				if probs, _ := st.Verify(false); len(probs) != 1 {
					t.Errorf("verify: %v, want 1 problem", probs)
				}
				if _, err := st.Put(k, "eval", "", map[string][]byte{"out": []byte("data")}, 1.5); err != nil {
					t.Fatal(err)
				}
				if _, ok := st.Get(k); !ok {
					t.Error("rewritten step is not cached")
				}
			})
		})
	}
	t.Run("no checksum", func(t *testing.T) {
		eachStore(t, func(t *testing.T, st *Store) {
			ws := warnings(st)
			k := key("old")
			m, _ := st.Put(k, "eval", "", map[string][]byte{"out": []byte("data")}, 0)
			b := object(t, st, manifestKey(k))
			setObject(t, st, manifestKey(k), []byte(strings.Replace(string(b), `"sum": "`+m.Sum+`"`, `"label": "old"`, 1)))
			if got, ok := st.Get(k); !ok || got.Label != "old" {
				t.Errorf("manifest without checksum: %+v %v, warnings %q", got, ok, *ws)
			}
		})
	})
}

// Verify(true) removes what is damaged and reports it as repaired.
func TestVerifyRepairMarksRepaired(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		k := key("v")
		m, _ := st.Put(k, "eval", "", map[string][]byte{"out": []byte("data")}, 0)
		flip(t, st, blobKey(m.Outputs["out"]))
		probs, err := st.Verify(true)
		if err != nil || len(probs) != 2 {
			t.Fatalf("%v %v", probs, err)
		}
		for _, p := range probs {
			if !p.Repaired {
				t.Errorf("not repaired: %+v", p)
			}
			if _, err := st.be.stat(p.key); !notExist(err) {
				t.Errorf("%s still there (%v)", p.Path, err)
			}
		}
	})
}

// A manifest with a bad key (here empty) is left out of List, so ls and gc
// do not trip over it; verify reports it.
func TestListSkipsDamagedManifests(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		k := key("bad")
		setObject(t, st, manifestKey(k), []byte(`{"key":"","outputs":{"out":"x"}}`))
		setObject(t, st, "ac/"+k[:2]+"/x.json", []byte(`{"key":"x"}`))
		st.Put(key("good"), "eval", "", map[string][]byte{"out": []byte("data")}, 0)
		ms, err := st.List()
		if err != nil || len(ms) != 1 || ms[0].Key != key("good") {
			t.Fatalf("list: %v %v", ms, err)
		}
		if _, err := st.GC(time.Hour); err != nil {
			t.Fatal(err)
		}
		if probs, _ := st.Verify(false); len(probs) != 2 {
			t.Errorf("verify: %v, want 2 problems", probs)
		}
	})
}
