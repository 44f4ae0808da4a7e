package methods

import (
	"fmt"
	"math"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/methods/games"
)

// cycleWorld is a Condorcet cycle on one prompt: three equally weighted
// types with cyclic rankings a ≻ b ≻ c, b ≻ c ≻ a and c ≻ a ≻ b (rewards 6,
// 3, 0 at temperature 1), so each alternative beats the next:
// P(a ≻ b) = (2σ(3) + σ(−6))/3 ≈ 0.64; uniform D
// and the given reference; its anonymous population data.
func cycleWorld(t *testing.T, ref []float64) (*analytic.World, *analytic.Data) {
	t.Helper()
	e := &analytic.Env{Alternatives: []string{"a", "b", "c"},
		Population: envs.Population{Names: []string{"A", "B", "C"}, Weights: []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
		Rewards:    [][]float64{{6, 3, 0}, {0, 6, 3}, {3, 0, 6}},
		Sampling:   []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}, Reference: ref, Beta: 1,
		Preference: envs.Preference{Temperature: 1}}
	tr, err := e.ComputeTruth()
	if err != nil {
		t.Fatal(err)
	}
	w := analytic.Single(tr)
	d, err := w.PopulationData(analytic.Anonymous)
	if err != nil {
		t.Fatal(err)
	}
	return w, d
}

// tv is the total-variation distance ½·Σ|p − q|.
func tv(p, q []float64) float64 {
	var s float64
	for y := range p {
		s += math.Abs(p[y]-q[y]) / 2
	}
	return s
}

// Nash learning by SGD (Nash-MD with function approximation: rounds of
// Adam steps regressing the network onto one exact mirror-descent step
// from its own policy) on a tabular policy and on the paper's MLP ends
// near the exact regularised Nash equilibrium (Nash mirror descent to a
// duality gap of 1e-10), on a Condorcet cycle with a skewed reference and
// on a random population of three types, from two seeds. The network's
// fixed point is the equilibrium (neural.TrainNash), and with one prompt
// the minibatch of prompts is exact, so no noise floor remains; what
// remains is Adam's step against each round's fixed target: each step
// moves each table logit by at most about lr, which moves π by at most lr
// in total variation (½Σ_y π_y·|Δθ_y − E_πΔθ| ≤ max|Δθ|). The tolerance
// is twice that, 2·lr = 0.02, for the table and for the MLP, after steps
// enough for the transient: 4,000 steps are 400 rounds (refresh 10) of
// the exact map, and the exact solver (η = min(1, 1/(2τ)) = 1) reaches a
// duality gap below 1e-10 within 400 iterations on these populations
// (checked below).
func TestNashSGD(t *testing.T) {
	const lr, steps = 0.01, 4000
	tol := 2 * lr
	cw, cd := cycleWorld(t, []float64{0.2, 0.3, 0.5})
	rw, rd := randomWorld(t, 5, 3, 1, analytic.Anonymous)
	for _, pop := range []struct {
		name string
		w    *analytic.World
		d    *analytic.Data
	}{{"cycle", cw, cd}, {"random", rw, rd}} {
		exact, err := fitTab(t, "nash", `{"tau": 0.1}`, pop.w, pop.d)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := games.Nash(games.WinRates(pop.d.Prompts[0].Won), pop.w.Prompts[0].Reference, 0.1, 1, 1e-10, steps/10); err != nil {
			t.Fatalf("%s: the exact map does not converge within the SGD's rounds: %v", pop.name, err)
		}
		// The equilibrium is far from the reference and from the uniform
		// policy the tabular SGD starts from (its logits start at 0), so
		// ending near it is news.
		u := make([]float64, len(exact.Policy[0]))
		for i := range u {
			u[i] = 1 / float64(len(u))
		}
		if d := min(tv(exact.Policy[0], pop.w.Prompts[0].Reference), tv(exact.Policy[0], u)); d < 5*tol {
			t.Fatalf("%s: the equilibrium %v is within %v of the reference or the uniform policy", pop.name, exact.Policy[0], d)
		}
		for _, model := range []string{"tabular", "mlp"} {
			for _, seed := range []uint64{0, 4} {
				t.Run(fmt.Sprintf("%s/%s/seed %d", pop.name, model, seed), func(t *testing.T) {
					p := params(t, "nash", fmt.Sprintf(`{"tau": 0.1, "model": {"kind": %q}, "optimizer": {"lr": %v, "batch": 16, "steps": %d}}`, model, lr, steps))
					res, err := p.(TabularFitter).FitTabular(&TabularInput{World: pop.w, Data: pop.d, Seed: seed, Backend: goBackend})
					if err != nil {
						t.Fatal(err)
					}
					if d := tv(res.Policy[0], exact.Policy[0]); d > tol {
						t.Errorf("SGD policy %v, exact %v: TV %v > %v", res.Policy[0], exact.Policy[0], d, tol)
					}
				})
			}
		}
	}
}

// What the schema cannot say, Check does: nash's refresh is the SGD
// fit's; dpl by SGD trains tables only.
func TestSGDChecks(t *testing.T) {
	for _, tc := range []struct {
		kind, js string
		bad      bool
	}{
		{"nash", `{"refresh": 5}`, true},
		{"nash", `{"eta": 2}`, true},
		{"nash", `{"refresh": 5, "model": {"kind": "mlp"}}`, false},
		{"nash", `{"eta": 0.5, "optimizer": {}}`, false},
		{"dpl", `{"model": {"kind": "mlp"}}`, true},
		{"dpl", `{"model": {"kind": "tabular"}}`, false},
		{"dpl", `{"optimizer": {"lr": 0.01}}`, false},
	} {
		t.Run(tc.kind+" "+tc.js, func(t *testing.T) {
			p, err := Decode(tc.kind, []byte(tc.js))
			if err != nil {
				t.Fatal(err)
			}
			c := Context{Name: tc.kind, EnvBeta: 1, Types: 2}
			p.Defaults(c)
			if ps := p.Check(c); (len(ps) > 0) != tc.bad {
				t.Errorf("problems %v, want some: %v", ps, tc.bad)
			}
		})
	}
}
