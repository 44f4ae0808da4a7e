package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"hetalign/runner/store/storetest"
)

// warnLog collects what a store warns about.
type warnLog struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnLog) add(m string) { w.mu.Lock(); w.msgs = append(w.msgs, m); w.mu.Unlock() }

func (w *warnLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.msgs, "\n")
}

func collect(st *Store) *warnLog {
	w := &warnLog{}
	st.SetWarn(w.add)
	return w
}

// Every object that is read back to compute (plans, step descriptions,
// indexes) is verified: a one-character edit, an object without its
// checksum (an older hetalign's, or rewritten by hand) and garbage are
// each a miss with a warning that names the object, `Verify` lists them,
// and `Verify(true)` removes them.
func TestSealedObjectsVerified(t *testing.T) {
	desc := testDesc(t, "train", `{"rewards":[[6,1,4],[3,9,4]]}`)
	kinds := []struct {
		name  string
		key   string // object key
		put   func(st *Store) error
		read  func(st *Store) error // nil when the object is intact
		vword string                // Verify's message starts with it
	}{
		{"plan", planKey(key("p")),
			func(st *Store) error { return st.PutPlan(key("p"), []byte(`{"rewards":[[6,1,4],[3,9,4]]}`)) },
			func(st *Store) error {
				if _, ok := st.Plan(key("p")); !ok {
					return ErrCorrupt
				}
				return nil
			}, "plan: "},
		{"index", indexKey("i"),
			func(st *Store) error { return st.PutIndex("i", []byte(`{"rewards":[[6,1,4],[3,9,4]]}`)) },
			func(st *Store) error {
				if _, ok := st.Index("i"); !ok {
					return ErrCorrupt
				}
				return nil
			}, "index: "},
		{"step description", descKey(desc.Key),
			func(st *Store) error { return st.PutStepDesc(desc) },
			func(st *Store) error { _, err := st.StepDesc(desc.Key); return err }, "step description: "},
	}
	damages := []struct {
		name string
		f    func(b []byte) []byte
		want string
	}{
		{"one digit edited", func(b []byte) []byte { return bytes.Replace(b, []byte("[3,9,4]"), []byte("[3,8,4]"), 1) }, "hashes to"},
		{"no checksum", func(b []byte) []byte { d, _ := unseal(b); return d }, "no checksum"},
		{"garbage", func(b []byte) []byte { return b[:len(b)/2] }, "does not parse"},
	}
	eachStore(t, func(t *testing.T, st *Store) {
		for _, k := range kinds {
			for _, d := range damages {
				t.Run(k.name+"/"+d.name, func(t *testing.T) {
					w := collect(st)
					if err := k.put(st); err != nil {
						t.Fatal(err)
					}
					if err := k.read(st); err != nil {
						t.Fatalf("intact %s: %v", k.name, err)
					}
					if probs, err := st.Verify(false); err != nil || len(probs) != 0 {
						t.Fatalf("Verify of an intact %s: %v %v", k.name, probs, err)
					}
					setObject(t, st, k.key, d.f(object(t, st, k.key)))
					err := k.read(st)
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("damaged %s read back: %v", k.name, err)
					}
					if got := w.String() + fmt.Sprint(err); !strings.Contains(got, d.want) {
						t.Errorf("damaged %s: warning/error %q does not say %q", k.name, got, d.want)
					}
					probs, err := st.Verify(true)
					if err != nil || len(probs) != 1 || !strings.HasPrefix(probs[0].Msg, k.vword) || !probs[0].Repaired {
						t.Fatalf("Verify(true): %+v %v", probs, err)
					}
					if _, _, err := readAll(st.be, k.key); !notExist(err) {
						t.Errorf("repair left the damaged %s: %v", k.name, err)
					}
				})
			}
		}
	})
}

// A step description whose checksum is right but whose material was
// edited (and resealed) does not hash to its key: StepDesc refuses it.
func TestStepDescKeyRecomputed(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		d := testDesc(t, "truth", `{"rewards":[[6,1,4],[3,9,4]]}`)
		if err := st.PutStepDesc(d); err != nil {
			t.Fatal(err)
		}
		data, err := unseal(object(t, st, descKey(d.Key)))
		if err != nil {
			t.Fatal(err)
		}
		setObject(t, st, descKey(d.Key), seal(bytes.Replace(data, []byte("[3,9,4]"), []byte("[3,8,4]"), 1)))
		if _, err := st.StepDesc(d.Key); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "not to its key") {
			t.Errorf("resealed edited description: %v", err)
		}
		e := *d
		e.Params = []byte(`{"rewards":[[6,1,4],[3,8,4]]}`)
		if err := st.PutStepDesc(&e); err == nil {
			t.Error("PutStepDesc stored a description that does not hash to its key")
		}
	})
}

// flaky is a backend whose reads of some objects fail as a broken network
// does (not absent, not damaged).
type flaky struct {
	backend
	prefix string
}

var errTransport = errors.New("read tcp 127.0.0.1:1234: connection reset by peer")

func (f *flaky) open(k string) (io.ReadCloser, objInfo, error) {
	if strings.HasPrefix(k, f.prefix) {
		return nil, objInfo{}, &fs.PathError{Op: "open", Path: k, Err: errTransport}
	}
	return f.backend.open(k)
}

