package methods

import (
	_ "embed"

	"hetalign/methods/pairloss"
	"hetalign/metrics"
)

//go:embed apo_down.cue
var apo_downCUE string

func init() {
	Register(Kind{
		Name:    "apo-down",
		Doc:     "APO-down (TRL 'apo_down'): σ(s_w) + (1 − σ(Δ)), s = βρ: lowers winners less than losers; on the paper's examples its expected loss has no finite minimiser (a positive l2 gives one)",
		Regimes: familyRegimes,
		CUE:     apo_downCUE, CUEFile: "hetalign/methods/apo_down.cue",
		New: func() Params { return new(APODown) },
	})
}

// APODown is the apo-down kind's settings: APO-down (TRL 'apo_down') (methods/pairloss).
type APODown struct {
	LossFamily
}

func (p *APODown) loss() pairloss.Loss { return pairloss.APODown(*p.Beta) }

// Defaults: β = env.beta.
func (p *APODown) Defaults(c Context) {
	p.LossFamily.defaults(c)
}

// Check the model against the env and the loss's parameters.
func (p *APODown) Check(c Context) []Problem { return p.LossFamily.check(c, p.loss(), "") }

// FitTabular fits the policy on finite alternatives.
func (p *APODown) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return p.fitTabular(in, p.loss())
}

// FitSequence trains a transformer policy on the sequence env.
func (p *APODown) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return p.fitSequence(in, p.loss())
}
