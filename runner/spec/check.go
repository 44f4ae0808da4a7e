package spec

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"hetalign/envs"
	"hetalign/methods"
	"hetalign/metrics"
)

// Check reports what the schema cannot express, through the registered
// kinds: the environment's own checks (rewards that do not match the
// alternatives, survey settings that do not fit together), regimes the
// environment cannot sample, dataset references, regimes and
// environments a method cannot use, and each method's own checks.
// Positions come from the experiment's base value.
func (x *Experiment) Check(cfg *Config) Errors {
	var errs Errors
	ek := cfg.EnvKind()
	for _, p := range cfg.Env.Params.Check(cfg.Setting()) {
		errs = append(errs, x.errAt(p.Path, "%s", p.Msg))
	}
	dc, _ := cfg.Env.Params.(envs.DataChecker)
	for _, dn := range sortedKeys(cfg.Data) {
		d := cfg.Data[dn]
		if !slices.Contains(ek.Regimes, d.Regime) {
			errs = append(errs, x.errAt("data."+dn+".regime", "a %s env samples %s data, not %q", ek.Name, strings.Join(ek.Regimes, ", "), d.Regime))
			continue
		}
		var ps []envs.Problem
		if d.Judgments > 0 && !ek.Judgments {
			ps = append(ps, envs.Problem{Path: "judgments", Msg: fmt.Sprintf("the %s env sizes data by pairs; judgments (a budget of annotator judgments) is for envs that declare it (%s)", ek.Name, strings.Join(judgedEnvs(), ", "))})
		}
		if dc != nil {
			ps = append(ps, dc.CheckData(d.Spec())...)
		} else {
			ps = append(ps, envs.CheckAnnotated(d.Spec())...)
		}
		for _, p := range ps {
			at := "data." + dn
			if p.Path != "" {
				at += "." + p.Path
			}
			errs = append(errs, x.errAt(at, "%s", p.Msg))
		}
	}
	return append(errs, x.checkMethods(cfg)...)
}

