package methods

import (
	_ "embed"

	"hetalign/envs/analytic"
	"hetalign/methods/neural"
	"hetalign/methods/tabular"
	"hetalign/metrics"
)

//go:embed ipo.cue
var ipoCUE string

func init() {
	Register(Kind{
		Name:    "ipo",
		Doc:     "IPO: (log-ratio difference − 1/(2τ))²; its infinite-data log-ratio is affine in NBC (Section 4.2)",
		Regimes: []string{analytic.Anonymous, analytic.Full, analytic.Paired, analytic.Typed},
		CUE:     ipoCUE, CUEFile: "hetalign/methods/ipo.cue",
		New: func() Params { return new(IPO) },
	})
}

// IPO is the ipo kind's settings.
type IPO struct {
	Tau *float64 `json:"tau,omitempty"`
	L2  float64  `json:"l2,omitempty"`
	SGDConfig
}

// Defaults: τ = 1.
func (p *IPO) Defaults(Context) {
	p.SGDConfig.defaults(false)
	if p.Tau == nil {
		one := 1.0
		p.Tau = &one
	}
}

// Check the model against the env.
func (p *IPO) Check(c Context) []Problem { return p.SGDConfig.check(c) }

// FitTabular minimises IPO's loss exactly (Newton) or by SGD.
func (p *IPO) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	if p.SGD() {
		return sgdFit(in, &p.SGDConfig, wonPairs(in.Data), neural.Loss{Kind: "ipo", Scale: 1, Tau: *p.Tau}, 1, nil)
	}
	cfg := tabular.Config{Kind: "ipo", Tau: *p.Tau, L2: p.L2}
	return exactFit(in, func(_ int, ds *analytic.Dataset, ref []float64) (*tabular.Result, error) {
		return tabular.Fit(ds, ref, cfg)
	})
}
