package analytic

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"hetalign/envs"
)

//go:embed kind.cue
var kindCUE string

// Regimes every World of finite alternatives can sample (data.go).
var worldRegimes = []string{Anonymous, Full, Consensus, Typed, Paired, envs.Annotated}

func init() {
	envs.Register(envs.Kind{
		Name:    "analytic",
		Doc:     "explicit reward tables r*(y; u) over a finite set of alternatives (Section 4.3, Appendix A); π* (Eq. 10), NBC (Eq. 13) and every regime's pair statistics exact",
		CUE:     kindCUE,
		CUEFile: "hetalign/envs/analytic/kind.cue",
		Regimes: worldRegimes,
		Metrics: WorldMetrics,
		New:     func() envs.Config { return new(Config) },
		Build:   BuildParams,
	})
	envs.RegisterWorld(envs.WorldCodec{
		Name: "",
		Decode: func(b []byte) (any, error) {
			w := new(World)
			if err := json.Unmarshal(b, w); err != nil {
				return nil, err
			}
			if len(w.Prompts) == 0 || len(w.Prior) != len(w.Prompts) {
				return nil, fmt.Errorf("truth has %d prompts and a prior of %d", len(w.Prompts), len(w.Prior))
			}
			return w, nil
		},
		Sample: func(world any, d envs.DataSpec, seed uint64) (any, error) {
			w := world.(*World)
			// Observed comparisons give the regimes a row can: one
			// annotator's label. Consensus data come from the fitted types.
			if w.Observed != nil && d.Regime != Consensus {
				if len(w.Prompts) != 1 {
					return nil, fmt.Errorf("observed comparisons need a world of one prompt, not %d", len(w.Prompts))
				}
				t := w.Prompts[0]
				return w.Observed.Data(d.Regime, d.Pairs, seed, len(t.Alternatives), len(t.Types))
			}
			if d.Regime == envs.Annotated {
				if d.Annotators == 0 {
					return w.PopulationAnnotated(d.Per)
				}
				return w.SampleAnnotated(d.Annotators, d.Per, seed)
			}
			if d.Pairs == 0 {
				return w.PopulationData(d.Regime)
			}
			return w.Sample(d.Regime, d.Pairs, seed)
		},
		DecodeData: func(b []byte) (any, error) {
			d := new(Data)
			if err := json.Unmarshal(b, d); err != nil {
				return nil, err
			}
			return d, nil
		},
	})
}

// WorldMetrics are the metrics that make sense on a World of finite
// alternatives (the analytic, survey and circular environments).
var WorldMetrics = []string{"avg_reward", "nbc", "pi_star", "policy", "log_ratio", "top", "ranking", "tv", "kl",
	"min_type_reward", "type_recovery", "log_likelihood", "latent_types",
	"borda_winner", "copeland_winner", "condorcet_winner", "condorcet_exists", "maximal_lottery", "welfare", "top_is_avg_winner", "top_is_borda_winner", "top_is_condorcet", "tv_maximal_lottery", "distortion",
	"agreement", "data_used", "policy_se", "argmax", "reward", "type_weights", "avg_ranking", "nbc_ranking",
	"nbc_agrees", "flip_tv", "flip_pair", "flip_pairs", "flip_q", "top_flip_tv", "can_flip", "top_can_flip"}

// MaxReward bounds |r*(y; u)|: beyond 2^53 ≈ 9e15, float64 no longer
// resolves differences of order 1, and sums of rewards near 1e308 overflow.
const MaxReward = 1e15

// Config is the analytic environment's env value.
type Config struct {
	Kind      string             `json:"kind"`
	Beta      float64            `json:"beta"`
	List      []string           `json:"alternatives"`
	Sampling  map[string]float64 `json:"sampling,omitempty"`
	Reference map[string]float64 `json:"reference,omitempty"`
}

// typeConfig is a type's analytic fields (codes only to say they do not
// belong here).
type typeConfig struct {
	Reward map[string]float64 `json:"reward"`
	Codes  json.RawMessage    `json:"codes"`
}

// Defaults sets β = 1 when unset.
func (c *Config) Defaults(envs.Setting) {
	if c.Beta == 0 {
		c.Beta = 1
	}
}

// Alternatives are env.alternatives.
func (c *Config) Alternatives() []string { return c.List }

