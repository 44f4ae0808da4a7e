package latent

import (
	"math"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/metrics"
)

// twoTypes is a World of three alternatives and two well-separated types
// (opposite orders) of weights 0.6 and 0.4, D uniform, τ = 1.
func twoTypes(t *testing.T) (*analytic.World, [][]float64) {
	rewards := [][]float64{{2, 0, -2}, {-2, 0, 2}}
	e := &analytic.Env{Alternatives: []string{"a", "b", "c"}, Population: envs.Population{Names: []string{"A", "B"}, Weights: []float64{0.6, 0.4}},
		Rewards: rewards, Sampling: []float64{1. / 3, 1. / 3, 1. / 3}, Reference: []float64{1. / 3, 1. / 3, 1. / 3}, Beta: 1,
		Preference: envs.Preference{Temperature: 1}}
	tr, err := e.ComputeTruth()
	if err != nil {
		t.Fatal(err)
	}
	return analytic.Single(tr), rewards
}

func problemOf(d *analytic.Data, n int) Problem {
	a := d.Annotated
	p := Problem{Annotators: a.Annotators, Prompts: 1, N: n, Mass: a.Mass}
	for _, l := range a.Labels {
		p.Labels = append(p.Labels, Label{Annotator: l.Annotator, X: l.X, W: l.W, L: l.L, Weight: l.Weight})
	}
	return p
}

// The exact annotated population (pairs: 0) is a distribution: its record
// masses sum to 1 and each type's share is its weight; the number of
// records is C(S + per − 1, per) per type, S = 1 + n(n − 1) outcomes.
func TestPopulationAnnotatedMasses(t *testing.T) {
	w, _ := twoTypes(t)
	for _, per := range []int{1, 2, 4} {
		d, err := w.PopulationAnnotated(per)
		if err != nil {
			t.Fatal(err)
		}
		a := d.Annotated
		share := make([]float64, 2)
		for i, m := range a.Mass {
			share[a.Types[i]] += m
		}
		if math.Abs(share[0]-0.6) > 1e-12 || math.Abs(share[1]-0.4) > 1e-12 {
			t.Errorf("per %d: type shares %v", per, share)
		}
		want := 1.0
		for k := 1; k <= per; k++ {
			want = want * float64(7-1+k) / float64(k)
		}
		if a.Annotators != 2*int(want) {
			t.Errorf("per %d: %d records, want 2 × %v", per, a.Annotators, want)
		}
	}
	if _, err := w.PopulationAnnotated(40); err == nil {
		t.Error("per 40: no error for C(46, 40) ≈ 9.4e6 records")
	}
}

