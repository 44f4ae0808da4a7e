package methods

import (
	_ "embed"

	"hetalign/methods/pairloss"
	"hetalign/metrics"
)

//go:embed hinge.cue
var hingeCUE string

func init() {
	Register(Kind{
		Name:    "hinge",
		Doc:     "SLiC's hinge loss max(0, 1 − Δ), Δ = β(ρ_w − ρ_l), ρ = log π/π_ref (TRL loss_type 'hinge'); piecewise linear, its population fit is a linear programme",
		Regimes: familyRegimes,
		CUE:     hingeCUE, CUEFile: "hetalign/methods/hinge.cue",
		New: func() Params { return new(Hinge) },
	})
}

// Hinge is the hinge kind's settings: SLiC's hinge loss max(0, 1 − Δ), Δ = β(ρ_w − ρ_l), ρ = log π/π_ref (TRL loss_type 'hinge'); piecewise linear, its population fit is a linear programme (methods/pairloss).
type Hinge struct {
	LossFamily
}

func (p *Hinge) loss() pairloss.Loss { return pairloss.Hinge(*p.Beta) }

// Defaults: β = env.beta.
func (p *Hinge) Defaults(c Context) {
	p.LossFamily.defaults(c)
}

// Check the model against the env and the loss's parameters.
func (p *Hinge) Check(c Context) []Problem { return p.LossFamily.check(c, p.loss(), "") }

// FitTabular fits the policy on finite alternatives.
func (p *Hinge) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return p.fitTabular(in, p.loss())
}

// FitSequence trains a transformer policy on the sequence env.
func (p *Hinge) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return p.fitSequence(in, p.loss())
}
