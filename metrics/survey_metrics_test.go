package metrics

import (
	"math"
	"math/rand/v2"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

// world builds a one-prompt World of the given rewards and weights with
// uniform sampling and reference.
func world(t *testing.T, rewards [][]float64, weights []float64) *analytic.World {
	t.Helper()
	n := len(rewards[0])
	alts := make([]string, n)
	uni := make([]float64, n)
	for i := range alts {
		alts[i] = string(rune('a' + i))
		uni[i] = 1 / float64(n)
	}
	names := make([]string, len(rewards))
	for u := range names {
		names[u] = string(rune('A' + u))
	}
	e := &analytic.Env{Alternatives: alts, Population: envs.Population{Names: names, Weights: weights},
		Rewards: rewards, Sampling: uni, Reference: uni, Beta: 1, Preference: envs.Preference{Temperature: 1}}
	tr, err := e.ComputeTruth()
	if err != nil {
		t.Fatal(err)
	}
	return analytic.Single(tr)
}

// nbcUnder recomputes NBC(y) = Σ_y' q(y') P[y][y'] (Eq. 13) from the
// preference matrix, independently of the truth's NBC.
func nbcUnder(pref [][]float64, q []float64) []float64 {
	out := make([]float64, len(pref))
	for i := range pref {
		for j := range pref {
			out[i] += q[j] * pref[i][j]
		}
	}
	return out
}

func argmaxIdx(v []float64) int {
	b := 0
	for i, x := range v {
		if x > v[b] {
			b = i
		}
	}
	return b
}

// Over random populations: nbc_top_agrees says whether argmax r̄ = argmax
// NBC (recomputed here from P under uniform q); flip_within_da = 1 exactly
// when the flipping distribution flip_q lies within TV 0.2 of uniform and
// reverses a pair that uniform D orders (checked on flip_q itself).
func TestNBCTopAndDa(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	var sawAgree, sawDisagree, sawDa, sawNoDa int
	for trial := range 60 {
		n, k := 3+rng.IntN(3), 2+rng.IntN(3)
		rewards := make([][]float64, k)
		weights := make([]float64, k)
		for u := range rewards {
			weights[u] = 0.2 + rng.Float64()
			rewards[u] = make([]float64, n)
			for i := range rewards[u] {
				rewards[u][i] = 4 * rng.NormFloat64()
			}
		}
		var sum float64
		for _, w := range weights {
			sum += w
		}
		for u := range weights {
			weights[u] /= sum
		}
		w := world(t, rewards, weights)
		got, err := ComputeTruth(w, []string{"nbc_top_agrees", "flip_within_da", "flip_q"})
		if err != nil {
			t.Fatal(err)
		}
		avg := make([]float64, n)
		for u := range rewards {
			for i := range avg {
				avg[i] += weights[u] * rewards[u][i]
			}
		}
		uni := make([]float64, n)
		for i := range uni {
			uni[i] = 1 / float64(n)
		}
		pref := w.Prompts[0].Pref
		nbc := nbcUnder(pref, uni)
		want := argmaxIdx(avg) == argmaxIdx(nbc)
		if (got["nbc_top_agrees"].Number == 1) != want {
			t.Fatalf("trial %d: nbc_top_agrees %v, r̄ %v, NBC %v", trial, got["nbc_top_agrees"].Number, avg, nbc)
		}
		if want {
			sawAgree++
		} else {
			sawDisagree++
		}
		if got["flip_within_da"].Number == 1 {
			sawDa++
			q := got["flip_q"].Vector
			var tv float64
			for i := range q {
				tv += math.Abs(q[i]-uni[i]) / 2
			}
			if tv > DaTV+1e-9 {
				t.Fatalf("trial %d: flip_within_da but TV(flip_q, uniform) = %v", trial, tv)
			}
			nq := nbcUnder(pref, q)
			reversed := false
			for i := range nbc {
				for j := range nbc {
					if nbc[i] > nbc[j]+1e-9 && nq[i] < nq[j] {
						reversed = true
					}
				}
			}
			if !reversed {
				t.Fatalf("trial %d: flip_q %v reverses no NBC pair", trial, q)
			}
		} else {
			sawNoDa++
		}
	}
	if sawAgree == 0 || sawDisagree == 0 || sawDa == 0 || sawNoDa == 0 {
		t.Errorf("random populations cover too little: top agrees %d, disagrees %d, D_a flips %d, does not %d", sawAgree, sawDisagree, sawDa, sawNoDa)
	}
}
