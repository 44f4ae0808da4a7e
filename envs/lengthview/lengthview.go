// Package lengthview is the length experiment's exact target (Section 7.3,
// Appendix F) as an environment of finite alternatives: response length
// x = prompt + response tokens is the alternative, the types' length
// rewards r_u(x) (envs/sequence) give the reward table, and D is the exact
// distribution of x under the sequence environment's cut.
package lengthview

import (
	_ "embed"
	"fmt"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/envs/sequence"
)

//go:embed kind.cue
var lengthViewCUE string

func init() {
	envs.Register(envs.Kind{
		Name:    "length-view",
		Doc:     "the length experiment's exact target (Section 7.3): response length x as the alternative, r_u(x) the types' length rewards, D the cut's exact distribution of x; every finite-alternative method and metric, exactly",
		CUE:     lengthViewCUE,
		CUEFile: "hetalign/envs/lengthview/kind.cue",
		Regimes: []string{analytic.Anonymous, analytic.Full, analytic.Consensus, analytic.Typed, analytic.Paired},
		Metrics: analytic.WorldMetrics,
		New:     func() envs.Config { return new(LengthView) },
		Build:   analytic.BuildParams,
	})
}

// typeConfig is a type's length reward.
type typeConfig struct {
	Length *sequence.LengthConfig `json:"length"`
}

// LengthView is the length-view environment's env value.
type LengthView struct {
	Kind   string                 `json:"kind"`
	Beta   float64                `json:"beta"`
	Length int                    `json:"length"`
	Prompt *sequence.PromptConfig `json:"prompt,omitempty"`
}

// Defaults: β = 1, prompts of 1 to L/4 tokens (as the sequence env).
func (c *LengthView) Defaults(envs.Setting) {
	if c.Beta == 0 {
		c.Beta = 1
	}
	if c.Prompt == nil {
		c.Prompt = &sequence.PromptConfig{}
	}
	if c.Prompt.Min == 0 {
		c.Prompt.Min = 1
	}
	if c.Prompt.Max == 0 {
		c.Prompt.Max = max(c.Prompt.Min, c.Length/4)
	}
}

// Alternatives are the lengths x = min + 1 … L.
func (c *LengthView) Alternatives() []string {
	var out []string
	for x := c.Prompt.Min + 1; x <= c.Length; x++ {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// DataFiles: none (lengths need no corpus).
func (c *LengthView) DataFiles(string) []string { return nil }

// Check: a length reward on every type, the prompt range below L.
func (c *LengthView) Check(s envs.Setting) []envs.Problem {
	var ps []envs.Problem
	for _, t := range s.Types {
		var tc typeConfig
		if err := envs.DecodeStrict(t.Raw, &tc); err != nil || tc.Length == nil {
			ps = append(ps, envs.Problemf("population.types."+t.Name, "type %s needs a length reward on a length-view env", t.Name))
		}
	}
	if c.Prompt.Min > c.Prompt.Max || c.Prompt.Max >= c.Length {
		ps = append(ps, envs.Problemf("env.prompt", "prompt lengths [%d, %d] must be ordered and below length %d", c.Prompt.Min, c.Prompt.Max, c.Length))
	}
	return ps
}

// LengthDistribution is the exact distribution of x = p + r over
// x = pMin + 1 … L when the prompt length p is uniform in [pMin, pMax]
// and the response length r uniform in [1, L − p] (New's cut):
// D(x) = Σ_p 1/(pMax − pMin + 1) · 1[1 ≤ x − p ≤ L − p]/(L − p).
func LengthDistribution(L, pMin, pMax int) []float64 {
	d := make([]float64, L-pMin)
	for p := pMin; p <= pMax; p++ {
		for x := p + 1; x <= L; x++ {
			d[x-pMin-1] += 1 / float64(pMax-pMin+1) / float64(L-p)
		}
	}
	return d
}

// Truth is the reward table on the lengths, D and a uniform π_ref.
func (c *LengthView) Truth(s envs.Setting) (any, error) {
	pop, err := envs.NormalisedWeights(s.Types)
	if err != nil {
		return nil, err
	}
	alts := c.Alternatives()
	rewards := make([][]float64, len(s.Types))
	for i, t := range s.Types {
		var tc typeConfig
		if err := envs.DecodeStrict(t.Raw, &tc); err != nil {
			return nil, fmt.Errorf("type %s: %w", t.Name, err)
		}
		if tc.Length == nil {
			return nil, fmt.Errorf("type %s has no length reward", t.Name)
		}
		l := tc.Length
		r := sequence.LengthReward{Shape: l.Shape, Rate: l.Rate, Divisor: l.Divisor, Cap: l.Cap, Center: l.Center, Width: l.Width,
			Slope: l.Slope, Intercept: l.Intercept}.Defaults()
		for x := c.Prompt.Min + 1; x <= c.Length; x++ {
			v, err := r.At(x, c.Length)
			if err != nil {
				return nil, fmt.Errorf("type %s: %w", t.Name, err)
			}
			rewards[i] = append(rewards[i], v)
		}
	}
	samp, err := envs.Normalise(LengthDistribution(c.Length, c.Prompt.Min, c.Prompt.Max))
	if err != nil {
		return nil, fmt.Errorf("length distribution: %w", err)
	}
	ref, _ := envs.Distribution("reference", alts, nil)
	return &envs.TruthBase{Env: c.Kind, Alternatives: alts, Types: pop.Names, Weights: pop.Weights, Rewards: rewards,
		Sampling: samp, Reference: ref, Beta: c.Beta, Model: s.Model, Temperature: s.Temperature}, nil
}
