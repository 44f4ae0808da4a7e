// Package plan expands specs into a graph of steps, in the manner of the go
// command's action graph (cmd/go/internal/work/action.go): each sweep cell
// becomes truth → dataset → train → eval steps feeding one report step per
// spec, equal steps are shared, and every step is keyed by the SHA-256 of a
// complete description of its computation:
//
//	key = SHA-256(canonical JSON {kind, params, inputs: [input keys], code, backend})
//
// where params are the step's own resolved parameters, code is the identity
// of the code the step's computation depends on (steps.Codes: its
// packages' source, not the executable) and backend is set only for steps
// that compute on one. A step's random seed is derived from the same description
// without code and backend — never from scheduling order — so a rebuild
// draws the same numbers.
package plan

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"hetalign/methods"
	"hetalign/metrics"
	"hetalign/reports"
	"hetalign/runner/spec"
	"hetalign/runner/steps"
	"hetalign/runner/store"
)

// Options fix what is common to every key.
type Options struct {
	// Code identifies the code as a whole (plan caches and indexes use it).
	Code string
	// CodeFor, when set, gives each step the identity of the code its own
	// computation depends on (steps.Codes); without it every step's key
	// names Code.
	CodeFor func(kind string, params []byte) (string, error)
	// Backend is the compute backend of steps that compute on one.
	Backend string
	// GPU marks computing steps (those keyed by Backend) as GPU steps.
	GPU bool
	// Workers evaluate sweep cells in parallel (each with its own copy of
	// the spec); the graph does not depend on it.
	Workers int
	// MaxCells, when positive, refuses (before evaluating any cell) an
	// experiment whose sweep has more cells (the product of its axes'
	// lengths times its seeds) than this.
	MaxCells int
	// Progress, when set, is called while cells are planned, at most once
	// per ProgressEvery (2 s when zero), with the cells planned so far and
	// the total (cells as MaxCells counts them) of all the files.
	Progress      func(done, total int)
	ProgressEvery time.Duration
}

// MaxCellsError is the refusal of an experiment above Options.MaxCells.
type MaxCellsError struct {
	File, Experiment string
	// Cells is the experiment's cell count, Size its factors.
	Cells, Max int
	Size       string
}

func (e *MaxCellsError) Error() string {
	return fmt.Sprintf("%s: experiment %s has %d cells (%s), above the limit of %d (--max-cells); "+
		"planning holds about %d KB per cell (the default limit, %d, keeps it near 1 GB), so this one needs about %s: "+
		"sweep fewer values, or raise --max-cells (0: no limit) on a machine with the memory",
		e.File, e.Experiment, e.Cells, e.Size, e.Max, CellBytes>>10, DefaultMaxCells, gigabytes(int64(e.Cells)*CellBytes))
}

// DefaultMaxCells is the default of --max-cells: planning 100,000 cells
// of runner/testdata/sweep100k.cue (400,001 steps) peaked at 0.93 GB
// resident (`/usr/bin/time -v hetalign vet`) and took 103 s on 2 shared
// cores; 10^6 cells took 8.8 GB and 127 s for vet, 13.8 GB for plan.
const DefaultMaxCells = 100_000

// CellBytes is about what planning holds per sweep cell (the measurement
// of DefaultMaxCells).
const CellBytes = 9500

func gigabytes(b int64) string {
	return fmt.Sprintf("%.1f GB", float64(b)/(1<<30))
}

// Step is one node of the graph.
type Step struct {
	// Index is the step's position in Graph.Steps.
	Index int
	// Key is the content key described in the package comment.
	Key string
	// Kind is one of steps.Truth … steps.Report.
	Kind string
	// Label describes the step for people.
	Label string
	// Params is the canonical JSON of the step's parameters.
	Params json.RawMessage
	// Inputs are the steps whose outputs this one reads, with their role
	// names (truth, dataset, train, eval:<i>).
	Inputs     []*Step
	InputNames []string
	// Seed seeds the step's random numbers (derived from Key).
	Seed uint64
	// GPU steps take the single GPU slot when they run.
	GPU bool
	// Partial steps (reports) run even when some inputs failed.
	Partial bool
	// Roles are the places the step fills: "<report>/<experiment>/<cell>/<role>".
	Roles []string
	// Code is the identity of the code that computes the step, and
	// Backend the compute backend for steps that compute on GoMLX (""
	// otherwise): with Kind, Params and the inputs' keys, the material of
	// Key (store.StepKey).
	Code, Backend string

	material [32]byte // hash of kind, params and inputs' material: seeds
}

// Report is the report step of one spec file.
type Report struct {
	File *spec.File
	Step *Step
}

