package methods

import (
	_ "embed"

	"hetalign/methods/pairloss"
	"hetalign/metrics"
)

//go:embed apo_zero.cue
var apo_zeroCUE string

func init() {
	Register(Kind{
		Name:    "apo-zero",
		Doc:     "APO-zero (TRL 'apo_zero'): (1 − σ(s_w)) + σ(s_l), s = βρ: raises winners, lowers losers",
		Regimes: familyRegimes,
		CUE:     apo_zeroCUE, CUEFile: "hetalign/methods/apo_zero.cue",
		New: func() Params { return new(APOZero) },
	})
}

// APOZero is the apo-zero kind's settings: APO-zero (TRL 'apo_zero') (methods/pairloss).
type APOZero struct {
	LossFamily
}

func (p *APOZero) loss() pairloss.Loss { return pairloss.APOZero(*p.Beta) }

// Defaults: β = env.beta.
func (p *APOZero) Defaults(c Context) {
	p.LossFamily.defaults(c)
}

// Check the model against the env and the loss's parameters.
func (p *APOZero) Check(c Context) []Problem { return p.LossFamily.check(c, p.loss(), "") }

// FitTabular fits the policy on finite alternatives.
func (p *APOZero) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return p.fitTabular(in, p.loss())
}

// FitSequence trains a transformer policy on the sequence env.
func (p *APOZero) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return p.fitSequence(in, p.loss())
}
