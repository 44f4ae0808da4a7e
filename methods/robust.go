package methods

import (
	_ "embed"

	"hetalign/methods/pairloss"
	"hetalign/metrics"
)

//go:embed robust.cue
var robustCUE string

func init() {
	Register(Kind{
		Name:    "robust",
		Doc:     "robust DPO (TRL 'robust'): [−(1−ε) log σ(Δ) + ε log σ(−Δ)]/(1−2ε) for label-flip rate ε; its population optimum is DPO's on the de-noised win rates (p − ε)/(1 − 2ε)",
		Regimes: familyRegimes,
		CUE:     robustCUE, CUEFile: "hetalign/methods/robust.cue",
		New: func() Params { return new(Robust) },
	})
}

// Robust is the robust kind's settings: robust DPO (TRL 'robust') (methods/pairloss).
type Robust struct {
	LossFamily
	Epsilon *float64 `json:"epsilon,omitempty"`
}

func (p *Robust) loss() pairloss.Loss { return pairloss.Robust(*p.Beta, *p.Epsilon) }

// Defaults: β = env.beta, epsilon 0.1.
func (p *Robust) Defaults(c Context) {
	p.LossFamily.defaults(c)
	if p.Epsilon == nil {
		v := 0.1
		p.Epsilon = &v
	}
}

// Check the model against the env and the loss's parameters.
func (p *Robust) Check(c Context) []Problem { return p.LossFamily.check(c, p.loss(), "epsilon") }

// FitTabular fits the policy on finite alternatives.
func (p *Robust) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return p.fitTabular(in, p.loss())
}

// FitSequence trains a transformer policy on the sequence env.
func (p *Robust) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return p.fitSequence(in, p.loss())
}
