// Package random is the environment of populations drawn at random (issue
// "which aggregation rule does each alignment method implement"): finite
// alternatives, the named types' rewards and weights drawn from the laws
// the spec names, one population per instance; every analytic feature
// (D, π_ref, β, the temperature) then applies.
package random

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

//go:embed kind.cue
var kindCUE string

func init() {
	envs.Register(envs.Kind{
		Name:    "random",
		Doc:     "a population drawn at random per env.instance: n alternatives; rewards i.i.d. normal or uniform, or Mallows rankings scored by Borda; weights equal, Dirichlet or from the spec; uniform D and π_ref",
		CUE:     kindCUE,
		CUEFile: "hetalign/envs/random/kind.cue",
		Regimes: []string{analytic.Anonymous, analytic.Full, analytic.Consensus, analytic.Typed, analytic.Paired, envs.Annotated},
		Metrics: analytic.WorldMetrics,
		New:     func() envs.Config { return new(Config) },
		Build:   analytic.BuildParams,
	})
}

// Config is the random environment's env value.
type Config struct {
	Kind          string        `json:"kind"`
	Beta          float64       `json:"beta"`
	N             int           `json:"alternatives"`
	Instance      int           `json:"instance"`
	Rewards       *RewardConfig `json:"rewards,omitempty"`
	Weights       string        `json:"weights,omitempty"`
	Concentration float64       `json:"concentration,omitempty"`
}

// RewardConfig is the reward law.
type RewardConfig struct {
	Law        string  `json:"law,omitempty"`
	Scale      float64 `json:"scale,omitempty"`
	Dispersion float64 `json:"dispersion,omitempty"`
}

// Defaults: β = 1, normal rewards of scale 1, Mallows dispersion ½, equal
// weights, concentration 1.
func (c *Config) Defaults(envs.Setting) {
	if c.Beta == 0 {
		c.Beta = 1
	}
	if c.Rewards == nil {
		c.Rewards = &RewardConfig{}
	}
	if c.Rewards.Law == "" {
		c.Rewards.Law = "normal"
	}
	if c.Rewards.Scale == 0 {
		c.Rewards.Scale = 1
	}
	if c.Rewards.Dispersion == 0 {
		c.Rewards.Dispersion = 0.5
	}
	if c.Weights == "" {
		c.Weights = "equal"
	}
	if c.Concentration == 0 {
		c.Concentration = 1
	}
}

// Alternatives are y1 … yn.
func (c *Config) Alternatives() []string {
	out := make([]string, c.N)
	for i := range out {
		out[i] = fmt.Sprintf("y%d", i+1)
	}
	return out
}

// DataFiles: none.
func (c *Config) DataFiles(string) []string { return nil }

type typeConfig struct {
	Reward json.RawMessage `json:"reward"`
}

// Check: types carry no reward (it is drawn).
func (c *Config) Check(s envs.Setting) []envs.Problem {
	var ps []envs.Problem
	for _, t := range s.Types {
		var tc typeConfig
		if err := envs.DecodeStrict(t.Raw, &tc); err != nil {
			ps = append(ps, envs.Problemf("population.types."+t.Name, "%v", err))
			continue
		}
		if tc.Reward != nil {
			ps = append(ps, envs.Problemf("population.types."+t.Name+".reward", "a random env draws the rewards; remove reward"))
		}
	}
	return ps
}

// Truth draws the population of the instance: a stream seeded by the
// instance draws the weights, then each type's rewards, in type order.
func (c *Config) Truth(s envs.Setting) (any, error) {
	seed := uint64(c.Instance)
	rng := rand.New(rand.NewPCG(seed, 0x6a09e667f3bcc909))
	k, n := len(s.Types), c.N
	names := make([]string, k)
	for i, t := range s.Types {
		names[i] = t.Name
	}
	weights := make([]float64, k)
	switch c.Weights {
	case "equal":
		for i := range weights {
			weights[i] = 1
		}
	case "spec":
		for i, t := range s.Types {
			weights[i] = t.Weight
		}
	case "dirichlet":
		for i := range weights {
			weights[i] = gamma(rng, c.Concentration)
		}
	default:
		return nil, fmt.Errorf("weights law %q is not equal, dirichlet or spec", c.Weights)
	}
	weights, err := envs.Normalise(weights)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	rewards := make([][]float64, k)
	for u := range rewards {
		r := make([]float64, n)
		switch c.Rewards.Law {
		case "normal":
			for y := range r {
				r[y] = c.Rewards.Scale * rng.NormFloat64()
			}
		case "uniform":
			for y := range r {
				r[y] = c.Rewards.Scale * (2*rng.Float64() - 1)
			}
		case "mallows":
			for pos, y := range mallows(rng, n, c.Rewards.Dispersion) {
				r[y] = c.Rewards.Scale * float64(n-1-pos)
			}
		default:
			return nil, fmt.Errorf("reward law %q is not normal, uniform or mallows", c.Rewards.Law)
		}
		rewards[u] = r
	}
	alts := c.Alternatives()
	u, _ := envs.Distribution("sampling", alts, nil)
	return &envs.TruthBase{Env: c.Kind, Alternatives: alts, Types: names, Weights: weights, Rewards: rewards,
		Sampling: u, Reference: u, Beta: c.Beta, Model: s.Model, Temperature: s.Temperature}, nil
}

// mallows draws a ranking (alternatives best first) from Mallows' model
// around 0, 1, …, n−1 with dispersion φ, P(σ) ∝ φ^{inversions(σ)}, by the
// repeated insertion method: item i goes to position j ≤ i with
// probability ∝ φ^{i−j}.
func mallows(rng *rand.Rand, n int, phi float64) []int {
	var out []int
	for i := range n {
		// Weights φ^{i−j} for j = 0 … i.
		var z float64
		w := make([]float64, i+1)
		for j := range w {
			w[j] = math.Pow(phi, float64(i-j))
			z += w[j]
		}
		u := rng.Float64() * z
		j := 0
		for ; j < i && u >= w[j]; j++ {
			u -= w[j]
		}
		out = append(out, 0)
		copy(out[j+1:], out[j:])
		out[j] = i
	}
	return out
}

// gamma draws Gamma(a, 1) by Marsaglia and Tsang's method (a < 1 boosted
// by U^{1/a}).
func gamma(rng *rand.Rand, a float64) float64 {
	if a < 1 {
		return gamma(rng, a+1) * math.Pow(rng.Float64(), 1/a)
	}
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
