package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hetalign/runner/store/storetest"
)

func key(s string) string { return Sum([]byte(s)) }

// eachStore runs f on a fresh, empty store of every kind: a directory,
// mem://, file:// and s3:// (an in-process S3-compatible server).
func eachStore(t *testing.T, f func(t *testing.T, st *Store)) {
	t.Helper()
	urls := storetest.URLs(t)
	for _, kind := range storetest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			st, err := Open(urls[kind])
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := st.Close(); err != nil {
					t.Error(err)
				}
			})
			f(t, st)
		})
	}
}

// object reads the object key of st.
func object(t *testing.T, st *Store, k string) []byte {
	t.Helper()
	b, _, err := readAll(st.be, k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setObject overwrites (or creates) the object key of st.
func setObject(t *testing.T, st *Store, k string, b []byte) {
	t.Helper()
	if err := st.be.write(k, b); err != nil {
		t.Fatal(err)
	}
}

// removeObject deletes the object key of st.
func removeObject(t *testing.T, st *Store, k string) {
	t.Helper()
	if err := st.be.remove(k); err != nil {
		t.Fatal(err)
	}
}

// counting wraps a backend and counts the calls that change objects.
type counting struct {
	backend
	mu                       sync.Mutex
	writes, creates, touches map[string]int
}

func count(st *Store) *counting {
	c := &counting{backend: st.be, writes: map[string]int{}, creates: map[string]int{}, touches: map[string]int{}}
	st.be = c
	return c
}

func (c *counting) write(k string, b ...[]byte) error {
	c.mu.Lock()
	c.writes[k]++
	c.mu.Unlock()
	return c.backend.write(k, b...)
}

func (c *counting) create(k string, b []byte) error {
	c.mu.Lock()
	c.creates[k]++
	c.mu.Unlock()
	return c.backend.create(k, b)
}

func (c *counting) touch(k string, t time.Time) error {
	c.mu.Lock()
	c.touches[k]++
	c.mu.Unlock()
	return c.backend.touch(k, t)
}

func TestPutGet(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		k := key("step")
		if _, ok := st.Get(k); ok || st.Has(k) {
			t.Fatal("empty store has the step")
		}
		m, err := st.Put(k, "train", "a step", map[string][]byte{"out": []byte("hello"), "log": []byte("done")}, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := st.Get(k)
		if !ok || got.Outputs["out"] != Sum([]byte("hello")) || m.Size != 9 || got.Sum != m.Sum || got.Label != "a step" || !st.Has(k) {
			t.Fatalf("manifest %+v", got)
		}
		for name, want := range map[string]string{"out": "hello", "log": "done"} {
			b, err := st.Output(got, name)
			if err != nil || string(b) != want {
				t.Fatalf("output %s: %q, %v", name, b, err)
			}
		}
		if _, err := st.Output(got, "none"); err == nil {
			t.Error("a missing output was found")
		}
		if _, ok := st.Get("not-a-key"); ok {
			t.Error("invalid key found")
		}
		if err := st.PutPlan(k, []byte("plan")); err != nil {
			t.Fatal(err)
		}
		if b, ok := st.Plan(k); !ok || string(b) != "plan" {
			t.Errorf("plan %q %v", b, ok)
		}
		if _, ok := st.Plan(key("none")); ok {
			t.Error("a missing plan was found")
		}
		if err := st.PutIndex("quickstart", []byte("index")); err != nil {
			t.Fatal(err)
		}
		if b, ok := st.Index("quickstart"); !ok || string(b) != "index" {
			t.Errorf("index %q %v", b, ok)
		}
		if d, ok := st.be.(*dirBackend); ok {
			tmp, _ := os.ReadDir(filepath.Join(d.root, "tmp"))
			if len(tmp) != 0 {
				t.Errorf("%d temporary files left", len(tmp))
			}
		}
	})
}

// A blob is created only if absent: putting it again writes nothing, and
// create of a present object fails with fs.ErrExist on every backend.
func TestBlobWrittenOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		c := count(st)
		data := []byte("once")
		sum, err := st.PutBlob(data)
		if err != nil {
			t.Fatal(err)
		}
		k := blobKey(sum)
		if c.creates[k] != 1 || c.writes[k] != 0 {
			t.Fatalf("first put: %d creates, %d writes", c.creates[k], c.writes[k])
		}
		for range 2 {
			if _, err := st.PutBlob(data); err != nil {
				t.Fatal(err)
			}
		}
		if c.creates[k] != 1 || c.writes[k] != 0 {
			t.Errorf("putting an intact blob again wrote it: %d creates, %d writes", c.creates[k], c.writes[k])
		}
		if err := st.be.create(k, []byte("other")); !errors.Is(err, fs.ErrExist) {
			t.Errorf("create of a present object: %v, want fs.ErrExist", err)
		}
		if b := object(t, st, k); string(b) != "once" {
			t.Errorf("create replaced a present object: %q", b)
		}
	})
}