// Graph is the plan of one or more spec files.
type Graph struct {
	// Steps in topological order: inputs come before their users.
	Steps   []*Step
	Reports []Report
	Options Options

	byKey    map[string]*Step
	progress *progress                  // while building
	canon    map[string]json.RawMessage // while building: see canonical
	codes    map[string]string          // distinct code identities (intern)
}

// progress throttles Options.Progress.
type progress struct {
	fn          func(done, total int)
	every       time.Duration
	done, total int
	next        time.Time
}

func newProgress(opts Options, total int) *progress {
	p := &progress{fn: opts.Progress, every: opts.ProgressEvery, total: total}
	if p.every <= 0 {
		p.every = 2 * time.Second
	}
	p.next = time.Now().Add(p.every)
	return p
}

// add counts n more cells planned.
func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.done += n
	if p.fn == nil {
		return
	}
	if now := time.Now(); !now.Before(p.next) {
		p.fn(p.done, p.total)
		p.next = now.Add(p.every)
	}
}

// Canonical re-encodes v as JSON with sorted object keys and Go's shortest
// round-trip float formatting, so equal values give equal bytes.
func Canonical(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return canonicalJSON(b)
}

// canonicalJSON re-encodes the JSON b as Canonical does.
func canonicalJSON(b []byte) (json.RawMessage, error) {
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return nil, err
	}
	return json.Marshal(generic)
}

func (g *Graph) add(kind string, params any, inputs []*Step, names []string, compute bool, label, role string) (*Step, error) {
	p, err := g.canonical(params)
	if err != nil {
		return nil, fmt.Errorf("encoding %s params: %w", kind, err)
	}
	code := g.Options.Code
	if g.Options.CodeFor != nil {
		if code, err = g.Options.CodeFor(kind, p); err != nil {
			return nil, fmt.Errorf("code identity of a %s step: %w", kind, err)
		}
	}
	code = g.intern(code)
	var keys []string
	for _, in := range inputs {
		keys = append(keys, in.Key)
	}
	backend := ""
	if compute {
		backend = g.Options.Backend
	}
	key, err := store.StepKey(kind, p, keys, code, backend)
	if err != nil {
		return nil, err
	}
	if s, ok := g.byKey[key]; ok {
		s.Roles = append(s.Roles, role)
		return s, nil
	}
	// The seed comes from the same description without the code and the
	// backend (inputs enter through their own such hashes), so a new build
	// draws the same random numbers for the same experiment.
	material := seedMaterial(kind, p, inputs)
	s := &Step{Index: len(g.Steps), Key: key, Kind: kind, Label: label, Params: p,
		Inputs: inputs, InputNames: names, Seed: binary.BigEndian.Uint64(material[:8]), Roles: []string{role},
		GPU: compute && g.Options.GPU, Code: code, Backend: backend, material: material}
	g.byKey[key] = s
	g.Steps = append(g.Steps, s)
	return s, nil
}

// seedMaterial hashes a step's kind and params with its inputs' material:
// the first 8 bytes seed the step's random numbers.
func seedMaterial(kind string, params json.RawMessage, inputs []*Step) [32]byte {
	m := sha256.New()
	fmt.Fprintf(m, "seed\x00%s\x00%s", kind, params)
	for _, in := range inputs {
		m.Write(in.material[:])
	}
	var material [32]byte
	copy(material[:], m.Sum(nil))
	return material
}

// intern returns one shared copy of the code identity c: a graph has a
// few distinct ones and many steps.
func (g *Graph) intern(c string) string {
	if g.codes == nil {
		g.codes = map[string]string{}
	}
	if x, ok := g.codes[c]; ok {
		return x
	}
	g.codes[c] = c
	return c
}

// canonical is Canonical, remembering the small parameters it has seen
// while building: many steps share theirs (every eval of a cell, every
// train of a method and seed), and re-encoding costs more than a lookup.
func (g *Graph) canonical(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	const maxMemo = 4 << 10
	if g.canon == nil || len(b) > maxMemo {
		return canonicalJSON(b)
	}
	if p, ok := g.canon[string(b)]; ok {
		return p, nil
	}
	p, err := canonicalJSON(b)
	if err != nil {
		return nil, err
	}
	g.canon[string(b)] = p
	return p, nil
}

