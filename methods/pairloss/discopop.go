package pairloss

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// DiscoPOP is the log-ratio-modulated loss found by DiscoPOP (Chris Lu et
// al. 2024; TRL's "discopop", default τ = 0.05), Δ = β(ρ_w − ρ_l):
//
//	ℓ = (1 − m)·softplus(−Δ) + m·e^{−Δ},  m = σ(Δ/τ),
//
// a blend of the logistic loss (Δ ≪ 0) and the exponential loss (Δ ≫ 0).
// The product m·e^{−Δ} is computed as exp(−Δ + log σ(Δ/τ)), finite for
// every Δ when τ < 1. With A = softplus(−Δ), B = e^{−Δ},
// m′ = m(1−m)/τ, m″ = m′(1−2m)/τ:
// ℓ′ = −σ(−Δ) + m′(B − A) + m(σ(−Δ) − B),
// ℓ″ = σ′(Δ) + m″(B − A) + 2m′(σ(−Δ) − B) + m(B − σ′(Δ)).
// Smooth, not convex. τ must be positive; for τ ≥ 1, m·e^{−Δ} grows without
// bound as Δ → −∞.
func DiscoPOP(beta, tau float64) Loss {
	l := deltaLoss("discopop", beta, false, func(d float64) (float64, float64, float64) {
		a, sm, q := softplus(-d), sigmoid(-d), dsig(d)
		m := sigmoid(d / tau)
		mb := math.Exp(-d - softplus(-d/tau)) // m·e^{−Δ}
		m1 := m * (1 - m) / tau
		m2 := m1 * (1 - 2*m) / tau
		// terms with B carry m: m′B = (1−m)/τ·mB, m″B = (1−m)(1−2m)/τ²·mB.
		m1b := (1 - m) / tau * mb
		m2b := (1 - m) * (1 - 2*m) / (tau * tau) * mb
		v := (1-m)*a + mb
		d1 := -sm + m1b - m1*a + m*sm - mb
		d2 := q + m2b - m2*a + 2*(m1*sm-m1b) + mb - m*q
		return v, d1, d2
	}, func(d *graph.Node) *graph.Node {
		m := graph.Sigmoid(graph.DivScalar(d, tau))
		mb := graph.Exp(graph.Sub(gLogSigmoid(graph.DivScalar(d, tau)), d))
		return graph.Add(graph.Mul(graph.OneMinus(m), gSoftplus(graph.Neg(d))), mb)
	})
	if l.err == nil && (!(tau > 0) || math.IsInf(tau, 0)) {
		l.err = fmt.Errorf("pairloss discopop: τ must be positive and finite, got %v", tau)
	}
	return l
}