// Concurrent puts of one step all succeed and leave one intact entry.
func TestConcurrentPut(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		st.SetWarn(func(msg string) { t.Errorf("warning: %s", msg) })
		k := key("race")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = st.Put(k, "eval", "", map[string][]byte{"out": []byte("same bytes")}, 0)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if _, ok := st.Get(k); !ok {
			t.Error("step not cached")
		}
	})
}

// The manifest is the commit point: blobs without it are a miss.
func TestManifestLast(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		ws := warnings(st)
		k := key("half")
		if _, err := st.PutBlob([]byte("an output of a killed run")); err != nil {
			t.Fatal(err)
		}
		if _, ok := st.Get(k); ok || st.Has(k) {
			t.Error("a step without its manifest counts as cached")
		}
		if len(*ws) != 0 {
			t.Errorf("a plain miss warned: %q", *ws)
		}
		if ms, err := st.List(); err != nil || len(ms) != 0 {
			t.Errorf("list: %v %v", ms, err)
		}
	})
}

func TestVerifyFindsCorruption(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		k := key("x")
		m, _ := st.Put(k, "eval", "", map[string][]byte{"out": []byte("data")}, 0)
		if probs, err := st.Verify(false); err != nil || len(probs) != 0 {
			t.Fatalf("clean store: %v %v", probs, err)
		}
		sum := m.Outputs["out"]
		setObject(t, st, blobKey(sum), []byte("tampered"))
		if _, err := st.Blob(sum); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("reading a corrupt blob: %v", err)
		}
		probs, _ := st.Verify(false)
		if len(probs) != 2 { // the blob and the manifest that points at it
			t.Fatalf("problems %v, want 2", probs)
		}
		if !strings.Contains(probs[0].Path, "cas/"+sum[:2]+"/"+sum) || !strings.HasPrefix(probs[0].Path, strings.SplitN(st.Root(), "?", 2)[0]) {
			t.Errorf("problem path %q does not name the blob in %s", probs[0].Path, st.Root())
		}
		st.Verify(true)
		if _, ok := st.Get(k); ok {
			t.Error("repair left the broken step in the cache")
		}
		if probs, _ := st.Verify(false); len(probs) != 0 {
			t.Errorf("after repair: %v", probs)
		}
	})
}

func TestGetNeedsBlobs(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		st.SetWarn(nil)
		k := key("y")
		m, _ := st.Put(k, "eval", "", map[string][]byte{"out": []byte("data")}, 0)
		removeObject(t, st, blobKey(m.Outputs["out"]))
		if _, ok := st.Get(k); ok {
			t.Error("a manifest without its blob counts as cached")
		}
		if _, err := st.Blob(m.Outputs["out"]); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "verify --repair") {
			t.Errorf("reading a missing blob: %v", err)
		}
	})
}

