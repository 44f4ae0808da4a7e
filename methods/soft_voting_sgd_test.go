package methods

import (
	"math"
	"slices"
	"testing"

	"hetalign/envs/analytic"
)

// majorityOrder is the order of the alternatives by the population's
// pairwise majorities, when they are transitive: y's number of majority
// wins, n−1 for the top down to 0, is then distinct for every y. ok is
// false when the majority relation has a cycle or a tie.
func majorityOrder(P [][]float64) (order []int, ok bool) {
	n := len(P)
	wins := make([]float64, n)
	for a := range n {
		for b := range n {
			if a != b && P[a][b] > 0.5 {
				wins[a]++
			}
		}
	}
	order = analytic.Ranking(wins)
	for pos, y := range order {
		if wins[y] != float64(n-1-pos) {
			return nil, false
		}
	}
	return order, true
}

// SGD on the Differential Voting losses (Adam on a tabular policy and on
// the MLP, 600 steps of 256 tuples at lr 0.05) reaches the order of the
// exact population optimum. Why, for both losses: with θ_a − θ_b = x the
// pair's expected term is Won[a][b]·ℓ(x) + Won[b][a]·ℓ(−x), whose
// derivative in x is (Won[b][a] − Won[a][b])·|ℓ′| plus soft-copeland's
// λ-term pulling x to 0. So where a sits just above b against the
// majority, descent pushes x down: the order SGD ends in has every
// adjacent pair in the majority's direction — a local optimum of the
// (margin-weighted) Kemeny–Young objective. Where the majorities are
// transitive, the only such order is the majority order, which is then
// the Kemeny–Young ranking (it agrees with every pair) and the exact fit's
// order: SGD must equal it exactly. Where they cycle, local optima may
// differ from the global one (Kemeny–Young is NP-hard; no descent
// promises it), and SGD's order need only be adjacent-stable.
//
// Besides the random populations, a hand-built cycle: three types
// a > b > c, b > c > a, c > a > b (rewards 4, 2, 0; weights 0.4, 0.35,
// 0.25; τ = 1), whose majorities a ≻ b, b ≻ c, c ≻ a cycle.
//
// Scope: populations whose every pair is at least 0.01 from a tie,
// |P(a ≻ b) − ½| ≥ 0.01. A near-tied pair's own gradient is proportional
// to its margin |2P − 1|, and its swap moves the Kemeny objective by only
// 2D(a)D(b)|2P − 1| < 2·(1/25)·0.02 = 1.6e-3; finite SGD leaves such
// pairs in whichever order the rest of the descent put them.
func TestSoftVotingSGD(t *testing.T) {
	for _, kind := range []string{"soft-kemeny", "soft-copeland"} {
		t.Run(kind, func(t *testing.T) {
			var n, cyclic int
			cycle := worldOf(t, [][]float64{{4, 2, 0}, {0, 4, 2}, {2, 0, 4}}, []float64{0.4, 0.35, 0.25}, 1, nil)
			for inst := -1; inst < 10; inst++ {
				for _, k := range []int{2, 3, 5} {
					w := cycle
					if inst >= 0 {
						w, _ = randomWorld(t, inst, k, 1, analytic.Anonymous)
					} else if k != 2 {
						continue
					}
					d, err := w.PopulationData(analytic.Anonymous)
					if err != nil {
						t.Fatal(err)
					}
					P := w.Prompts[0].Pref
					near := false
					for a := range P {
						for b := range P {
							near = near || (a != b && math.Abs(P[a][b]-0.5) < 0.01)
						}
					}
					if near {
						continue
					}
					n++
					exact, err := fitTab(t, kind, `{}`, w, d)
					if err != nil {
						t.Fatal(err)
					}
					maj, transitive := majorityOrder(P)
					if transitive {
						if _, kem := bruteKemeny(w.Prompts[0]); len(kem) != 1 || !slices.Equal(kem[0], maj) {
							t.Fatalf("instance %d, %d types: majority order %v, Kemeny–Young %v", inst, k, maj, kem)
						}
						if got := orderOf(exact.LogRatio[0]); !slices.Equal(got, maj) {
							t.Fatalf("instance %d, %d types: exact fit orders %v, the majorities %v", inst, k, got, maj)
						}
					} else {
						cyclic++
					}
					for _, model := range []string{"tabular", "mlp"} {
						js := `{"model": {"kind": "` + model + `"}, "optimizer": {"lr": 0.05, "batch": 256, "steps": 600}}`
						if !params(t, kind, js).SGD() {
							t.Fatalf("%s with %s is not an SGD fit", kind, js)
						}
						sgd, err := fitTab(t, kind, js, w, d)
						if err != nil {
							t.Fatal(err)
						}
						if slices.Min(sgd.Policy[0]) <= 0 {
							t.Fatalf("%s: SGD's softmax policy %v has an alternative without mass", model, sgd.Policy[0])
						}
						got := orderOf(sgd.LogRatio[0])
						if transitive && !slices.Equal(got, maj) {
							t.Errorf("instance %d, %d types, %s: SGD orders %v (θ %.3g), the exact optimum %v", inst, k, model, got, sgd.LogRatio[0], maj)
						}
						for i := 0; i+1 < len(got); i++ {
							if a, b := got[i], got[i+1]; P[a][b] < 0.5 {
								t.Errorf("instance %d, %d types, %s: SGD puts %d just above %d against the majority P = %.4f (θ %.3g)", inst, k, model, a, b, P[a][b], sgd.LogRatio[0])
							}
						}
					}
				}
			}
			if n < 10 || cyclic == 0 {
				t.Fatalf("only %d populations in scope", n)
			}
			t.Logf("%d populations in scope, %d with a majority cycle", n, cyclic)
		})
	}
}

// soft-kemeny's β is SGD's only: given to the exact fit it is an error
// (the Kemeny–Young ranking does not depend on it); with SGD it defaults
// to env.beta and must be positive.
func TestSoftKemenyBeta(t *testing.T) {
	for _, tc := range []struct {
		js   string
		path string // "" when valid
	}{
		{`{}`, ""},
		{`{"beta": 2}`, "beta"},
		{`{"optimizer": {"steps": 10}}`, ""},
		{`{"optimizer": {"steps": 10}, "beta": -1}`, "beta"},
		{`{"model": {"kind": "transformer"}}`, "model.kind"},
	} {
		p, err := Decode("soft-kemeny", []byte(tc.js))
		if err != nil {
			t.Fatal(err)
		}
		c := Context{Name: "sk", EnvBeta: 0.5}
		p.Defaults(c)
		ps := p.Check(c)
		if tc.path == "" && len(ps) > 0 || tc.path != "" && (len(ps) != 1 || ps[0].Path != tc.path) {
			t.Errorf("%s: problems %v, want one at %q", tc.js, ps, tc.path)
		}
		if sk := p.(*SoftKemeny); tc.path == "" && p.SGD() && *sk.Beta != 0.5 {
			t.Errorf("%s: β %v, want env.beta 0.5", tc.js, *sk.Beta)
		}
	}
}
