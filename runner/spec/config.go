package spec

import (
	"encoding/json"
	"fmt"
	"sort"

	"hetalign/envs"
	"hetalign/methods"
	"hetalign/metrics"
)

// Config is one experiment cell decoded from CUE into Go: the values every
// later stage reads. Field meanings are documented in specs/schema/schema.cue
// and in each kind's fragment. The environment's and each method's own
// fields are decoded by their registered kinds (envs, methods): Config
// knows only what every kind shares.
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

// TypeConfig is #Type: the weight and label every type has, and the
// environment's own fields (Raw, the type's JSON), which the env kind
// decodes.
type TypeConfig struct {
	Weight float64         `json:"weight"`
	Label  string          `json:"label,omitempty"`
	Raw    json.RawMessage `json:"-"`
}

// UnmarshalJSON keeps the type's JSON for the env kind.
func (t *TypeConfig) UnmarshalJSON(b []byte) error {
	type plain TypeConfig
	if err := json.Unmarshal(b, (*plain)(t)); err != nil {
		return err
	}
	t.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// PreferenceConfig is #Preference.
type PreferenceConfig struct {
	Model       string  `json:"model"`
	Temperature float64 `json:"temperature"`
}

// EnvConfig is #Env: the kind, β, and the kind's own settings (Params,
// decoded from Raw by the registered kind).
type EnvConfig struct {
	Kind   string          `json:"kind"`
	Beta   float64         `json:"beta"`
	Raw    json.RawMessage `json:"-"`
	Params envs.Config     `json:"-"`
}

// UnmarshalJSON keeps the env's JSON for its kind.
func (e *EnvConfig) UnmarshalJSON(b []byte) error {
	type plain EnvConfig
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	e.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// Alternatives are the labels of a cell's "alternative" axis, as its
// environment kind defines them.
func (c *Config) Alternatives() []string {
	if c.Env.Params == nil {
		return nil
	}
	return c.Env.Params.Alternatives()
}

// DataConfig is #Data.
type DataConfig struct {
	Regime     string `json:"regime"`
	Pairs      int    `json:"pairs"`
	Annotators int    `json:"annotators,omitempty"`
	Per        int    `json:"per,omitempty"`
	Judgments  int    `json:"judgments,omitempty"`
}

// Spec is the dataset as the environments see it.
func (d DataConfig) Spec() envs.DataSpec {
	return envs.DataSpec{Regime: d.Regime, Pairs: d.Pairs, Annotators: d.Annotators, Per: d.Per, Judgments: d.Judgments}
}

// MethodConfig is #Method: the kind, the dataset's name, and the kind's
// own settings (Params, decoded from Raw by the registered kind).
type MethodConfig struct {
	Kind   string          `json:"kind"`
	Data   string          `json:"data,omitempty"`
	Raw    json.RawMessage `json:"-"`
	Params methods.Params  `json:"-"`
}

// UnmarshalJSON keeps the method's JSON for its kind.
func (m *MethodConfig) UnmarshalJSON(b []byte) error {
	type plain MethodConfig
	if err := json.Unmarshal(b, (*plain)(m)); err != nil {
		return err
	}
	m.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// ReportConfig is #Report.
type ReportConfig struct {
	Tables  map[string]TableConfig `json:"tables"`
	Plots   map[string]PlotConfig  `json:"plots,omitempty"`
	Claims  map[string]ClaimConfig `json:"claims,omitempty"`
	Records *bool                  `json:"records,omitempty"`
}

// CellConfig is #Cell: the address of one table cell. Each, Row and
// Column are strings or numbers (see Label).
type CellConfig struct {
	Experiment string `json:"experiment,omitempty"`
	Table      string `json:"table"`
	Each       any    `json:"each,omitempty"`
	Row        any    `json:"row,omitempty"`
	Column     any    `json:"column"`
}

// Label writes a row, column or each value as a table labels it: a string
// as it is, a number as canonical JSON (the label of a sweep value), nil
// as "".
func Label(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	return Canonical(v)
}

// ClaimConfig is #Claim. Equals, Less and Greater hold a number, a
// string or a cell (decoded by Operand).
type ClaimConfig struct {
	Says    string        `json:"says"`
	Paper   string        `json:"paper,omitempty"`
	Source  string        `json:"source,omitempty"`
	Cell    *CellConfig   `json:"cell,omitempty"`
	Every   string        `json:"every,omitempty"`
	Equals  any           `json:"equals,omitempty"`
	Differs any           `json:"differs,omitempty"`
	Less    any           `json:"less,omitempty"`
	Greater any           `json:"greater,omitempty"`
	Approx  *ApproxConfig `json:"approx,omitempty"`
	Sign    string        `json:"sign,omitempty"`
	Order   []CellConfig  `json:"order,omitempty"`
}

// ApproxConfig is #Claim.approx.
type ApproxConfig struct {
	Value     any     `json:"value"`
	Tolerance float64 `json:"tolerance"`
}

// Relations lists the relations the claim states (the schema allows
// several; the spec check wants exactly one), each with its other side
// (nil for sign and order).
func (c ClaimConfig) Relations() map[string]any {
	out := map[string]any{}
	if c.Equals != nil {
		out["equals"] = c.Equals
	}
	if c.Differs != nil {
		out["differs"] = c.Differs
	}
	if c.Less != nil {
		out["less"] = c.Less
	}
	if c.Greater != nil {
		out["greater"] = c.Greater
	}
	if c.Approx != nil {
		out["approx"] = c.Approx.Value
	}
	if c.Sign != "" {
		out["sign"] = nil
	}
	if c.Order != nil {
		out["order"] = nil
	}
	return out
}

// Operand decodes the other side of a relation: a number, a string, or a
// cell (a JSON object).
func Operand(v any) (num *float64, text *string, cell *CellConfig, err error) {
	switch v := v.(type) {
	case float64:
		return &v, nil, nil, nil
	case string:
		return nil, &v, nil, nil
	case map[string]any:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("encoding a cell: %w", err)
		}
		var c CellConfig
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, nil, nil, fmt.Errorf("decoding a cell: %w", err)
		}
		return nil, nil, &c, nil
	}
	return nil, nil, nil, fmt.Errorf("want a number, a string or a cell, got %v", v)
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
	Mean    string         `json:"mean,omitempty"`
	Summary []string       `json:"summary,omitempty"`
	Digits  int            `json:"digits"`
	Show    []string       `json:"show,omitempty"`
	Partial bool           `json:"partial,omitempty"`
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

// applyDefaults fills the optional fields the schema documents defaults
// for, and decodes the environment's and each method's own settings with
// their registered kinds (which fill their own defaults). Kinds the
// schema let through are registered, so a lookup cannot fail here unless
// the registry and the schema disagree.
func (c *Config) applyDefaults() error {
	if c.Metrics == nil {
		for _, m := range metrics.All() {
			if m.Needs == metrics.NeedsRefit {
				continue // the axiom metrics refit the method: only when named
			}
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
	ek, ok := envs.Lookup(c.Env.Kind)
	if !ok {
		return fmt.Errorf("env kind %q is not registered", c.Env.Kind)
	}
	c.Env.Params = ek.New()
	if err := envs.DecodeStrict(c.Env.Raw, c.Env.Params); err != nil {
		return fmt.Errorf("env: %w", err)
	}
	c.Env.Params.Defaults(c.Setting())
	for n, m := range c.Methods {
		p, err := methods.Decode(m.Kind, m.Raw)
		if err != nil {
			return fmt.Errorf("methods.%s: %w", n, err)
		}
		p.Defaults(c.methodContext(n, m))
		m.Params = p
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
	return nil
}

// Setting is what the environment kind reads besides its own fields.
func (c *Config) Setting() envs.Setting {
	s := envs.Setting{Model: c.Preference.Model, Temperature: c.Preference.Temperature, Dir: c.Dir}
	for _, n := range c.TypeNames() {
		t := c.Population.Types[n]
		s.Types = append(s.Types, envs.Type{Name: n, Weight: t.Weight, Raw: t.Raw})
	}
	return s
}

// EnvKind is the registered kind of the cell's environment.
func (c *Config) EnvKind() envs.Kind {
	k, _ := envs.Lookup(c.Env.Kind)
	return k
}

// methodContext is what method n's defaults and checks may read.
func (c *Config) methodContext(n string, m MethodConfig) methods.Context {
	ctx := methods.Context{Name: n, EnvBeta: c.Env.Beta, Types: len(c.Population.Types), World: c.EnvKind().World, Data: m.Data}
	if d, ok := c.Data[m.Data]; ok {
		ctx.Regime = d.Regime
	}
	return ctx
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

// DecodeConfig reads one cell from JSON (as a spec's experiment encodes)
// and completes it with the defaults and the registered kinds' own
// settings; dir is the folder relative data paths start from. It does not
// check the cell against the rules Load checks.
func DecodeConfig(js []byte, dir string) (*Config, error) {
	var c Config
	if err := json.Unmarshal(js, &c); err != nil {
		return nil, fmt.Errorf("decoding a cell: %w", err)
	}
	c.Dir = dir
	if err := c.applyDefaults(); err != nil {
		return nil, err
	}
	return &c, nil
}