func TestGC(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		st.Put(key("keep"), "eval", "", map[string][]byte{"out": []byte("keep")}, 0)
		orphan, _ := st.PutBlob([]byte("orphan"))
		st.Put(key("old"), "eval", "", map[string][]byte{"out": []byte("old")}, 0)
		// A temporary file of a killed writer (fileblob's name for it).
		setObject(t, st, "cas/00/"+key("t")+".18f0.tmp", []byte("partial"))

		s, err := st.GC(24 * time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if s != (GCStats{Blobs: 1, Bytes: 6}) {
			t.Errorf("gc removed %+v; want the orphan blob only", s)
		}
		if _, err := st.Blob(orphan); err == nil {
			t.Error("orphan blob survived")
		}
		if _, ok := st.Get(key("keep")); !ok {
			t.Error("gc removed a live step")
		}

		// Two days later, both steps are unused for longer than a day.
		st.now = func() time.Time { return time.Now().Add(48 * time.Hour) }
		if s, err := st.GC(0); err != nil || s != (GCStats{Temps: 1}) {
			t.Errorf("gc without max age removed %+v (%v); want the stale temporary file only", s, err)
		}
		s, err = st.GC(24 * time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if s.Manifests != 2 || s.Blobs != 2 || s.Temps != 0 {
			t.Errorf("gc removed %+v; want 2 manifests and their 2 blobs", s)
		}
		if ms, _ := st.List(); len(ms) != 0 {
			t.Errorf("%d steps left", len(ms))
		}
	})
}

// Get marks a manifest used at most once an hour: by setting its time in
// a directory, by rewriting it in a bucket; gc then keeps it.
func TestGetMarksUse(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		k := key("used")
		st.Put(k, "eval", "", map[string][]byte{"out": []byte("x")}, 0)
		c := count(st)
		st.Get(k)
		mk := manifestKey(k)
		if c.touches[mk]+c.writes[mk] != 0 {
			t.Fatal("a fresh manifest was marked")
		}
		later := time.Now().Add(2 * time.Hour)
		st.now = func() time.Time { return later }
		if _, ok := st.Get(k); !ok {
			t.Fatal("not cached")
		}
		_, isDir := c.backend.(*dirBackend)
		if isDir && (c.touches[mk] != 1 || c.writes[mk] != 0) || !isDir && c.writes[mk] != 1 {
			t.Fatalf("marking use: %d touches, %d writes", c.touches[mk], c.writes[mk])
		}
		info, err := st.be.stat(mk)
		if err != nil {
			t.Fatal(err)
		}
		if isDir && !info.mod.Equal(later) {
			t.Errorf("manifest time %v, want %v", info.mod, later)
		}
		if _, ok := st.Get(k); !ok {
			t.Fatal("not cached after marking")
		}
		if b := object(t, st, mk); !strings.Contains(string(b), k) {
			t.Errorf("marked manifest %q", b)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	s3 := storetest.S3(t) // also keeps the AWS SDK off the user's credentials
	endpoint := s3[strings.Index(s3, "endpoint=")+9 : strings.Index(s3, "&")]
	for _, tc := range []struct{ loc, want string }{
		{"ftp://host/cache", "opening cache ftp://host/cache: unsupported scheme \"ftp\""},
		{"s3://hetalign?endpoint=http://127.0.0.1:1&use_path_style=true&region=us-east-1", "opening cache s3://hetalign?endpoint=http://127.0.0.1:1"},
		{"s3://nosuch?endpoint=ENDPOINT&use_path_style=true&region=us-east-1", "does not exist"},
		{"s3://hetalign?endpoint=ENDPOINT&use_path_style=true&region=us-east-1&nosuch=1", "unknown query parameter \"nosuch\""},
		{"file:///dev/null/cache", "opening cache file:///dev/null/cache: "},
		{"/dev/null/cache", "opening cache /dev/null/cache: "},
	} {
		loc := tc.loc
		loc = strings.Replace(loc, "ENDPOINT", endpoint, 1)
		st, err := Open(loc)
		if err == nil {
			st.Close()
			t.Errorf("Open(%s) succeeded", loc)
			continue
		}
		t.Log(err)
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s): %v; want it to say %q", loc, err, tc.want)
		}
	}
}

