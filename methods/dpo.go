package methods

import (
	_ "embed"

	"hetalign/envs/analytic"
	"hetalign/methods/neural"
	"hetalign/methods/tabular"
	"hetalign/metrics"
)

//go:embed dpo.cue
var dpoCUE string

func init() {
	Register(Kind{
		Name:    "dpo",
		Doc:     "DPO: −log σ(β·(log π(y_w)/π_ref(y_w) − log π(y_l)/π_ref(y_l))) (Eq. 6); its infinite-data policy solves Eq. 14 and follows the Borda count NBC (Eq. 13), not r̄",
		Regimes: []string{analytic.Anonymous, analytic.Full, analytic.Paired, analytic.Typed},
		CUE:     dpoCUE, CUEFile: "hetalign/methods/dpo.cue",
		New: func() Params { return new(DPO) },
	})
}

// DPO is the dpo kind's settings: −log σ(β·h) per tuple (Eq. 6).
type DPO struct {
	Beta *float64 `json:"beta,omitempty"`
	L2   float64  `json:"l2,omitempty"`
	SGDConfig
}

// Defaults: β = env.beta; the SGD defaults; a uniform sequence reference.
func (p *DPO) Defaults(c Context) {
	p.SGDConfig.defaults(true)
	defaultBeta(&p.Beta, c)
}

// Check the model against the env.
func (p *DPO) Check(c Context) []Problem { return p.SGDConfig.check(c) }

// FitTabular minimises DPO's loss exactly (Newton) or by SGD.
func (p *DPO) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	if p.SGD() {
		return sgdFit(in, &p.SGDConfig, wonPairs(in.Data), neural.Loss{Kind: "dpo", Scale: 1, Beta: *p.Beta}, 1, nil)
	}
	cfg := tabular.Config{Kind: "dpo", Beta: *p.Beta, L2: p.L2}
	return exactFit(in, func(_ int, ds *analytic.Dataset, ref []float64) (*tabular.Result, error) {
		return tabular.Fit(ds, ref, cfg)
	})
}

// FitSequence trains a causal transformer policy by DPO.
func (p *DPO) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return seqFit(in, &p.SGDConfig, neural.PolicyHead, neural.Loss{Kind: "dpo", Beta: *p.Beta, Scale: 1}, nil, nil)
}
