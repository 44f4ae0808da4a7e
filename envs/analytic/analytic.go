// Package analytic is the finite environment of the paper's worked examples
// (Section 4.3 and Appendix A): one prompt, a finite set of alternatives,
// an explicit reward table per user type, a sampling distribution D over
// alternatives, a reference policy π_ref and the KL strength β.
//
// Every population quantity is computed exactly: the average reward and the
// optimal policy π* (Eqs. 9–10), the population preference matrix (Eq. 8)
// and the normalised Borda count under D (Eq. 13). Datasets are either the
// exact population (infinite-data) statistics or finite samples.
package analytic

import (
	"fmt"
	"math"
	"sort"

	"hetalign/envs"
)

// Env is a finite alternative set with explicit per-type rewards.
type Env struct {
	// Alternatives names the responses y, in table order.
	Alternatives []string
	// Population holds the user types and their normalised weights w_u.
	Population envs.Population
	// Rewards[u][y] is r*(y; u) for type u (aligned with Population.Names).
	Rewards [][]float64
	// Sampling is D, the distribution alternatives are drawn from when
	// pairs are collected (normalised, every entry positive).
	Sampling []float64
	// Reference is π_ref (normalised, every entry positive).
	Reference []float64
	// Beta is the KL strength β > 0 of Eq. 1.
	Beta float64
	// Preference is the annotators' model σ_τ (Eq. 7).
	Preference envs.Preference
}

// Validate checks shapes and ranges; it names the offending part.
func (e *Env) Validate() error {
	n := len(e.Alternatives)
	if n < 2 {
		return fmt.Errorf("analytic env needs at least 2 alternatives, got %d", n)
	}
	seen := map[string]bool{}
	for _, a := range e.Alternatives {
		if seen[a] {
			return fmt.Errorf("alternative %q listed twice", a)
		}
		seen[a] = true
	}
	if len(e.Population.Names) == 0 {
		return fmt.Errorf("population has no user types")
	}
	if len(e.Rewards) != len(e.Population.Names) {
		return fmt.Errorf("%d reward rows for %d types", len(e.Rewards), len(e.Population.Names))
	}
	for u, row := range e.Rewards {
		if len(row) != n {
			return fmt.Errorf("type %q has %d rewards for %d alternatives", e.Population.Names[u], len(row), n)
		}
		for y, r := range row {
			if math.IsNaN(r) || math.IsInf(r, 0) {
				return fmt.Errorf("type %q: reward of %q is %v", e.Population.Names[u], e.Alternatives[y], r)
			}
		}
	}
	for name, d := range map[string][]float64{"sampling": e.Sampling, "reference": e.Reference} {
		if len(d) != n {
			return fmt.Errorf("%s has %d entries for %d alternatives", name, len(d), n)
		}
		var s float64
		for _, x := range d {
			if !(x > 0) {
				return fmt.Errorf("%s must be positive on every alternative", name)
			}
			s += x
		}
		if math.Abs(s-1) > 1e-9 {
			return fmt.Errorf("%s sums to %v, not 1", name, s)
		}
	}
	if !(e.Beta > 0) {
		return fmt.Errorf("beta must be positive, got %v", e.Beta)
	}
	return e.Preference.Validate()
}

// AvgReward is the user-weighted average reward r̄(y) = Σ_u w_u r*(y; u),
// the objective of Eq. 9.
func (e *Env) AvgReward() []float64 {
	out := make([]float64, len(e.Alternatives))
	for u, w := range e.Population.Weights {
		for y, r := range e.Rewards[u] {
			out[y] += w * r
		}
	}
	return out
}

// OptimalPolicy is π*(y) = π_ref(y) exp(r̄(y)/β) / Z (Eq. 10).
func (e *Env) OptimalPolicy() []float64 {
	return Tilt(e.Reference, e.AvgReward(), 1/e.Beta)
}

