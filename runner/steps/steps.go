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
	"sort"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/envs/survey"
	"hetalign/methods/tabular"
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
}

// NewTruthParams resolves a cell's environment. A survey cell reads its
// data file here, at planning time, so that the counts enter the key.
func NewTruthParams(c *spec.Config) (*TruthParams, error) {
	switch c.Env.Kind {
	case "analytic":
		return analyticParams(c)
	case "survey":
		return surveyParams(c)
	}
	return nil, fmt.Errorf("env kind %q is not supported", c.Env.Kind)
}

func typeNames(c *spec.Config) []string {
	names := make([]string, 0, len(c.Population.Types))
	for n := range c.Population.Types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
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
	names := typeNames(c)
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
	names := typeNames(c)
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
}

// TrainParams describes a train step: the method's own resolved settings
// (its name in the spec is not part of it, so equal methods share a step).
type TrainParams struct {
	Kind  string   `json:"kind"`
	Beta  *float64 `json:"beta,omitempty"`
	Tau   *float64 `json:"tau,omitempty"`
	Types int      `json:"types,omitempty"`
}

// NewTrainParams resolves a method of a cell.
func NewTrainParams(c *spec.Config, m spec.MethodConfig) TrainParams {
	p := TrainParams{Kind: m.Kind, Beta: m.Beta, Tau: m.Tau}
	if m.Kind == "consistent" {
		p.Types = len(c.Population.Types)
	}
	return p
}

// EvalParams lists the metrics an eval step computes.
type EvalParams struct {
	Metrics []string `json:"metrics"`
}

// Run executes one step. inputs are the outputs of the step's inputs, in
// the order the planner lists them: dataset ← [truth]; train ← [truth,
// dataset] (oracle: [truth]); eval ← [truth] or [truth, train]; report ←
// the evaluations. seed seeds any random numbers the step draws.
func Run(ctx context.Context, kind string, params []byte, seed uint64, inputs [][]byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch kind {
	case Truth:
		var p TruthParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("truth params: %w", err)
		}
		t, err := p.AnalyticEnv().ComputeTruth()
		if err != nil {
			return nil, err
		}
		return json.Marshal(t)
	case Dataset:
		var p DatasetParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("dataset params: %w", err)
		}
		t, err := truthInput(inputs)
		if err != nil {
			return nil, err
		}
		var ds *analytic.Dataset
		if p.Pairs == 0 {
			ds, err = t.Env().PopulationDataset(p.Regime)
		} else {
			ds, err = t.Env().Sample(p.Regime, p.Pairs, seed)
		}
		if err != nil {
			return nil, err
		}
		return json.Marshal(ds)
	case Train:
		var p TrainParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("train params: %w", err)
		}
		return train(p, inputs)
	case Eval:
		var p EvalParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("eval params: %w", err)
		}
		t, err := truthInput(inputs)
		if err != nil {
			return nil, err
		}
		if len(inputs) == 1 {
			vals, err := metrics.ComputeTruth(t, p.Metrics)
			if err != nil {
				return nil, err
			}
			return json.Marshal(vals)
		}
		var m metrics.Trained
		if err := json.Unmarshal(inputs[1], &m); err != nil {
			return nil, fmt.Errorf("reading trained policy: %w", err)
		}
		vals, err := metrics.ComputeMethod(t, &m, p.Metrics)
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

func truthInput(inputs [][]byte) (*analytic.Truth, error) {
	if len(inputs) == 0 {
		return nil, fmt.Errorf("step has no truth input")
	}
	t := new(analytic.Truth)
	if err := json.Unmarshal(inputs[0], t); err != nil {
		return nil, fmt.Errorf("reading truth: %w", err)
	}
	return t, nil
}

func train(p TrainParams, inputs [][]byte) ([]byte, error) {
	t, err := truthInput(inputs)
	if err != nil {
		return nil, err
	}
	if p.Kind == "oracle" {
		theta := make([]float64, len(t.AvgReward))
		var mean float64
		for i, r := range t.AvgReward {
			theta[i] = r / t.Beta
			mean += theta[i] / float64(len(theta))
		}
		for i := range theta {
			theta[i] -= mean
		}
		return json.Marshal(metrics.Trained{Policy: t.PiStar, LogRatio: theta})
	}
	if len(inputs) < 2 {
		return nil, fmt.Errorf("%s needs a dataset input", p.Kind)
	}
	ds := new(analytic.Dataset)
	if err := json.Unmarshal(inputs[1], ds); err != nil {
		return nil, fmt.Errorf("reading dataset: %w", err)
	}
	cfg := tabular.Config{Kind: p.Kind, Types: p.Types}
	if p.Beta != nil {
		cfg.Beta = *p.Beta
	}
	if p.Tau != nil {
		cfg.Tau = *p.Tau
	}
	res, err := tabular.Fit(ds, t.Reference, cfg)
	if err != nil {
		return nil, err
	}
	used := res.DataUsed
	return json.Marshal(metrics.Trained{Policy: res.Policy, LogRatio: res.LogRatio, DataUsed: &used})
}
