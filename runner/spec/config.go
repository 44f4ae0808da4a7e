package spec

import (
	"fmt"
	"sort"

	"hetalign/envs/sequence"
	"hetalign/metrics"
)

// Config is one experiment cell decoded from CUE into Go: the values every
// later stage reads. Field meanings are documented in specs/schema/schema.cue.
type Config struct {
	Description string                  `json:"description,omitempty"`
	Population  PopulationConfig        `json:"population"`
	Preference  PreferenceConfig        `json:"preference"`
	Env         EnvConfig               `json:"env"`
	Data        map[string]DataConfig   `json:"data"`
	Methods     map[string]MethodConfig `json:"methods"`
	Metrics     []string                `json:"metrics"`
	Seeds       []int                   `json:"seeds"`
	Report      ReportConfig            `json:"report"`

	// Dir is the folder of the spec file; relative data paths start there.
	Dir string `json:"-"`
}

// PopulationConfig is #Population.
type PopulationConfig struct {
	Types map[string]TypeConfig `json:"types"`
}

// TypeConfig is #Type.
type TypeConfig struct {
	Weight float64            `json:"weight"`
	Label  string             `json:"label,omitempty"`
	Reward map[string]float64 `json:"reward,omitempty"`
	Codes  []any              `json:"codes,omitempty"`
	// Circle (env kind "circular").
	Shift int     `json:"shift,omitempty"`
	Scale float64 `json:"scale,omitempty"`
	Decay float64 `json:"decay,omitempty"`
	Shape string  `json:"shape,omitempty"`
	// Length reward (env kind "sequence").
	Length *LengthConfig `json:"length,omitempty"`
}

// LengthConfig is #Length: a reward of the token count (envs/sequence).
type LengthConfig struct {
	Shape     string  `json:"shape"`
	Rate      float64 `json:"rate,omitempty"`
	Divisor   float64 `json:"divisor,omitempty"`
	Cap       float64 `json:"cap,omitempty"`
	Center    float64 `json:"center,omitempty"`
	Width     float64 `json:"width,omitempty"`
	Slope     float64 `json:"slope,omitempty"`
	Intercept float64 `json:"intercept,omitempty"`
}

// PreferenceConfig is #Preference.
type PreferenceConfig struct {
	Model       string  `json:"model"`
	Temperature float64 `json:"temperature"`
}

// EnvConfig is #Env.
type EnvConfig struct {
	Kind         string             `json:"kind"`
	Alternatives []string           `json:"alternatives,omitempty"`
	Sampling     map[string]float64 `json:"sampling,omitempty"`
	Reference    map[string]float64 `json:"reference,omitempty"`
	Beta         float64            `json:"beta"`

	// N is the number of points of a circular env.
	N int `json:"n,omitempty"`

	// Survey fields (kind "survey").
	File      string                    `json:"file,omitempty"`
	Format    string                    `json:"format,omitempty"`
	Shares    *SharesConfig             `json:"shares,omitempty"`
	Group     string                    `json:"group,omitempty"`
	Weight    string                    `json:"weight,omitempty"`
	Missing   []string                  `json:"missing,omitempty"`
	Question  string                    `json:"question,omitempty"`
	Questions map[string]QuestionConfig `json:"questions,omitempty"`
	Rewards   *RewardsConfig            `json:"rewards,omitempty"`

	// Sequence fields (kind "sequence").
	Corpus  string        `json:"corpus,omitempty"`
	Length  int           `json:"length,omitempty"`
	Prompts int           `json:"prompts,omitempty"`
	Test    float64       `json:"test,omitempty"`
	Prompt  *PromptConfig `json:"prompt,omitempty"`
	Cut     int           `json:"cut,omitempty"`
	Grid    int           `json:"grid,omitempty"`
}

// PromptConfig bounds prompt lengths in tokens.
type PromptConfig struct {
	Min int `json:"min,omitempty"`
	Max int `json:"max,omitempty"`
}

// QuestionConfig is #Question: options as [code, label] pairs.
type QuestionConfig struct {
	Options [][]any `json:"options"`
	Drop    []any   `json:"drop,omitempty"`
}

// Labels returns the option labels in table order.
func (q QuestionConfig) Labels() []string {
	out := make([]string, len(q.Options))
	for i, o := range q.Options {
		if len(o) == 2 {
			out[i] = fmt.Sprint(o[1])
		}
	}
	return out
}

// SharesConfig names the columns of a "shares" survey file.
type SharesConfig struct {
	Question string `json:"question,omitempty"`
	Option   string `json:"option,omitempty"`
	Value    string `json:"value,omitempty"`
}

// RewardsConfig is #LuceShepard.
type RewardsConfig struct {
	Smoothing   string  `json:"smoothing,omitempty"`
	PseudoCount float64 `json:"pseudocount,omitempty"`
}