// Build plans every spec file. Problems in cells (a sweep value that makes
// the spec invalid) are returned together as spec.Errors.
func Build(files []*spec.File, opts Options) (*Graph, error) {
	g := &Graph{Options: opts, byKey: map[string]*Step{}}
	// Refuse a sweep too large before evaluating anything.
	total := 0
	for _, f := range files {
		for _, x := range f.Experiments {
			n := x.Size()
			if opts.MaxCells > 0 && n > opts.MaxCells {
				return nil, &MaxCellsError{File: f.Path, Experiment: x.Name, Cells: n, Max: opts.MaxCells, Size: x.SizeText()}
			}
			if total > math.MaxInt-n {
				total = math.MaxInt
			} else {
				total += n
			}
		}
	}
	g.progress = newProgress(opts, total)
	g.canon = map[string]json.RawMessage{}
	defer func() { g.progress, g.canon = nil, nil }()
	var errs spec.Errors
	for _, f := range files {
		layout := reports.Layout{Name: f.Name}
		var evals []*Step
		evalIndex := map[*Step]int{}
		useEval := func(s *Step) int {
			if i, ok := evalIndex[s]; ok {
				return i
			}
			evalIndex[s] = len(evals)
			evals = append(evals, s)
			return evalIndex[s]
		}
		for _, x := range f.Experiments {
			xl, es := g.experiment(f, x, useEval)
			errs = append(errs, es...)
			if xl != nil {
				layout.Experiments = append(layout.Experiments, *xl)
			}
		}
		names := make([]string, len(evals))
		for i := range evals {
			names[i] = fmt.Sprintf("eval:%d", i)
		}
		rs, err := g.add(steps.Report, layout, evals, names, false, "report "+f.Name, f.Name+"/report")
		if err != nil {
			return nil, err
		}
		rs.Partial = true
		g.Reports = append(g.Reports, Report{File: f, Step: rs})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return g, nil
}

// cellLabel renders axis assignments as "path=value ... seed=N".
func cellLabel(names []string, labels map[string]string) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, n+"="+labels[n])
	}
	if len(parts) == 0 {
		return "base"
	}
	return strings.Join(parts, " ")
}

