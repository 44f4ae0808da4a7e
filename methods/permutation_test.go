package methods

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/envs/random"
	"hetalign/metrics"
)

// example is a population as a spec states it: alternatives, types'
// rewards and weights, D and τ.
type example struct {
	name     string
	alts     []string
	rewards  [][]float64
	weights  []float64
	sampling []float64 // nil: uniform
	tau      float64
}

// permuted reorders the alternatives: alternative perm[i] comes i-th.
func (e example) permuted(perm []int) example {
	out := e
	out.alts = make([]string, len(perm))
	out.rewards = make([][]float64, len(e.rewards))
	for u := range e.rewards {
		out.rewards[u] = make([]float64, len(perm))
	}
	if e.sampling != nil {
		out.sampling = make([]float64, len(perm))
	}
	for i, j := range perm {
		out.alts[i] = e.alts[j]
		for u := range e.rewards {
			out.rewards[u][i] = e.rewards[u][j]
		}
		if e.sampling != nil {
			out.sampling[i] = e.sampling[j]
		}
	}
	return out
}

func (e example) world(t *testing.T) *analytic.World {
	t.Helper()
	n := len(e.alts)
	uni := make([]float64, n)
	for i := range uni {
		uni[i] = 1 / float64(n)
	}
	s := e.sampling
	if s == nil {
		s = uni
	}
	var tot float64
	for _, w := range e.weights {
		tot += w
	}
	names := make([]string, len(e.weights))
	ws := make([]float64, len(e.weights))
	for u := range names {
		names[u] = fmt.Sprintf("T%d", u)
		ws[u] = e.weights[u] / tot
	}
	env := &analytic.Env{Alternatives: e.alts, Population: envs.Population{Names: names, Weights: ws},
		Rewards: e.rewards, Sampling: s, Reference: uni, Beta: 1, Preference: envs.Preference{Temperature: e.tau}}
	tr, err := env.ComputeTruth()
	if err != nil {
		t.Fatal(err)
	}
	return analytic.Single(tr)
}

// atlasExamples are the analytic examples of specs/beyond/losses.cue (and
// specs/paper/toy.cue).
var atlasExamples = []example{
	{"section43", []string{"y1", "y2", "y3"}, [][]float64{{6, 1, 4}, {3, 9, 4}}, []float64{1, 1}, nil, 1},
	{"sensitivity 0.04", []string{"y1", "y2", "y3"}, [][]float64{{6, 1, 4}, {3, 9, 4}}, []float64{1, 1}, []float64{0.48, 0.48, 0.04}, 1},
	{"temperature", []string{"y1", "y2", "y3"}, [][]float64{{6, 1, 4}, {3, 9, 4}}, []float64{1, 1}, nil, 2},
	{"mediocrity", []string{"short", "med", "long"}, [][]float64{{0, 1, 4}, {4, 1, 0}, {0, 1, 0}}, []float64{1, 1, 1}, nil, 1},
	{"iia", []string{"y1", "y2", "y3"}, [][]float64{{6, 1, 2}, {3, 9, 2}}, []float64{1, 1}, nil, 1},
	{"tyranny", []string{"y1", "y2"}, [][]float64{{0.5, 1}, {0.5, -10}}, []float64{0.9, 0.1}, nil, 1},
}

// aggregationExamples draws instances of specs/beyond/aggregation.cue's
// random env (five alternatives, Dirichlet weights, normal rewards) with
// 2, 3 and 5 types at τ = 0.5, 1, 2.
func aggregationExamples(t *testing.T, instances int) []example {
	var out []example
	for i := range instances {
		k := []int{2, 3, 5}[i%3]
		tau := []float64{0.5, 1, 2}[(i/3)%3]
		c := &random.Config{Kind: "random", N: 5, Instance: i, Weights: "dirichlet"}
		c.Defaults(envs.Setting{})
		var types []envs.Type
		for u := range k {
			types = append(types, envs.Type{Name: fmt.Sprintf("t%d", u), Raw: []byte(`{}`)})
		}
		tb, err := c.Truth(envs.Setting{Types: types, Temperature: tau})
		if err != nil {
			t.Fatal(err)
		}
		b := tb.(*envs.TruthBase)
		out = append(out, example{fmt.Sprintf("aggregation instance %d (%d types, τ = %v)", i, k, tau), b.Alternatives, b.Rewards, b.Weights, nil, tau})
	}
	return out
}

