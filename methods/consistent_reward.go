package methods

import (
	_ "embed"

	"hetalign/envs/sequence"
	"hetalign/methods/neural"
	"hetalign/metrics"
)

//go:embed consistent_reward.cue
var consistentRewardCUE string

func init() {
	Register(Kind{
		Name:    "consistent-reward",
		Doc:     "the consistent loss for reward learning (Appendix F): Eq. 20 with h replaced by r(y2) − r(y1), −log σ(|U|·Δr), on consensus data; sequence env",
		Regimes: []string{sequence.Consensus},
		CUE:     consistentRewardCUE, CUEFile: "hetalign/methods/consistent_reward.cue",
		New: func() Params { return new(ConsistentReward) },
	})
}

// ConsistentReward is the consistent-reward kind's settings; Types is |U|.
type ConsistentReward struct {
	Beta  *float64 `json:"beta,omitempty"`
	Types int      `json:"types,omitempty"`
	L2    float64  `json:"l2,omitempty"`
	SGDConfig
}

// Defaults: β = env.beta (unused), |U| from the population.
func (p *ConsistentReward) Defaults(c Context) {
	p.SGDConfig.defaults(false)
	defaultBeta(&p.Beta, c)
	p.Types = c.Types
}

// Check the model against the env.
func (p *ConsistentReward) Check(c Context) []Problem { return p.SGDConfig.check(c) }

// FitSequence trains a transformer reward model on −log σ(|U|·Δr).
func (p *ConsistentReward) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return seqFit(in, &p.SGDConfig, neural.RewardHead, neural.Loss{Kind: "dpo", Beta: 1, Scale: float64(p.Types)}, nil, nil)
}
