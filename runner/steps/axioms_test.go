package steps

import (
	"context"
	"encoding/json"
	"testing"

	"hetalign/metrics"
	"hetalign/runner/spec"
)

// An eval step with an axiom metric refits the method on each variation
// from its train parameters (EvalParams.Refit) and the regime's exact
// data. The population: A (0.6) ranks a > b > c, B (0.4) b > c > a, at a
// near-step temperature (τ = 0.1: every reward gap of 1 gives σ(10) ≈
// 1 − 4.5e-5, still below 1 in float64, so every fit has a finite
// minimiser; at τ = 0.01 Pr(b ≻ c) rounds to 1 and DPO has none), uniform
// D. Borda with all three, to 1e-4: 3·NBC(a) = ½ + 0.6 + 0.6 = 1.7 <
// 3·NBC(b) = 0.4 + ½ + 1 = 1.9; without c: 2·NBC(a) = 1.1 > 2·NBC(b) =
// 0.9. DPO follows the Borda count (the paper's proposition), so removing
// c flips a and b: IIA fails. Without Refit the axiom is none (it needs
// the variations' fits).
func TestEvalRefitsForAxioms(t *testing.T) {
	ctx := context.Background()
	c, err := spec.DecodeConfig([]byte(`{
		"population": {"types": {
			"A": {"weight": 0.6, "reward": {"a": 2, "b": 1, "c": 0}},
			"B": {"weight": 0.4, "reward": {"a": 0, "b": 2, "c": 1}}}},
		"preference": {"temperature": 0.1},
		"env": {"kind": "analytic", "alternatives": ["a", "b", "c"]},
		"methods": {"dpo": {"kind": "dpo", "data": "anon"}},
		"data": {"anon": {"regime": "anonymous"}}
	}`), ".")
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := NewTruthParams(c)
	pj, _ := json.Marshal(tp)
	truth, err := Run(ctx, Truth, pj, 0, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dj, _ := json.Marshal(DatasetParams{Regime: "anonymous"})
	ds, err := Run(ctx, Dataset, dj, 0, [][]byte{truth}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tj, _, err := NewTrainParams(c.Methods["dpo"], 0)
	if err != nil {
		t.Fatal(err)
	}
	trained, err := Run(ctx, Train, tj, 0, [][]byte{truth, ds}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		refit bool
		want  float64 // -1: none
	}{{true, 0}, {false, -1}} {
		ep := EvalParams{Metrics: []string{"axiom_iia", "axiom_iia_witness"}}
		if tc.refit {
			ep.Refit, ep.Regime = tj, "anonymous"
		}
		ej, _ := json.Marshal(ep)
		ev, err := Run(ctx, Eval, ej, 0, [][]byte{truth, trained}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var vals map[string]metrics.Value
		if err := json.Unmarshal(ev, &vals); err != nil {
			t.Fatal(err)
		}
		v := vals["axiom_iia"]
		got := -1.0
		if !v.None {
			got = v.Number
		}
		if got != tc.want {
			t.Fatalf("refit %v: axiom_iia = %v, want %v (witness %+v)", tc.refit, got, tc.want, vals["axiom_iia_witness"])
		}
	}
}
