package analytic

import (
	"math"
	"math/rand/v2"
	"testing"

	"hetalign/envs"
)

func uniform(n int) []float64 {
	u := make([]float64, n)
	for i := range u {
		u[i] = 1 / float64(n)
	}
	return u
}

// newEnv builds an env with names y1…yn and types A, B, C… .
func newEnv(t *testing.T, rewards [][]float64, weights []float64, sampling []float64, tau float64) *Env {
	t.Helper()
	n := len(rewards[0])
	alts := make([]string, n)
	for i := range alts {
		alts[i] = string(rune('a' + i))
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
		sampling = uniform(n)
	}
	e := &Env{Alternatives: alts, Population: pop, Rewards: rewards, Sampling: sampling,
		Reference: uniform(n), Beta: 1, Preference: envs.Preference{Temperature: tau}}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPrefMatrix(t *testing.T) {
	e := newEnv(t, [][]float64{{6, 1, 4}, {3, 9, 4}}, []float64{1, 1}, nil, 1)
	p := e.PrefMatrix()
	for a := range p {
		if p[a][a] != 0.5 {
			t.Errorf("P[%d][%d] = %v, want ½", a, a, p[a][a])
		}
		for b := range p {
			if d := p[a][b] + p[b][a] - 1; math.Abs(d) > 1e-15 {
				t.Errorf("P[%d][%d] + P[%d][%d] − 1 = %g", a, b, b, a, d)
			}
		}
	}
	// Eq. 8 by hand: Pr(y1 ≻ y2) = ½σ(6−1) + ½σ(3−9).
	want := 0.5/(1+math.Exp(-5)) + 0.5/(1+math.Exp(6))
	if math.Abs(p[0][1]-want) > 1e-15 {
		t.Errorf("P[0][1] = %v, want %v", p[0][1], want)
	}
}

func TestOptimalPolicy(t *testing.T) {
	// π* ∝ exp(r̄/β) with uniform reference (Eq. 10); for r̄ = (4.5, 5, 4)
	// and β = 1 the odds π*(y2)/π*(y1) are e^{0.5}.
	e := newEnv(t, [][]float64{{6, 1, 4}, {3, 9, 4}}, []float64{1, 1}, nil, 1)
	pi := e.OptimalPolicy()
	if r := pi[1] / pi[0]; math.Abs(r-math.Exp(0.5)) > 1e-12 {
		t.Errorf("π*(y2)/π*(y1) = %v, want e^½", r)
	}
	e.Beta = 2
	pi = e.OptimalPolicy()
	if r := pi[1] / pi[0]; math.Abs(r-math.Exp(0.25)) > 1e-12 {
		t.Errorf("with β = 2, π*(y2)/π*(y1) = %v, want e^¼", r)
	}
	var s float64
	for _, p := range pi {
		s += p
	}
	if math.Abs(s-1) > 1e-15 {
		t.Errorf("π* sums to %v", s)
	}
}

func TestNBCTwoAlternatives(t *testing.T) {
	// With two alternatives and uniform D, NBC(y1) = ½·½ + ½·Pr(y1 ≻ y2)
	// (the y' = y term counts ½, as published).
	e := newEnv(t, [][]float64{{0.5, 1}, {0.5, -10}}, []float64{0.9, 0.1}, nil, 1)
	p := e.PrefMatrix()
	nbc := NBC(p, e.Sampling)
	if want := 0.25 + 0.5*p[0][1]; math.Abs(nbc[0]-want) > 1e-15 {
		t.Errorf("NBC(y1) = %v, want %v", nbc[0], want)
	}
	if d := nbc[0] + nbc[1] - 1; math.Abs(d) > 1e-15 {
		t.Errorf("NBC sums to 1%+g, want 1 for two alternatives", d)
	}
}

// Homogeneous preferences: NBC orders alternatives exactly as the reward,
// under every sampling distribution (Section 4.2).
func TestNBCFollowsRewardWhenHomogeneous(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 2 + rng.IntN(6)
		r := make([]float64, n)
		d := make([]float64, n)
		for i := range r {
			r[i] = rng.NormFloat64() * 3
			d[i] = 0.01 + rng.Float64()
		}
		d, _ = envs.Normalise(d)
		e := newEnv(t, [][]float64{r}, []float64{1}, d, 0.5+rng.Float64()*2)
		nbc := NBC(e.PrefMatrix(), d)
		for a := range n {
			for b := range n {
				if r[a] > r[b] && !(nbc[a] > nbc[b]) {
					t.Fatalf("trial %d: r(%d) > r(%d) but NBC %v ≤ %v", trial, a, b, nbc[a], nbc[b])
				}
			}
		}
	}
}

func TestRanking(t *testing.T) {
	got := Ranking([]float64{1, 3, 3, 2})
	want := []int{1, 2, 3, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Ranking = %v, want %v", got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	good := func() *Env {
		return newEnv(t, [][]float64{{1, 2}}, []float64{1}, nil, 1)
	}
	tests := []struct {
		name   string
		break_ func(*Env)
	}{
		{"one alternative", func(e *Env) { e.Alternatives = e.Alternatives[:1] }},
		{"duplicate alternative", func(e *Env) { e.Alternatives[1] = e.Alternatives[0] }},
		{"short reward row", func(e *Env) { e.Rewards[0] = e.Rewards[0][:1] }},
		{"NaN reward", func(e *Env) { e.Rewards[0][0] = math.NaN() }},
		{"zero sampling mass", func(e *Env) { e.Sampling = []float64{1, 0} }},
		{"unnormalised reference", func(e *Env) { e.Reference = []float64{1, 1} }},
		{"zero beta", func(e *Env) { e.Beta = 0 }},
		{"zero temperature", func(e *Env) { e.Preference.Temperature = 0 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := good()
			tc.break_(e)
			if e.Validate() == nil {
				t.Error("accepted")
			}
		})
	}
}
