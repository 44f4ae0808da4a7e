package methods

import (
	_ "embed"

	"hetalign/methods/pairloss"
	"hetalign/metrics"
)

//go:embed cdpo.cue
var cdpoCUE string

func init() {
	Register(Kind{
		Name:    "cdpo",
		Doc:     "conservative DPO (TRL 'sigmoid' with label_smoothing ε): −(1−ε) log σ(Δ) − ε log σ(−Δ); its population optimum is DPO's on the smoothed win rates p(1 − 2ε) + ε",
		Regimes: familyRegimes,
		CUE:     cdpoCUE, CUEFile: "hetalign/methods/cdpo.cue",
		New: func() Params { return new(CDPO) },
	})
}

// CDPO is the cdpo kind's settings: conservative DPO (TRL 'sigmoid' with label_smoothing ε) (methods/pairloss).
type CDPO struct {
	LossFamily
	Epsilon *float64 `json:"epsilon,omitempty"`
}

func (p *CDPO) loss() pairloss.Loss { return pairloss.CDPO(*p.Beta, *p.Epsilon) }

// Defaults: β = env.beta, epsilon 0.1.
func (p *CDPO) Defaults(c Context) {
	p.LossFamily.defaults(c)
	if p.Epsilon == nil {
		v := 0.1
		p.Epsilon = &v
	}
}

// Check the model against the env and the loss's parameters.
func (p *CDPO) Check(c Context) []Problem { return p.LossFamily.check(c, p.loss(), "epsilon") }

// FitTabular fits the policy on finite alternatives.
func (p *CDPO) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return p.fitTabular(in, p.loss())
}

// FitSequence trains a transformer policy on the sequence env.
func (p *CDPO) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return p.fitSequence(in, p.loss())
}
