package pairloss

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// Robust is robust DPO (Chowdhury et al. 2024; TRL's "robust") for a
// label-flip rate ε ∈ [0, ½):
//
//	ℓ = [−(1−ε) log σ(Δ) + ε log σ(−Δ)]/(1−2ε) = softplus(−Δ) − ε/(1−2ε)·Δ,
//
// Δ = β(ρ_w − ρ_l): DPO plus a linear term, so ℓ″ = σ(Δ)σ(−Δ) and the
// loss is smooth and convex. Its population minimiser on a pair with win
// rate p solves σ(Δ) = (p − ε)/(1 − 2ε) (the de-noised rate); when that
// lies outside (0, 1) the loss decreases linearly without bound along the
// pair and has no finite minimiser (unless an L2 prior is added).
func Robust(beta, eps float64) Loss {
	c := eps / (1 - 2*eps)
	l := deltaLoss("robust", beta, true, func(d float64) (float64, float64, float64) {
		return softplus(-d) - c*d, -sigmoid(-d) - c, dsig(d)
	}, func(d *graph.Node) *graph.Node {
		return graph.Sub(gSoftplus(graph.Neg(d)), graph.MulScalar(d, c))
	})
	if l.err == nil && !(eps >= 0 && eps < 0.5) {
		l.err = fmt.Errorf("pairloss robust: label-flip rate ε must lie in [0, ½), got %v", eps)
	}
	return l
}
