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
// the alternatives, survey settings that do not fit together, dataset
// references, regimes a method cannot use. Positions come from the
// experiment's base value.
func (x *Experiment) Check(cfg *Config) Errors {
	var errs Errors
	switch cfg.Env.Kind {
	case "survey":
		errs = x.checkSurvey(cfg)
	case "circular":
		for _, tn := range sortedKeys(cfg.Population.Types) {
			t := cfg.Population.Types[tn]
			if t.Reward != nil || t.Codes != nil {
				errs = append(errs, x.errAt("population.types."+tn, "a circular env computes rewards from shift, scale, decay and shape; remove reward and codes"))
			}
			if !(t.Decay > 0) {
				errs = append(errs, x.errAt("population.types."+tn, "type %s needs decay > 0 on a circular env", tn))
			}
		}
	case "sequence":
		errs = x.checkSequence(cfg)
	default:
		errs = x.checkAnalytic(cfg)
	}
	return append(errs, x.checkMethods(cfg)...)
}

// Method kinds and regimes of the sequence environment.
var (
	sequenceKinds   = []string{"reward", "consistent-reward", "dpo", "consistent", "relabel-dpo"}
	sequenceRegimes = []string{"anonymous", "typed", "consensus"}
)

// checkSequence checks a sequence env: length rewards on every type, the
// prompt range, regimes and methods it can run, transformer models.
func (x *Experiment) checkSequence(cfg *Config) Errors {
	var errs Errors
	for _, tn := range sortedKeys(cfg.Population.Types) {
		t := cfg.Population.Types[tn]
		if t.Length == nil {
			errs = append(errs, x.errAt("population.types."+tn, "type %s needs a length reward on a sequence env", tn))
		}
		if t.Reward != nil || t.Codes != nil {
			errs = append(errs, x.errAt("population.types."+tn, "a sequence env computes rewards from length; remove reward and codes"))
		}
	}
	e := cfg.Env
	if e.Prompt.Min > e.Prompt.Max || e.Prompt.Max >= e.Length {
		errs = append(errs, x.errAt("env.prompt", "prompt lengths [%d, %d] must be ordered and below length %d", e.Prompt.Min, e.Prompt.Max, e.Length))
	}
	if n := int(e.Test*float64(e.Prompts) + 0.5); n < 1 || n >= e.Prompts {
		errs = append(errs, x.errAt("env.test", "test fraction %v of %d prompts leaves no train or no test prompt", e.Test, e.Prompts))
	}
	for _, dn := range sortedKeys(cfg.Data) {
		d := cfg.Data[dn]
		if !slices.Contains(sequenceRegimes, d.Regime) {
			errs = append(errs, x.errAt("data."+dn+".regime", "a sequence env samples %s data, not %q", strings.Join(sequenceRegimes, ", "), d.Regime))
		}
		if d.Regime == "typed" && d.Pairs == 0 {
			errs = append(errs, x.errAt("data."+dn+".pairs", "typed data records one labeller per tuple: set pairs > 0"))
		}
	}
	for _, mn := range sortedKeys(cfg.Methods) {
		m := cfg.Methods[mn]
		if !slices.Contains(sequenceKinds, m.Kind) {
			errs = append(errs, x.errAt("methods."+mn+".kind", "a sequence env trains %s, not %q", strings.Join(sequenceKinds, ", "), m.Kind))
			continue
		}
		if m.Model == nil || m.Model.Kind != "transformer" {
			errs = append(errs, x.errAt("methods."+mn, "method %s on a sequence env needs model: kind: \"transformer\"", mn))
			continue
		}
		if m.Model.Width%m.Model.Heads != 0 {
			errs = append(errs, x.errAt("methods."+mn+".model", "width %d is not a multiple of heads %d", m.Model.Width, m.Model.Heads))
		}
	}
	return errs
}

