package methods

import (
	_ "embed"
	"fmt"

	"hetalign/envs/analytic"
	"hetalign/methods/neural"
	"hetalign/methods/tabular"
	"hetalign/metrics"
)

//go:embed consistent.cue
var consistentCUE string

func init() {
	Register(Kind{
		Name:    "consistent",
		Doc:     "temperature-adjusted DPO, −log σ(|U|·h) (Eq. 20): on the unanimous tuples of full data, or on every tuple of consensus data; consistent for π* under BT with equal weights",
		Regimes: []string{analytic.Full, analytic.Consensus},
		CUE:     consistentCUE, CUEFile: "hetalign/methods/consistent.cue",
		New: func() Params { return new(Consistent) },
	})
}

// Consistent is the consistent kind's settings; Types is |U|.
type Consistent struct {
	Beta  *float64 `json:"beta,omitempty"`
	Types int      `json:"types,omitempty"`
	L2    float64  `json:"l2,omitempty"`
	SGDConfig
}

// Defaults: β = env.beta, |U| from the population.
func (p *Consistent) Defaults(c Context) {
	p.SGDConfig.defaults(true)
	defaultBeta(&p.Beta, c)
	p.Types = c.Types
}

// Check the model against the env.
func (p *Consistent) Check(c Context) []Problem { return p.SGDConfig.check(c) }

// FitTabular minimises Eq. 20 exactly (Newton) or by SGD.
func (p *Consistent) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	if p.SGD() {
		pairs, used, err := unanimousPairs(in.Data, true)
		if err != nil {
			return nil, err
		}
		return sgdFit(in, &p.SGDConfig, pairs, neural.Loss{Kind: "dpo", Beta: *p.Beta, Scale: float64(p.Types)}, used, nil)
	}
	cfg := tabular.Config{Kind: "consistent", Beta: *p.Beta, Types: p.Types, L2: p.L2}
	return exactFit(in, func(_ int, ds *analytic.Dataset, ref []float64) (*tabular.Result, error) {
		return tabular.Fit(ds, ref, cfg)
	})
}

// FitSequence trains a causal transformer policy on Eq. 20 (consensus
// data).
func (p *Consistent) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return seqFit(in, &p.SGDConfig, neural.PolicyHead, neural.Loss{Kind: "dpo", Beta: *p.Beta, Scale: float64(p.Types)}, nil, nil)
}

// unanimousPairs are the statistics the consistent losses train on: the
// unanimous tuples of full data, or (consensusToo) every tuple of
// consensus data; used is the share of the data they hold.
func unanimousPairs(d *analytic.Data, consensusToo bool) ([][][]float64, float64, error) {
	pairs := make([][][]float64, len(d.Prompts))
	used := 0.0
	for x, ds := range d.Prompts {
		switch {
		case ds == nil:
		case ds.Regime == analytic.Consensus && consensusToo:
			pairs[x], used = ds.Won, 1
		case ds.Unanimous != nil:
			pairs[x] = ds.Unanimous
			for _, row := range ds.Unanimous {
				for _, v := range row {
					used += d.Mass[x] * v
				}
			}
		default:
			return nil, 0, fmt.Errorf("consistent: prompt %d has no unanimity statistics", x)
		}
	}
	return pairs, used, nil
}
