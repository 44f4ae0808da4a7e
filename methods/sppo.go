package methods

import (
	_ "embed"

	"hetalign/methods/pairloss"
	"hetalign/metrics"
)

//go:embed sppo.cue
var sppoCUE string

func init() {
	Register(Kind{
		Name:    "sppo",
		Doc:     "hard-label SPPO (TRL 'sppo_hard'): (ρ_w − 1/(2β))² + (ρ_l + 1/(2β))²",
		Regimes: familyRegimes,
		CUE:     sppoCUE, CUEFile: "hetalign/methods/sppo.cue",
		New: func() Params { return new(SPPO) },
	})
}

// SPPO is the sppo kind's settings: hard-label SPPO (TRL 'sppo_hard') (methods/pairloss).
type SPPO struct {
	LossFamily
}

func (p *SPPO) loss() pairloss.Loss { return pairloss.SPPO(*p.Beta) }

// Defaults: β = env.beta.
func (p *SPPO) Defaults(c Context) {
	p.LossFamily.defaults(c)
}

// Check the model against the env and the loss's parameters.
func (p *SPPO) Check(c Context) []Problem { return p.LossFamily.check(c, p.loss(), "") }

// FitTabular fits the policy on finite alternatives.
func (p *SPPO) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return p.fitTabular(in, p.loss())
}

// FitSequence trains a transformer policy on the sequence env.
func (p *SPPO) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return p.fitSequence(in, p.loss())
}
