package tabular

import (
	"math"
	"math/rand/v2"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

func env(t testing.TB, rewards [][]float64, weights, sampling []float64, tau float64) *analytic.Env {
	t.Helper()
	n := len(rewards[0])
	alts := make([]string, n)
	ref := make([]float64, n)
	for i := range alts {
		alts[i] = string(rune('a' + i))
		ref[i] = 1 / float64(n)
	}
	names := make([]string, len(rewards))
	for i := range names {
		names[i] = string(rune('A' + i))
	}
	pop, err := envs.NewPopulation(names, weights)
	if err != nil {
		t.Fatal(err)
	}
	if sampling == nil {
		sampling = ref
	}
	e := &analytic.Env{Alternatives: alts, Population: pop, Rewards: rewards, Sampling: sampling,
		Reference: ref, Beta: 1, Preference: envs.Preference{Temperature: tau}}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	return e
}

func randomEnv(t testing.TB, rng *rand.Rand) *analytic.Env {
	n := 2 + rng.IntN(7)
	k := 1 + rng.IntN(4)
	rewards := make([][]float64, k)
	w := make([]float64, k)
	for u := range rewards {
		rewards[u] = make([]float64, n)
		for y := range rewards[u] {
			rewards[u][y] = rng.NormFloat64() * 3
		}
		w[u] = 0.1 + rng.Float64()
	}
	d := make([]float64, n)
	for i := range d {
		d[i] = 0.02 + rng.Float64()
	}
	d, _ = envs.Normalise(d)
	e := env(t, rewards, w, d, 0.5+rng.Float64()*1.5)
	e.Beta = 0.3 + rng.Float64()*2
	return e
}

func fitDPO(t testing.TB, e *analytic.Env) *Result {
	t.Helper()
	ds, err := e.PopulationDataset(analytic.Anonymous)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Fit(ds, e.Reference, Config{Kind: "dpo", Beta: e.Beta})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The infinite-data DPO policy solves Eq. 14:
// Σ_{y'} D(y') σ(β(θ(y) − θ(y'))) = NBC(y) for every y. The residual is
// computed here from the definitions, independently of the solver.
func TestDPOSolvesEq14(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	worst := 0.0
	for range 300 {
		e := randomEnv(t, rng)
		r := fitDPO(t, e)
		nbc := analytic.NBC(e.PrefMatrix(), e.Sampling)
		for y := range nbc {
			var lhs float64
			for yp, d := range e.Sampling {
				lhs += d * envs.Sigmoid(e.Beta*(r.LogRatio[y]-r.LogRatio[yp]))
			}
			worst = math.Max(worst, math.Abs(lhs-nbc[y]))
		}
	}
	if worst > 1e-10 {
		t.Errorf("largest Eq. 14 residual %g, want ≤ 1e-10", worst)
	}
}

// Proposition (Section 4.2): DPO's policy ratios are ordered as NBC.
func TestDPOOrderedAsNBC(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 300 {
		e := randomEnv(t, rng)
		r := fitDPO(t, e)
		nbc := analytic.NBC(e.PrefMatrix(), e.Sampling)
		for a := range nbc {
			for b := range nbc {
				if nbc[a]-nbc[b] > 1e-9 && !(r.LogRatio[a] > r.LogRatio[b]) {
					t.Fatalf("trial %d: NBC(%d) > NBC(%d) but θ %v ≤ %v", trial, a, b, r.LogRatio[a], r.LogRatio[b])
				}
			}
		}
	}
}

// With one type DPO is consistent: βθ = r/τ + const, so with τ = 1 the
// policy is π* (Eq. 3).
func TestDPOHomogeneousIsOptimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 100 {
		e := randomEnv(t, rng)
		e.Rewards = e.Rewards[:1]
		e.Population = envs.Population{Names: e.Population.Names[:1], Weights: []float64{1}}
		e.Preference.Temperature = 1
		r := fitDPO(t, e)
		pi := e.OptimalPolicy()
		for y := range pi {
			if d := math.Abs(r.Policy[y] - pi[y]); d > 1e-9 {
				t.Fatalf("π_DPO(%d) − π*(%d) = %g", y, y, d)
			}
		}
	}
}

// IPO's population minimiser satisfies, from its first-order condition,
// θ(y) − Σ_{y'} D(y')θ(y') = (2 NBC(y) − 1)/(2τ): affine in NBC.
func TestIPOClosedForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 100 {
		e := randomEnv(t, rng)
		tau := 0.2 + rng.Float64()
		ds, _ := e.PopulationDataset(analytic.Anonymous)
		r, err := Fit(ds, e.Reference, Config{Kind: "ipo", Tau: tau})
		if err != nil {
			t.Fatal(err)
		}
		nbc := analytic.NBC(e.PrefMatrix(), e.Sampling)
		var mean float64
		for y, d := range e.Sampling {
			mean += d * r.LogRatio[y]
		}
		for y := range nbc {
			want := (2*nbc[y] - 1) / (2 * tau)
			if d := math.Abs(r.LogRatio[y] - mean - want); d > 1e-9 {
				t.Fatalf("IPO θ(%d) off the closed form by %g", y, d)
			}
		}
	}
}

