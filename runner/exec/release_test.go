package exec

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"hetalign/runner/plan"
	"hetalign/runner/spec"
	"hetalign/runner/store"
)

// chainGraph is truth → n × (train → eval) → report, the shape of a
// sweep: each train is read by one eval, every eval by the report.
func chainGraph(n int) *plan.Graph {
	g := &plan.Graph{}
	add := func(kind, label string, inputs ...*plan.Step) *plan.Step {
		s := &plan.Step{Index: len(g.Steps), Key: fmt.Sprintf("%064x", len(g.Steps)+1), Kind: kind, Label: label, Inputs: inputs}
		for range inputs {
			s.InputNames = append(s.InputNames, "in")
		}
		g.Steps = append(g.Steps, s)
		return s
	}
	truth := add("truth", "truth")
	var evals []*plan.Step
	for i := range n {
		train := add("train", fmt.Sprint("train ", i), truth)
		evals = append(evals, add("eval", fmt.Sprint("eval ", i), train, truth))
	}
	rep := add("report", "report", evals...)
	rep.Partial = true
	g.Reports = []plan.Report{{File: &spec.File{Name: "r"}, Step: rep}}
	return g
}

// retention is an Observer that keeps every outcome and, when the report
// starts, counts the outputs the run still holds a reference to (a
// manifest or a blob sum), by step kind.
type retention struct {
	mu       sync.Mutex
	outcomes map[*plan.Step]*Outcome
	atReport map[string]int // kind → outputs still held when the report started
}

func (r *retention) Started(s *plan.Step) {
	if s.Kind != "report" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.atReport = r.held()
}

func (r *retention) Finished(s *plan.Step, o *Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes[s] = o
}

// held counts the outcomes that still refer to their output, by the kind
// of step (the caller holds r.mu).
func (r *retention) held() map[string]int {
	n := map[string]int{}
	for s, o := range r.outcomes {
		if o.Manifest != nil || o.out != "" {
			n[s.Kind]++
		}
	}
	return n
}

// TestExecuteReleasesOutputs: a step's reference to its output (its
// manifest, or the blob sum that replaces it) is dropped once every step
// that reads it has finished. When the report starts, only the
// evaluations it reads are held — no train output, no truth; after the
// run only the report's, a whole manifest. The outputs stay in the store.
func TestExecuteReleasesOutputs(t *testing.T) {
	const n, size = 50, 1000
	for _, jobs := range []int{1, 3} {
		t.Run(fmt.Sprint("jobs=", jobs), func(t *testing.T) {
			g := chainGraph(n)
			st, err := store.Open("mem://")
			if err != nil {
				t.Fatal(err)
			}
			fn := func(ctx context.Context, s *plan.Step, inputs [][]byte) ([]byte, error) {
				for i, in := range inputs {
					if len(in) != size+len(s.Inputs[i].Key) {
						return nil, fmt.Errorf("input %d of %s: %d bytes", i, s.Label, len(in))
					}
				}
				return append(bytes.Repeat([]byte{'x'}, size), s.Key...), nil
			}
			obs := &retention{outcomes: map[*plan.Step]*Outcome{}}
			outs := Execute(context.Background(), g, st, fn, Options{Jobs: jobs, Log: zerolog.Nop(), NoLeases: true, Observer: obs})
			want := map[string]int{"eval": n}
			if got := obs.atReport; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("outputs held when the report started, by kind: %v, want %v (only the report's inputs)", got, want)
			}
			obs.mu.Lock()
			after := obs.held()
			obs.mu.Unlock()
			if want := map[string]int{"report": 1}; fmt.Sprint(after) != fmt.Sprint(want) {
				t.Errorf("outputs held after the run: %v, want %v (only the report's)", after, want)
			}
			if m := outs[g.Reports[0].Step.Index].Manifest; m == nil || m.Size != size+64 {
				t.Errorf("the report's manifest: %+v, want one of %d bytes", m, size+64)
			}
			for i, o := range outs {
				if o.Err != nil {
					t.Fatalf("%s: %v", g.Steps[i].Label, o.Err)
				}
				if o.Cached || o.Skipped {
					t.Errorf("%s: cached %v, skipped %v on an empty store", g.Steps[i].Label, o.Cached, o.Skipped)
				}
				// Released is not lost: the store has every output.
				m, ok := st.Get(g.Steps[i].Key)
				if !ok {
					t.Fatalf("%s is not in the store", g.Steps[i].Label)
				}
				if b, err := st.Output(m, "out"); err != nil || !bytes.HasSuffix(b, []byte(g.Steps[i].Key)) {
					t.Errorf("%s: stored output %.20q…, %v", g.Steps[i].Label, b, err)
				}
			}
		})
	}
}

// BenchmarkExecuteRetained runs the sweep shape of chainGraph (truth →
// 20,000 × (train → eval) → report, outputs of 1 KB for a train and 240
// bytes for an evaluation, as in specs/beyond/aggregation.cue) on a
// directory store and reports the live heap (after a collection) the run
// holds beyond its graph, per step of the graph: when the report step
// starts (B/step-at-report, the report's own inputs not yet read) and
// after the run (B/step-after, the outcomes Execute returns).
func BenchmarkExecuteRetained(b *testing.B) {
	const n = 20_000
	live := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	for range b.N {
		g := chainGraph(n)
		steps := float64(len(g.Steps))
		st, err := store.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		var atReport int64
		base := live()
		fn := func(ctx context.Context, s *plan.Step, inputs [][]byte) ([]byte, error) {
			size := 240
			switch s.Kind {
			case "train":
				size = 1000
			case "report":
				inputs = nil
				atReport = live()
			}
			return append(bytes.Repeat([]byte{'x'}, size), s.Key...), nil
		}
		outs := Execute(context.Background(), g, st, fn, Options{Jobs: 2, Log: zerolog.Nop(), NoLeases: true})
		after := live()
		b.ReportMetric(float64(atReport-base)/steps, "B/step-at-report")
		b.ReportMetric(float64(after-base)/steps, "B/step-after")
		runtime.KeepAlive(outs)
		runtime.KeepAlive(g)
		st.Close()
	}
}
