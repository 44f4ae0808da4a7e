package pairloss

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// EXO is the pairwise EXO loss (Ji et al. 2024; TRL's "exo_pair"): the
// reverse KL divergence from the model's pair distribution (σ(Δ), σ(−Δ)),
// Δ = β(ρ_w − ρ_l), to the smoothed labels (1 − ε, ε), ε ∈ (0, 1) (TRL's
// default 1e-3):
//
//	ℓ = σ(Δ)·[log σ(Δ) − log(1−ε)] + σ(−Δ)·[log σ(−Δ) − log ε].
//
// With q = σ(Δ)σ(−Δ) and κ = log((1−ε)/ε): ℓ′ = q·(Δ − κ) and
// ℓ″ = q·[1 + (1 − 2σ(Δ))(Δ − κ)]. Its minimum 0 is at Δ = κ; it is
// smooth but not convex (ℓ″ < 0 far from κ).
func EXO(beta, eps float64) Loss {
	l1, l0 := math.Log1p(-eps), math.Log(eps)
	kappa := l1 - l0
	l := deltaLoss("exo", beta, false, func(d float64) (float64, float64, float64) {
		s, sm := sigmoid(d), sigmoid(-d)
		v := s*(-softplus(-d)-l1) + sm*(-softplus(d)-l0)
		q := s * sm
		return v, q * (d - kappa), q * (1 + (1-2*s)*(d-kappa))
	}, func(d *graph.Node) *graph.Node {
		pos := graph.Mul(graph.Sigmoid(d), graph.AddScalar(gLogSigmoid(d), -l1))
		neg := graph.Mul(graph.Sigmoid(graph.Neg(d)), graph.AddScalar(gLogSigmoid(graph.Neg(d)), -l0))
		return graph.Add(pos, neg)
	})
	if l.err == nil && !(eps > 0 && eps < 1) {
		l.err = fmt.Errorf("pairloss exo: ε must lie in (0, 1), got %v", eps)
	}
	return l
}
