// Package circular is the synthetic environment of Section 7.2 (after
// [35] with a heterogeneous population): n prompts and n responses on a
// circle; a user of type u with shift s_u prefers responses near the ideal
// point (x + s_u) mod n, with reward R_u(d) of the circular distance d.
//
// Each prompt is a finite problem of its own, so every exact quantity of
// envs/analytic (r̄, π*, NBC, the infinite-data policies) is computed prompt
// by prompt.
package circular

import (
	"fmt"
	"math"
	"strconv"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

// Decay shapes of R_u(d), with scale c and decay k:
//
//	linear       c · max(0, 1 − k·d)          (the published experiment)
//	quadratic    c · max(0, 1 − (k·d)²)
//	exponential  c · exp(−k·d)
//	gaussian     c · exp(−(k·d)²/2)
const (
	Linear      = "linear"
	Quadratic   = "quadratic"
	Exponential = "exponential"
	Gaussian    = "gaussian"
)

// Type is one user type of the circle.
type Type struct {
	Name  string
	Shift int
	Scale float64
	Decay float64
	Shape string
}

// R is R_u(d).
func (t Type) R(d int) float64 {
	kd := t.Decay * float64(d)
	switch t.Shape {
	case Quadratic:
		return t.Scale * math.Max(0, 1-kd*kd)
	case Exponential:
		return t.Scale * math.Exp(-kd)
	case Gaussian:
		return t.Scale * math.Exp(-kd*kd/2)
	}
	return t.Scale * math.Max(0, 1-kd)
}

// Distance is the circular distance min((a − b) mod n, (b − a) mod n).
func Distance(a, b, n int) int {
	d := ((a-b)%n + n) % n
	return min(d, n-d)
}

// Reward is r*([x, y]; u) = R_u(dist((x + s_u) mod n, y)).
func (t Type) Reward(x, y, n int) float64 {
	ideal := ((x+t.Shift)%n + n) % n
	return t.R(Distance(ideal, y, n))
}

// Env is the circle.
type Env struct {
	// N prompts and N responses.
	N     int
	Types []Type
	// Weights w_u, normalised.
	Weights []float64
	// Prior over prompts, Reference π_ref and Sampling D over responses
	// (the same for every prompt), each normalised.
	Prior, Reference, Sampling []float64
	Beta                       float64
	Preference                 envs.Preference
}

// Validate checks sizes and shapes.
func (e *Env) Validate() error {
	if e.N < 2 {
		return fmt.Errorf("circle of %d points; need at least 2", e.N)
	}
	if len(e.Types) == 0 || len(e.Types) != len(e.Weights) {
		return fmt.Errorf("%d types with %d weights", len(e.Types), len(e.Weights))
	}
	for _, t := range e.Types {
		switch t.Shape {
		case Linear, Quadratic, Exponential, Gaussian:
		default:
			return fmt.Errorf("type %s: unknown decay shape %q", t.Name, t.Shape)
		}
	}
	for name, v := range map[string][]float64{"prior": e.Prior, "reference": e.Reference, "sampling": e.Sampling} {
		if len(v) != e.N {
			return fmt.Errorf("%s has %d entries for %d points", name, len(v), e.N)
		}
	}
	return nil
}

// Labels are the δ labels of the 1-D view, −n/2 … n/2 − 1.
func (e *Env) Labels() []string {
	out := make([]string, e.N)
	for i := range out {
		out[i] = strconv.Itoa(i - e.N/2)
	}
	return out
}

// Prompt is the finite problem at prompt x: responses named by their
// index, one reward row per type.
func (e *Env) Prompt(x int) *analytic.Env {
	alts := make([]string, e.N)
	for y := range alts {
		alts[y] = strconv.Itoa(y)
	}
	names := make([]string, len(e.Types))
	rewards := make([][]float64, len(e.Types))
	for u, t := range e.Types {
		names[u] = t.Name
		rewards[u] = make([]float64, e.N)
		for y := range e.N {
			rewards[u][y] = t.Reward(x, y, e.N)
		}
	}
	return &analytic.Env{
		Alternatives: alts,
		Population:   envs.Population{Names: names, Weights: e.Weights},
		Rewards:      rewards, Sampling: e.Sampling, Reference: e.Reference,
		Beta: e.Beta, Preference: e.Preference,
	}
}

// World computes the exact truth of every prompt.
func (e *Env) World() (*analytic.World, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	w := &analytic.World{View: analytic.ViewDelta, Labels: e.Labels(), Prior: e.Prior}
	for x := range e.N {
		t, err := e.Prompt(x).ComputeTruth()
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %w", x, err)
		}
		w.Prompts = append(w.Prompts, t)
	}
	return w, nil
}