// EM on the exact population with per = 4 finds the population's own
// mixture: the expected log-likelihood of a record is maximal exactly at
// the truth when the mixture is identified (two types and three
// conditionally independent labels per record suffice), so the fitted
// shares and centred rewards equal the truth to 1e-6 and the inferred
// types are the true ones (weighted ARI near 1: records of either type
// with the other type's typical labels are rare). With per = 1 a record
// is one label, whose distribution Σ_u w_u q_u depends on the mixture only
// through three pair probabilities: EM reaches the largest possible
// likelihood (the labels' negative entropy) from every start, yet the
// starts disagree on the types' rewards — they are not identified.
func TestEMExactPopulation(t *testing.T) {
	w, rewards := twoTypes(t)
	d, err := w.PopulationAnnotated(4)
	if err != nil {
		t.Fatal(err)
	}
	f, err := EM(problemOf(d, 3), Options{K: 2, Starts: 3, MaxIter: 100_000, Tol: 1e-15, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	k0 := 0 // the fitted type matching true type A
	if f.Theta[1][0][0] > f.Theta[0][0][0] {
		k0 = 1
	}
	for u, r := range rewards {
		k := k0 ^ u
		c := centred(r)
		for y := range c {
			if math.Abs(f.Theta[k][0][y]-c[y]) > 1e-6 {
				t.Errorf("type %d, alternative %d: θ %v, want %v", u, y, f.Theta[k][0][y], c[y])
			}
		}
		if want := []float64{0.6, 0.4}[u]; math.Abs(f.Alpha[k]-want) > 1e-6 {
			t.Errorf("type %d: share %v, want %v", u, f.Alpha[k], want)
		}
	}
	// Each record's inferred type is its Bayes classification under the
	// true mixture (computed here from the true rewards), except where
	// the two posteriors tie.
	assign := f.Assign()
	truth := make([]int, len(assign))
	logp := make([][2]float64, len(assign))
	for i, u := range d.Annotated.Types {
		truth[i] = int(u)
		logp[i] = [2]float64{math.Log(0.6), math.Log(0.4)}
	}
	for _, l := range d.Annotated.Labels {
		for u, r := range rewards {
			logp[l.Annotator][u] += l.Weight * -math.Log1p(math.Exp(-(r[l.W] - r[l.L])))
		}
	}
	bayes := make([]int, len(assign))
	for i, lp := range logp {
		if lp[1] > lp[0] {
			bayes[i] = 1
		}
		if got := assign[i] ^ k0; math.Abs(lp[1]-lp[0]) > 1e-6 && got != bayes[i] {
			t.Errorf("record %d: inferred type %d, Bayes %d", i, got, bayes[i])
		}
	}
	ari := metrics.WeightedARI(assign, truth, d.Annotated.Mass)
	if want := metrics.WeightedARI(bayes, truth, d.Annotated.Mass); math.Abs(ari-want) > 1e-9 {
		t.Errorf("per 4: weighted ARI %v, the Bayes classifier's %v", ari, want)
	}
	t.Logf("per 4: ARI %.4f after %d iterations", ari, f.Iterations)

	d1, err := w.PopulationAnnotated(1)
	if err != nil {
		t.Fatal(err)
	}
	// The labels' distribution: the masses of the records, merged by label.
	marg := map[[2]int32]float64{}
	for i, m := range d1.Annotated.Mass {
		key := [2]int32{-1, -1}
		for _, l := range d1.Annotated.Labels {
			if int(l.Annotator) == i {
				key = [2]int32{l.W, l.L}
			}
		}
		marg[key] += m
	}
	var negEnt float64
	for _, q := range marg {
		negEnt += q * math.Log(q)
	}
	var fits []*Fit
	for seed := range uint64(8) {
		f, err := EM(problemOf(d1, 3), Options{K: 2, Starts: 1, MaxIter: 100_000, Tol: 1e-15, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		// EM's log-likelihood omits the constant factors of the record
		// probabilities (D and the prior); add them back: each labelled
		// record's probability is (2/9)·σ, the unlabelled one's 1/3.
		var constant float64
		for key, q := range marg {
			if key[0] < 0 {
				constant += q * math.Log(1./3)
			} else {
				constant += q * math.Log(2./9)
			}
		}
		if got := f.LogLik + constant; math.Abs(got-negEnt) > 1e-7 {
			t.Errorf("per 1, seed %d: log-likelihood %v, the maximum %v", seed, got, negEnt)
		}
		fits = append(fits, f)
	}
	// The true mixture also attains that maximum (its label distribution
	// is the population's), so every fit below is another maximiser: the
	// rewards are not identified from one label per annotator.
	for seed, g := range fits {
		best := math.Inf(1)
		for _, perm := range [][2]int{{0, 1}, {1, 0}} {
			var d float64
			for k := range 2 {
				c := centred(rewards[perm[k]])
				for y := range 3 {
					d = math.Max(d, math.Abs(g.Theta[k][0][y]-c[y]))
				}
			}
			best = math.Min(best, d)
		}
		t.Logf("per 1, seed %d: shares %.3f, rewards %.3f, %.2f from the truth", seed, g.Alpha, g.Theta, best)
		if best < 0.5 {
			t.Errorf("per 1, seed %d: rewards within %v of the truth", seed, best)
		}
	}
}