// DataFiles: none.
func (c *Config) DataFiles(string) []string { return nil }

// Check: alternatives listed once, a reward for each alternative and for
// no other, sampling and reference over exactly the alternatives.
func (c *Config) Check(s envs.Setting) []envs.Problem {
	var ps []envs.Problem
	isAlt := map[string]bool{}
	for i, a := range c.List {
		if isAlt[a] {
			ps = append(ps, envs.Problemf(fmt.Sprintf("env.alternatives[%d]", i), "alternative %q is listed twice", a))
		}
		isAlt[a] = true
	}
	altList := strings.Join(c.List, ", ")
	for _, t := range s.Types {
		var tc typeConfig
		if err := envs.DecodeStrict(t.Raw, &tc); err != nil {
			ps = append(ps, envs.Problemf("population.types."+t.Name, "%v", err))
			continue
		}
		base := fmt.Sprintf("population.types.%s.reward", t.Name)
		if tc.Codes != nil {
			ps = append(ps, envs.Problemf(fmt.Sprintf("population.types.%s.codes", t.Name), "codes are for env kind \"survey\"; an analytic env needs reward"))
		}
		for _, a := range c.List {
			r, ok := tc.Reward[a]
			if !ok {
				ps = append(ps, envs.Problemf(base, "type %s has no reward for alternative %q", t.Name, a))
			} else if math.Abs(r) > MaxReward {
				ps = append(ps, envs.Problemf(base+"."+envs.QuoteLabel(a), "reward %g is beyond ±%g: differences of order 1 are lost in float64 arithmetic and the exact truth overflows", r, MaxReward))
			}
		}
		for _, k := range envs.SortedKeys(tc.Reward) {
			if !isAlt[k] {
				ps = append(ps, envs.Problemf(base+"."+envs.QuoteLabel(k), "%q is not an alternative (alternatives: %s)", k, altList))
			}
		}
	}
	ps = append(ps, envs.CheckWeights("env.sampling", c.Sampling, c.List)...)
	return append(ps, envs.CheckWeights("env.reference", c.Reference, c.List)...)
}

// Truth resolves the reward table, D and π_ref as vectors aligned with the
// alternatives.
func (c *Config) Truth(s envs.Setting) (any, error) {
	pop, err := envs.NormalisedWeights(s.Types)
	if err != nil {
		return nil, err
	}
	rewards := make([][]float64, len(s.Types))
	for i, t := range s.Types {
		var tc typeConfig
		if err := envs.DecodeStrict(t.Raw, &tc); err != nil {
			return nil, fmt.Errorf("type %s: %w", t.Name, err)
		}
		rewards[i] = make([]float64, len(c.List))
		for j, a := range c.List {
			r, ok := tc.Reward[a]
			if !ok {
				return nil, fmt.Errorf("type %s has no reward for %q", t.Name, a)
			}
			rewards[i][j] = r
		}
	}
	samp, err := envs.Distribution("sampling", c.List, c.Sampling)
	if err != nil {
		return nil, err
	}
	ref, err := envs.Distribution("reference", c.List, c.Reference)
	if err != nil {
		return nil, err
	}
	return &envs.TruthBase{Env: c.Kind, Alternatives: c.List, Types: pop.Names, Weights: pop.Weights,
		Rewards: rewards, Sampling: samp, Reference: ref, Beta: c.Beta, Model: s.Model, Temperature: s.Temperature}, nil
}

// EnvOf builds the environment a truth step's base parameters describe.
func EnvOf(p *envs.TruthBase) *Env {
	return &Env{
		Alternatives: p.Alternatives,
		Population:   envs.Population{Names: p.Types, Weights: p.Weights},
		Rewards:      p.Rewards,
		Sampling:     p.Sampling,
		Reference:    p.Reference,
		Beta:         p.Beta,
		Preference:   envs.Preference{Temperature: p.Temperature},
	}
}

// BuildParams is the truth step of a one-prompt World given by a reward
// table (the analytic and survey environments): π*, NBC and the
// preference matrices, exact.
func BuildParams(params []byte) (any, error) {
	var p envs.TruthBase
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("truth params: %w", err)
	}
	t, err := EnvOf(&p).ComputeTruth()
	if err != nil {
		return nil, err
	}
	return Single(t), nil
}