func (g *Graph) experiment(f *spec.File, x *spec.Experiment, useEval func(*Step) int) (*reports.ExperimentLayout, spec.Errors) {
	base := x.Base
	xl := &reports.ExperimentLayout{Name: x.Name, Description: base.Description,
		Alternatives: base.Alternatives(), Types: base.TypeNames(),
		NoRecords: base.Report.Records != nil && !*base.Report.Records}
	xl.Methods = x.MethodOrder
	var axisNames []string
	for _, a := range x.Axes {
		for p, path := range a.Paths {
			vals := make([]string, a.Len())
			for i := range vals {
				vals[i] = a.Label(i, p)
			}
			xl.Axes = append(xl.Axes, reports.Axis{Name: path, Values: vals})
			axisNames = append(axisNames, path)
		}
	}
	seedVals := make([]string, len(x.Seeds))
	for i, s := range x.Seeds {
		seedVals[i] = fmt.Sprint(s)
	}
	xl.Axes = append(xl.Axes, reports.Axis{Name: spec.AxisSeed, Values: seedVals})
	for _, tn := range x.TableOrder {
		t := base.Report.Tables[tn]
		where := map[string]string{}
		for k, v := range t.Where {
			where[k] = spec.Canonical(v)
			if k == spec.AxisMethod || k == spec.AxisAlternative {
				where[k] = fmt.Sprint(v)
			}
		}
		xl.Tables = append(xl.Tables, reports.TableLayout{Name: tn, Title: t.Title, Rows: t.Rows,
			Columns: t.Columns, Cells: t.Cells(), Where: where, Each: t.Each, Mean: t.Mean, Summary: t.Summary, Digits: t.Digits, Show: t.Show, Partial: t.Partial})
	}
	for _, pn := range x.PlotOrder {
		p := base.Report.Plots[pn]
		kind := p.Kind
		if kind == "" {
			kind = "lines"
		}
		xl.Plots = append(xl.Plots, reports.PlotLayout{Name: pn, Title: p.Title, Table: p.Table, Kind: kind,
			Columns: p.Columns, Normalize: p.Normalize, Band: p.Band})
	}
	for _, cn := range x.ClaimOrder {
		cl, err := claimLayout(cn, base.Report.Claims[cn])
		if err != nil {
			return nil, spec.Errors{x.ErrAt("report.claims."+cn, "%v", err)}
		}
		xl.Claims = append(xl.Claims, cl)
	}
	var truthMetrics, methodMetrics []string
	for _, m := range metrics.All() {
		if !slices.Contains(base.Metrics, m.Name) {
			continue
		}
		if m.Scope == metrics.Truth {
			truthMetrics = append(truthMetrics, m.Name)
		} else {
			methodMetrics = append(methodMetrics, m.Name)
		}
	}
	var errs spec.Errors
	prefix := f.Name + "/" + x.Name + "/"
	// Labels of every axis value, rendered once and shared by the cells.
	labelOf := make([][][]string, len(x.Axes))
	for a, ax := range x.Axes {
		labelOf[a] = make([][]string, ax.Len())
		for i := range labelOf[a] {
			labelOf[a][i] = make([]string, len(ax.Paths))
			for p := range ax.Paths {
				labelOf[a][i][p] = ax.Label(i, p)
			}
		}
	}
	seeds := max(len(x.Seeds), 1)
	// Cells stream in order (the last axis varies fastest); each cell's
	// configuration is dropped once its steps are added.
	err := x.EachCell(g.Options.Workers, func(choice []int, cfg *spec.Config, err error) error {
		labels := make(map[string]string, len(axisNames))
		for a, i := range choice {
			for p, path := range x.Axes[a].Paths {
				labels[path] = labelOf[a][i][p]
			}
		}
		if err == nil {
			err = g.cell(x, cfg, labels, axisNames, prefix, truthMetrics, methodMetrics, xl, useEval)
		}
		g.progress.add(seeds)
		if err != nil {
			if se, ok := err.(spec.Errors); ok {
				for _, e := range se {
					e.Msg = fmt.Sprintf("in cell %s: %s", cellLabel(axisNames, labels), e.Msg)
					errs = append(errs, e)
				}
			} else {
				errs = append(errs, spec.Error{File: x.File, Path: "experiments." + x.Name,
					Msg: fmt.Sprintf("in cell %s: %v", cellLabel(axisNames, labels), err)})
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, spec.Error{File: x.File, Path: "experiments." + x.Name, Msg: fmt.Sprintf("planning the cells: %v", err)})
	}
	return xl, errs
}

func (g *Graph) cell(x *spec.Experiment, cfg *spec.Config, labels map[string]string, axisNames []string, prefix string,
	truthMetrics, methodMetrics []string, xl *reports.ExperimentLayout, useEval func(*Step) int) error {
	var alts []string // recorded with the cell when they differ from the base's
	if a := cfg.Alternatives(); !slices.Equal(a, xl.Alternatives) {
		alts = a
	}
	if !slices.Equal(cfg.TypeNames(), xl.Types) {
		return fmt.Errorf("the sweep changes the user types; declare every type in the spec")
	}
	for n := range cfg.Methods {
		if !slices.Contains(xl.Methods, n) {
			return fmt.Errorf("the sweep adds method %s; declare every method in the spec", n)
		}
	}
	tp, err := steps.NewTruthParams(cfg)
	if err != nil {
		// Reading the environment's data failed: say where the env is.
		return spec.Errors{x.ErrAt("env", "%v", err)}
	}
	// The world codec, named in dataset and eval parameters for worlds
	// other than finite alternatives.
	world := cfg.EnvKind().World
	where := cellLabel(axisNames, labels)
	truth, err := g.add(steps.Truth, tp, nil, nil, false, fmt.Sprintf("truth %s%s", prefix, where), prefix+where+"/truth")
	if err != nil {
		return err
	}
	for _, seed := range x.Seeds {
		cl := map[string]string{spec.AxisSeed: fmt.Sprint(seed)}
		for k, v := range labels {
			cl[k] = v
		}
		at := prefix + cellLabel(append(slices.Clone(axisNames), spec.AxisSeed), cl)
		if len(truthMetrics) > 0 {
			ev, err := g.add(steps.Eval, steps.EvalParams{Metrics: truthMetrics, Env: world}, []*Step{truth}, []string{"truth"}, false,
				"eval truth "+at, at+"/eval/truth")
			if err != nil {
				return err
			}
			xl.Cells = append(xl.Cells, reports.CellRef{Axes: cl, Alternatives: alts, Input: useEval(ev)})
		}
		for _, mn := range xl.Methods {
			m := cfg.Methods[mn]
			kind, _ := methods.Lookup(m.Kind)
			inputs, names := []*Step{truth}, []string{"truth"}
			if kind.NeedsData() {
				d := cfg.Data[m.Data]
				dp := steps.DatasetParams{Regime: d.Regime, Pairs: d.Pairs, Annotators: d.Annotators, Per: d.Per, Judgments: d.Judgments, Env: world}
				if d.Pairs > 0 || d.Annotators > 0 || d.Judgments > 0 {
					s := seed
					dp.Seed = &s
				}
				ds, err := g.add(steps.Dataset, dp, []*Step{truth}, []string{"truth"}, false,
					fmt.Sprintf("dataset %s %s", m.Data, at), at+"/dataset/"+m.Data)
				if err != nil {
					return err
				}
				inputs, names = append(inputs, ds), append(names, "dataset")
			}
			// A policy that starts from a pre-trained reference reads it
			// from its own step, shared by every method of the cell with
			// the same architecture, pre-training and seed.
			if rp, ok := steps.NewReferenceParams(m, seed); ok {
				ref, err := g.add(steps.Reference, rp, []*Step{truth}, []string{"truth"}, true,
					fmt.Sprintf("reference %s", at), at+"/reference/"+mn)
				if err != nil {
					return err
				}
				inputs, names = append(inputs, ref), append(names, "reference")
			}
			// The exact tabular solver computes in float64 Go whatever the
			// backend, so its key names one only for SGD (GoMLX) fits.
			tp, sgd, err := steps.NewTrainParams(m, seed)
			if err != nil {
				return err
			}
			tr, err := g.add(steps.Train, tp, inputs, names, sgd,
				fmt.Sprintf("train %s %s", mn, at), at+"/train/"+mn)
			if err != nil {
				return err
			}
			if len(methodMetrics) == 0 {
				continue
			}
			ep := steps.EvalParams{Metrics: methodMetrics, Env: world}
			if refitted(methodMetrics) && world == "" && !sgd && (!kind.NeedsData() || cfg.Data[m.Data].Pairs == 0 && cfg.Data[m.Data].Annotators == 0) {
				// Axiom metrics fit the method again, exactly, on variations
				// of the world: they need its parameters and data regime.
				ep.Refit = tp
				if kind.NeedsData() {
					ep.Regime = cfg.Data[m.Data].Regime
				}
			}
			evIn, evNames := []*Step{truth, tr}, []string{"truth", "train"}
			if len(ep.Refit) > 0 {
				// The variations every axiom check tries are steps: derived
				// once per cell (variations), fitted once per method
				// (refit), read by the eval.
				for _, v := range metrics.VariationsFor(methodMetrics) {
					vs, err := g.add(steps.Variations, steps.VariationParams{Variation: v, Env: world}, []*Step{truth}, []string{"truth"}, false,
						fmt.Sprintf("variations %s %s%s", v, prefix, where), prefix+where+"/variations/"+v)
					if err != nil {
						return err
					}
					rs, err := g.add(steps.Refit, steps.RefitParams{Train: tp, Regime: ep.Regime, Variation: v, Env: world}, []*Step{vs}, []string{"variations"}, false,
						fmt.Sprintf("refit %s %s %s", mn, v, at), at+"/refit/"+mn+"/"+v)
					if err != nil {
						return err
					}
					evIn, evNames = append(evIn, rs), append(evNames, "refit")
				}
			}
			ev, err := g.add(steps.Eval, ep, evIn, evNames, false,
				fmt.Sprintf("eval %s %s", mn, at), at+"/eval/"+mn)
			if err != nil {
				return err
			}
			xl.Cells = append(xl.Cells, reports.CellRef{Axes: cl, Method: mn, Alternatives: alts, Input: useEval(ev)})
		}
	}
	return nil
}

// refitted reports whether a metric among names fits the method again on
// variations of the world (metrics.NeedsRefit).
func refitted(names []string) bool {
	for _, n := range names {
		if m, _ := metrics.Lookup(n); m.Needs == metrics.NeedsRefit {
			return true
		}
	}
	return false
}

// address is a claim's cell address as the report step reads it.
func address(c spec.CellConfig) reports.Address {
	return reports.Address{Experiment: c.Experiment, Table: c.Table, Each: spec.Label(c.Each), Row: spec.Label(c.Row), Column: spec.Label(c.Column)}
}

// claimLayout turns a checked claim into the report step's parameters.
func claimLayout(name string, c spec.ClaimConfig) (reports.ClaimLayout, error) {
	cl := reports.ClaimLayout{Name: name, Says: c.Says, Paper: c.Paper, Source: c.Source, Every: c.Every, Sign: c.Sign}
	if c.Cell != nil {
		a := address(*c.Cell)
		cl.Cell = &a
	}
	for _, a := range c.Order {
		cl.Order = append(cl.Order, address(a))
	}
	for rel, other := range c.Relations() {
		cl.Relation = rel
		if rel == reports.RelApprox {
			cl.Tolerance = c.Approx.Tolerance
		}
		if other == nil {
			continue
		}
		num, text, cell, err := spec.Operand(other)
		if err != nil {
			return cl, fmt.Errorf("claim %s: %w", name, err)
		}
		cl.Than = &reports.Operand{Number: num, Text: text}
		if cell != nil {
			a := address(*cell)
			cl.Than.Cell = &a
		}
	}
	return cl, nil
}
