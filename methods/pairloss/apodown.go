package pairloss

import "github.com/gomlx/gomlx/pkg/core/graph"

// APODown is anchored preference optimisation, "down" variant (TRL's
// "apo_down"), with s = βρ and Δ = s_w − s_l:
//
//	ℓ = σ(s_w) + (1 − σ(Δ)),
//
// lowering the preferred response's likelihood while widening the margin.
// With σ′ = σ(1 − σ) and σ″ = σ′(1 − 2σ): ∂ℓ/∂ρ_w = β[σ′(s_w) − σ′(Δ)],
// ∂ℓ/∂ρ_l = βσ′(Δ); ∂²/∂ρ_w² = β²[σ″(s_w) − σ″(Δ)], ∂²/∂ρ_w∂ρ_l = β²σ″(Δ),
// ∂²/∂ρ_l² = −β²σ″(Δ). Smooth, bounded, not convex, not a function of Δ
// alone.
func APODown(beta float64) Loss {
	d2 := func(x float64) float64 { return dsig(x) * (1 - 2*sigmoid(x)) }
	return &loss{
		name: "apo-down", beta: beta, smooth: true, err: checkBeta("apo-down", beta),
		eval: func(rw, rl float64) (float64, [2]float64, [3]float64) {
			sw, delta := beta*rw, beta*(rw-rl)
			b2 := beta * beta
			return sigmoid(sw) + sigmoid(-delta),
				[2]float64{beta * (dsig(sw) - dsig(delta)), beta * dsig(delta)},
				[3]float64{b2 * (d2(sw) - d2(delta)), b2 * d2(delta), -b2 * d2(delta)}
		},
		graph: func(rw, rl *graph.Node) *graph.Node {
			delta := graph.MulScalar(graph.Sub(rw, rl), beta)
			return graph.Add(graph.Sigmoid(graph.MulScalar(rw, beta)), graph.OneMinus(graph.Sigmoid(delta)))
		},
	}
}