// Eq. 20 is consistent: on full-information data from equally weighted
// BT types its minimiser is π*, however the types disagree.
func TestConsistentRecoversOptimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 100 {
		e := randomEnv(t, rng)
		for u := range e.Population.Weights {
			e.Population.Weights[u] = 1 / float64(len(e.Population.Weights))
		}
		e.Preference.Temperature = 1
		ds, _ := e.PopulationDataset(analytic.Full)
		r, err := Fit(ds, e.Reference, Config{Kind: "consistent", Beta: e.Beta, Types: len(e.Rewards)})
		if err != nil {
			t.Fatal(err)
		}
		pi := e.OptimalPolicy()
		for y := range pi {
			if d := math.Abs(r.Policy[y] - pi[y]); d > 1e-8 {
				t.Fatalf("π_consistent(%d) − π*(%d) = %g", y, y, d)
			}
		}
		if !(r.DataUsed > 0 && r.DataUsed <= 1+1e-12) {
			t.Fatalf("data used %v", r.DataUsed)
		}
	}
}

// The maximum-likelihood tabular policy on samples approaches the
// infinite-data one as the sample grows.
func TestSampledConverges(t *testing.T) {
	e := env(t, [][]float64{{6, 1, 4}, {3, 9, 4}}, []float64{1, 1}, nil, 1)
	pop := fitDPO(t, e)
	prev := math.Inf(1)
	for _, n := range []int{2_000, 200_000} {
		ds, _ := e.Sample(analytic.Anonymous, n, 1)
		r, err := Fit(ds, e.Reference, Config{Kind: "dpo", Beta: 1})
		if err != nil {
			t.Fatal(err)
		}
		var tv float64
		for y := range r.Policy {
			tv += math.Abs(r.Policy[y]-pop.Policy[y]) / 2
		}
		if n == 200_000 && tv > 0.01 {
			t.Errorf("TV to the infinite-data policy with %d pairs = %v", n, tv)
		}
		if tv >= prev {
			t.Errorf("TV did not shrink: %v then %v", prev, tv)
		}
		prev = tv
	}
}

func TestNoFiniteMinimiser(t *testing.T) {
	// a always beats b and c never appears: θ(a) − θ(b) → ∞.
	ds := &analytic.Dataset{Regime: analytic.Anonymous, Tuples: 10,
		Won: [][]float64{{0, 1, 0}, {0, 0, 0}, {0, 0, 0}}}
	if _, err := Fit(ds, []float64{1. / 3, 1. / 3, 1. / 3}, Config{Kind: "dpo", Beta: 1}); err == nil {
		t.Error("separable data fitted without error")
	}
}

