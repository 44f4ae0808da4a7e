package methods

import (
	_ "embed"

	"hetalign/envs/sequence"
	"hetalign/methods/neural"
	"hetalign/metrics"
)

//go:embed reward.cue
var rewardCUE string

func init() {
	Register(Kind{
		Name:    "reward",
		Doc:     "Bradley–Terry reward learning, −log σ(r(y_w) − r(y_l)), ignoring heterogeneity on anonymous data (Section 7.3); sequence env",
		Regimes: []string{sequence.Anonymous, sequence.Typed, sequence.Consensus},
		CUE:     rewardCUE, CUEFile: "hetalign/methods/reward.cue",
		New: func() Params { return new(Reward) },
	})
}

// Reward is the reward kind's settings (β is recorded, as for every
// trained kind, but the BT loss has none).
type Reward struct {
	Beta *float64 `json:"beta,omitempty"`
	L2   float64  `json:"l2,omitempty"`
	SGDConfig
}

// Defaults: β = env.beta (unused by the loss).
func (p *Reward) Defaults(c Context) {
	p.SGDConfig.defaults(false)
	defaultBeta(&p.Beta, c)
}

// Check the model against the env.
func (p *Reward) Check(c Context) []Problem { return p.SGDConfig.check(c) }

// FitSequence trains a transformer reward model r by BT: z = r(y2) − r(y1).
func (p *Reward) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return seqFit(in, &p.SGDConfig, neural.RewardHead, neural.Loss{Kind: "dpo", Beta: 1, Scale: 1}, nil, nil)
}
