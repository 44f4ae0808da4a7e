package pairloss

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// CDPO is conservative DPO (TRL's "sigmoid" with label_smoothing ε ∈ [0, ½]):
//
//	ℓ = −(1−ε) log σ(Δ) − ε log σ(−Δ) = (1−ε)·softplus(−Δ) + ε·softplus(Δ),
//
// Δ = β(ρ_w − ρ_l), with ℓ′ = σ(Δ) − (1 − ε) and ℓ″ = σ(Δ)σ(−Δ): smooth
// and convex. On a pair with win rate p its population minimiser solves
// σ(Δ) = (1 − 2ε)p + ε: DPO on smoothed labels.
func CDPO(beta, eps float64) Loss {
	l := deltaLoss("cdpo", beta, true, func(d float64) (float64, float64, float64) {
		return (1-eps)*softplus(-d) + eps*softplus(d), sigmoid(d) - (1 - eps), dsig(d)
	}, func(d *graph.Node) *graph.Node {
		return graph.Add(graph.MulScalar(gSoftplus(graph.Neg(d)), 1-eps), graph.MulScalar(gSoftplus(d), eps))
	})
	if l.err == nil && !(eps >= 0 && eps <= 0.5) {
		l.err = fmt.Errorf("pairloss cdpo: label smoothing ε must lie in [0, ½], got %v", eps)
	}
	return l
}
