package methods

import (
	_ "embed"

	"hetalign/methods/pairloss"
	"hetalign/metrics"
)

//go:embed discopop.cue
var discopopCUE string

func init() {
	Register(Kind{
		Name:    "discopop",
		Doc:     "DiscoPOP (TRL 'discopop'): the σ(Δ/τ)-weighted mix (1 − σ(Δ/τ))·(−log σ(Δ)) + σ(Δ/τ)·e^{−Δ}",
		Regimes: familyRegimes,
		CUE:     discopopCUE, CUEFile: "hetalign/methods/discopop.cue",
		New: func() Params { return new(DiscoPOP) },
	})
}

// DiscoPOP is the discopop kind's settings: DiscoPOP (TRL 'discopop') (methods/pairloss).
type DiscoPOP struct {
	LossFamily
	Tau *float64 `json:"tau,omitempty"`
}

func (p *DiscoPOP) loss() pairloss.Loss { return pairloss.DiscoPOP(*p.Beta, *p.Tau) }

// Defaults: β = env.beta, tau 0.05.
func (p *DiscoPOP) Defaults(c Context) {
	p.LossFamily.defaults(c)
	if p.Tau == nil {
		v := 0.05
		p.Tau = &v
	}
}

// Check the model against the env and the loss's parameters.
func (p *DiscoPOP) Check(c Context) []Problem { return p.LossFamily.check(c, p.loss(), "tau") }

// FitTabular fits the policy on finite alternatives.
func (p *DiscoPOP) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return p.fitTabular(in, p.loss())
}

// FitSequence trains a transformer policy on the sequence env.
func (p *DiscoPOP) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return p.fitSequence(in, p.loss())
}