// Tilt returns p(y) ∝ ref(y)·exp(s·v(y)), normalised, computed with the
// maximum subtracted so that large values do not overflow.
func Tilt(ref, v []float64, s float64) []float64 {
	out := make([]float64, len(ref))
	m := math.Inf(-1)
	for i := range v {
		m = math.Max(m, s*v[i]+math.Log(ref[i]))
	}
	var z float64
	for i := range v {
		out[i] = math.Exp(s*v[i] + math.Log(ref[i]) - m)
		z += out[i]
	}
	for i := range out {
		out[i] /= z
	}
	return out
}

// TypePrefs returns, for each type u, the matrix σ_τ(r(a;u) − r(b;u)) = Pr(a ≻ b | u) (Eq. 7).
func (e *Env) TypePrefs() [][][]float64 {
	n := len(e.Alternatives)
	out := make([][][]float64, len(e.Rewards))
	for u, r := range e.Rewards {
		m := make([][]float64, n)
		for a := range n {
			m[a] = make([]float64, n)
			for b := range n {
				m[a][b] = e.Preference.Prob(r[a] - r[b])
			}
		}
		out[u] = m
	}
	return out
}

// PrefMatrix is the population preference P[a][b] = Pr(a ≻ b) =
// Σ_u w_u σ_τ(r(a;u) − r(b;u)) (Eq. 8). P[a][a] = ½, P[a][b] + P[b][a] = 1.
func (e *Env) PrefMatrix() [][]float64 {
	n := len(e.Alternatives)
	tp := e.TypePrefs()
	p := make([][]float64, n)
	for a := range n {
		p[a] = make([]float64, n)
		for b := range n {
			for u, w := range e.Population.Weights {
				p[a][b] += w * tp[u][a][b]
			}
		}
	}
	return p
}

// NBC is the normalised Borda count of Eq. 13 under sampling distribution d:
// NBC(y) = Σ_{y'} d(y') Pr(y ≻ y'). The term y' = y counts ½, as published.
func NBC(pref [][]float64, d []float64) []float64 {
	out := make([]float64, len(d))
	for y := range d {
		for yp, q := range d {
			out[y] += q * pref[y][yp]
		}
	}
	return out
}

// Ranking orders alternative indices by value, largest first; equal values
// keep table order.
func Ranking(v []float64) []int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return v[idx[i]] > v[idx[j]] })
	return idx
}

// Truth is the exact ground truth of an analytic environment, the output of
// a truth step. Vectors are aligned with Alternatives.
type Truth struct {
	Alternatives []string    `json:"alternatives"`
	Types        []string    `json:"types"`
	Weights      []float64   `json:"weights"`
	Rewards      [][]float64 `json:"rewards"`
	Sampling     []float64   `json:"sampling"`
	Reference    []float64   `json:"reference"`
	Beta         float64     `json:"beta"`
	Temperature  float64     `json:"temperature"`
	// AvgReward is r̄ (Eq. 9).
	AvgReward []float64 `json:"avg_reward"`
	// PiStar is π* (Eq. 10).
	PiStar []float64 `json:"pi_star"`
	// Pref is Pr(a ≻ b) (Eq. 8).
	Pref [][]float64 `json:"pref"`
	// NBC under Sampling (Eq. 13).
	NBC []float64 `json:"nbc"`
}

// ComputeTruth evaluates every exact quantity of e.
func (e *Env) ComputeTruth() (*Truth, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	p := e.PrefMatrix()
	return &Truth{
		Alternatives: e.Alternatives,
		Types:        e.Population.Names,
		Weights:      e.Population.Weights,
		Rewards:      e.Rewards,
		Sampling:     e.Sampling,
		Reference:    e.Reference,
		Beta:         e.Beta,
		Temperature:  e.Preference.Temperature,
		AvgReward:    e.AvgReward(),
		PiStar:       e.OptimalPolicy(),
		Pref:         p,
		NBC:          NBC(p, e.Sampling),
	}, nil
}

// Env rebuilds the environment a Truth was computed from.
func (t *Truth) Env() *Env {
	return &Env{
		Alternatives: t.Alternatives,
		Population:   envs.Population{Names: t.Types, Weights: t.Weights},
		Rewards:      t.Rewards,
		Sampling:     t.Sampling,
		Reference:    t.Reference,
		Beta:         t.Beta,
		Preference:   envs.Preference{Temperature: t.Temperature},
	}
}
