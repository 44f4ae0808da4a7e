package pairloss

import "github.com/gomlx/gomlx/pkg/core/graph"

// hinge is max(0, 1 − Δ), with the Margin method that tabular fits use to
// solve it as a linear programme.
type hinge struct{ *loss }

// Margin returns β and the margin 1.
func (h hinge) Margin() (float64, float64) { return h.beta, 1 }

// Hinge is the SLiC hinge loss ℓ = max(0, 1 − Δ), Δ = β(ρ_w − ρ_l) (TRL's
// "hinge"): convex and piecewise linear, not differentiable at Δ = 1. Eval
// returns the subgradient −1 in Δ for Δ < 1 and 0 for Δ ≥ 1 (times ±β for
// ρ_w, ρ_l) and a zero Hessian; Smooth is false and the returned Loss
// implements Hinged.
func Hinge(beta float64) Loss {
	l := deltaLoss("hinge", beta, true, func(d float64) (float64, float64, float64) {
		if d < 1 {
			return 1 - d, -1, 0
		}
		return 0, 0, 0
	}, func(d *graph.Node) *graph.Node {
		m := graph.OneMinus(d)
		return graph.Max(m, graph.ZerosLike(m))
	})
	l.smooth = false
	return hinge{l}
}
