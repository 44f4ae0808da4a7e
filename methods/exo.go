package methods

import (
	_ "embed"

	"hetalign/methods/pairloss"
	"hetalign/metrics"
)

//go:embed exo.cue
var exoCUE string

func init() {
	Register(Kind{
		Name:    "exo",
		Doc:     "EXO (TRL 'exo_pair'): the reverse KL between softmax(Δ, 0) and (1 − ε, ε), σ(Δ)[log σ(Δ) − log(1−ε)] + σ(−Δ)[log σ(−Δ) − log ε]",
		Regimes: familyRegimes,
		CUE:     exoCUE, CUEFile: "hetalign/methods/exo.cue",
		New: func() Params { return new(EXO) },
	})
}

// EXO is the exo kind's settings: EXO (TRL 'exo_pair') (methods/pairloss).
type EXO struct {
	LossFamily
	Epsilon *float64 `json:"epsilon,omitempty"`
}

func (p *EXO) loss() pairloss.Loss { return pairloss.EXO(*p.Beta, *p.Epsilon) }

// Defaults: β = env.beta, epsilon 1e-3.
func (p *EXO) Defaults(c Context) {
	p.LossFamily.defaults(c)
	if p.Epsilon == nil {
		v := 1e-3
		p.Epsilon = &v
	}
}

// Check the model against the env and the loss's parameters.
func (p *EXO) Check(c Context) []Problem { return p.LossFamily.check(c, p.loss(), "epsilon") }

// FitTabular fits the policy on finite alternatives.
func (p *EXO) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return p.fitTabular(in, p.loss())
}

// FitSequence trains a transformer policy on the sequence env.
func (p *EXO) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return p.fitSequence(in, p.loss())
}
