package latent

import (
	"math"
	"math/rand/v2"
	"testing"

	"hetalign/metrics"
)

// synthetic draws annotators of three well-separated types (each prefers
// a different end of six alternatives), each labelling per pairs drawn
// uniformly, labels from its type's BT model.
func synthetic(annotators, per int, seed uint64) (Problem, []int, [][]float64) {
	rewards := [][]float64{{3, 2, 1, 0, -1, -2}, {-2, -1, 0, 1, 2, 3}, {-1, 1, 3, 3, 1, -1}}
	rng := rand.New(rand.NewPCG(seed, 7))
	p := Problem{Annotators: annotators, Prompts: 1, N: 6}
	truth := make([]int, annotators)
	for i := range annotators {
		u := rng.IntN(3)
		truth[i] = u
		for range per {
			a := rng.IntN(6)
			b := (a + 1 + rng.IntN(5)) % 6
			w, l := a, b
			if rng.Float64() >= 1/(1+math.Exp(-(rewards[u][a]-rewards[u][b]))) {
				w, l = b, a
			}
			p.Labels = append(p.Labels, Label{Annotator: int32(i), W: int32(w), L: int32(l), Weight: 1})
		}
	}
	return p, truth, rewards
}

// With well-separated types and 30 labels per annotator EM recovers the
// types (ARI ≥ 0.95) and their rewards; with one label per annotator it
// cannot: a single binary label says almost nothing about its annotator's
// type, so the types are not identified.
func TestEMRecoversTypes(t *testing.T) {
	p, truth, rewards := synthetic(300, 30, 1)
	f, err := EM(p, Options{K: 3, Starts: 5, MaxIter: 500, Tol: 1e-9, Prior: 0.01, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if ari := metrics.ARI(f.Assign(), truth); ari < 0.95 {
		t.Errorf("ARI %v with 30 labels per annotator", ari)
	}
	// Each true type's rewards match one fitted type's (centred).
	for u, r := range rewards {
		c := centred(r)
		bestErr := math.Inf(1)
		for k := range f.Theta {
			var e float64
			for y := range c {
				e = math.Max(e, math.Abs(f.Theta[k][0][y]-c[y]))
			}
			bestErr = math.Min(bestErr, e)
		}
		if bestErr > 0.5 {
			t.Errorf("type %d: rewards recovered within %v", u, bestErr)
		}
	}
	p1, truth1, _ := synthetic(3000, 1, 2)
	f1, err := EM(p1, Options{K: 3, Starts: 3, MaxIter: 200, Tol: 1e-9, Prior: 0.01, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if ari := metrics.ARI(f1.Assign(), truth1); ari > 0.2 {
		t.Errorf("ARI %v with one label per annotator: types should not be identified", ari)
	}
}

func centred(r []float64) []float64 {
	var m float64
	for _, v := range r {
		m += v / float64(len(r))
	}
	out := make([]float64, len(r))
	for i, v := range r {
		out[i] = v - m
	}
	return out
}
