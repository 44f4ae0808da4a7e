// Package envs holds what every environment shares: the population of user
// types with their weights and the preference model σ that turns a reward
// difference into a choice probability (paper, Eqs. 2, 7 and 8).
//
// Environments themselves live in sub-packages (envs/analytic for finite
// alternative sets with explicit reward tables). They know nothing of specs,
// the step cache or reports.
package envs

import (
	"fmt"
	"math"
	"sort"
)

// Sigmoid is the logistic function σ(z) = 1/(1+e^{−z}), computed without
// overflow for large |z|.
func Sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// LogSigmoid is log σ(z) = −log(1+e^{−z}), accurate for large |z|.
func LogSigmoid(z float64) float64 {
	if z >= 0 {
		return -math.Log1p(math.Exp(-z))
	}
	return z - math.Log1p(math.Exp(z))
}

// Preference is the individual preference model of Eq. 7:
// Pr(y2 ≻ y1 | u) = σ_τ(r(y2;u) − r(y1;u)) with the Bradley–Terry link and
// temperature τ, σ_τ(z) = 1/(1+exp(−z/τ)) (Section 4.3 uses τ = 2).
type Preference struct {
	// Temperature τ > 0 of the Bradley–Terry link.
	Temperature float64
}

// Prob returns σ_τ(dr), the probability that the response with the larger
// reward by dr is preferred (Eq. 7).
func (p Preference) Prob(dr float64) float64 { return Sigmoid(dr / p.Temperature) }

// Validate reports a temperature that is not positive and finite.
func (p Preference) Validate() error {
	if !(p.Temperature > 0) || math.IsInf(p.Temperature, 0) {
		return fmt.Errorf("preference temperature must be positive and finite, got %v", p.Temperature)
	}
	return nil
}

// Population is the set of user types 𝒰 with their weights w_u (Section 3).
// Weights are normalised so that Σ_u w_u = 1; E_u[·] in the paper is Σ_u w_u ·.
type Population struct {
	// Names of the types, in a fixed order.
	Names []string
	// Weights w_u, normalised to sum to one, aligned with Names.
	Weights []float64
}

// NewPopulation normalises raw positive weights into a Population.
func NewPopulation(names []string, raw []float64) (Population, error) {
	if len(names) == 0 {
		return Population{}, fmt.Errorf("population has no user types")
	}
	if len(names) != len(raw) {
		return Population{}, fmt.Errorf("population: %d names but %d weights", len(names), len(raw))
	}
	w, err := Normalise(raw)
	if err != nil {
		return Population{}, fmt.Errorf("population weights: %w", err)
	}
	return Population{Names: append([]string(nil), names...), Weights: w}, nil
}

// Normalise returns v / Σv, after checking every entry is positive and finite.
func Normalise(v []float64) ([]float64, error) {
	var sum float64
	for i, x := range v {
		if !(x > 0) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("entry %d is %v; every entry must be positive and finite", i, x)
		}
		sum += x
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x / sum
	}
	return out, nil
}

// Categorical draws indices in proportion to non-negative weights by
// inverting their running sum: index k with probability w_k / Σ w.
type Categorical struct {
	cdf   []float64
	total float64
}

// NewCategorical prepares draws from weights; they must have a positive sum.
func NewCategorical(weights []float64) (*Categorical, error) {
	c := &Categorical{cdf: make([]float64, len(weights))}
	for i, w := range weights {
		c.total += w
		c.cdf[i] = c.total
	}
	if !(c.total > 0) {
		return nil, fmt.Errorf("weights have no positive sum")
	}
	return c, nil
}

// Draw maps u, uniform in [0, 1), to an index.
func (c *Categorical) Draw(u float64) int {
	return min(sort.SearchFloat64s(c.cdf, u*c.total), len(c.cdf)-1)
}
