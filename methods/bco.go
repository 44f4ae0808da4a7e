package methods

import (
	_ "embed"

	"hetalign/methods/pairloss"
	"hetalign/metrics"
)

//go:embed bco.cue
var bcoCUE string

func init() {
	Register(Kind{
		Name:    "bco",
		Doc:     "BCO on pairs (TRL 'bco_pair', running-mean shift δ = 0): −log σ(s_w) − log σ(−s_l), s = βρ",
		Regimes: familyRegimes,
		CUE:     bcoCUE, CUEFile: "hetalign/methods/bco.cue",
		New: func() Params { return new(BCO) },
	})
}

// BCO is the bco kind's settings: BCO on pairs (TRL 'bco_pair', running-mean shift δ = 0) (methods/pairloss).
type BCO struct {
	LossFamily
}

func (p *BCO) loss() pairloss.Loss { return pairloss.BCO(*p.Beta) }

// Defaults: β = env.beta.
func (p *BCO) Defaults(c Context) {
	p.LossFamily.defaults(c)
}

// Check the model against the env and the loss's parameters.
func (p *BCO) Check(c Context) []Problem { return p.LossFamily.check(c, p.loss(), "") }

// FitTabular fits the policy on finite alternatives.
func (p *BCO) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return p.fitTabular(in, p.loss())
}

// FitSequence trains a transformer policy on the sequence env.
func (p *BCO) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return p.fitSequence(in, p.loss())
}
