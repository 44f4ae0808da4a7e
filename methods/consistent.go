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
		Doc:     "temperature-adjusted DPO, −log σ(|U|·h) (Eq. 20): on the unanimous tuples of full data, or on every tuple of consensus data; consistent for π* under BT with equal weights. variant \"published\" (SGD only): the published code's log σ(|U|·(1 − h)) for tuples won by y1",
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
	// Variant is "" for Eq. 20 (the spec's default "eq20", kept out of the
	// step key so that naming the default shares its steps) or
	// "published": the published code's loss (see Published).
	Variant string `json:"variant,omitempty"`
	SGDConfig
}

// The consistent loss's variants (#Method.variant).
const (
	// Eq20 is the paper's Eq. 20: on a unanimous tuple, −log σ(|U|·h) when
	// every type prefers y2 and −log σ(−|U|·h) when every type prefers y1,
	// h = β·(log π/π_ref(y2) − log π/π_ref(y1)).
	Eq20 = "eq20"
	// Published is the published code's loss: −log σ(|U|·h) when every
	// type prefers y2 but log σ(|U|·(1 − h)) when every type prefers y1, a
	// bug (REFERENCE.md) that pushes the loser up; see neural.PairLoss.
	Published = "published"
)

// Defaults: β = env.beta, |U| from the population, variant Eq. 20.
func (p *Consistent) Defaults(c Context) {
	p.SGDConfig.defaults(true)
	defaultBeta(&p.Beta, c)
	p.Types = c.Types
	if p.Variant == Eq20 {
		p.Variant = ""
	}
}

// Check the model against the env; the published variant trains by SGD
// only: its expected loss is not convex and, per unordered pair, has a
// finite minimiser only where |logit p| < |U|, so the exact (Newton) fit
// does not apply.
func (p *Consistent) Check(c Context) []Problem {
	ps := p.SGDConfig.check(c)
	if p.Variant == Published && !p.SGD() {
		ps = append(ps, problemf("variant", "variant %q is fit only by SGD (its loss is not convex and can lack a finite minimiser): set model or optimizer", Published))
	}
	return ps
}

// loss is the SGD loss: Eq. 20 as DPO's binary cross-entropy with h scaled
// by |U|, or the published variant, averaged over both orientations of
// each pair when symmetric (unordered pairs of tabular and MLP fits).
func (p *Consistent) loss(symmetric bool) neural.Loss {
	if p.Variant == Published {
		return neural.Loss{Kind: "consistent-published", Beta: *p.Beta, Scale: float64(p.Types), Symmetric: symmetric}
	}
	return neural.Loss{Kind: "dpo", Beta: *p.Beta, Scale: float64(p.Types)}
}

// FitTabular minimises Eq. 20 exactly (Newton) or by SGD; the published
// variant by SGD only, on unordered pairs, so with its loss averaged over
// both orientations (y1 and y2 are drawn i.i.d., each orientation equally
// likely).
func (p *Consistent) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	if p.SGD() {
		pairs, used, err := unanimousPairs(in.Data, true)
		if err != nil {
			return nil, err
		}
		return sgdFit(in, &p.SGDConfig, pairs, p.loss(true), used, nil)
	}
	if p.Variant == Published {
		return nil, fmt.Errorf("consistent: variant %q is fit only by SGD", Published)
	}
	cfg := tabular.Config{Kind: "consistent", Beta: *p.Beta, Types: p.Types, L2: p.L2}
	return exactFit(in, func(_ int, ds *analytic.Dataset, ref []float64) (*tabular.Result, error) {
		return tabular.Fit(ds, ref, cfg)
	})
}

// FitSequence trains a causal transformer policy on Eq. 20 (consensus
// data), or on the published variant in its oriented form: sequence pairs
// keep the orientation they were drawn in.
func (p *Consistent) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return seqFit(in, &p.SGDConfig, neural.PolicyHead, p.loss(false), nil, nil)
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