// testDesc is a step description whose key is its material's hash.
func testDesc(t *testing.T, kind, params string, inputs ...string) *StepDesc {
	t.Helper()
	d := &StepDesc{Kind: kind, Params: []byte(params), Inputs: inputs, Code: "code-" + kind}
	for range inputs {
		d.InputNames = append(d.InputNames, "in")
	}
	k, err := StepKey(d.Kind, d.Params, d.Inputs, d.Code, d.Backend)
	if err != nil {
		t.Fatal(err)
	}
	d.Key = k
	return d
}

func TestStepDesc(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		d := testDesc(t, "train", `{"a":1}`, key("in"))
		d.Label, d.Seed, d.GPU, d.Compute = "l", 7, true, "cuda"
		k := d.Key
		if err := st.PutStepDesc(d); err != nil {
			t.Fatal(err)
		}
		got, err := st.StepDesc(k)
		if err != nil || fmt.Sprint(*got) != fmt.Sprint(*d) {
			t.Fatalf("%+v %v, want %+v", got, err, d)
		}
		if err := st.PutStepDesc(d); err != nil {
			t.Fatal("rewriting a description:", err)
		}
		if _, err := st.StepDesc(key("none")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing description: %v", err)
		}
		setObject(t, st, descKey(k), []byte("{"))
		if _, err := st.StepDesc(k); !errors.Is(err, ErrCorrupt) {
			t.Errorf("damaged description: %v", err)
		}
		if err := st.PutStepDesc(&StepDesc{Key: "bad"}); err == nil {
			t.Error("invalid key accepted")
		}
	})
}

func TestLeases(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		k := key("l")
		if st.LeaseOf(k) != nil {
			t.Fatal("a lease in an empty store")
		}
		l, ok, err := st.TryLease(k, "a", time.Minute)
		if err != nil || !ok || l.Owner != "a" {
			t.Fatalf("first lease: %+v %v %v", l, ok, err)
		}
		held, ok, err := st.TryLease(k, "b", time.Minute)
		if err != nil || ok || held.Owner != "a" {
			t.Fatalf("second owner: %+v %v %v, want refused with a's lease", held, ok, err)
		}
		if l, ok, err := st.TryLease(k, "a", time.Minute); err != nil || !ok || l.Owner != "a" {
			t.Errorf("owner retaking its lease: %+v %v %v", l, ok, err)
		}
		if err := st.RenewLease(k, "b", time.Minute); err == nil {
			t.Error("b renewed a's lease")
		}
		if err := st.RenewLease(k, "a", time.Hour); err != nil {
			t.Fatal(err)
		}
		if cur := st.LeaseOf(k); cur == nil || cur.Owner != "a" || time.Until(cur.Expires) < 50*time.Minute {
			t.Errorf("renewed lease %+v", cur)
		}
		// Past its expiry, b takes it over.
		st.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		if l, ok, err := st.TryLease(k, "b", time.Minute); err != nil || !ok || l.Owner != "b" {
			t.Fatalf("taking over an expired lease: %+v %v %v", l, ok, err)
		}
		if err := st.ReleaseLease(k, "a"); err != nil || st.LeaseOf(k).Owner != "b" {
			t.Errorf("a released b's lease (%v)", err)
		}
		if err := st.ReleaseLease(k, "b"); err != nil || st.LeaseOf(k) != nil {
			t.Errorf("release: %v, lease %+v", err, st.LeaseOf(k))
		}
		if l, ok, err := st.TryLease(k, "c", time.Minute); err != nil || !ok || l.Owner != "c" {
			t.Errorf("lease after release: %+v %v %v", l, ok, err)
		}
		// A damaged lease (a writer died mid-write) is replaced.
		setObject(t, st, leaseKey(k), []byte("{"))
		if _, ok, err := st.TryLease(k, "d", time.Minute); err != nil || !ok {
			t.Errorf("replacing a damaged lease: %v %v", ok, err)
		}
	})
}

