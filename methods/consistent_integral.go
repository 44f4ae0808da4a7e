package methods

import (
	_ "embed"

	"hetalign/envs/analytic"
	"hetalign/methods/neural"
	"hetalign/methods/tabular"
	"hetalign/metrics"
)

//go:embed consistent_integral.cue
var consistentIntegralCUE string

func init() {
	Register(Kind{
		Name:    "consistent-integral",
		Doc:     "Appendix C's consistent loss on unanimous tuples, −(s + I(s)) with I(θ) = ∫₁^θ (1/t − 1)^|U| dt; its minimiser is π* for any |U|",
		Regimes: []string{analytic.Full},
		CUE:     consistentIntegralCUE, CUEFile: "hetalign/methods/consistent_integral.cue",
		New: func() Params { return new(ConsistentIntegral) },
	})
}

// ConsistentIntegral is the consistent-integral kind's settings.
type ConsistentIntegral struct {
	Beta  *float64 `json:"beta,omitempty"`
	Types int      `json:"types,omitempty"`
	SGDConfig
}

// Defaults: β = env.beta, |U| from the population.
func (p *ConsistentIntegral) Defaults(c Context) {
	p.SGDConfig.defaults(false)
	defaultBeta(&p.Beta, c)
	p.Types = c.Types
}

// Check the model against the env.
func (p *ConsistentIntegral) Check(c Context) []Problem { return p.SGDConfig.check(c) }

// FitTabular minimises Appendix C's loss by L-BFGS from Eq. 20's solution,
// or by SGD with the gradient carried by the graph.
func (p *ConsistentIntegral) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	if p.SGD() {
		pairs, used, err := unanimousPairs(in.Data, false)
		if err != nil {
			return nil, err
		}
		return sgdFit(in, &p.SGDConfig, pairs, neural.Loss{Kind: "integral", Beta: *p.Beta, Scale: float64(p.Types)}, used, nil)
	}
	return exactFit(in, func(_ int, ds *analytic.Dataset, ref []float64) (*tabular.Result, error) {
		return tabular.FitIntegral(ds, ref, *p.Beta, p.Types)
	})
}