// Alternatives are the responses of a cell: env.alternatives, or the
// option labels of the survey question.
func (c *Config) Alternatives() []string {
	switch c.Env.Kind {
	case "survey":
		return c.Env.Questions[c.Env.Question].Labels()
	case "circular":
		// The 1-D view over δ = y − x.
		out := make([]string, c.Env.N)
		for i := range out {
			out[i] = fmt.Sprint(i - c.Env.N/2)
		}
		return out
	case "sequence":
		// The length views: token counts of prompt plus response.
		var out []string
		for _, x := range sequence.GridX(c.Env.Prompt.Min+1, c.Env.Length, c.Env.Grid) {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return c.Env.Alternatives
}

// DataConfig is #Data.
type DataConfig struct {
	Regime string `json:"regime"`
	Pairs  int    `json:"pairs"`
}

// MethodConfig is #Method.
type MethodConfig struct {
	Kind string   `json:"kind"`
	Data string   `json:"data,omitempty"`
	Beta *float64 `json:"beta,omitempty"`
	Tau  *float64 `json:"tau,omitempty"`
	L2   float64  `json:"l2,omitempty"`

	Alpha      *float64         `json:"alpha,omitempty"`
	Clamp      float64          `json:"clamp,omitempty"`
	Variance   string           `json:"variance,omitempty"`
	Components int              `json:"components,omitempty"`
	Joint      *OptimizerConfig `json:"joint,omitempty"`
	Warm       *int             `json:"warm,omitempty"`

	Model     *ModelConfig     `json:"model,omitempty"`
	Optimizer *OptimizerConfig `json:"optimizer,omitempty"`

	// Reference policy of sequence DPO: "uniform" (as published) or
	// "pretrained" (a language model fit with Pretrain's settings).
	Reference string           `json:"reference,omitempty"`
	Pretrain  *OptimizerConfig `json:"pretrain,omitempty"`
}

// ModelConfig is a method's policy network (SGD fits).
type ModelConfig struct {
	Kind       string `json:"kind,omitempty"`
	Depth      int    `json:"depth,omitempty"`
	Width      int    `json:"width,omitempty"`
	Activation string `json:"activation,omitempty"`
	// Transformer (env kind "sequence"): attention heads and the
	// feed-forward expansion factor.
	Heads int `json:"heads,omitempty"`
	FF    int `json:"ff,omitempty"`
}

// OptimizerConfig is Adam's settings (SGD fits).
type OptimizerConfig struct {
	LR    float64 `json:"lr,omitempty"`
	Batch int     `json:"batch,omitempty"`
	Steps int     `json:"steps,omitempty"`
}

// fill sets the fields left at zero to the given defaults.
func (o *OptimizerConfig) fill(lr float64, batch, steps int) {
	if o.LR == 0 {
		o.LR = lr
	}
	if o.Batch == 0 {
		o.Batch = batch
	}
	if o.Steps == 0 {
		o.Steps = steps
	}
}

// SGD reports whether the method is fit by stochastic gradient descent.
func (m MethodConfig) SGD() bool { return m.Model != nil || m.Optimizer != nil }

// ReportConfig is #Report.
type ReportConfig struct {
	Tables map[string]TableConfig `json:"tables"`
	Plots  map[string]PlotConfig  `json:"plots,omitempty"`
}

// PlotConfig is #Plot.
type PlotConfig struct {
	Title     string   `json:"title,omitempty"`
	Table     string   `json:"table"`
	Kind      string   `json:"kind"`
	Columns   []string `json:"columns,omitempty"`
	Normalize bool     `json:"normalize,omitempty"`
	Band      string   `json:"band,omitempty"`
}

// TableConfig is #Table. Cell is a metric name or a list of them.
type TableConfig struct {
	Title   string         `json:"title,omitempty"`
	Rows    string         `json:"rows"`
	Columns string         `json:"columns"`
	Cell    any            `json:"cell"`
	Where   map[string]any `json:"where,omitempty"`
	Each    string         `json:"each,omitempty"`
	Summary []string       `json:"summary,omitempty"`
	Digits  int            `json:"digits"`
	Show    []string       `json:"show,omitempty"`
}

// Cells returns the table's metrics as a list.
func (t TableConfig) Cells() []string {
	switch c := t.Cell.(type) {
	case string:
		return []string{c}
	case []any:
		out := make([]string, 0, len(c))
		for _, x := range c {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// applyDefaults fills the optional fields the schema documents defaults for.
func (c *Config) applyDefaults() {
	if c.Metrics == nil {
		for _, m := range metrics.All() {
			c.Metrics = append(c.Metrics, m.Name)
		}
	}
	if c.Seeds == nil {
		c.Seeds = []int{0}
	}
	for n, t := range c.Population.Types {
		if t.Weight == 0 {
			t.Weight = 1
		}
		if c.Env.Kind == "circular" {
			if t.Scale == 0 {
				t.Scale = 1
			}
			if t.Shape == "" {
				t.Shape = "linear"
			}
		}
		c.Population.Types[n] = t
	}
	if c.Preference.Model == "" {
		c.Preference.Model = "bt"
	}
	if c.Preference.Temperature == 0 {
		c.Preference.Temperature = 1
	}
	if c.Env.Beta == 0 {
		c.Env.Beta = 1
	}
	if c.Env.Kind == "sequence" {
		c.Env.fillSequence()
	}
	if c.Env.Kind == "survey" {
		if c.Env.Rewards == nil {
			c.Env.Rewards = &RewardsConfig{}
		}
		if c.Env.Rewards.Smoothing == "" {
			c.Env.Rewards.Smoothing = "additive"
		}
		if c.Env.Rewards.Smoothing == "additive" && c.Env.Rewards.PseudoCount == 0 {
			c.Env.Rewards.PseudoCount = 0.5
		}
		if c.Env.Format == "" {
			c.Env.Format = "responses"
		}
		if c.Env.Format == "shares" {
			if c.Env.Shares == nil {
				c.Env.Shares = &SharesConfig{}
			}
			for _, f := range []struct {
				dst *string
				def string
			}{{&c.Env.Shares.Question, "question"}, {&c.Env.Shares.Option, "option"}, {&c.Env.Shares.Value, "share"}} {
				if *f.dst == "" {
					*f.dst = f.def
				}
			}
		}
	}
	for n, m := range c.Methods {
		if m.Kind == "ipo" && m.Tau == nil {
			one := 1.0
			m.Tau = &one
		}
		if m.SGD() {
			if m.Model == nil {
				m.Model = &ModelConfig{}
			}
			if m.Optimizer == nil {
				m.Optimizer = &OptimizerConfig{}
			}
			if m.Model.Kind == "" {
				m.Model.Kind = "tabular"
			}
			if m.Model.Kind == "transformer" {
				if m.Model.Depth == 0 {
					m.Model.Depth = 1
				}
				if m.Model.Width == 0 {
					m.Model.Width = 16
				}
				if m.Model.Heads == 0 {
					m.Model.Heads = 2
				}
				if m.Model.FF == 0 {
					m.Model.FF = 2
				}
			}
			if m.Model.Kind == "mlp" {
				if m.Model.Depth == 0 {
					m.Model.Depth = 2
				}
				if m.Model.Width == 0 {
					m.Model.Width = 15
				}
				if m.Model.Activation == "" {
					m.Model.Activation = "tanh"
				}
			}
			m.Optimizer.fill(1e-3, 1024, 10_000)
			if m.Model.Kind == "transformer" && (m.Kind == "dpo" || m.Kind == "consistent" || m.Kind == "relabel-dpo") {
				if m.Reference == "" {
					m.Reference = "uniform"
				}
				if m.Reference == "pretrained" {
					if m.Pretrain == nil {
						m.Pretrain = &OptimizerConfig{}
					}
					m.Pretrain.fill(m.Optimizer.LR, m.Optimizer.Batch, m.Optimizer.Steps)
				}
			}
		}
		if m.Kind == "corrected-dpo" {
			if m.Alpha == nil {
				one := 1.0
				m.Alpha = &one
			}
			if m.Clamp == 0 {
				m.Clamp = 0.1
			}
			if m.Variance == "" {
				m.Variance = "exact"
			}
			if m.SGD() && m.Warm == nil {
				w := 0
				if m.Optimizer != nil {
					w = m.Optimizer.Steps * 4 / 5
				}
				m.Warm = &w
			}
			if m.Variance == "joint" {
				if m.Components == 0 {
					m.Components = len(c.Population.Types)
				}
				if m.Joint == nil {
					m.Joint = &OptimizerConfig{}
				}
				m.Joint.fill(1e-2, 1024, 10_000)
			}
		}
		// Every kind with a β in the schema: all but ipo and the references.
		if m.Kind != "ipo" && m.Kind != "oracle" && m.Kind != "nbc" && m.Beta == nil {
			b := c.Env.Beta
			m.Beta = &b
		}
		c.Methods[n] = m
	}
	for n, t := range c.Report.Tables {
		if t.Digits == 0 {
			t.Digits = 4
		}
		if t.Title == "" {
			t.Title = n
		}
		if t.Summary == nil && t.Rows == "seed" {
			t.Summary = []string{"mean", "p25", "p75"}
		}
		c.Report.Tables[n] = t
	}
}

// fillSequence sets the sequence environment's defaults.
func (e *EnvConfig) fillSequence() {
	if e.Corpus == "" {
		e.Corpus = sequence.DefaultCorpus
	}
	if e.Test == 0 {
		e.Test = 0.2
	}
	if e.Prompt == nil {
		e.Prompt = &PromptConfig{}
	}
	if e.Prompt.Min == 0 {
		e.Prompt.Min = 1
	}
	if e.Prompt.Max == 0 {
		e.Prompt.Max = max(e.Prompt.Min, e.Length/4)
	}
	if e.Grid == 0 {
		e.Grid = 17
	}
}

// TypeNames lists the user types in sorted order, the order every step
// uses for per-type vectors.
func (c *Config) TypeNames() []string {
	names := make([]string, 0, len(c.Population.Types))
	for n := range c.Population.Types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
