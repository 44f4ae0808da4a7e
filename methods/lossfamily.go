package methods

import (
	"math"

	"hetalign/envs/analytic"
	"hetalign/methods/neural"
	"hetalign/methods/pairloss"
	"hetalign/methods/tabular"
	"hetalign/metrics"
)

// LossFamily holds what every kind of TRL's DPO loss family shares
// (hinge, robust, cdpo, exo, nca, bco, sppo, apo-zero, apo-down,
// discopop; methods/pairloss has the losses): β, the centred L2 penalty
// and the SGD settings. Each kind embeds it in its own parameter struct and
// says which pairloss.Loss it is.
type LossFamily struct {
	Beta *float64 `json:"beta,omitempty"`
	L2   float64  `json:"l2,omitempty"`
	SGDConfig
}

// defaults: β = env.beta, the SGD defaults, a uniform sequence reference.
func (p *LossFamily) defaults(c Context) {
	p.SGDConfig.defaults(true)
	defaultBeta(&p.Beta, c)
}

// check: the model against the env, and the loss's own parameters.
func (p *LossFamily) check(c Context, loss pairloss.Loss, param string) []Problem {
	ps := p.SGDConfig.check(c)
	if err := pairloss.Validate(loss); err != nil {
		ps = append(ps, problemf(param, "%v", err))
	}
	return ps
}

// fitTabular fits a policy under loss on finite alternatives: exactly
// (tabular.FitLoss: Newton where the loss is convex in Δ, the hinge LP,
// L-BFGS from DPO's solution otherwise) or by Adam (neural.TrainLoss) with
// ρ = log π − log π_ref per response.
func (p *LossFamily) fitTabular(in *TabularInput, loss pairloss.Loss) (*metrics.Trained, error) {
	if p.SGD() {
		be, err := in.Backend()
		if err != nil {
			return nil, err
		}
		w := in.World
		logRef := make([][]float64, len(w.Prompts))
		for x, t := range w.Prompts {
			logRef[x] = make([]float64, len(t.Reference))
			for y, r := range t.Reference {
				logRef[x][y] = math.Log(r)
			}
		}
		t := neural.FromPairs(wonPairs(in.Data), in.Data.Mass)
		res, err := neural.TrainLoss(be, t, logRef, len(w.Prompts), len(w.Prompts[0].Alternatives), loss, p.arch(),
			p.Optimizer.optim(), in.Seed)
		if err != nil {
			return nil, err
		}
		used := 1.0
		out := &metrics.Trained{Policy: res.Policy, DataUsed: &used}
		for x, pr := range w.Prompts {
			out.LogRatio = append(out.LogRatio, logRatio(res.Policy[x], pr.Reference))
		}
		return out, nil
	}
	return exactFit(in, func(_ int, ds *analytic.Dataset, ref []float64) (*tabular.Result, error) {
		return tabular.FitLoss(ds, ref, loss, *p.Beta, p.L2)
	})
}

// fitSequence trains a causal transformer policy under loss, with ρ
// against the pre-trained reference, or against the token-uniform language
// model for reference "uniform" (neural.SeqModel.TrainLoss).
func (p *LossFamily) fitSequence(in *SequenceInput, loss pairloss.Loss) (*metrics.SeqTrained, error) {
	return seqFit(in, &p.SGDConfig, neural.PolicyHead, neural.Loss{}, nil,
		func(m *neural.SeqModel, pairs *neural.SeqPairs, opt neural.Optim, seed uint64) error {
			return m.TrainLoss(pairs, loss, opt, seed)
		})
}

// familyRegimes are the regimes the loss family trains on: any labelled
// pairs.
var familyRegimes = []string{analytic.Anonymous, analytic.Full, analytic.Paired, analytic.Typed}
