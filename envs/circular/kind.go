package circular

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

//go:embed kind.cue
var kindCUE string

func init() {
	envs.Register(envs.Kind{
		Name:    "circular",
		Doc:     "n prompts and n responses on a circle (Section 7.2): type u's reward R_u of the circular distance to (x + shift_u) mod n; exact per prompt, reported along δ = y − x",
		CUE:     kindCUE,
		CUEFile: "hetalign/envs/circular/kind.cue",
		Regimes: []string{analytic.Anonymous, analytic.Full, analytic.Consensus, analytic.Typed, analytic.Paired, envs.Annotated},
		Metrics: analytic.WorldMetrics,
		New:     func() envs.Config { return new(Config) },
		Build:   build,
	})
}

// Config is the circular environment's env value.
type Config struct {
	Kind string  `json:"kind"`
	Beta float64 `json:"beta"`
	N    int     `json:"n"`
}

type typeConfig struct {
	Shift  int             `json:"shift"`
	Scale  float64         `json:"scale"`
	Decay  float64         `json:"decay"`
	Shape  string          `json:"shape"`
	Reward json.RawMessage `json:"reward"`
	Codes  json.RawMessage `json:"codes"`
}

func decodeType(t envs.Type) (typeConfig, error) {
	var tc typeConfig
	if err := envs.DecodeStrict(t.Raw, &tc); err != nil {
		return tc, fmt.Errorf("type %s: %w", t.Name, err)
	}
	if tc.Scale == 0 {
		tc.Scale = 1
	}
	if tc.Shape == "" {
		tc.Shape = Linear
	}
	return tc, nil
}

// Defaults: β = 1 (types default to scale 1 and the linear shape).
func (c *Config) Defaults(envs.Setting) {
	if c.Beta == 0 {
		c.Beta = 1
	}
}

// Alternatives are the δ labels of the 1-D view.
func (c *Config) Alternatives() []string { return (&Env{N: c.N}).Labels() }

// DataFiles: none.
func (c *Config) DataFiles(string) []string { return nil }

// Check: rewards come from the circle, so no reward table or codes, and
// every type decays.
func (c *Config) Check(s envs.Setting) []envs.Problem {
	var ps []envs.Problem
	for _, t := range s.Types {
		tc, err := decodeType(t)
		if err != nil {
			ps = append(ps, envs.Problemf("population.types."+t.Name, "%v", err))
			continue
		}
		if tc.Reward != nil || tc.Codes != nil {
			ps = append(ps, envs.Problemf("population.types."+t.Name, "a circular env computes rewards from shift, scale, decay and shape; remove reward and codes"))
		}
		if !(tc.Decay > 0) {
			ps = append(ps, envs.Problemf("population.types."+t.Name, "type %s needs decay > 0 on a circular env", t.Name))
		}
	}
	return ps
}

// CircleType is one type of the circle in the truth parameters.
type CircleType struct {
	Shift int     `json:"shift"`
	Scale float64 `json:"scale"`
	Decay float64 `json:"decay"`
	Shape string  `json:"shape"`
}

// TruthParams are a circular cell's truth parameters: the base (uniform D,
// π_ref and prior) with the number of points and each type's circle.
type TruthParams struct {
	envs.TruthBase
	N      int          `json:"n,omitempty"`
	Circle []CircleType `json:"circle,omitempty"`
}

// Truth resolves the circle.
func (c *Config) Truth(s envs.Setting) (any, error) {
	pop, err := envs.NormalisedWeights(s.Types)
	if err != nil {
		return nil, err
	}
	p := &TruthParams{N: c.N}
	for _, t := range s.Types {
		tc, err := decodeType(t)
		if err != nil {
			return nil, err
		}
		p.Circle = append(p.Circle, CircleType{Shift: tc.Shift, Scale: tc.Scale, Decay: tc.Decay, Shape: tc.Shape})
	}
	u := make([]float64, c.N)
	for i := range u {
		u[i] = 1 / float64(c.N)
	}
	p.TruthBase = envs.TruthBase{Env: c.Kind, Types: pop.Names, Weights: pop.Weights, Sampling: u, Reference: u,
		Beta: c.Beta, Model: s.Model, Temperature: s.Temperature}
	return p, nil
}

// build is the truth step: the exact truth of every prompt.
func build(params []byte) (any, error) {
	var p TruthParams
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("truth params: %w", err)
	}
	e := &Env{N: p.N, Weights: p.Weights, Prior: p.Reference, Reference: p.Reference, Sampling: p.Sampling,
		Beta: p.Beta, Preference: envs.Preference{Temperature: p.Temperature}}
	for i, t := range p.Circle {
		e.Types = append(e.Types, Type{Name: p.Types[i], Shift: t.Shift, Scale: t.Scale, Decay: t.Decay, Shape: t.Shape})
	}
	return e.World()
}
