package comparisons

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
		Name:    "comparisons",
		Doc:     "real paired comparisons with annotator covariates (a long file, one row per annotator and pair): types by conditions on covariates, per-type Bradley–Terry maximum-likelihood rewards (Eq. 8), type weights the types' shares of annotators; datasets are the rows (pairs: 0 every row, pairs: N a bootstrap of annotators by seed)",
		CUE:     kindCUE,
		CUEFile: "hetalign/envs/comparisons/kind.cue",
		Regimes: []string{analytic.Anonymous, analytic.Typed, envs.Annotated, analytic.Consensus},
		Metrics: analytic.WorldMetrics,
		New:     func() envs.Config { return new(Config) },
		Build:   Build,
	})
}

// Config is the comparisons environment's env value.
type Config struct {
	Kind      string             `json:"kind"`
	Beta      float64            `json:"beta"`
	File      string             `json:"file"`
	Annotator string             `json:"annotator,omitempty"`
	A         string             `json:"a,omitempty"`
	B         string             `json:"b,omitempty"`
	Outcome   string             `json:"outcome,omitempty"`
	Codes     *CodesConfig       `json:"codes,omitempty"`
	Ties      string             `json:"ties,omitempty"`
	Unmatched string             `json:"unmatched,omitempty"`
	Items     []string           `json:"items"`
	Sampling  map[string]float64 `json:"sampling,omitempty"`
}

// CodesConfig lists the outcome codes.
type CodesConfig struct {
	First  []any `json:"first,omitempty"`
	Second []any `json:"second,omitempty"`
	Tie    []any `json:"tie,omitempty"`
}

type typeConfig struct {
	Where map[string]json.RawMessage `json:"where"`
}

// Defaults: β = 1, columns subject, a, b, outcome; codes 1, −1, 0; ties
// half each way ("half"; the others are "drop" and "davidson").
func (c *Config) Defaults(envs.Setting) {
	if c.Beta == 0 {
		c.Beta = 1
	}
	for _, f := range []struct {
		dst *string
		def string
	}{{&c.Annotator, "subject"}, {&c.A, "a"}, {&c.B, "b"}, {&c.Outcome, "outcome"}, {&c.Ties, "half"}} {
		if *f.dst == "" {
			*f.dst = f.def
		}
	}
	if c.Codes == nil {
		c.Codes = &CodesConfig{}
	}
	if c.Codes.First == nil {
		c.Codes.First = []any{"1"}
	}
	if c.Codes.Second == nil {
		c.Codes.Second = []any{"-1"}
	}
	if c.Codes.Tie == nil {
		c.Codes.Tie = []any{"0"}
	}
}

// Alternatives are the items.
func (c *Config) Alternatives() []string { return c.Items }

// DataFiles is the comparisons file.
func (c *Config) DataFiles(dir string) []string { return []string{c.path(dir)} }

func (c *Config) path(dir string) string { return envs.DataPath(dir, c.File) }

// Check: every type has conditions and no reward; items distinct; an
// outcome code in one list only; sampling over the items.
func (c *Config) Check(s envs.Setting) []envs.Problem {
	var ps []envs.Problem
	for _, t := range s.Types {
		if _, err := conditions(t); err != nil {
			ps = append(ps, envs.Problemf("population.types."+t.Name, "%v", err))
		}
	}
	seen := map[string]bool{}
	for i, it := range c.Items {
		if seen[it] {
			ps = append(ps, envs.Problemf(fmt.Sprintf("env.items[%d]", i), "item %q is listed twice", it))
		}
		seen[it] = true
	}
	codes := map[string]string{}
	for _, l := range []struct {
		name string
		v    []any
	}{{"first", c.Codes.First}, {"second", c.Codes.Second}, {"tie", c.Codes.Tie}} {
		for _, v := range l.v {
			k := code(fmt.Sprint(v))
			if other, dup := codes[k]; dup {
				ps = append(ps, envs.Problemf("env.codes."+l.name, "outcome code %v is also in codes.%s", v, other))
			}
			codes[k] = l.name
		}
	}
	return append(ps, envs.CheckWeights("env.sampling", c.Sampling, c.Items)...)
}

// CheckData: the annotators are the file's, so annotators and per are not
// set; pairs is 0 (every row) or a bootstrap size, for every regime.
func (c *Config) CheckData(d envs.DataSpec) []envs.Problem {
	var ps []envs.Problem
	if d.Annotators != 0 {
		ps = append(ps, envs.Problemf("annotators", "the annotators of a comparisons env are the file's: leave annotators out (pairs: 0 uses every row, pairs: N a bootstrap of annotators)"))
	}
	if d.Per != 0 {
		ps = append(ps, envs.Problemf("per", "the annotators of a comparisons env label what the file says they labelled: leave per out"))
	}
	if d.Regime == analytic.Consensus && d.Pairs != 0 {
		ps = append(ps, envs.Problemf("pairs", "consensus data on a comparisons env are the fitted types' exact statistics (a row holds one annotator's label): leave pairs out"))
	}
	return ps
}