// Of several owners racing for one lease, exactly one gets it.
func TestLeaseRace(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		k := key("race")
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 6 {
			wg.Go(func() {
				_, ok, err := st.TryLease(k, fmt.Sprint("owner", i), time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("%d owners got the lease, want 1", won)
		}
	})
}

// prefix=DIR/ keeps the store under a prefix of the bucket.
func TestBucketPrefix(t *testing.T) {
	urls := storetest.URLs(t)
	for _, kind := range []string{"file", "s3"} {
		t.Run(kind, func(t *testing.T) {
			sep := "?"
			if strings.Contains(urls[kind], "?") {
				sep = "&"
			}
			st, err := Open(urls[kind] + sep + "prefix=team/hetalign/")
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			k := key("p")
			if _, err := st.Put(k, "eval", "", map[string][]byte{"out": []byte("x")}, 0); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := st.TryLease(k, "a", time.Minute); !ok || err != nil {
				t.Fatalf("lease: %v %v", ok, err)
			}
			whole, err := Open(urls[kind])
			if err != nil {
				t.Fatal(err)
			}
			defer whole.Close()
			for _, obj := range []string{manifestKey(k), leaseKey(k)} {
				if _, err := whole.be.stat("team/hetalign/" + obj); err != nil {
					t.Errorf("%s not under the prefix: %v", obj, err)
				}
			}
			base := strings.SplitN(urls[kind], "?", 2)[0]
			if want := base + "/team/hetalign/" + manifestKey(k); st.be.where(manifestKey(k)) != want {
				t.Errorf("where = %s, want %s", st.be.where(manifestKey(k)), want)
			}
		})
	}
}

// A directory store and a file:// store of the same directory are one
// store: same layout, each reads what the other wrote.
func TestDirAndFileShareLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open("file://" + filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	k1, k2 := key("by dir"), key("by file")
	d.Put(k1, "eval", "", map[string][]byte{"out": []byte("1")}, 0)
	f.Put(k2, "eval", "", map[string][]byte{"out": []byte("2")}, 0)
	for _, st := range []*Store{d, f} {
		for _, k := range []string{k1, k2} {
			if _, ok := st.Get(k); !ok {
				t.Errorf("%s: step %s not cached", st.Root(), k[:12])
			}
		}
		if probs, err := st.Verify(false); err != nil || len(probs) != 0 {
			t.Errorf("%s: verify %v %v", st.Root(), probs, err)
		}
	}
	if _, ok, _ := f.TryLease(k1, "a", time.Minute); !ok {
		t.Fatal("no lease")
	}
	if l, ok, _ := d.TryLease(k1, "b", time.Minute); ok || l.Owner != "a" {
		t.Errorf("the directory store took the file:// store's lease: %+v", l)
	}
}

// PutPlanFrom stores what PutPlan stores for the same bytes, on every kind
// of store, without holding them; an encoder that writes other bytes the
// second time stores nothing.
func TestPutPlanFrom(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		plan := strings.Repeat(`{"step":1},`, 50_000) // larger than one write buffer
		k1, k2, k3 := key("plan-a"), key("plan-b"), key("plan-c")
		if err := st.PutPlan(k1, []byte(plan)); err != nil {
			t.Fatal(err)
		}
		if err := st.PutPlanFrom(k2, func(w io.Writer) error {
			for i := 0; i < len(plan); i += 7000 {
				if _, err := io.WriteString(w, plan[i:min(i+7000, len(plan))]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		a, _, err := readAll(st.be, planKey(k1))
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := readAll(st.be, planKey(k2))
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) {
			t.Errorf("PutPlanFrom stored %d bytes unlike PutPlan's %d", len(b), len(a))
		}
		if got, ok := st.Plan(k2); !ok || string(got) != plan {
			t.Errorf("plan read back: %d bytes, %v", len(got), ok)
		}
		calls := 0
		err = st.PutPlanFrom(k3, func(w io.Writer) error {
			calls++
			_, err := fmt.Fprint(w, "plan ", calls)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "other bytes") {
			t.Errorf("an encoder that changes its bytes: %v", err)
		}
		if _, ok := st.Plan(k3); ok {
			t.Error("a plan whose bytes changed was stored")
		}
	})
}
