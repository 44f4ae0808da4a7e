// Package pairloss is the numerical core of TRL's DPO loss family
// (DPOConfig.loss_type): per-tuple preference losses ℓ(ρ_w, ρ_l) of the
// log-ratios ρ = log π(y)/π_ref(y) of the preferred (w) and the dispreferred
// (l) response, with their first and second derivatives in float64 (for
// exact tabular fits) and the same function on GoMLX nodes (for SGD).
//
// Notation: s = β·ρ is the implicit reward and Δ = s_w − s_l = β(ρ_w − ρ_l)
// TRL's logits; σ is the logistic function and softplus(x) = log(1 + e^x),
// so −log σ(x) = softplus(−x). Every logarithm of σ is computed in the
// softplus form, stable for any |x|.
//
//	DPO       softplus(−Δ)                                       (TRL "sigmoid")
//	Hinge     max(0, 1 − Δ)                                      ("hinge")
//	Robust    [−(1−ε) log σ(Δ) + ε log σ(−Δ)]/(1−2ε)              ("robust")
//	CDPO      −(1−ε) log σ(Δ) − ε log σ(−Δ)                       ("sigmoid", label_smoothing ε)
//	EXO       σ(Δ)[log σ(Δ) − log(1−ε)] + σ(−Δ)[log σ(−Δ) − log ε] ("exo_pair")
//	NCA       −log σ(s_w) − ½ log σ(−s_w) − ½ log σ(−s_l)          ("nca_pair")
//	BCO       −log σ(s_w) − log σ(−s_l)                           ("bco_pair", shift δ = 0)
//	SPPO      (ρ_w − 1/(2β))² + (ρ_l + 1/(2β))²                    ("sppo_hard")
//	APOZero   (1 − σ(s_w)) + σ(s_l)                               ("apo_zero")
//	APODown   σ(s_w) + (1 − σ(Δ))                                 ("apo_down")
//	DiscoPOP  (1 − m)·softplus(−Δ) + m·e^{−Δ}, m = σ(Δ/τ)          ("discopop")
//	SoftCopeland −tanh(k(σ(Δ/τ) − ½)) + (λ/2)Δ²                    (Differential Voting)
//	SoftKemeny   σ(−Δ/τ)                                          (Differential Voting)
//
// Parameters: the constructors (DPO, Hinge, Robust, …) never fail or
// panic; a loss built with invalid parameters (β ≤ 0, ε outside its range,
// τ ≤ 0, NaN) records the problem, which Validate reports. New builds a
// loss by name and validates it, and Check validates a name and parameters
// without building. The fitting code (tabular.FitLoss, neural.TrainLoss)
// calls Validate on the loss it is given.
package pairloss

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// Loss is a per-tuple preference loss ℓ(ρ_w, ρ_l) of the log-ratios of the preferred and the dispreferred response.
type Loss interface {
	// Eval returns ℓ and its first and second partial derivatives: d = [∂/∂ρ_w, ∂/∂ρ_l], h = [∂²/∂ρ_w², ∂²/∂ρ_w∂ρ_l, ∂²/∂ρ_l²] (h is for Newton; for hinge use the subgradient and zeros).
	Eval(rw, rl float64) (v float64, d [2]float64, h [3]float64)
	// Graph is the same loss on GoMLX nodes (elementwise, any float dtype), for SGD.
	Graph(rw, rl *graph.Node) *graph.Node
	// DeltaOnly reports whether ℓ depends on ρ_w − ρ_l alone (then the normaliser of π cancels and convexity in Δ is convexity in θ).
	DeltaOnly() bool
	// Convex reports whether ℓ is convex in Δ (meaningful when DeltaOnly).
	Convex() bool
	// Smooth is false for hinge (non-differentiable): fit it by LP.
	Smooth() bool
}

// Scaled is implemented by every loss of this package: Beta is the β of
// s = β·ρ the loss was built with.
type Scaled interface {
	Beta() float64
}

// Validator is implemented by every loss of this package: Validate reports
// parameters outside their range (nil when the loss is well defined).
type Validator interface {
	Validate() error
}

// Hinged is implemented by hinge losses ℓ = max(0, margin − β(ρ_w − ρ_l)),
// piecewise linear in θ, which tabular fits solve as linear programmes.
type Hinged interface {
	Loss
	// Margin returns β and the margin (1 for TRL's hinge).
	Margin() (beta, margin float64)
}

// Validate returns l's own validation error when l implements Validator,
// and nil otherwise.
func Validate(l Loss) error {
	if l == nil {
		return fmt.Errorf("pairloss: nil loss")
	}
	if v, ok := l.(Validator); ok {
		return v.Validate()
	}
	return nil
}

// names are the losses New knows, in this package's spelling; New also
// accepts TRL's loss_type spellings ("sigmoid", "exo_pair", "nca_pair",
// "bco_pair", "sppo_hard", "apo_zero", "apo_down").
var names = []string{"dpo", "hinge", "robust", "cdpo", "exo", "nca", "bco", "sppo", "apo-zero", "apo-down", "discopop"}

// Names returns the losses New knows (a fresh slice).
func Names() []string { return append([]string(nil), names...) }

// New builds the loss called name with β = beta and its one extra
// parameter param: ε for robust, cdpo (label smoothing) and exo, τ for
// discopop; param is ignored by the others. It returns an error for an
// unknown name or invalid parameters.
func New(name string, beta, param float64) (Loss, error) {
	var l Loss
	switch name {
	case "dpo":
		l = DPO(beta)
	case "sigmoid":
		l = CDPO(beta, param)
	case "hinge":
		l = Hinge(beta)
	case "robust":
		l = Robust(beta, param)
	case "cdpo":
		l = CDPO(beta, param)
	case "exo", "exo_pair":
		l = EXO(beta, param)
	case "nca", "nca_pair":
		l = NCA(beta)
	case "bco", "bco_pair":
		l = BCO(beta)
	case "sppo", "sppo_hard":
		l = SPPO(beta)
	case "apo-zero", "apo_zero":
		l = APOZero(beta)
	case "apo-down", "apo_down":
		l = APODown(beta)
	case "discopop":
		l = DiscoPOP(beta, param)
	default:
		return nil, fmt.Errorf("pairloss: unknown loss %q (want one of %v)", name, names)
	}
	if err := Validate(l); err != nil {
		return nil, err
	}
	return l, nil
}

// Check reports whether New(name, beta, param) would succeed.
func Check(name string, beta, param float64) error {
	_, err := New(name, beta, param)
	return err
}
