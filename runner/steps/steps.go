// Package steps holds the parameters of each step kind and the code that
// runs one: it connects a step to envs (truth, dataset), methods (train),
// metrics (eval) and reports (report). Every step reads its inputs' bytes
// and returns its output's bytes; it never touches the cache.
package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/envs/circular"
	"hetalign/envs/survey"
	"hetalign/metrics"
	"hetalign/reports"
	"hetalign/runner/spec"
)

// Step kinds, in data-flow order.
const (
	Truth   = "truth"
	Dataset = "dataset"
	Train   = "train"
	Eval    = "eval"
	Report  = "report"
)

// TruthParams is the fully resolved environment of a truth step: vectors
// are aligned with Alternatives; weights, sampling and reference are
// normalised (so equivalent specs share the step).
type TruthParams struct {
	Env          string      `json:"env"`
	Alternatives []string    `json:"alternatives"`
	Types        []string    `json:"types"`
	Weights      []float64   `json:"weights"`
	Rewards      [][]float64 `json:"rewards"`
	Sampling     []float64   `json:"sampling"`
	Reference    []float64   `json:"reference"`
	Beta         float64     `json:"beta"`
	Model        string      `json:"model"`
	Temperature  float64     `json:"temperature"`
	// Survey cells: the question and the weighted answer counts per type
	// the rewards were estimated from (so a changed file changes the key).
	Question string      `json:"question,omitempty"`
	Counts   [][]float64 `json:"counts,omitempty"`
	// Circle cells (env "circular"): the number of points and each type's
	// ideal-point shift and decay of R_u; vectors above are then empty but
	// Weights, Sampling and Reference (over responses).
	N      int          `json:"n,omitempty"`
	Circle []CircleType `json:"circle,omitempty"`
	// Sequence cells (env "sequence").
	Sequence *SequenceParams `json:"sequence,omitempty"`
}

// CircleType is one type of the circular environment.
type CircleType struct {
	Shift int     `json:"shift"`
	Scale float64 `json:"scale"`
	Decay float64 `json:"decay"`
	Shape string  `json:"shape"`
}

// NewTruthParams resolves a cell's environment. A survey cell reads its
// data file here, at planning time, so that the counts enter the key.
func NewTruthParams(c *spec.Config) (*TruthParams, error) {
	switch c.Env.Kind {
	case "analytic":
		return analyticParams(c)
	case "survey":
		return surveyParams(c)
	case "circular":
		return circleParams(c)
	case "sequence":
		return sequenceParams(c)
	}
	return nil, fmt.Errorf("env kind %q is not supported", c.Env.Kind)
}

// distribution normalises weights keyed by alternative (uniform when nil).
func distribution(field string, alts []string, m map[string]float64) ([]float64, error) {
	v := make([]float64, len(alts))
	for j, a := range alts {
		v[j] = 1
		if m != nil {
			v[j] = m[a]
		}
	}
	out, err := envs.Normalise(v)
	if err != nil {
		return nil, fmt.Errorf("env.%s: %w", field, err)
	}
	return out, nil
}

func analyticParams(c *spec.Config) (*TruthParams, error) {
	names := c.TypeNames()
	raw := make([]float64, len(names))
	rewards := make([][]float64, len(names))
	for i, n := range names {
		t := c.Population.Types[n]
		raw[i] = t.Weight
		rewards[i] = make([]float64, len(c.Env.Alternatives))
		for j, a := range c.Env.Alternatives {
			r, ok := t.Reward[a]
			if !ok {
				return nil, fmt.Errorf("type %s has no reward for %q", n, a)
			}
			rewards[i][j] = r
		}
	}
	pop, err := envs.NewPopulation(names, raw)
	if err != nil {
		return nil, err
	}
	samp, err := distribution("sampling", c.Env.Alternatives, c.Env.Sampling)
	if err != nil {
		return nil, err
	}
	ref, err := distribution("reference", c.Env.Alternatives, c.Env.Reference)
	if err != nil {
		return nil, err
	}
	return &TruthParams{
		Env: c.Env.Kind, Alternatives: c.Env.Alternatives, Types: pop.Names, Weights: pop.Weights,
		Rewards: rewards, Sampling: samp, Reference: ref, Beta: c.Env.Beta,
		Model: c.Preference.Model, Temperature: c.Preference.Temperature,
	}, nil
}

