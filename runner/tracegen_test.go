//go:build tracegen

package runner

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"hetalign/runner/spec"
	"hetalign/runner/store"
)

// TestRecordTrace writes testdata/costs.json (the seconds per step class
// and unit of size: the class's seconds over its size, every class from
// the same run, so that the machine's speed learned from one class holds
// for the others) and testdata/trace.json (every step of the plan with
// its class, inputs and recorded seconds) from a cache filled by one cold
// run, on a quiet machine, of the specs in TRACE_SPECS (space-separated
// paths from the repository root; default every spec of specs/paper/, the
// first `go tool task run`). Steps are matched to the cache's manifests
// by kind and label, so a cache filled by an earlier build of the code
// serves too (keys change with the code, labels do not).
//
//	hetalign run --jobs 2 --cache /tmp/c --out /tmp/o specs/paper/*.cue
//	TRACE_CACHE=/tmp/c go test -tags tracegen ./runner -run TestRecordTrace
func TestRecordTrace(t *testing.T) {
	paths := []string{"../specs/paper/toy.cue", "../specs/paper/survey.cue", "../specs/paper/circular.cue", "../specs/paper/lengths.cue"}
	if s := os.Getenv("TRACE_SPECS"); s != "" {
		paths = nil
		for _, p := range strings.Fields(s) {
			paths = append(paths, "../"+p)
		}
	}
	files, err := spec.Load(paths, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	code, err := CodeID()
	if err != nil {
		t.Fatal(err)
	}
	codes, err := SourceCodes()
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(os.Getenv("TRACE_CACHE"))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	byLabel := map[string]float64{}
	for _, m := range ms {
		byLabel[m.Kind+"\x00"+m.Label] = m.Seconds
	}
	g, err := Plan(files, Options{Jobs: 2, Backend: "go", Code: code, Codes: codes, Log: zerolog.Nop()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	classes, sizes := stepClass(g)
	tr := trace{Jobs: 2, Specs: paths}
	sum, n := map[string]float64{}, map[string]float64{} // seconds, size
	for i, s := range g.Steps {
		sec, ok := byLabel[s.Kind+"\x00"+s.Label]
		if !ok {
			t.Fatalf("%s is not in the cache", s.Label)
		}
		ts := traceStep{Kind: s.Kind, Class: classes[i], Size: sizes[i], Seconds: sec}
		for _, in := range s.Inputs {
			ts.Inputs = append(ts.Inputs, in.Index)
		}
		tr.Steps = append(tr.Steps, ts)
		sum[classes[i]] += sec
		n[classes[i]] += sizes[i]
	}
	for _, r := range g.Reports {
		tr.Reports = append(tr.Reports, traceReport{Name: r.File.Name, Step: r.Step.Index})
	}
	costs := map[string]float64{}
	var names []string
	for c := range sum {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		costs[c] = float64(int64(sum[c]/n[c]*1e4+0.5)) / 1e4
	}
	for name, v := range map[string]any{"testdata/costs.json": costs, "testdata/trace.json": tr} {
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
