package latent

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The LP's worst regret is attained by its weights and no mixture on a
// fine grid of the simplex does better (an independent search).
func TestMinMaxRegretAgainstGrid(t *testing.T) {
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 1))
		M := make([][]float64, 3)
		for k := range M {
			M[k] = make([]float64, 3)
			for j := range M[k] {
				M[k][j] = rng.NormFloat64()
			}
		}
		alpha, worst, err := MinMaxRegret(M)
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, a := range alpha {
			if a < -1e-12 {
				t.Errorf("seed %d: negative weight %v", seed, alpha)
			}
			sum += a
		}
		if math.Abs(sum-1) > 1e-9 || math.Abs(Regret(M, alpha)-worst) > 1e-9 {
			t.Errorf("seed %d: weights %v (sum %v), worst regret %v, LP value %v", seed, alpha, sum, Regret(M, alpha), worst)
		}
		const n = 200
		best := math.Inf(1)
		for i := 0; i <= n; i++ {
			for j := 0; i+j <= n; j++ {
				a := []float64{float64(i) / n, float64(j) / n, float64(n-i-j) / n}
				best = math.Min(best, Regret(M, a))
			}
		}
		if worst > best+1e-12 {
			t.Errorf("seed %d: LP worst regret %v, a grid point reaches %v", seed, worst, best)
		}
	}
}

// MaxMin: its duality gap closes, its worst-off type does at least as
// well as under any type's own Gibbs policy or a random mixture of
// rewards, and with one type it is that type's Gibbs policy.
func TestMaxMin(t *testing.T) {
	theta := [][][]float64{
		{{2, 0, -1, 0}, {0, 1, 0, -1}},
		{{-1, 0, 2, 0}, {1, 0, -1, 0}},
		{{0, 1, 0, 0.5}, {-1, 0, 0, 1}},
	}
	ref := [][]float64{{0.25, 0.25, 0.25, 0.25}, {0.1, 0.2, 0.3, 0.4}}
	prior := []float64{0.6, 0.4}
	const beta = 0.5
	_, pol, gap := MaxMin(theta, ref, prior, beta, 1e-10, 200_000)
	if gap > 1e-8 {
		t.Errorf("duality gap %v", gap)
	}
	worst := func(p [][]float64) float64 {
		w := math.Inf(1)
		for _, th := range theta {
			w = math.Min(w, Objective(p, th, ref, prior, beta))
		}
		return w
	}
	got := worst(pol)
	rng := rand.New(rand.NewPCG(9, 9))
	for trial := range 200 {
		l := []float64{rng.Float64(), rng.Float64(), rng.Float64()}
		if trial < 3 {
			l = []float64{0, 0, 0}
			l[trial] = 1
		}
		r := make([][]float64, 2)
		for x := range r {
			r[x] = make([]float64, 4)
			for k := range theta {
				for y := range r[x] {
					r[x][y] += l[k] * theta[k][x][y]
				}
			}
		}
		if v := worst(Gibbs(r, ref, beta)); v > got+1e-8 {
			t.Errorf("mixture %v: worst-off objective %v beats MaxMin's %v", l, v, got)
		}
	}
	_, one, _ := MaxMin(theta[:1], ref, prior, beta, 1e-12, 10)
	g := Gibbs(theta[0], ref, beta)
	for x := range g {
		for y := range g[x] {
			if math.Abs(one[x][y]-g[x][y]) > 1e-12 {
				t.Errorf("one type: π(%d|%d) = %v, Gibbs %v", y, x, one[x][y], g[x][y])
			}
		}
	}
}
