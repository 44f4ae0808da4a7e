package methods

import (
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/envs/random"
	"hetalign/methods/tabular"
)

// The paper's proposition (Section 4): DPO's infinite-data policy orders
// the alternatives as the normalised Borda count does. Checked on 300
// random populations (five alternatives, two to five types, normal or
// Mallows rewards, Dirichlet weights, τ = 1): for every pair whose NBC
// values differ by more than 1e-9, the DPO log-ratios differ the same way.
func TestDPOOrdersAsNBC(t *testing.T) {
	for inst := range 300 {
		k := 2 + inst%4
		var types []envs.Type
		for u := range k {
			types = append(types, envs.Type{Name: string(rune('A' + u)), Weight: 1})
		}
		law := "normal"
		if inst%2 == 1 {
			law = "mallows"
		}
		s := envs.Setting{Types: types, Model: "bt", Temperature: 1}
		c := &random.Config{Kind: "random", N: 5, Instance: inst, Rewards: &random.RewardConfig{Law: law}, Weights: "dirichlet"}
		c.Defaults(s)
		tp, err := c.Truth(s)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := analytic.EnvOf(tp.(*envs.TruthBase)).ComputeTruth()
		if err != nil {
			t.Fatal(err)
		}
		w := analytic.Single(tr)
		d, err := w.PopulationData(analytic.Anonymous)
		if err != nil {
			t.Fatal(err)
		}
		res, err := tabular.Fit(d.Prompts[0], tr.Reference, tabular.Config{Kind: "dpo", Beta: 1})
		if err != nil {
			t.Fatal(err)
		}
		for a := range 5 {
			for b := range 5 {
				if tr.NBC[a]-tr.NBC[b] > 1e-9 && !(res.LogRatio[a] > res.LogRatio[b]) {
					t.Errorf("instance %d (%s, %d types): NBC(y%d) > NBC(y%d) but DPO's log-ratios are %v, %v",
						inst, law, k, a+1, b+1, res.LogRatio[a], res.LogRatio[b])
				}
			}
		}
	}
}
