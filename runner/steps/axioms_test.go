package steps

import (
	"context"
	"encoding/json"
	"slices"
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
	c := iiaConfig(t)
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

// The variations the axioms try on every population are planned as
// variations and refit steps; an eval that reads their fits computes
// exactly what it computes refitting them itself, byte for byte (the fits
// are the same exact computation on the same populations, JSON round
// trips of float64 being exact). The population is TestEvalRefitsForAxioms'
// (DPO violates IIA there and the witness is shrunk by eval-time refits).
// For the oracle, with a refit that cannot fit (an unknown kind), the
// axioms' values are still those of the working refit when the planned
// fits are read — and none when they are not, which shows the eval uses
// them (only a violation's witness shrinking refits inside the eval).
func TestPlannedVariationsMatchEvalRefits(t *testing.T) {
	ctx := context.Background()
	c := iiaConfig(t)
	run := func(kind string, p any, inputs ...[]byte) []byte {
		t.Helper()
		pj, ok := p.([]byte)
		if !ok {
			pj, _ = json.Marshal(p)
		}
		out, err := Run(ctx, kind, pj, 0, inputs, Options{})
		if err != nil {
			t.Fatalf("%s step: %v", kind, err)
		}
		return out
	}
	tp, _ := NewTruthParams(c)
	truth := run(Truth, tp)
	ds := run(Dataset, DatasetParams{Regime: "anonymous"}, truth)
	names := []string{"axiom_iia", "axiom_iia_witness", "axiom_clones", "axiom_clones_witness", "axiom_clone_mass",
		"axiom_monotonicity", "axiom_monotonicity_witness", "axiom_reinforcement", "axiom_reinforcement_witness"}
	fams := metrics.VariationsFor(names)
	if want := []string{"remove", "clone", "raise", "split"}; !slices.Equal(fams, want) {
		t.Fatalf("VariationsFor = %v, want %v", fams, want)
	}
	for _, tc := range []struct {
		method, regime string
		data           [][]byte
	}{{"dpo", "anonymous", [][]byte{ds}}, {"oracle", "", nil}} {
		tj, _, err := NewTrainParams(c.Methods[tc.method], 0)
		if err != nil {
			t.Fatal(err)
		}
		trained := run(Train, []byte(tj), append([][]byte{truth}, tc.data...)...)
		var prefits [][]byte
		for _, f := range fams {
			v := run(Variations, VariationParams{Variation: f}, truth)
			prefits = append(prefits, run(Refit, RefitParams{Train: tj, Regime: tc.regime, Variation: f}, v))
		}
		eval := func(refit json.RawMessage, withPrefits bool) map[string]metrics.Value {
			in := [][]byte{truth, trained}
			if withPrefits {
				in = append(in, prefits...)
			}
			out := run(Eval, EvalParams{Metrics: names, Refit: refit, Regime: tc.regime}, in...)
			var vals map[string]metrics.Value
			if err := json.Unmarshal(out, &vals); err != nil {
				t.Fatal(err)
			}
			return vals
		}
		self, planned := eval(tj, false), eval(tj, true)
		a, _ := json.Marshal(self)
		b, _ := json.Marshal(planned)
		if string(a) != string(b) {
			t.Errorf("%s: eval with planned refits\n%s\nwant (eval-time refits)\n%s", tc.method, b, a)
		}
		if tc.method == "dpo" && self["axiom_iia"].Number != 0 {
			t.Errorf("dpo: axiom_iia = %+v, want 0 (violated)", self["axiom_iia"])
		}
		if tc.method != "oracle" {
			continue
		}
		broken := json.RawMessage(`{"kind":"no-such-kind"}`)
		with, without := eval(broken, true), eval(broken, false)
		for _, n := range []string{"axiom_iia", "axiom_clones", "axiom_clone_mass", "axiom_monotonicity", "axiom_reinforcement"} {
			if with[n].None != self[n].None || with[n].Number != self[n].Number {
				t.Errorf("oracle %s with planned fits and no working refit = %+v, want %+v", n, with[n], self[n])
			}
			if v := without[n]; !v.None {
				t.Errorf("oracle %s without planned fits and no working refit = %+v, want none", n, v)
			}
		}
	}
}

// iiaConfig is the population of TestEvalRefitsForAxioms with methods dpo
// (anonymous data) and oracle.
func iiaConfig(t *testing.T) *spec.Config {
	t.Helper()
	c, err := spec.DecodeConfig([]byte(`{
		"population": {"types": {
			"A": {"weight": 0.6, "reward": {"a": 2, "b": 1, "c": 0}},
			"B": {"weight": 0.4, "reward": {"a": 0, "b": 2, "c": 1}}}},
		"preference": {"temperature": 0.1},
		"env": {"kind": "analytic", "alternatives": ["a", "b", "c"]},
		"methods": {"dpo": {"kind": "dpo", "data": "anon"}, "oracle": {"kind": "oracle"}},
		"data": {"anon": {"regime": "anonymous"}}
	}`), ".")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
