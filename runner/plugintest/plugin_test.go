// Package plugintest proves that a method kind needs no runner change: a
// test package outside methods/ registers a kind with its own CUE
// fragment, parameters and fit, and a spec runs it end to end.
package plugintest

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"hetalign/methods"
	"hetalign/metrics"
	"hetalign/reports"
	"hetalign/runner"
	"hetalign/runner/spec"
)

// mixture is the toy kind: π = (1 − λ)·π_ref + λ·π*, trained on nothing.
type mixture struct {
	Lambda *float64 `json:"lambda,omitempty"`
}

func (m *mixture) Defaults(methods.Context) {
	if m.Lambda == nil {
		h := 0.5
		m.Lambda = &h
	}
}
func (m *mixture) Check(methods.Context) []methods.Problem { return nil }
func (m *mixture) SGD() bool                               { return false }
func (m *mixture) FitTabular(in *methods.TabularInput) (*metrics.Trained, error) {
	out := &metrics.Trained{}
	for _, t := range in.World.Prompts {
		pol := make([]float64, len(t.PiStar))
		lr := make([]float64, len(t.PiStar))
		for y := range pol {
			pol[y] = (1-*m.Lambda)*t.Reference[y] + *m.Lambda*t.PiStar[y]
			lr[y] = math.Log(pol[y] / t.Reference[y])
		}
		out.Policy, out.LogRatio = append(out.Policy, pol), append(out.LogRatio, lr)
	}
	return out, nil
}

func init() {
	methods.Register(methods.Kind{
		Name: "mixture",
		Doc:  "test kind: (1 − λ)·π_ref + λ·π*",
		CUE: `package schema

#Method: {
	kind: _
	if kind == "mixture" {
		lambda?: number & >=0 & <=1
	}
}
`,
		CUEFile: "hetalign/runner/plugintest/mixture.cue",
		New:     func() methods.Params { return new(mixture) },
	})
}

const specText = `experiments: toy: {
	population: types: {
		A: {reward: {y1: 2, y2: 0}}
		B: {reward: {y1: 0, y2: 1}}
	}
	env: {kind: "analytic", alternatives: ["y1", "y2"], beta: 1}
	methods: {
		star: {kind: "oracle"}
		mix: {kind: "mixture", lambda: number | *0.25}
	}
	metrics: ["tv", "policy"]
	sweep: "methods.mix.lambda": [0, 0.25, 1]
	report: tables: tv: {rows: "methods.mix.lambda", columns: "method", cell: "tv"}
}
`

func TestRegisteredKindRunsWithoutRunnerChanges(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mix.cue")
	if err := os.WriteFile(path, []byte(specText), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := spec.Load([]string{path}, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := runner.Options{Jobs: 2, Cache: filepath.Join(dir, "cache"), Out: filepath.Join(dir, "out"), Backend: "go",
		Code: "test", Version: "test", Log: zerolog.Nop(), Stdout: io.Discard}
	if _, err := runner.Run(context.Background(), files, o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(o.Out, "mix", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := reports.ParseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	// r̄ = (1, ½), β = 1, π_ref uniform: π*(y1) = e/(e + √e), and
	// TV(mix, π*) = (1 − λ)·|π*(y1) − ½| in closed form.
	star := math.E / (math.E + math.Sqrt(math.E))
	var tb *reports.Table
	for _, x := range r.Experiments {
		for i := range x.Tables {
			if x.Tables[i].Name == "tv" {
				tb = &x.Tables[i]
			}
		}
	}
	if tb == nil {
		t.Fatal("no tv table")
	}
	col := slices.Index(tb.Columns, "mix")
	if col < 0 || len(tb.Rows) != 3 {
		t.Fatalf("table columns %v, %d rows", tb.Columns, len(tb.Rows))
	}
	for i, lambda := range []float64{0, 0.25, 1} {
		c := tb.Rows[i].Cells[col]
		if c.Value.None {
			t.Fatalf("λ = %v: no value", lambda)
		}
		want := (1 - lambda) * math.Abs(star-0.5)
		if got := c.Value.Number; math.Abs(got-want) > 1e-12 {
			t.Errorf("λ = %v: tv %v, want %v", lambda, got, want)
		}
	}
}
