package pairloss

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// SoftCopeland is Differential Voting's soft-Copeland loss (arXiv
// 2601.18824; ryeii/Differential-Voting): the model's soft pairwise
// majority p = σ(Δ/τ), sharpened by tanh, rewarded when it agrees with the
// label, plus a quadratic penalty on the margin:
//
//	ℓ = −tanh(k·(σ(Δ/τ) − ½)) + (λ/2)·Δ²,   Δ = β(ρ_w − ρ_l).
//
// With s = σ(Δ/τ), g = k(s − ½) and T = tanh g:
// T′ = (k/τ)·s(1−s)·sech²g and T″ = (k/τ²)·s(1−s)·sech²g·[(1 − 2s) − 2k·s(1−s)·T],
// so ℓ′ = −T′ + λΔ and ℓ″ = −T″ + λ. Smooth, bounded below, not convex.
// The published defaults are k = 10, λ = 10⁻⁴; τ ∈ [0.05, 0.5] there.
func SoftCopeland(beta, tau, k, lambda float64) Loss {
	l := deltaLoss("soft-copeland", beta, false, func(d float64) (float64, float64, float64) {
		s := sigmoid(d / tau)
		q := s * (1 - s)
		g := k * (s - 0.5)
		t := math.Tanh(g)
		sech2 := 1 - t*t
		t1 := k / tau * q * sech2
		t2 := k / (tau * tau) * q * sech2 * ((1 - 2*s) - 2*k*q*t)
		return -t + lambda/2*d*d, -t1 + lambda*d, -t2 + lambda
	}, func(d *graph.Node) *graph.Node {
		s := graph.Sigmoid(graph.MulScalar(d, 1/tau))
		t := graph.Tanh(graph.MulScalar(graph.AddScalar(s, -0.5), k))
		return graph.Add(graph.Neg(t), graph.MulScalar(graph.Square(d), lambda/2))
	})
	if l.err == nil {
		switch {
		case !(tau > 0) || math.IsInf(tau, 0):
			l.err = fmt.Errorf("pairloss soft-copeland: τ must be positive and finite, got %v", tau)
		case !(k > 0) || math.IsInf(k, 0):
			l.err = fmt.Errorf("pairloss soft-copeland: the sharpness k must be positive and finite, got %v", k)
		case !(lambda > 0) || math.IsInf(lambda, 0):
			l.err = fmt.Errorf("pairloss soft-copeland: λ must be positive and finite (with λ = 0 the loss has no finite minimiser), got %v", lambda)
		}
	}
	return l
}
