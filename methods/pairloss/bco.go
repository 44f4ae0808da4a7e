package pairloss

import "github.com/gomlx/gomlx/pkg/core/graph"

// BCO is the pairwise binary-classifier loss (Jung et al. 2024; TRL's
// "bco_pair") in the implicit rewards s = βρ:
//
//	ℓ = −log σ(s_w − δ) − log σ(−(s_l − δ)) with δ = 0:
//	ℓ = softplus(−s_w) + softplus(s_l).
//
// TRL shifts both rewards by δ, a running mean of the batch rewards (a
// detached statistic of training); here δ is 0, so the loss is a fixed
// function of the tuple. ∂ℓ/∂ρ_w = −βσ(−s_w), ∂ℓ/∂ρ_l = βσ(s_l); the
// Hessian is diagonal, β²σ'(s_w) and β²σ'(s_l). Smooth and convex in
// (ρ_w, ρ_l), not a function of Δ alone.
func BCO(beta float64) Loss {
	return &loss{
		name: "bco", beta: beta, convex: true, smooth: true, err: checkBeta("bco", beta),
		eval: func(rw, rl float64) (float64, [2]float64, [3]float64) {
			sw, sl := beta*rw, beta*rl
			return softplus(-sw) + softplus(sl),
				[2]float64{-beta * sigmoid(-sw), beta * sigmoid(sl)},
				[3]float64{beta * beta * dsig(sw), 0, beta * beta * dsig(sl)}
		},
		graph: func(rw, rl *graph.Node) *graph.Node {
			return graph.Add(gSoftplus(graph.Neg(graph.MulScalar(rw, beta))), gSoftplus(graph.MulScalar(rl, beta)))
		},
	}
}