func surveyParams(c *spec.Config) (*TruthParams, error) {
	q, ok := c.Env.Questions[c.Env.Question]
	if !ok {
		return nil, fmt.Errorf("question %q is not in env.questions", c.Env.Question)
	}
	path := c.Env.File
	if !filepath.IsAbs(path) {
		path = filepath.Join(c.Dir, path)
	}
	src := survey.Source{Path: path, Group: c.Env.Group, Weight: c.Env.Weight, Question: c.Env.Question, Missing: c.Env.Missing}
	names := c.TypeNames()
	for _, n := range names {
		t := survey.Type{Name: n}
		for _, code := range c.Population.Types[n].Codes {
			t.Codes = append(t.Codes, fmt.Sprint(code))
		}
		src.Types = append(src.Types, t)
	}
	for _, o := range q.Options {
		src.Options = append(src.Options, survey.Option{Code: fmt.Sprint(o[0]), Label: fmt.Sprint(o[1])})
	}
	for _, d := range q.Drop {
		src.Drop = append(src.Drop, fmt.Sprint(d))
	}
	var counts *survey.Counts
	var err error
	if c.Env.Format == "shares" {
		sc := c.Env.Shares
		counts, err = survey.ReadShares(src, survey.SharesColumns{Question: sc.Question, Option: sc.Option, Value: sc.Value})
		if err == nil {
			raw := make([]float64, len(names))
			for i, n := range names {
				raw[i] = c.Population.Types[n].Weight
			}
			counts.Shares, err = envs.Normalise(raw)
		}
	} else {
		counts, err = survey.Read(src)
	}
	if err != nil {
		return nil, err
	}
	sm := survey.Smoothing{Published: c.Env.Rewards.Smoothing == "published", PseudoCount: c.Env.Rewards.PseudoCount}
	rewards, err := counts.Rewards(sm)
	if err != nil {
		return nil, err
	}
	alts := q.Labels()
	samp, err := distribution("sampling", alts, c.Env.Sampling)
	if err != nil {
		return nil, err
	}
	ref, _ := distribution("reference", alts, nil)
	return &TruthParams{
		Env: c.Env.Kind, Alternatives: alts, Types: names, Weights: counts.Shares,
		Rewards: rewards, Sampling: samp, Reference: ref, Beta: c.Env.Beta,
		Model: c.Preference.Model, Temperature: c.Preference.Temperature,
		Question: c.Env.Question, Counts: counts.N,
	}, nil
}

func circleParams(c *spec.Config) (*TruthParams, error) {
	names := c.TypeNames()
	raw := make([]float64, len(names))
	var types []CircleType
	for i, n := range names {
		t := c.Population.Types[n]
		raw[i] = t.Weight
		types = append(types, CircleType{Shift: t.Shift, Scale: t.Scale, Decay: t.Decay, Shape: t.Shape})
	}
	pop, err := envs.NewPopulation(names, raw)
	if err != nil {
		return nil, err
	}
	u := make([]float64, c.Env.N)
	for i := range u {
		u[i] = 1 / float64(c.Env.N)
	}
	return &TruthParams{Env: c.Env.Kind, Types: pop.Names, Weights: pop.Weights, Sampling: u, Reference: u,
		Beta: c.Env.Beta, Model: c.Preference.Model, Temperature: c.Preference.Temperature, N: c.Env.N, Circle: types}, nil
}

// World computes the exact truth the parameters describe.
func (p *TruthParams) World() (*analytic.World, error) {
	if p.Env == "circular" {
		e := &circular.Env{N: p.N, Weights: p.Weights, Prior: p.Reference, Reference: p.Reference, Sampling: p.Sampling,
			Beta: p.Beta, Preference: envs.Preference{Temperature: p.Temperature}}
		for i, t := range p.Circle {
			e.Types = append(e.Types, circular.Type{Name: p.Types[i], Shift: t.Shift, Scale: t.Scale, Decay: t.Decay, Shape: t.Shape})
		}
		return e.World()
	}
	t, err := p.AnalyticEnv().ComputeTruth()
	if err != nil {
		return nil, err
	}
	return analytic.Single(t), nil
}

// AnalyticEnv builds the environment the parameters describe.
func (p *TruthParams) AnalyticEnv() *analytic.Env {
	return &analytic.Env{
		Alternatives: p.Alternatives,
		Population:   envs.Population{Names: p.Types, Weights: p.Weights},
		Rewards:      p.Rewards,
		Sampling:     p.Sampling,
		Reference:    p.Reference,
		Beta:         p.Beta,
		Preference:   envs.Preference{Temperature: p.Temperature},
	}
}

// DatasetParams describes a dataset step. Seed is the cell's seed and is
// present only for sampled datasets (Pairs > 0): exact datasets are shared
// by every seed.
type DatasetParams struct {
	Regime string `json:"regime"`
	Pairs  int    `json:"pairs"`
	Seed   *int   `json:"seed,omitempty"`
	// Env is set for environments whose truth is not an analytic World
	// ("sequence").
	Env string `json:"env,omitempty"`
}

// TrainParams describes a train step: the method's own resolved settings
// (its name in the spec is not part of it, so equal methods share a step).
type TrainParams struct {
	Kind  string   `json:"kind"`
	Beta  *float64 `json:"beta,omitempty"`
	Tau   *float64 `json:"tau,omitempty"`
	Types int      `json:"types,omitempty"`
	L2    float64  `json:"l2,omitempty"`
	// Corrected DPO: the correction's strength and clamp, where V comes
	// from, and the joint model's size and training.
	Alpha      *float64              `json:"alpha,omitempty"`
	Clamp      float64               `json:"clamp,omitempty"`
	Variance   string                `json:"variance,omitempty"`
	Components int                   `json:"components,omitempty"`
	Joint      *spec.OptimizerConfig `json:"joint,omitempty"`
	Warm       *int                  `json:"warm,omitempty"`
	// SGD fits (GoMLX): the network, Adam's settings, and the cell's seed
	// (initial weights and minibatches differ from seed to seed).
	Model     *spec.ModelConfig     `json:"model,omitempty"`
	Optimizer *spec.OptimizerConfig `json:"optimizer,omitempty"`
	Seed      *int                  `json:"seed,omitempty"`
	// Sequence DPO: the reference policy and its pre-training.
	Reference string                `json:"reference,omitempty"`
	Pretrain  *spec.OptimizerConfig `json:"pretrain,omitempty"`
}

