package exec

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"hetalign/runner/plan"
	"hetalign/runner/store"
)

// counting is a step function that counts computations per key and
// returns bytes that depend only on the step.
type counting struct {
	mu    sync.Mutex
	n     map[string]int
	delay time.Duration
}

func (c *counting) fn(ctx context.Context, s *plan.Step, inputs [][]byte) ([]byte, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[s.Key]++
	c.mu.Unlock()
	time.Sleep(c.delay)
	return []byte(`"` + s.Key + `"`), nil
}

// wideGraph is n independent steps read by one report step.
func wideGraph(n int) *plan.Graph {
	g := &plan.Graph{}
	key := func(kind string, params []byte, inputs []*plan.Step) string {
		var keys []string
		for _, in := range inputs {
			keys = append(keys, in.Key)
		}
		k, err := store.StepKey(kind, params, keys, "test", "")
		if err != nil {
			panic(err)
		}
		return k
	}
	for i := range n {
		p := fmt.Appendf(nil, "{\"i\":%d}", i)
		g.Steps = append(g.Steps, &plan.Step{Index: i, Key: key("eval", p, nil), Kind: "eval", Label: fmt.Sprintf("s%d", i), Params: p, Code: "test"})
	}
	r := &plan.Step{Index: n, Key: key("report", []byte("{}"), g.Steps), Kind: "report", Label: "report", Partial: true, Inputs: g.Steps,
		Params: []byte("{}"), Code: "test"}
	for range g.Steps {
		r.InputNames = append(r.InputNames, "eval")
	}
	g.Steps = append(g.Steps, r)
	g.Reports = []plan.Report{{Step: r}}
	return g
}

// TestTwoDriversComputeOnce runs two Executes on one store at once: with
// leases every step is computed exactly once, whichever driver does it.
func TestTwoDriversComputeOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		g     func(t *testing.T) *plan.Graph
		delay time.Duration
		fast  time.Duration
	}{
		{"spec graph, default", graph, 5 * time.Millisecond, 0},
		{"wide, always leased", func(*testing.T) *plan.Graph { return wideGraph(300) }, time.Millisecond, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.g(t)
			dir := filepath.Join(t.TempDir(), "cache")
			c := &counting{delay: tc.delay}
			var wg sync.WaitGroup
			var failed atomic.Int32
			for d := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, err := store.Open(dir)
					if err != nil {
						t.Error(err)
						return
					}
					outs := Execute(context.Background(), g, st, c.fn, Options{Jobs: 3, Log: zerolog.Nop(), Owner: fmt.Sprintf("driver%d", d), LeaseFast: tc.fast})
					for i, o := range outs {
						if o.Err != nil {
							t.Errorf("driver %d: step %s: %v", d, g.Steps[i].Label, o.Err)
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			for _, s := range g.Steps {
				if n := c.n[s.Key]; n != 1 {
					t.Errorf("step %s computed %d times", s.Label, n)
				}
			}
		})
	}
}

// TestLateDriverShares starts a second driver while the first is busy:
// a driver leases a step only when a worker slot takes it up, so the
// second finds steps nobody holds and computes some of them (a driver that
// leased every ready step at once left it nothing), each step once.
func TestLateDriverShares(t *testing.T) {
	g := wideGraph(60)
	dir := filepath.Join(t.TempDir(), "cache")
	cs := []*counting{{delay: 10 * time.Millisecond}, {delay: 10 * time.Millisecond}}
	var wg sync.WaitGroup
	for d := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d == 1 {
				time.Sleep(50 * time.Millisecond) // the first has 600 ms of work
			}
			st, err := store.Open(dir)
			if err != nil {
				t.Error(err)
				return
			}
			for i, o := range Execute(context.Background(), g, st, cs[d].fn, Options{Jobs: 1, Log: zerolog.Nop(), Owner: fmt.Sprintf("driver%d", d), LeaseFast: -1}) {
				if o.Err != nil {
					t.Errorf("driver %d: step %s: %v", d, g.Steps[i].Label, o.Err)
				}
			}
		}()
	}
	wg.Wait()
	for _, s := range g.Steps {
		if n := cs[0].n[s.Key] + cs[1].n[s.Key]; n != 1 {
			t.Errorf("step %s computed %d times", s.Label, n)
		}
	}
	if len(cs[1].n) == 0 {
		t.Error("the second driver computed nothing: the first held every lease")
	}
	t.Logf("computed: first driver %d, second %d", len(cs[0].n), len(cs[1].n))
}

// TestExpiredLeaseIsTakenOver: a lease left by a dead driver delays the
// step until it expires, then the step is computed.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	g := wideGraph(3)
	st := openStore(t)
	if _, ok, err := st.TryLease(g.Steps[1].Key, "dead:1:x", 300*time.Millisecond); !ok || err != nil {
		t.Fatalf("lease: %v %v", ok, err)
	}
	c := &counting{}
	start := time.Now()
	outs := Execute(context.Background(), g, st, c.fn, Options{Jobs: 2, Log: zerolog.Nop()})
	for i, o := range outs {
		if o.Err != nil {
			t.Fatalf("step %d: %v", i, o.Err)
		}
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("took %v: the live lease was not waited for", took)
	}
	if c.n[g.Steps[1].Key] != 1 {
		t.Errorf("leased step computed %d times", c.n[g.Steps[1].Key])
	}
	if l := st.LeaseOf(g.Steps[1].Key); l != nil {
		t.Errorf("lease left behind: %+v", l)
	}
}

// BenchmarkLeaseOverhead runs a 2,000-step graph of trivial steps into a
// fresh store with a lease for every step (always), with leases for the
// kinds not shown fast (adaptive, the default) and without leases (none);
// ns/step is the cost per step.
func BenchmarkLeaseOverhead(b *testing.B) {
	const n = 2000
	g := wideGraph(n)
	fn := func(ctx context.Context, s *plan.Step, inputs [][]byte) ([]byte, error) { return []byte("1"), nil }
	for _, tc := range []struct {
		name     string
		noLeases bool
		fast     time.Duration
	}{{"always", false, -1}, {"adaptive", false, 0}, {"none", true, 0}} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				st, err := store.Open(filepath.Join(b.TempDir(), fmt.Sprint(i)))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				Execute(context.Background(), g, st, fn, Options{Jobs: 2, Log: zerolog.Nop(), NoLeases: tc.noLeases, LeaseFast: tc.fast})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/step")
		})
	}
}

// TestFastKindsSkipLeases: after leaseProbe fast computations a kind runs
// without leases; a slow kind keeps them.
func TestFastKindsSkipLeases(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fast      time.Duration
		took      time.Duration
		wantLease bool
	}{
		{"fast kind", 10 * time.Millisecond, time.Millisecond, false},
		{"slow kind", 10 * time.Millisecond, 20 * time.Millisecond, true},
		{"always", -1, time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lz := &leaser{fast: tc.fast, kinds: map[string]*kindTimes{}}
			s := &plan.Step{Kind: "eval"}
			for i := 0; i < leaseProbe; i++ {
				if !lz.need(s) {
					t.Fatalf("no lease during the probe (%d)", i)
				}
				lz.observe(s, tc.took)
			}
			if got := lz.need(s); got != tc.wantLease {
				t.Errorf("need = %v, want %v", got, tc.wantLease)
			}
			if !lz.need(&plan.Step{Kind: "eval", GPU: true}) {
				t.Error("a GPU step without a lease")
			}
		})
	}
}
