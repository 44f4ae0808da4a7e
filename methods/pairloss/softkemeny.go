package pairloss

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// SoftKemeny is Differential Voting's soft-Kemeny loss (arXiv 2601.18824;
// ryeii/Differential-Voting), a smoothed 0–1 loss on the pair's order:
//
//	ℓ = σ(−Δ/τ),   Δ = β(ρ_w − ρ_l).
//
// With s = σ(Δ/τ): ℓ = 1 − s, ℓ′ = −s(1 − s)/τ, ℓ″ = −s(1 − s)(1 − 2s)/τ².
// Smooth, bounded in (0, 1), not convex; its expected value over a
// population has no finite minimiser (the infimum, the Kemeny–Young
// ranking's disagreement, is approached as the log-ratios diverge along
// that ranking), so SGD on it grows the margins for as long as it runs
// and only its order converges.
func SoftKemeny(beta, tau float64) Loss {
	l := deltaLoss("soft-kemeny", beta, false, func(d float64) (float64, float64, float64) {
		s := sigmoid(d / tau)
		q := s * (1 - s)
		return sigmoid(-d / tau), -q / tau, -q * (1 - 2*s) / (tau * tau)
	}, func(d *graph.Node) *graph.Node {
		return graph.Sigmoid(graph.MulScalar(d, -1/tau))
	})
	if l.err == nil && (!(tau > 0) || math.IsInf(tau, 0)) {
		l.err = fmt.Errorf("pairloss soft-kemeny: τ must be positive and finite, got %v", tau)
	}
	return l
}