// SGD reports whether the step trains on GoMLX (its key then names the
// backend).
func (p TrainParams) SGD() bool { return p.Optimizer != nil || p.Variance == "joint" }

// NewTrainParams resolves a method of a cell with seed.
func NewTrainParams(c *spec.Config, m spec.MethodConfig, seed int) TrainParams {
	p := TrainParams{Kind: m.Kind, Beta: m.Beta, Tau: m.Tau, L2: m.L2, Model: m.Model, Optimizer: m.Optimizer,
		Alpha: m.Alpha, Clamp: m.Clamp, Variance: m.Variance, Components: m.Components, Joint: m.Joint, Warm: m.Warm,
		Reference: m.Reference, Pretrain: m.Pretrain}
	if m.SGD() {
		p.Seed = &seed
	}
	if m.Kind == "consistent" || m.Kind == "consistent-integral" || m.Kind == "consistent-reward" {
		p.Types = len(c.Population.Types)
	}
	return p
}

// EvalParams lists the metrics an eval step computes.
type EvalParams struct {
	Metrics []string `json:"metrics"`
	// Env as in DatasetParams.
	Env string `json:"env,omitempty"`
}

// Options carry what a step needs besides its parameters.
type Options struct {
	// Backend is the GoMLX backend configuration for SGD steps ("go" or
	// empty: the pure-Go backend, one per step).
	Backend string
	// Open, when set, returns the backend to use for any other
	// configuration: the runner opens an XLA backend (a GPU client) once
	// per run and shares it.
	Open func() (backends.Backend, error)
}

// Run executes one step. inputs are the outputs of the step's inputs, in
// the order the planner lists them: dataset ← [truth]; train ← [truth,
// dataset] (oracle: [truth]); eval ← [truth] or [truth, train]; report ←
// the evaluations. seed seeds any random numbers the step draws.
func Run(ctx context.Context, kind string, params []byte, seed uint64, inputs [][]byte, opts Options) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch kind {
	case Truth:
		var p TruthParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("truth params: %w", err)
		}
		if p.Sequence != nil {
			w, err := p.sequenceWorld()
			if err != nil {
				return nil, err
			}
			return json.Marshal(w)
		}
		w, err := p.World()
		if err != nil {
			return nil, err
		}
		return json.Marshal(w)
	case Dataset:
		var p DatasetParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("dataset params: %w", err)
		}
		if p.Env == "sequence" {
			w, err := sequenceInput(inputs)
			if err != nil {
				return nil, err
			}
			d, err := w.Sample(p.Regime, p.Pairs, seed)
			if err != nil {
				return nil, err
			}
			return json.Marshal(d)
		}
		w, err := worldInput(inputs)
		if err != nil {
			return nil, err
		}
		var d *analytic.Data
		if p.Pairs == 0 {
			d, err = w.PopulationData(p.Regime)
		} else {
			d, err = w.Sample(p.Regime, p.Pairs, seed)
		}
		if err != nil {
			return nil, err
		}
		return json.Marshal(d)
	case Train:
		var p TrainParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("train params: %w", err)
		}
		if p.Model != nil && p.Model.Kind == "transformer" {
			return trainSequence(p, inputs, seed, opts)
		}
		return train(p, inputs, seed, opts)
	case Eval:
		var p EvalParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("eval params: %w", err)
		}
		if p.Env == "sequence" {
			return evalSequence(p, inputs)
		}
		w, err := worldInput(inputs)
		if err != nil {
			return nil, err
		}
		if len(inputs) == 1 {
			vals, err := metrics.ComputeTruth(w, p.Metrics)
			if err != nil {
				return nil, err
			}
			return json.Marshal(vals)
		}
		var m metrics.Trained
		if err := json.Unmarshal(inputs[1], &m); err != nil {
			return nil, fmt.Errorf("reading trained policy: %w", err)
		}
		vals, err := metrics.ComputeMethod(w, &m, p.Metrics)
		if err != nil {
			return nil, err
		}
		return json.Marshal(vals)
	case Report:
		var l reports.Layout
		if err := json.Unmarshal(params, &l); err != nil {
			return nil, fmt.Errorf("report params: %w", err)
		}
		r, err := reports.Build(l, inputs)
		if err != nil {
			return nil, err
		}
		return r.Marshal()
	}
	return nil, fmt.Errorf("unknown step kind %q", kind)
}