// conditions decodes a type's where.
func conditions(t envs.Type) ([]Condition, error) {
	var tc typeConfig
	if err := envs.DecodeStrict(t.Raw, &tc); err != nil {
		return nil, err
	}
	if len(tc.Where) == 0 {
		return nil, fmt.Errorf("type %s needs where: conditions on covariate columns that pick its annotators", t.Name)
	}
	var out []Condition
	for _, colName := range envs.SortedKeys(tc.Where) {
		raw := tc.Where[colName]
		c := Condition{Column: colName}
		var rng struct {
			Min *float64 `json:"min"`
			Max *float64 `json:"max"`
		}
		var list []any
		var one any
		switch {
		case json.Unmarshal(raw, &list) == nil:
			for _, v := range list {
				c.Values = append(c.Values, fmt.Sprint(v))
			}
		case len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &rng) == nil:
			c.Min, c.Max = rng.Min, rng.Max
			if c.Min == nil && c.Max == nil {
				return nil, fmt.Errorf("type %s: where.%s needs min or max", t.Name, colName)
			}
		case json.Unmarshal(raw, &one) == nil:
			c.Values = []string{fmt.Sprint(one)}
		default:
			return nil, fmt.Errorf("type %s: where.%s is not a value, a list or a range", t.Name, colName)
		}
		out = append(out, c)
	}
	return out, nil
}

// TruthParams are a comparisons cell's truth parameters: the per-type
// Bradley–Terry rewards fit to the file and the rows themselves (so a
// changed file changes the key, and datasets can be built from them).
type TruthParams struct {
	envs.TruthBase
	Observed *analytic.Observed `json:"observed"`
	// Nu[u] is type u's fitted tie parameter ν under ties: "davidson"
	// (nil otherwise).
	Nu []float64 `json:"nu,omitempty"`
}

// Truth reads the file, assigns annotators to types and fits each type's
// Bradley–Terry rewards: with ties "half" or "drop", Hunter's MM on the
// win counts (ties ½ each way, or left out); with ties "davidson",
// Davidson's tie model with its own ν per type (FitDavidson), whose log
// π is the reward. The rows themselves (the datasets) keep ties ½ each way
// under "half" and "davidson".
func (c *Config) Truth(s envs.Setting) (any, error) {
	src := Source{Path: c.path(s.Dir), Annotator: c.Annotator, A: c.A, B: c.B, Outcome: c.Outcome,
		DropTies: c.Ties == "drop", Items: c.Items, DropUnmatched: c.Unmatched == "drop"}
	for _, l := range []struct {
		dst *[]string
		v   []any
	}{{&src.First, c.Codes.First}, {&src.Second, c.Codes.Second}, {&src.Tie, c.Codes.Tie}} {
		for _, v := range l.v {
			*l.dst = append(*l.dst, fmt.Sprint(v))
		}
	}
	names := make([]string, len(s.Types))
	for i, t := range s.Types {
		names[i] = t.Name
		where, err := conditions(t)
		if err != nil {
			return nil, err
		}
		src.Types = append(src.Types, Type{Name: t.Name, Where: where})
	}
	cmp, err := Read(src)
	if err != nil {
		return nil, err
	}
	tau := s.Temperature
	if tau == 0 {
		tau = 1
	}
	rewards := make([][]float64, len(names))
	var nus []float64
	for u := range names {
		var theta []float64
		if c.Ties == "davidson" {
			var nu float64
			theta, nu, err = FitDavidson(cmp.Counts(u))
			nus = append(nus, nu)
		} else {
			theta, err = FitBT(cmp.Wins(u))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: type %s: %w", src.Path, names[u], err)
		}
		for i := range theta {
			theta[i] *= tau
		}
		rewards[u] = theta
	}
	samp, err := envs.Distribution("sampling", c.Items, c.Sampling)
	if err != nil {
		return nil, err
	}
	ref, _ := envs.Distribution("reference", c.Items, nil)
	return &TruthParams{
		TruthBase: envs.TruthBase{Env: c.Kind, Alternatives: c.Items, Types: names, Weights: cmp.Shares(),
			Rewards: rewards, Sampling: samp, Reference: ref, Beta: c.Beta, Model: s.Model, Temperature: s.Temperature},
		Observed: &analytic.Observed{Annotators: len(cmp.Annotators), Rows: cmp.Rows},
		Nu:       nus,
	}, nil
}

// Build computes the truth (analytic.BuildParams) and attaches the rows.
func Build(params []byte) (any, error) {
	var p TruthParams
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("truth params: %w", err)
	}
	t, err := analytic.EnvOf(&p.TruthBase).ComputeTruth()
	if err != nil {
		return nil, err
	}
	w := analytic.Single(t)
	w.Observed = p.Observed
	return w, nil
}