// checkMethods checks each method against the registry: the env's world
// is one it fits on, its dataset exists and has a regime it accepts, and
// the kind's own checks pass.
func (x *Experiment) checkMethods(cfg *Config) Errors {
	var errs Errors
	ek := cfg.EnvKind()
	dataNames := sortedKeys(cfg.Data)
	for _, mn := range sortedKeys(cfg.Methods) {
		m := cfg.Methods[mn]
		k, ok := methods.Lookup(m.Kind)
		if !ok {
			errs = append(errs, x.errAt("methods."+mn+".kind", "unknown method kind %q", m.Kind))
			continue
		}
		if !k.Runs(ek.World) {
			if on := methods.KindsOn(ek.World); ek.World != "" {
				errs = append(errs, x.errAt("methods."+mn+".kind", "a %s env trains %s, not %q", ek.Name, strings.Join(on, ", "), m.Kind))
			} else {
				errs = append(errs, x.errAt("methods."+mn+".kind", "method kind %s does not fit on a %s env: it needs env kind %s", m.Kind, ek.Name, envsFor(k)))
			}
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
		for _, p := range m.Params.Check(cfg.methodContext(mn, m)) {
			at := "methods." + mn
			if p.Path != "" {
				at += "." + p.Path
			}
			errs = append(errs, x.errAt(at, "%s", p.Msg))
		}
	}
	return errs
}

// envsFor lists the environment kinds whose worlds a method kind fits on,
// quoted.
func envsFor(k methods.Kind) string {
	var out []string
	for _, e := range envs.Kinds() {
		if k.Runs(e.World) {
			out = append(out, fmt.Sprintf("%q", e.Name))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, " or ")
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func quoteLabel(k string) string { return envs.QuoteLabel(k) }

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
	AxisType        = "type"
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
		return cfg.Alternatives(), true
	case AxisType:
		return sortedKeys(cfg.Population.Types), true
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
	return append(out, AxisSeed, AxisMethod, AxisAlternative, AxisType)
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
		if t.Each != "" {
			if _, ok := x.AxisValues(t.Each, cfg, cells); !ok || t.Each == AxisMetric {
				errs = append(errs, x.errAt(at+".each", "unknown axis %q (axes: %s)", t.Each, valid))
			} else if t.Each == t.Rows || t.Each == t.Columns {
				errs = append(errs, x.errAt(at+".each", "%q is already rows or columns", t.Each))
			}
			used[x.canonicalAxis(t.Each)] = true
		}
		if t.Mean != "" {
			if _, ok := x.AxisValues(t.Mean, cfg, cells); !ok || t.Mean == AxisMetric || t.Mean == AxisAlternative || t.Mean == AxisType || t.Mean == AxisMethod {
				errs = append(errs, x.errAt(at+".mean", "cannot average over %q: name a sweep axis or seed (axes: %s)", t.Mean, valid))
			} else if t.Mean == t.Rows || t.Mean == t.Columns || t.Mean == t.Each {
				errs = append(errs, x.errAt(at+".mean", "%q is already rows, columns or each", t.Mean))
			}
			used[x.canonicalAxis(t.Mean)] = true
		}
		metricAxis := t.Rows == AxisMetric || t.Columns == AxisMetric
		if !metricAxis && len(cells) != 1 {
			errs = append(errs, x.errAt(at+".cell", "%d metrics in cell but neither rows nor columns is \"metric\"", len(cells)))
		}
		hasMethod := used[AxisMethod]
		hasAlt := used[AxisAlternative]
		hasType := used[AxisType]
		for _, c := range cells {
			info, _ := metrics.Lookup(c)
			if !slices.Contains(cfg.Metrics, c) {
				errs = append(errs, x.errAt(at+".cell", "metric %q is not computed: add it to metrics", c))
			}
			perAlt := info.Shape == metrics.Vector || info.Shape == metrics.Matrix
			if perAlt && !hasAlt {
				errs = append(errs, x.errAt(at+".cell", "metric %q has one value per alternative: use \"alternative\" as rows or columns", c))
			}
			if !perAlt && hasAlt {
				errs = append(errs, x.errAt(at+".cell", "metric %q is not per alternative, but the table has an \"alternative\" axis", c))
			}
			if (info.Shape == metrics.Matrix) != hasType {
				if hasType {
					errs = append(errs, x.errAt(at+".cell", "metric %q is not per type, but the table has a \"type\" axis", c))
				} else {
					errs = append(errs, x.errAt(at+".cell", "metric %q has one value per type and alternative: use \"type\" and \"alternative\" as rows and columns", c))
				}
			}
			if info.Scope == metrics.Truth && hasMethod {
				errs = append(errs, x.errAt(at+".cell", "metric %q describes the truth, not a method: drop the \"method\" axis", c))
			}
		}
		if len(t.Show) > 0 {
			colVals, _ := x.AxisValues(t.Columns, cfg, cells)
			for i, v := range t.Show {
				if !slices.Contains(colVals, v) && !slices.Contains(colVals, Canonical(v)) {
					errs = append(errs, x.errAt(fmt.Sprintf("%s.show[%d]", at, i), "%q is not a value of the column axis %q (values: %s)", v, t.Columns, strings.Join(colVals, ", ")))
				}
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
			if used[a] || a == AxisAlternative || a == AxisType {
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

func (x *Experiment) checkPlots() Errors {
	var errs Errors
	for _, pn := range sortedKeys(x.Base.Report.Plots) {
		p := x.Base.Report.Plots[pn]
		if _, ok := x.Base.Report.Tables[p.Table]; !ok {
			errs = append(errs, x.errAt("report.plots."+pn+".table", "no table %q (tables: %s)", p.Table, strings.Join(sortedKeys(x.Base.Report.Tables), ", ")))
		}
		if _, ok := x.Base.Report.Tables[p.Band]; p.Band != "" && !ok {
			errs = append(errs, x.errAt("report.plots."+pn+".band", "no table %q (tables: %s)", p.Band, strings.Join(sortedKeys(x.Base.Report.Tables), ", ")))
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

// judgedEnvs names the env kinds whose datasets can be sized by
// judgments.
func judgedEnvs() []string {
	var out []string
	for _, k := range envs.Kinds() {
		if k.Judgments {
			out = append(out, k.Name)
		}
	}
	return out
}