// permMethods are the atlas's and the aggregation study's methods that fit
// exactly on population data: kind, parameters, regime.
var permMethods = []struct{ name, kind, params, regime string }{
	{"dpo", "dpo", `{}`, analytic.Anonymous},
	{"ipo", "ipo", `{}`, analytic.Anonymous},
	{"consistent", "consistent", `{}`, analytic.Full},
	{"relabel", "relabel-dpo", `{}`, analytic.Typed},
	{"group", "group-dpo", `{}`, analytic.Typed},
	{"nash", "nash", `{"tau": 0.1}`, analytic.Anonymous},
	{"lottery", "maximal-lottery", `{}`, analytic.Anonymous},
	{"dpl", "dpl", `{"prior": 1e-3}`, analytic.Anonymous},
	{"hinge", "hinge", `{}`, analytic.Anonymous},
	{"robust", "robust", `{}`, analytic.Anonymous},
	{"cdpo", "cdpo", `{}`, analytic.Anonymous},
	{"exo", "exo", `{}`, analytic.Anonymous},
	{"nca", "nca", `{}`, analytic.Anonymous},
	{"bco", "bco", `{}`, analytic.Anonymous},
	{"sppo", "sppo", `{}`, analytic.Anonymous},
	{"apo-zero", "apo-zero", `{"l2": 0.01}`, analytic.Anonymous},
	{"apo-down", "apo-down", `{"l2": 0.01}`, analytic.Anonymous},
	{"discopop", "discopop", `{}`, analytic.Anonymous},
}

// The fitted policy of every method on every atlas example and on
// aggregation populations permutes with the alternatives (compared by
// name), or the fit says its optimum is not unique (issue 24): a ranking
// that depends on the order in which the spec lists the alternatives is a
// tie-break, not a finding.
func TestPoliciesPermuteWithAlternatives(t *testing.T) {
	exs := append(slices.Clone(atlasExamples), aggregationExamples(t, 36)...)
	flagged := 0
	for _, ex := range exs {
		n := len(ex.alts)
		rev := make([]int, n)
		rot := make([]int, n)
		for i := range n {
			rev[i] = n - 1 - i
			rot[i] = (i + 1) % n
		}
		w0 := ex.world(t)
		for _, m := range permMethods {
			fit := func(w *analytic.World) (*metrics.Trained, error) {
				p, err := Decode(m.kind, []byte(m.params))
				if err != nil {
					t.Fatal(err)
				}
				c := Context{Name: m.name, EnvBeta: 1, Types: len(ex.weights)}
				p.Defaults(c)
				if ps := p.Check(c); len(ps) > 0 {
					t.Fatalf("%s: %v", m.name, ps)
				}
				d, err := w.PopulationData(m.regime)
				if err != nil {
					t.Fatal(err)
				}
				return p.(TabularFitter).FitTabular(&TabularInput{World: w, Data: d, Seed: 1, Backend: goBackend})
			}
			r0, err0 := fit(w0)
			for _, perm := range [][]int{rev, rot} {
				pe := ex.permuted(perm)
				r1, err1 := fit(pe.world(t))
				if (err0 == nil) != (err1 == nil) {
					t.Errorf("%s, %s: fits %v before and %v after permuting", ex.name, m.name, err0, err1)
					continue
				}
				if err0 != nil {
					continue
				}
				if len(r0.NotUnique) > 0 && r0.NotUnique[0] != "" {
					flagged++
					if ex.name == "mediocrity" && m.name == "discopop" && r0.NotUnique[0] != "med > short, med > long; short ? long" {
						t.Errorf("mediocrity, discopop: shared %q, want the mirror images' med > short, med > long; short ? long", r0.NotUnique[0])
					}
					if len(r1.NotUnique) == 0 || r1.NotUnique[0] == "" {
						t.Errorf("%s, %s: not unique (%s) in one order, unique in another", ex.name, m.name, r0.NotUnique[0])
					}
					continue
				}
				for i, j := range perm {
					if d := math.Abs(r1.Policy[0][i] - r0.Policy[0][j]); d > 1e-6 {
						t.Errorf("%s, %s: π(%s) = %.6g, permuted %.6g, and the fit is not flagged as non-unique", ex.name, m.name, ex.alts[j], r0.Policy[0][j], r1.Policy[0][i])
						break
					}
				}
			}
		}
	}
	if flagged == 0 {
		t.Error("no fit was flagged non-unique: discopop on the mediocrity example should be")
	}
}
