package spec

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"hetalign/methods"
	"hetalign/metrics"
)

// Check reports what the schema cannot express: rewards that do not match
// the alternatives, dataset references, regimes a method cannot use.
// Positions come from the experiment's base value.
func (x *Experiment) Check(cfg *Config) Errors {
	var errs Errors
	alts := cfg.Env.Alternatives
	isAlt := map[string]bool{}
	for i, a := range alts {
		if isAlt[a] {
			errs = append(errs, x.errAt(fmt.Sprintf("env.alternatives[%d]", i), "alternative %q is listed twice", a))
		}
		isAlt[a] = true
	}
	altList := strings.Join(alts, ", ")
	for _, tn := range sortedKeys(cfg.Population.Types) {
		t := cfg.Population.Types[tn]
		base := fmt.Sprintf("population.types.%s.reward", tn)
		for _, a := range alts {
			if _, ok := t.Reward[a]; !ok {
				errs = append(errs, x.errAt(base, "type %s has no reward for alternative %q", tn, a))
			}
		}
		for _, k := range sortedKeys(t.Reward) {
			if !isAlt[k] {
				errs = append(errs, x.errAt(base+"."+quoteLabel(k), "%q is not an alternative (alternatives: %s)", k, altList))
			}
		}
	}
	for field, m := range map[string]map[string]float64{"sampling": cfg.Env.Sampling, "reference": cfg.Env.Reference} {
		if m == nil {
			continue
		}
		for _, k := range sortedKeys(m) {
			if !isAlt[k] {
				errs = append(errs, x.errAt("env."+field+"."+quoteLabel(k), "%q is not an alternative (alternatives: %s)", k, altList))
			}
		}
		for _, a := range alts {
			if _, ok := m[a]; !ok {
				errs = append(errs, x.errAt("env."+field, "%s gives no weight to alternative %q", field, a))
			}
		}
	}
	dataNames := sortedKeys(cfg.Data)
	for _, mn := range sortedKeys(cfg.Methods) {
		m := cfg.Methods[mn]
		k, ok := methods.Lookup(m.Kind)
		if !ok {
			errs = append(errs, x.errAt("methods."+mn+".kind", "unknown method kind %q", m.Kind))
			continue
		}
		switch {
		case !k.NeedsData() && m.Data != "":
			errs = append(errs, x.errAt("methods."+mn+".data", "method kind %s needs no data; remove data", m.Kind))
		case k.NeedsData() && m.Data == "":
			errs = append(errs, x.errAt("methods."+mn, "method kind %s needs data of regime %s: set data to the name of one (defined: %s)",
				m.Kind, strings.Join(k.Regimes, " or "), listOrNone(dataNames)))
		case k.NeedsData():
			d, ok := cfg.Data[m.Data]
			if !ok {
				errs = append(errs, x.errAt("methods."+mn+".data", "method %s needs dataset %q, which data does not define (defined: %s)", mn, m.Data, listOrNone(dataNames)))
			} else if !k.Accepts(d.Regime) {
				errs = append(errs, x.errAt("methods."+mn+".data", "method kind %s needs data of regime %s, but dataset %q has regime %q",
					m.Kind, strings.Join(k.Regimes, " or "), m.Data, d.Regime))
			}
		}
	}
	return errs
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func quoteLabel(k string) string {
	if metricsIdent(k) {
		return k
	}
	return fmt.Sprintf("%q", k)
}

func metricsIdent(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Axis names a table may use besides sweep paths.
const (
	AxisMethod      = "method"
	AxisAlternative = "alternative"
	AxisMetric      = "metric"
	AxisSeed        = "seed"
)

// AxisValues returns the labels along a named table axis and whether the
// axis exists. Sweep axes are named by any of their paths.
func (x *Experiment) AxisValues(name string, cfg *Config, cells []string) ([]string, bool) {
	switch name {
	case AxisMethod:
		if x.MethodOrder != nil {
			return x.MethodOrder, true
		}
		return sortedKeys(cfg.Methods), true
	case AxisAlternative:
		return cfg.Env.Alternatives, true
	case AxisMetric:
		return cells, true
	case AxisSeed:
		out := make([]string, len(x.Seeds))
		for i, s := range x.Seeds {
			out[i] = fmt.Sprint(s)
		}
		return out, true
	}
	for _, a := range x.Axes {
		if p := slices.Index(a.Paths, name); p >= 0 {
			out := make([]string, a.Len())
			for i := range out {
				out[i] = a.Label(i, p)
			}
			return out, true
		}
	}
	return nil, false
}

// AxisNames lists every axis of the experiment: sweep axes (by first path),
// then seed, method and alternative.
func (x *Experiment) AxisNames() []string {
	var out []string
	for _, a := range x.Axes {
		out = append(out, a.Paths[0])
	}
	return append(out, AxisSeed, AxisMethod, AxisAlternative)
}

func (x *Experiment) checkTables() Errors {
	var errs Errors
	cfg := x.Base
	for _, tn := range sortedKeys(cfg.Report.Tables) {
		t := cfg.Report.Tables[tn]
		at := "report.tables." + tn
		cells := t.Cells()
		valid := strings.Join(append(x.AxisNames(), AxisMetric), ", ")
		used := map[string]bool{}
		badAxis := false
		for _, side := range []struct{ field, axis string }{{"rows", t.Rows}, {"columns", t.Columns}} {
			if _, ok := x.AxisValues(side.axis, cfg, cells); !ok {
				errs = append(errs, x.errAt(at+"."+side.field, "unknown axis %q (axes: %s)", side.axis, valid))
				badAxis = true
			}
			used[x.canonicalAxis(side.axis)] = true
		}
		if badAxis {
			continue
		}
		if t.Rows == t.Columns {
			errs = append(errs, x.errAt(at+".columns", "rows and columns are both %q", t.Rows))
		}
		metricAxis := t.Rows == AxisMetric || t.Columns == AxisMetric
		if !metricAxis && len(cells) != 1 {
			errs = append(errs, x.errAt(at+".cell", "%d metrics in cell but neither rows nor columns is \"metric\"", len(cells)))
		}
		hasMethod := used[AxisMethod]
		hasAlt := used[AxisAlternative]
		for _, c := range cells {
			info, _ := metrics.Lookup(c)
			if !slices.Contains(cfg.Metrics, c) {
				errs = append(errs, x.errAt(at+".cell", "metric %q is not computed: add it to metrics", c))
			}
			if info.Shape == metrics.Vector && !hasAlt {
				errs = append(errs, x.errAt(at+".cell", "metric %q has one value per alternative: use \"alternative\" as rows or columns", c))
			}
			if info.Shape != metrics.Vector && hasAlt {
				errs = append(errs, x.errAt(at+".cell", "metric %q is not per alternative, but the table has an \"alternative\" axis", c))
			}
			if info.Scope == metrics.Truth && hasMethod {
				errs = append(errs, x.errAt(at+".cell", "metric %q describes the truth, not a method: drop the \"method\" axis", c))
			}
		}
		for _, k := range sortedKeys(t.Where) {
			vals, ok := x.AxisValues(k, cfg, cells)
			if !ok || k == AxisMetric {
				errs = append(errs, x.errAt(at+".where", "unknown axis %q in where", k))
				continue
			}
			if !slices.Contains(vals, Canonical(t.Where[k])) && !slices.Contains(vals, fmt.Sprint(t.Where[k])) {
				errs = append(errs, x.errAt(at+".where", "axis %q has no value %s (values: %s)", k, Canonical(t.Where[k]), strings.Join(vals, ", ")))
			}
			used[x.canonicalAxis(k)] = true
		}
		// Every other axis must have one value.
		allMetricsTruth := true
		for _, c := range cells {
			if info, _ := metrics.Lookup(c); info.Scope != metrics.Truth {
				allMetricsTruth = false
			}
		}
		for _, a := range x.AxisNames() {
			if used[a] || a == AxisAlternative {
				continue
			}
			if a == AxisMethod && allMetricsTruth {
				continue
			}
			vals, _ := x.AxisValues(a, cfg, cells)
			if len(vals) > 1 {
				errs = append(errs, x.errAt(at, "axis %q has %d values but is neither rows nor columns: place it or pin it with where", a, len(vals)))
			}
		}
	}
	return errs
}

// canonicalAxis maps any path of a zip group to the group's first path.
func (x *Experiment) canonicalAxis(name string) string {
	for _, a := range x.Axes {
		if slices.Contains(a.Paths, name) {
			return a.Paths[0]
		}
	}
	return name
}
