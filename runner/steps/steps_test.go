package steps

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"hetalign/metrics"
	"hetalign/runner/spec"
)

func config() *spec.Config {
	return &spec.Config{
		Population: spec.PopulationConfig{Types: map[string]spec.TypeConfig{
			"B": {Weight: 3, Reward: map[string]float64{"x": 1, "y": 0}},
			"A": {Weight: 1, Reward: map[string]float64{"x": 0, "y": 2}},
		}},
		Preference: spec.PreferenceConfig{Model: "bt", Temperature: 1},
		Env:        spec.EnvConfig{Kind: "analytic", Alternatives: []string{"x", "y"}, Sampling: map[string]float64{"x": 1, "y": 3}, Beta: 1},
	}
}

func TestNewTruthParams(t *testing.T) {
	p, err := NewTruthParams(config())
	if err != nil {
		t.Fatal(err)
	}
	// Types sorted by name; weights, sampling and the default uniform
	// reference normalised.
	if p.Types[0] != "A" || p.Weights[0] != 0.25 || p.Rewards[0][1] != 2 {
		t.Errorf("types %v weights %v rewards %v", p.Types, p.Weights, p.Rewards)
	}
	if p.Sampling[0] != 0.25 || p.Reference[0] != 0.5 {
		t.Errorf("sampling %v reference %v", p.Sampling, p.Reference)
	}
	c := config()
	c.Env.Kind = "lunar"
	if _, err := NewTruthParams(c); err == nil {
		t.Error("unsupported env accepted")
	}
}

// A truth → dataset → train → eval chain through Run gives DPO's policy
// and metrics that agree with each other.
func TestChain(t *testing.T) {
	ctx := context.Background()
	tp, _ := NewTruthParams(config())
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
	beta := 1.0
	tj, _ := json.Marshal(TrainParams{Kind: "dpo", Beta: &beta})
	trained, err := Run(ctx, Train, tj, 0, [][]byte{truth, ds}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ej, _ := json.Marshal(EvalParams{Metrics: []string{"policy", "tv", "data_used"}})
	ev, err := Run(ctx, Eval, ej, 0, [][]byte{truth, trained}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var vals map[string]metrics.Value
	json.Unmarshal(ev, &vals)
	pol := vals["policy"].Vector
	if len(pol) != 2 || math.Abs(pol[0]+pol[1]-1) > 1e-12 {
		t.Errorf("policy %v", pol)
	}
	if vals["data_used"].Number != 1 {
		t.Errorf("DPO uses all data, got %v", vals["data_used"])
	}
	if _, err := Run(ctx, "bake", nil, 0, nil, Options{}); err == nil {
		t.Error("unknown kind ran")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Run(cctx, Truth, pj, 0, nil, Options{}); err == nil {
		t.Error("ran after cancel")
	}
}
