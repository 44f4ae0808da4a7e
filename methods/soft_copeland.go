package methods

import (
	_ "embed"

	"hetalign/methods/pairloss"
	"hetalign/metrics"
)

//go:embed soft_copeland.cue
var softCopelandCUE string

func init() {
	Register(Kind{
		Name: "soft-copeland",
		Doc: "Differential Voting's soft-Copeland loss −tanh(k(σ(Δ/τ) − ½)) + (λ/2)Δ², Δ = β(ρ_w − ρ_l) (arXiv 2601.18824); its population optimum is Borda's order for large λ and the Kemeny–Young ranking of the win rates as λ → 0 (k = 10, λ = 1e-4, τ = 1 by default); " +
			"non-convex: the exact fit is L-BFGS from DPO's solution",
		Regimes: familyRegimes,
		CUE:     softCopelandCUE, CUEFile: "hetalign/methods/soft_copeland.cue",
		New: func() Params { return new(SoftCopeland) },
	})
}

// SoftCopeland is the soft-copeland kind's settings (methods/pairloss).
type SoftCopeland struct {
	LossFamily
	Tau       *float64 `json:"tau,omitempty"`
	Sharpness *float64 `json:"sharpness,omitempty"`
	Lambda    *float64 `json:"lambda,omitempty"`
}

func (p *SoftCopeland) loss() pairloss.Loss {
	return pairloss.SoftCopeland(*p.Beta, *p.Tau, *p.Sharpness, *p.Lambda)
}

// Defaults: β = env.beta, τ = 1, k = 10, λ = 1e-4.
func (p *SoftCopeland) Defaults(c Context) {
	p.LossFamily.defaults(c)
	for _, f := range []struct {
		p **float64
		v float64
	}{{&p.Tau, 1}, {&p.Sharpness, 10}, {&p.Lambda, 1e-4}} {
		if *f.p == nil {
			v := f.v
			*f.p = &v
		}
	}
}

// Check the model against the env and the loss's parameters.
func (p *SoftCopeland) Check(c Context) []Problem { return p.LossFamily.check(c, p.loss(), "tau") }

// FitTabular fits the policy on finite alternatives.
func (p *SoftCopeland) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return p.fitTabular(in, p.loss())
}

// FitSequence trains a transformer policy on the sequence env.
func (p *SoftCopeland) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return p.fitSequence(in, p.loss())
}
