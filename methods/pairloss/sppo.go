package pairloss

import "github.com/gomlx/gomlx/pkg/core/graph"

// SPPO is the hard-label SPPO loss (Wu et al. 2024; TRL's "sppo_hard"):
//
//	ℓ = (ρ_w − 1/(2β))² + (ρ_l + 1/(2β))²,
//
// which pulls each log-ratio to ±1/(2β) on its own: ∂ℓ/∂ρ_w = 2(ρ_w − c),
// ∂ℓ/∂ρ_l = 2(ρ_l + c), c = 1/(2β), Hessian diag(2, 2). Convex in
// (ρ_w, ρ_l) but not a function of Δ alone.
func SPPO(beta float64) Loss {
	c := 1 / (2 * beta)
	return &loss{
		name: "sppo", beta: beta, convex: true, smooth: true, err: checkBeta("sppo", beta),
		eval: func(rw, rl float64) (float64, [2]float64, [3]float64) {
			a, b := rw-c, rl+c
			return a*a + b*b, [2]float64{2 * a, 2 * b}, [3]float64{2, 0, 2}
		},
		graph: func(rw, rl *graph.Node) *graph.Node {
			return graph.Add(graph.Square(graph.AddScalar(rw, -c)), graph.Square(graph.AddScalar(rl, c)))
		},
	}
}
