package pairloss

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// loss is the one implementation behind every constructor: a name, β, the
// float64 evaluation with derivatives, the graph form, the structural flags
// and the validation error of the parameters (nil when valid).
type loss struct {
	name                      string
	beta                      float64
	deltaOnly, convex, smooth bool
	eval                      func(rw, rl float64) (float64, [2]float64, [3]float64)
	graph                     func(rw, rl *graph.Node) *graph.Node
	err                       error
}

func (l *loss) Eval(rw, rl float64) (float64, [2]float64, [3]float64) { return l.eval(rw, rl) }
func (l *loss) Graph(rw, rl *graph.Node) *graph.Node                  { return l.graph(rw, rl) }
func (l *loss) DeltaOnly() bool                                       { return l.deltaOnly }
func (l *loss) Convex() bool                                          { return l.convex }
func (l *loss) Smooth() bool                                          { return l.smooth }

// Beta is the β of s = β·ρ.
func (l *loss) Beta() float64 { return l.beta }

// Validate reports invalid parameters.
func (l *loss) Validate() error { return l.err }

// String is the loss's name.
func (l *loss) String() string { return l.name }

// checkBeta is the validation error of β (nil when positive and finite).
func checkBeta(name string, beta float64) error {
	if !(beta > 0) || math.IsInf(beta, 0) {
		return fmt.Errorf("pairloss %s: beta must be positive and finite, got %v", name, beta)
	}
	return nil
}

// deltaLoss builds a loss ℓ = f(Δ), Δ = β(ρ_w − ρ_l), from f's value and
// first two derivatives in Δ and its graph form in Δ: by the chain rule
// ∂ℓ/∂ρ_w = β f′, ∂ℓ/∂ρ_l = −β f′, and the Hessian is β² f″·[1, −1, 1].
func deltaLoss(name string, beta float64, convex bool, f func(delta float64) (v, d1, d2 float64),
	g func(delta *graph.Node) *graph.Node) *loss {
	return &loss{
		name: name, beta: beta, deltaOnly: true, convex: convex, smooth: true,
		eval: func(rw, rl float64) (float64, [2]float64, [3]float64) {
			v, d1, d2 := f(beta * (rw - rl))
			b2 := beta * beta * d2
			return v, [2]float64{beta * d1, -beta * d1}, [3]float64{b2, -b2, b2}
		},
		graph: func(rw, rl *graph.Node) *graph.Node {
			return g(graph.MulScalar(graph.Sub(rw, rl), beta))
		},
		err: checkBeta(name, beta),
	}
}

// sigmoid is σ(x) = 1/(1 + e^{−x}) without overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// softplus is log(1 + e^x) = max(x, 0) + log1p(e^{−|x|}), accurate for any x;
// −log σ(x) = softplus(−x).
func softplus(x float64) float64 {
	return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
}

// dsig is σ′(x) = σ(x)σ(−x).
func dsig(x float64) float64 { return sigmoid(x) * sigmoid(-x) }

// gSoftplus is softplus on nodes: max(x, 0) + log1p(e^{−|x|}).
func gSoftplus(x *graph.Node) *graph.Node {
	return graph.Add(graph.Max(x, graph.ZerosLike(x)), graph.Log1p(graph.Exp(graph.Neg(graph.Abs(x)))))
}

// gLogSigmoid is log σ(x) = −softplus(−x) on nodes.
func gLogSigmoid(x *graph.Node) *graph.Node { return graph.Neg(gSoftplus(graph.Neg(x))) }
