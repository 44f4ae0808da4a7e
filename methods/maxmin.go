package methods

import (
	_ "embed"
	"fmt"
	"math"

	"hetalign/envs"
	"hetalign/methods/latent"
	"hetalign/methods/neural"
	"hetalign/metrics"
)

//go:embed maxmin.cue
var maxminCUE string

func init() {
	Register(Kind{
		Name:    "maxmin",
		Doc:     "MaxMin-RLHF (Chakraborty et al. 2024): the EM mixture of K latent Bradley–Terry reward models on annotated data, then the policy maximising min_k E_π[r_k] − β·KL(π‖π_ref), solved exactly through its dual (the Gibbs policy of the worst-case mixture of rewards); with model/optimizer by SGD (DPO M steps, then a tabular or MLP policy trained by Adam against exponentiated weights over the groups); on the sequence env the types' rewards are tables over the token count",
		Regimes: []string{envs.Annotated},
		CUE:     maxminCUE, CUEFile: "hetalign/methods/maxmin.cue",
		New: func() Params { return new(MaxMin) },
	})
}

// MaxMin is the maxmin kind's settings (the same fields as em-dpo's).
type MaxMin struct {
	LatentTypes
}

// Defaults as em-dpo's.
func (p *MaxMin) Defaults(c Context) { p.LatentTypes.defaults(c) }

// Check as em-dpo's.
func (p *MaxMin) Check(c Context) []Problem { return p.LatentTypes.check(c) }

// FitTabular fits the mixture, then the max-min policy to a duality gap
// below 1e-9; by SGD (a model or optimizer set), the policy network of
// neural.MaxMinSGD: 300 rounds of 10 Adam steps (optimizer.lr) on the
// λ-weighted objective, each followed by the exponentiated-weights step
// η = 1/max|r_k| on λ (the exact dual's step).
func (p *MaxMin) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	lf, err := p.fitTypes(in, "maxmin")
	if err != nil {
		return nil, err
	}
	if p.SGD() {
		be, err := in.Backend()
		if err != nil {
			return nil, err
		}
		logRef := make([][]float64, len(lf.ref))
		var spread float64
		for x, r := range lf.ref {
			for _, v := range r {
				logRef[x] = append(logRef[x], math.Log(v))
			}
		}
		for _, r := range lf.rewards {
			for _, row := range r {
				for _, v := range row {
					spread = math.Max(spread, math.Abs(v))
				}
			}
		}
		pol, _, _, err := neural.MaxMinSGD(be, lf.rewards, lf.prior, logRef, *p.Beta, p.arch(),
			neural.MaxMinOptions{Rounds: 300, Steps: 10, LR: p.Optimizer.LR, Eta: 1 / math.Max(spread, 1e-12)}, in.Seed)
		if err != nil {
			return nil, fmt.Errorf("maxmin: %w", err)
		}
		return lf.trained(in.World, in.Data.Annotated, pol), nil
	}
	pol, err := exactMaxMin(lf, *p.Beta)
	if err != nil {
		return nil, err
	}
	return lf.trained(in.World, in.Data.Annotated, pol), nil
}

// FitSequence fits the latent types over the token count
// (fitLengthTypes) and scores test sequences by the max-min policy over
// counts.
func (p *MaxMin) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return p.fitLengthTypes(in, "maxmin", func(lf *latentFit) ([]float64, error) {
		pol, err := exactMaxMin(lf, *p.Beta)
		if err != nil {
			return nil, err
		}
		return pol[0], nil
	})
}

// exactMaxMin is latent.MaxMin's policy to a duality gap below 1e-9.
func exactMaxMin(lf *latentFit, beta float64) ([][]float64, error) {
	_, pol, gap := latent.MaxMin(lf.rewards, lf.ref, lf.prior, beta, 1e-9, 200_000)
	if gap > 1e-6 {
		return nil, fmt.Errorf("maxmin: the duality gap is still %.3g after 200,000 steps", gap)
	}
	return pol, nil
}
