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

// Categorical draws indices in proportion to non-negative weights, index
// k with probability w_k / Σ w, in constant time by Walker's alias method
// (Vose's construction): column i = ⌊n·u⌋ of n equal columns keeps index
// i with probability prob[i] and gives it to alias[i] otherwise, where
// every column's mass is 1/n and index k's total mass over the columns is
// w_k / Σ w.
type Categorical struct {
	prob  []float64
	alias []int32
}

// NewCategorical prepares draws from weights; they must have a positive
// sum, and none may be negative or NaN.
func NewCategorical(weights []float64) (*Categorical, error) {
	n := len(weights)
	var total float64
	for i, w := range weights {
		if !(w >= 0) || math.IsInf(w, 1) {
			return nil, fmt.Errorf("weight %d is %v: weights must be finite and non-negative", i, w)
		}
		total += w
	}
	if !(total > 0) || math.IsInf(total, 1) {
		return nil, fmt.Errorf("weights have no positive finite sum")
	}
	c := &Categorical{prob: make([]float64, n), alias: make([]int32, n)}
	// scaled[k] = n·w_k/Σw: the columns' mass in units of 1/n. Vose: pair
	// each under-full column (small) with an over-full one (large), which
	// tops it up and keeps the rest.
	scaled := make([]float64, n)
	small := make([]int32, 0, n)
	large := make([]int32, 0, n)
	for i, w := range weights {
		scaled[i] = w / total * float64(n)
		c.alias[i] = int32(i)
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		c.prob[s], c.alias[s] = scaled[s], l
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// What is left is full up to rounding.
	for _, i := range large {
		c.prob[i] = 1
	}
	for _, i := range small {
		c.prob[i] = 1
	}
	return c, nil
}

// Draw maps u, uniform in [0, 1), to an index: the column ⌊n·u⌋, and the
// fractional part of n·u decides between the column's own index and its
// alias. One uniform per draw, so a stream of draws is as reproducible as
// the stream of u.
func (c *Categorical) Draw(u float64) int {
	n := len(c.prob)
	x := u * float64(n)
	i := min(int(x), n-1)
	if x-float64(i) < c.prob[i] {
		return i
	}
	return int(c.alias[i])
}
