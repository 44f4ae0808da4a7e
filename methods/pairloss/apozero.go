package pairloss

import "github.com/gomlx/gomlx/pkg/core/graph"

// APOZero is anchored preference optimisation, "zero" variant (D'Oosterlinck
// et al. 2024; TRL's "apo_zero"), in the implicit rewards s = βρ:
//
//	ℓ = (1 − σ(s_w)) + σ(s_l),
//
// raising the preferred response's likelihood and lowering the
// dispreferred one's. ∂ℓ/∂ρ_w = −βσ′(s_w), ∂ℓ/∂ρ_l = βσ′(s_l); with
// σ″ = σ′(1 − 2σ) the Hessian is diag(−β²σ″(s_w), β²σ″(s_l)). Smooth,
// bounded in [0, 2], not convex and not a function of Δ alone: its minimum
// may lie at infinity (a log-ratio driven to −∞).
func APOZero(beta float64) Loss {
	return &loss{
		name: "apo-zero", beta: beta, smooth: true, err: checkBeta("apo-zero", beta),
		eval: func(rw, rl float64) (float64, [2]float64, [3]float64) {
			sw, sl := beta*rw, beta*rl
			qw, ql := dsig(sw), dsig(sl)
			b2 := beta * beta
			return sigmoid(-sw) + sigmoid(sl), [2]float64{-beta * qw, beta * ql},
				[3]float64{-b2 * qw * (1 - 2*sigmoid(sw)), 0, b2 * ql * (1 - 2*sigmoid(sl))}
		},
		graph: func(rw, rl *graph.Node) *graph.Node {
			return graph.Add(graph.OneMinus(graph.Sigmoid(graph.MulScalar(rw, beta))), graph.Sigmoid(graph.MulScalar(rl, beta)))
		},
	}
}
