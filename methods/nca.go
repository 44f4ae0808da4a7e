package methods

import (
	_ "embed"

	"hetalign/methods/pairloss"
	"hetalign/metrics"
)

//go:embed nca.cue
var ncaCUE string

func init() {
	Register(Kind{
		Name:    "nca",
		Doc:     "NCA (TRL 'nca_pair'): −log σ(s_w) − ½ log σ(−s_w) − ½ log σ(−s_l), s = βρ; depends on each log-ratio, not only on Δ",
		Regimes: familyRegimes,
		CUE:     ncaCUE, CUEFile: "hetalign/methods/nca.cue",
		New: func() Params { return new(NCA) },
	})
}

// NCA is the nca kind's settings: NCA (TRL 'nca_pair') (methods/pairloss).
type NCA struct {
	LossFamily
}

func (p *NCA) loss() pairloss.Loss { return pairloss.NCA(*p.Beta) }

// Defaults: β = env.beta.
func (p *NCA) Defaults(c Context) {
	p.LossFamily.defaults(c)
}

// Check the model against the env and the loss's parameters.
func (p *NCA) Check(c Context) []Problem { return p.LossFamily.check(c, p.loss(), "") }

// FitTabular fits the policy on finite alternatives.
func (p *NCA) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return p.fitTabular(in, p.loss())
}

// FitSequence trains a transformer policy on the sequence env.
func (p *NCA) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return p.fitSequence(in, p.loss())
}
