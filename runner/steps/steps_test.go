package steps

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"hetalign/envs"
	"hetalign/metrics"
	"hetalign/runner/spec"
)

func config(t *testing.T, env string) *spec.Config {
	t.Helper()
	c, err := spec.DecodeConfig([]byte(`{
		"population": {"types": {
			"B": {"weight": 3, "reward": {"x": 1, "y": 0}},
			"A": {"weight": 1, "reward": {"x": 0, "y": 2}}}},
		"env": {"kind": "`+env+`", "alternatives": ["x", "y"], "sampling": {"x": 1, "y": 3}},
		"methods": {"dpo": {"kind": "dpo", "data": "anon"}},
		"data": {"anon": {"regime": "anonymous"}}
	}`), ".")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewTruthParams(t *testing.T) {
	tp, err := NewTruthParams(config(t, "analytic"))
	if err != nil {
		t.Fatal(err)
	}
	p := tp.(*envs.TruthBase)
	// Types sorted by name; weights, sampling and the default uniform
	// reference normalised.
	if p.Types[0] != "A" || p.Weights[0] != 0.25 || p.Rewards[0][1] != 2 {
		t.Errorf("types %v weights %v rewards %v", p.Types, p.Weights, p.Rewards)
	}
	if p.Sampling[0] != 0.25 || p.Reference[0] != 0.5 {
		t.Errorf("sampling %v reference %v", p.Sampling, p.Reference)
	}
	if _, err := spec.DecodeConfig([]byte(`{"env": {"kind": "lunar"}}`), "."); err == nil {
		t.Error("unregistered env accepted")
	}
}

// A truth → dataset → train → eval chain through Run gives DPO's policy
// and metrics that agree with each other.
func TestChain(t *testing.T) {
	ctx := context.Background()
	tp, _ := NewTruthParams(config(t, "analytic"))
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
	tj, _, err := NewTrainParams(config(t, "analytic").Methods["dpo"], 0)
	if err != nil {
		t.Fatal(err)
	}
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
