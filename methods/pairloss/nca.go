package pairloss

import "github.com/gomlx/gomlx/pkg/core/graph"

// NCA is the pairwise noise-contrastive alignment loss (Chen et al. 2024;
// TRL's "nca_pair") in the implicit rewards s = βρ:
//
//	ℓ = −log σ(s_w) − ½ log σ(−s_w) − ½ log σ(−s_l)
//	  = softplus(−s_w) + ½ softplus(s_w) + ½ softplus(s_l).
//
// ∂ℓ/∂ρ_w = β[½σ(s_w) − σ(−s_w)], ∂ℓ/∂ρ_l = ½βσ(s_l); the Hessian is
// diagonal, β²·(3/2)σ'(s_w) and β²·½σ'(s_l). It is smooth and convex in
// (ρ_w, ρ_l) but depends on each log-ratio, not on Δ alone (DeltaOnly is
// false), so the normaliser of π does not cancel.
func NCA(beta float64) Loss {
	return &loss{
		name: "nca", beta: beta, convex: true, smooth: true, err: checkBeta("nca", beta),
		eval: func(rw, rl float64) (float64, [2]float64, [3]float64) {
			sw, sl := beta*rw, beta*rl
			v := softplus(-sw) + 0.5*softplus(sw) + 0.5*softplus(sl)
			d := [2]float64{beta * (0.5*sigmoid(sw) - sigmoid(-sw)), 0.5 * beta * sigmoid(sl)}
			h := [3]float64{1.5 * beta * beta * dsig(sw), 0, 0.5 * beta * beta * dsig(sl)}
			return v, d, h
		},
		graph: func(rw, rl *graph.Node) *graph.Node {
			sw, sl := graph.MulScalar(rw, beta), graph.MulScalar(rl, beta)
			v := graph.Add(gSoftplus(graph.Neg(sw)), graph.MulScalar(gSoftplus(sw), 0.5))
			return graph.Add(v, graph.MulScalar(gSoftplus(sl), 0.5))
		},
	}
}
