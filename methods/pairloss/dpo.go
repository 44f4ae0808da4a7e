package pairloss

import "github.com/gomlx/gomlx/pkg/core/graph"

// DPO is the logistic DPO loss ℓ = −log σ(Δ) = softplus(−Δ),
// Δ = β(ρ_w − ρ_l) (TRL's "sigmoid" without label smoothing), with
// ℓ′ = −σ(−Δ) and ℓ″ = σ(Δ)σ(−Δ) in Δ: smooth and convex.
func DPO(beta float64) Loss {
	return deltaLoss("dpo", beta, true, func(d float64) (float64, float64, float64) {
		return softplus(-d), -sigmoid(-d), dsig(d)
	}, func(d *graph.Node) *graph.Node { return gSoftplus(graph.Neg(d)) })
}