// A blob that cannot be read is not a damaged one: PutBlob does not call
// it corrupt nor replace it, Get misses without a repair hint, and
// Verify(true) lists it as unreadable and removes nothing — neither the
// blob nor the manifest that names it.
func TestTransportErrorIsNotCorruption(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		k := key("t")
		m, err := st.Put(k, "eval", "e", map[string][]byte{"out": []byte("bytes")}, 0)
		if err != nil {
			t.Fatal(err)
		}
		inner := st.be
		st.be = &flaky{backend: inner, prefix: "cas/"}
		defer func() { st.be = inner }()
		w := collect(st)
		if _, err := st.PutBlob([]byte("bytes")); err == nil || !errors.Is(err, errTransport) {
			t.Errorf("PutBlob over an unreadable blob: %v", err)
		}
		if _, ok := st.Get(k); ok {
			t.Error("Get succeeded without reading the blob")
		}
		probs, err := st.Verify(true)
		if err != nil {
			t.Fatal(err)
		}
		if len(probs) != 1 || !probs[0].Unreadable || probs[0].Repaired {
			t.Errorf("Verify(true): %+v", probs)
		}
		if got := w.String(); strings.Contains(got, "corrupt") || strings.Contains(got, RepairHint) {
			t.Errorf("a read error was called damage: %s", got)
		}
		st.be = inner
		if _, ok := st.Get(k); !ok {
			t.Error("the entry was removed")
		}
		if got, err := st.Output(m, "out"); err != nil || string(got) != "bytes" {
			t.Errorf("blob after verify: %q %v", got, err)
		}
	})
}

// A server that stops answering makes the store unreachable after
// MaxStoreErrors operations in a row: later operations fail at once with
// ErrUnreachable without reaching the server, and the store warns once.
// (A server that drops connections, which the client retries for longer,
// is tested by test-faults: TestStoreDiesMidRun.)
func TestUnreachableFailsFast(t *testing.T) {
	url, fault := storetest.S3Faulty(t)
	st, err := Open(url + "&timeout=100ms")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer fault.Up()
	w := collect(st)
	if _, err := st.Put(key("a"), "eval", "", map[string][]byte{"out": []byte("a")}, 0); err != nil {
		t.Fatal(err)
	}
	fault.Hang(0)
	for i := 0; i < MaxStoreErrors; i++ {
		if st.Unreachable() != nil {
			t.Fatalf("unreachable after %d errors", i)
		}
		if _, err := st.PutBlob([]byte(fmt.Sprint(i))); err == nil {
			t.Fatal("PutBlob succeeded on a dropped connection")
		}
	}
	if err := st.Unreachable(); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "the cache "+st.health.loc+" is unreachable") {
		t.Fatalf("Unreachable: %v", err)
	}
	n := fault.Requests()
	for i := 0; i < 10; i++ {
		if _, ok := st.Get(key("a")); ok {
			t.Fatal("Get succeeded")
		}
		if _, err := st.PutBlob([]byte("x")); !errors.Is(err, ErrUnreachable) {
			t.Fatalf("PutBlob: %v", err)
		}
	}
	if fault.Requests() != n {
		t.Errorf("%d requests reached the server after it was found unreachable", fault.Requests()-n)
	}
	if c := strings.Count(w.String(), "is unreachable"); c != 1 {
		t.Errorf("warned %d times:\n%s", c, w)
	}
	if strings.Contains(w.String(), "corrupt") {
		t.Errorf("called corrupt:\n%s", w)
	}
}

// A server that holds requests unanswered (kill -STOP) costs each
// operation its deadline (timeout= in the URL), not forever.
func TestOperationDeadline(t *testing.T) {
	url, fault := storetest.S3Faulty(t)
	st, err := Open(url + "&timeout=200ms")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer fault.Up()
	fault.Hang(0)
	_, err = st.PutBlob([]byte("held"))
	if err == nil || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("PutBlob on a held server: %v", err)
	}
	if _, err := st.StepDesc(key("x")); err == nil || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("StepDesc on a held server: %v", err)
	}
}

// Expired leases (of runs that ended without releasing them) are removed
// by GC; live ones stay.
func TestGCRemovesExpiredLeases(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		now := time.Now()
		st.now = func() time.Time { return now }
		if _, ok, err := st.TryLease(key("old"), "gone", time.Minute); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if _, ok, err := st.TryLease(key("live"), "alive", time.Hour); !ok || err != nil {
			t.Fatal(ok, err)
		}
		now = now.Add(2 * time.Minute)
		s, err := st.GC(0)
		if err != nil || s.Leases != 1 {
			t.Fatalf("GC: %+v %v", s, err)
		}
		if st.LeaseOf(key("old")) != nil || st.LeaseOf(key("live")) == nil {
			t.Error("GC removed the wrong lease")
		}
	})
}

// A lease create answered 409 (a concurrent conditional write in
// progress) is retried, not taken as a store that cannot hold leases.
func TestLeaseConflictRetried(t *testing.T) {
	url, fault := storetest.S3Faulty(t)
	st, err := Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fault.Conflict(2)
	if _, ok, err := st.TryLease(key("c"), "me", time.Minute); !ok || err != nil {
		t.Fatalf("TryLease after two 409s: %v %v", ok, err)
	}
	if l := st.LeaseOf(key("c")); l == nil || l.Owner != "me" {
		t.Errorf("lease: %+v", l)
	}
	if st.Unreachable() != nil {
		t.Error("409s counted against the store's health")
	}
}
