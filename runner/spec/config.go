package spec

import "hetalign/metrics"

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
}

// PopulationConfig is #Population.
type PopulationConfig struct {
	Types map[string]TypeConfig `json:"types"`
}

// TypeConfig is #Type.
type TypeConfig struct {
	Weight float64            `json:"weight"`
	Label  string             `json:"label,omitempty"`
	Reward map[string]float64 `json:"reward"`
}

// PreferenceConfig is #Preference.
type PreferenceConfig struct {
	Model       string  `json:"model"`
	Temperature float64 `json:"temperature"`
}

// EnvConfig is #Env.
type EnvConfig struct {
	Kind         string             `json:"kind"`
	Alternatives []string           `json:"alternatives"`
	Sampling     map[string]float64 `json:"sampling,omitempty"`
	Reference    map[string]float64 `json:"reference,omitempty"`
	Beta         float64            `json:"beta"`
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
}

// ReportConfig is #Report.
type ReportConfig struct {
	Tables map[string]TableConfig `json:"tables"`
}

// TableConfig is #Table. Cell is a metric name or a list of them.
type TableConfig struct {
	Title   string         `json:"title,omitempty"`
	Rows    string         `json:"rows"`
	Columns string         `json:"columns"`
	Cell    any            `json:"cell"`
	Where   map[string]any `json:"where,omitempty"`
	Digits  int            `json:"digits"`
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
	for n, m := range c.Methods {
		if m.Kind == "ipo" && m.Tau == nil {
			one := 1.0
			m.Tau = &one
		}
		if (m.Kind == "dpo" || m.Kind == "consistent") && m.Beta == nil {
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
		c.Report.Tables[n] = t
	}
}