func TestConfigErrors(t *testing.T) {
	e := env(t, [][]float64{{1, 2}}, []float64{1}, nil, 1)
	anon, _ := e.PopulationDataset(analytic.Anonymous)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"unknown kind", Config{Kind: "sft"}},
		{"dpo without beta", Config{Kind: "dpo"}},
		{"ipo without tau", Config{Kind: "ipo"}},
		{"consistent on anonymous data", Config{Kind: "consistent", Beta: 1, Types: 1}},
	}
	for _, tc := range tests {
		if _, err := Fit(anon, e.Reference, tc.cfg); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func BenchmarkFitDPO(b *testing.B) {
	for _, n := range []int{3, 40} {
		b.Run(string(rune('0'+n/10))+string(rune('0'+n%10))+"-alternatives", func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			rewards := [][]float64{make([]float64, n), make([]float64, n), make([]float64, n)}
			for u := range rewards {
				for y := range rewards[u] {
					rewards[u][y] = rng.NormFloat64()
				}
			}
			e := env(b, rewards, []float64{1, 1, 1}, nil, 1)
			ds, _ := e.PopulationDataset(analytic.Anonymous)
			b.ResetTimer()
			for b.Loop() {
				if _, err := Fit(ds, e.Reference, Config{Kind: "dpo", Beta: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// I(s) against its definition: for U = 1, ∫₁^s (1/t − 1) dt = log s − s + 1.
func TestIntegralI(t *testing.T) {
	for _, s := range []float64{0.1, 0.3, 0.5, 0.9, 0.999} {
		if d := IntegralI(s, 1) - (math.Log(s) - s + 1); math.Abs(d) > 1e-12 {
			t.Errorf("I(%v) off by %g", s, d)
		}
	}
	// For U = 2: ∫ (1/t − 1)² dt = −1/t − 2 log t + t, from 1 to s.
	for _, s := range []float64{0.2, 0.6} {
		want := (-1/s - 2*math.Log(s) + s) - (-1 + 0 + 1)
		if d := IntegralI(s, 2) - want; math.Abs(d) > 1e-12 {
			t.Errorf("I(%v; U=2) off by %g", s, d)
		}
	}
}

// Appendix C's loss is consistent: on full-information data from equally
// weighted BT types its minimiser is π*, like Eq. 20's.
func TestIntegralLossRecoversOptimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for range 30 {
		e := randomEnv(t, rng)
		for u := range e.Population.Weights {
			e.Population.Weights[u] = 1 / float64(len(e.Population.Weights))
		}
		e.Preference.Temperature = 1
		ds, _ := e.PopulationDataset(analytic.Full)
		r, err := FitIntegral(ds, e.Reference, e.Beta, len(e.Rewards))
		if err != nil {
			t.Fatal(err)
		}
		pi := e.OptimalPolicy()
		for y := range pi {
			if d := math.Abs(r.Policy[y] - pi[y]); d > 1e-6 {
				t.Fatalf("π_integral(%d) − π*(%d) = %g", y, y, d)
			}
		}
	}
}

// A Gaussian prior keeps a fit finite where the MLE does not exist, and a
// very strong one pulls the policy to the reference.
func TestL2(t *testing.T) {
	ds := &analytic.Dataset{Regime: analytic.Anonymous, Tuples: 10,
		Won: [][]float64{{0, 1, 0}, {0, 0, 0}, {0, 0, 0}}}
	ref := []float64{1. / 3, 1. / 3, 1. / 3}
	r, err := Fit(ds, ref, Config{Kind: "dpo", Beta: 1, L2: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if !(r.Policy[0] > r.Policy[2] && r.Policy[2] > r.Policy[1]) {
		t.Errorf("policy %v: the winner should lead, the unseen one sit between", r.Policy)
	}
	strong, _ := Fit(ds, ref, Config{Kind: "dpo", Beta: 1, L2: 1e6})
	for y, p := range strong.Policy {
		if math.Abs(p-ref[y]) > 1e-5 {
			t.Errorf("l2 = 1e6: π(%d) = %v, want the reference %v", y, p, ref[y])
		}
	}
	if _, err := Fit(ds, ref, Config{Kind: "dpo", Beta: 1, L2: -1}); err == nil {
		t.Error("negative l2 accepted")
	}
}