func (x *Experiment) checkAnalytic(cfg *Config) Errors {
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
		if t.Codes != nil {
			errs = append(errs, x.errAt(fmt.Sprintf("population.types.%s.codes", tn), "codes are for env kind \"survey\"; an analytic env needs reward"))
		}
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
	errs = append(errs, x.checkWeights("env.sampling", cfg.Env.Sampling, alts)...)
	return append(errs, x.checkWeights("env.reference", cfg.Env.Reference, alts)...)
}

// checkWeights checks that a map of weights names exactly the alternatives.
func (x *Experiment) checkWeights(field string, m map[string]float64, alts []string) Errors {
	if m == nil {
		return nil
	}
	var errs Errors
	isAlt := map[string]bool{}
	for _, a := range alts {
		isAlt[a] = true
	}
	for _, k := range sortedKeys(m) {
		if !isAlt[k] {
			errs = append(errs, x.errAt(field+"."+quoteLabel(k), "%q is not an alternative (alternatives: %s)", k, strings.Join(alts, ", ")))
		}
	}
	for _, a := range alts {
		if _, ok := m[a]; !ok {
			errs = append(errs, x.errAt(field, "%s gives no weight to alternative %q", field, a))
		}
	}
	return errs
}

func (x *Experiment) checkSurvey(cfg *Config) Errors {
	var errs Errors
	for _, tn := range sortedKeys(cfg.Population.Types) {
		t := cfg.Population.Types[tn]
		if len(t.Codes) == 0 {
			errs = append(errs, x.errAt("population.types."+tn, "type %s needs codes: the group codes of its respondents", tn))
		}
		if t.Reward != nil {
			errs = append(errs, x.errAt("population.types."+tn+".reward", "a survey estimates rewards from the answers; remove reward"))
		}
	}
	qs := sortedKeys(cfg.Env.Questions)
	for _, qn := range qs {
		q := cfg.Env.Questions[qn]
		at := "env.questions." + quoteLabel(qn) + ".options"
		if len(q.Options) < 2 {
			errs = append(errs, x.errAt(at, "question %s needs at least two options", qn))
		}
		seen := map[string]bool{}
		for i, o := range q.Options {
			if len(o) != 2 {
				errs = append(errs, x.errAt(fmt.Sprintf("%s[%d]", at, i), "an option is [code, label]"))
				continue
			}
			if l := fmt.Sprint(o[1]); seen[l] {
				errs = append(errs, x.errAt(fmt.Sprintf("%s[%d]", at, i), "label %q is used twice", l))
			} else {
				seen[l] = true
			}
		}
	}
	q, ok := cfg.Env.Questions[cfg.Env.Question]
	if !ok {
		errs = append(errs, x.errAt("env.question", "question %q is not in env.questions (defined: %s)", cfg.Env.Question, listOrNone(qs)))
		return errs
	}
	return append(errs, x.checkWeights("env.sampling", cfg.Env.Sampling, q.Labels())...)
}

func (x *Experiment) checkMethods(cfg *Config) Errors {
	var errs Errors
	dataNames := sortedKeys(cfg.Data)
	for _, mn := range sortedKeys(cfg.Methods) {
		m := cfg.Methods[mn]
		if cfg.Env.Kind != "sequence" {
			if m.Kind == "reward" || m.Kind == "consistent-reward" {
				errs = append(errs, x.errAt("methods."+mn+".kind", "method kind %s learns a reward model of text: it needs env kind \"sequence\"", m.Kind))
				continue
			}
			if m.Model != nil && m.Model.Kind == "transformer" {
				errs = append(errs, x.errAt("methods."+mn+".model.kind", "a transformer reads token sequences: it needs env kind \"sequence\""))
			}
		}
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
			} else if m.Variance == "joint" && d.Regime != "paired" {
				errs = append(errs, x.errAt("methods."+mn+".variance", "variance \"joint\" trains J on paired data, but dataset %q has regime %q", m.Data, d.Regime))
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
