// Package spec loads hetalign spec files: it unifies each with the embedded
// schema (specs/schema), reports every error at once with file:line:col,
// checks what the schema cannot (cross-references between fields), and
// decodes each experiment cell into Go values. CUE values are not safe for
// concurrent use: everything here runs on one goroutine, before any parallel
// work starts.
package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/ast/astutil"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/cue/token"

	"hetalign/specs/schema"
)

// Options control loading.
type Options struct {
	// Tags are key=value pairs injected into fields marked @tag(key).
	Tags []string
}

// File is one loaded spec: a report name and its experiments.
type File struct {
	// Path as given on the command line.
	Path string
	// Name of the report (the spec's name field, or the file's base name).
	Name string
	// Profile is the spec's profile field, "" when it has none.
	Profile string
	// Backend is the spec's default compute backend, "" when it has none.
	Backend string
	// Slurm is the spec's executor.slurm field, nil when it has none.
	Slurm *SlurmConfig
	// Digest is the SHA-256 of everything the spec's meaning depends on:
	// the schema, the tags, and the bytes of every CUE file loaded (the
	// spec's own and those it imports). Equal digests plan equally.
	Digest string
	// Experiments in declaration order.
	Experiments []*Experiment
}

// SlurmConfig is a spec's executor.slurm field: sbatch options of the
// Slurm executor's tasks (see the schema).
type SlurmConfig struct {
	Partition string   `json:"partition,omitempty"`
	Time      string   `json:"time,omitempty"`
	CPUs      int      `json:"cpus,omitempty"`
	Mem       string   `json:"mem,omitempty"`
	GPUs      int      `json:"gpus,omitempty"`
	Extra     []string `json:"extra,omitempty"`
}

// Experiment is one experiment of a spec with its sweep axes.
type Experiment struct {
	// Name is the experiment's key under experiments.
	Name string
	// File is the spec's path.
	File string
	// Axes are the sweep axes in the order the spec declares them.
	Axes []Axis
	// Seeds is the seed axis.
	Seeds []int
	// Base is the experiment decoded with every swept field at its default.
	Base *Config
	// MethodOrder and TableOrder list methods and tables in the order the
	// spec declares them (reports follow it).
	MethodOrder, TableOrder, PlotOrder []string
	// ClaimOrder lists the claims in the order the spec declares them.
	ClaimOrder []string

	opts      Options         // how the spec was loaded (for replicas)
	replica   bool            // a copy loaded in another CUE context (see Cells)
	value     cue.Value       // unified with the schema
	coreValue cue.Value       // value without sweep and report (see core)
	user      cue.Value       // as written, for positions
	names     map[string]bool // names expressions refer to (see classify)
}

// Axis is one sweep axis: a single path, or a zip group of paths whose
// value lists advance together.
type Axis struct {
	// Paths inside the experiment, e.g. "env.sampling.y3".
	Paths []string
	// Values[i][p] is the i-th value of Paths[p], decoded.
	Values [][]any

	cue [][]cue.Value
	js  [][][]byte // js[i][p]: value i of path p as it exports in place
	pos []token.Pos
}

// Len is the number of values along the axis.
func (a Axis) Len() int { return len(a.Values) }

// Label is the canonical JSON of value i of path p.
func (a Axis) Label(i, p int) string { return Canonical(a.Values[i][p]) }

// Canonical renders a decoded CUE value as compact JSON with sorted keys.
func Canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Load reads, validates and decodes every spec in paths. It returns every
// problem found in all of them as Errors.
func Load(paths []string, opts Options) ([]*File, error) {
	ctx := cuecontext.New()
	def, err := compileSchema(ctx)
	if err != nil {
		return nil, err
	}
	var files []*File
	var errs Errors
	for _, p := range paths {
		f, es := loadOne(ctx, def, p, opts)
		errs = append(errs, es...)
		if f != nil {
			files = append(files, f)
		}
	}
	// A tag that no spec declares is a mistake (a misspelt key).
	for _, t := range opts.Tags {
		key, _, _ := strings.Cut(t, "=")
		used := false
		for _, p := range paths {
			if ts, err := tagsFor(p, []string{t}); err == nil && len(ts) > 0 {
				used = true
			}
		}
		if !used && len(paths) > 0 {
			errs = append(errs, Error{File: paths[0], Msg: fmt.Sprintf("-t %s: no spec declares @tag(%s)", t, key)})
		}
	}
	// Each report goes to <out>/<name>/: two specs of one name would
	// overwrite each other's report.
	byName := map[string]string{}
	for _, f := range files {
		if other, ok := byName[f.Name]; ok {
			errs = append(errs, Error{File: f.Path, Msg: fmt.Sprintf("report name %q is also the name of %s: both would write <out>/%s/; give one a different name field", f.Name, other, f.Name)})
			continue
		}
		byName[f.Name] = f.Path
	}
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	return files, nil
}

func loadOne(ctx *cue.Context, def cue.Value, path string, opts Options) (*File, Errors) {
	// Say plainly what is wrong with the path itself before CUE's loader
	// (which takes a directory for a package import path) sees it.
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, Errors{{File: path, Msg: "no such spec file"}}
	case err != nil:
		return nil, Errors{{File: path, Msg: fmt.Sprintf("reading the spec: %v", err)}}
	case st.IsDir():
		return nil, Errors{{File: path, Msg: fmt.Sprintf("is a directory; name its spec files, e.g. %s", filepath.Join(path, "*.cue"))}}
	case !strings.HasSuffix(path, ".cue"):
		return nil, Errors{{File: path, Msg: "a spec file's name ends in .cue"}}
	}
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) == 0 {
		return nil, Errors{{File: path, Msg: "the spec file is empty; a spec needs experiments: NAME: {...} (see specs/examples/quickstart.cue)"}}
	}
	return loadFile(ctx, def, path, opts, false)
}

func loadFile(ctx *cue.Context, def cue.Value, path string, opts Options, replica bool) (*File, Errors) {
	tags, err := tagsFor(path, opts.Tags)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	opts.Tags = tags
	insts := load.Instances([]string{path}, &load.Config{Tags: tags})
	if len(insts) != 1 {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("expected one CUE instance, got %d", len(insts))}}
	}
	inst := insts[0]
	if inst.Err != nil {
		return nil, fromCUE(inst.Err, path)
	}
	u, user, errs := validateAll(ctx, def, inst, path)
	if len(errs) > 0 {
		return nil, errs
	}
	if errs := checkNumbers(user, path); len(errs) > 0 {
		return nil, errs
	}
	f := &File{Path: path, Name: strings.TrimSuffix(filepath.Base(path), ".cue"), Digest: digest(inst, opts.Tags)}
	if n := u.LookupPath(cue.ParsePath("name")); n.Exists() {
		f.Name, _ = n.String()
	}
	if p := u.LookupPath(cue.ParsePath("profile")); p.Exists() {
		f.Profile, _ = p.String()
	}
	if b := u.LookupPath(cue.ParsePath("backend")); b.Exists() {
		f.Backend, _ = b.String()
	}
	if v := u.LookupPath(cue.ParsePath("executor.slurm")); v.Exists() {
		f.Slurm = new(SlurmConfig)
		if err := v.Decode(f.Slurm); err != nil {
			return nil, fromCUE(err, path)
		}
	}
	it, err := u.LookupPath(cue.ParsePath("experiments")).Fields()
	if err != nil {
		return nil, fromCUE(err, path)
	}
	var names map[string]bool
	if !replica {
		names = instanceNames(inst)
	}
	for it.Next() {
		name := it.Selector().Unquoted()
		x, es := decodeExperiment(name, path, it.Value(), user.LookupPath(cue.MakePath(cue.Str("experiments"), cue.Str(name))), opts, replica, names)
		errs = append(errs, es...)
		if x != nil {
			f.Experiments = append(f.Experiments, x)
		}
	}
	errs = append(errs, checkClaims(f)...)
	f.Digest = withDataFiles(f)
	return f, errs
}

// tagsFor keeps the -t tags that the spec file declares (@tag(key)): one
// run can set profile=paper for every spec while some have no profiles.
// A tag no given spec declares is reported by Load.
func tagsFor(path string, tags []string) ([]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the spec: %w", err)
	}
	var out []string
	for _, t := range tags {
		key, _, _ := strings.Cut(t, "=")
		if strings.Contains(string(b), "@tag("+key+")") || strings.Contains(string(b), "@tag("+key+",") {
			out = append(out, t)
		}
	}
	return out, nil
}

// withDataFiles folds the bytes of the data files the experiments read
// (a survey's env.file) into the spec's digest: planning reads them.
func withDataFiles(f *File) string {
	h := sha256.New()
	h.Write([]byte(f.Digest))
	for _, x := range f.Experiments {
		for _, p := range x.Base.Env.Params.DataFiles(x.Base.Dir) {
			b, err := os.ReadFile(p)
			if err != nil {
				b = []byte("unreadable: " + err.Error())
			}
			fmt.Fprintf(h, "data %q %d\n", p, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// digest hashes the schema, the tags and every file of inst and its imports.
func digest(inst *build.Instance, tags []string) string {
	h := sha256.New()
	for _, f := range SchemaFiles() {
		fmt.Fprintf(h, "schema %q %d\n%s\n", f.Name, len(f.Source), f.Source)
	}
	for _, t := range tags {
		fmt.Fprintf(h, "tag %q\n", t)
	}
	seen := map[*build.Instance]bool{}
	var walk func(*build.Instance)
	walk = func(in *build.Instance) {
		if seen[in] {
			return
		}
		seen[in] = true
		for _, bf := range in.BuildFiles {
			b, err := os.ReadFile(bf.Filename)
			if err != nil {
				b = []byte("unreadable: " + err.Error())
			}
			fmt.Fprintf(h, "file %q %d\n", bf.Filename, len(b))
			h.Write(b)
		}
		for _, imp := range in.Imports {
			walk(imp)
		}
	}
	walk(inst)
	return hex.EncodeToString(h.Sum(nil))
}

// validateAll unifies the instance with the schema and collects every
// error. CUE reports one error per struct when several nest (a disallowed
// field next to an invalid one is lost), so after each round the fields
// that erred are pruned from the syntax tree and the rest is validated
// again; errors that the pruning itself causes (incomplete values) are not
// reported from later rounds.
func validateAll(ctx *cue.Context, def cue.Value, inst *build.Instance, path string) (unified, user cue.Value, errs Errors) {
	var all Errors
	seen := map[string]bool{}
	var first cue.Value
	for round := range 8 {
		v := ctx.BuildInstance(inst)
		if err := v.Err(); err != nil {
			if round == 0 {
				return v, v, fromCUE(err, path)
			}
			break
		}
		u := def.Unify(v)
		if round == 0 {
			first, user = u, v
		}
		err := u.Validate(cue.Concrete(true))
		if err == nil {
			break
		}
		var prune []token.Pos
		for _, ce := range cueerrors.Errors(err) {
			es := fromCUE(ce, path)
			if len(es) == 0 {
				continue
			}
			e := es[0]
			if round > 0 && strings.Contains(e.Msg, "incomplete value") {
				continue
			}
			if seen[e.String()] {
				continue
			}
			seen[e.String()] = true
			all = append(all, e)
			for _, p := range cueerrors.Positions(ce) {
				if !schema.IsSchemaFile(p.Filename()) {
					prune = append(prune, p)
					break
				}
			}
		}
		if len(prune) == 0 || !pruneFields(inst.Files, prune) {
			break
		}
		// BuildInstance caches its result: rebuild from the pruned syntax.
		next := build.NewContext().NewInstance(inst.Dir, nil)
		for _, f := range inst.Files {
			if err := next.AddSyntax(f); err != nil {
				return first, user, all
			}
		}
		inst = next
	}
	return first, user, relocate(all, user)
}

// shortList is CUE's message for a list shorter than its schema's minimum.
// tooFew is its message for a count below a minimum (alternatives: 1).
var (
	shortList = regexp.MustCompile(`incompatible list lengths \((\d+) and (\d+)\)`)
	tooFew    = regexp.MustCompile(`^invalid value (\d+) \(out of bound >=(\d+)\)`)
)

// relocate moves errors that CUE placed in the embedded schema to the
// value the user wrote at the same path, where there is one, and words
// CUE's messages for the few cases it says obscurely.
func relocate(errs Errors, user cue.Value) Errors {
	for i, e := range errs {
		if strings.Contains(e.Msg, "incompatible list lengths (0 and 1)") {
			errs[i].Msg = "the list is empty: give at least one value"
		}
		m := shortList.FindStringSubmatch(e.Msg)
		if m == nil {
			m = tooFew.FindStringSubmatch(e.Msg)
		}
		if m != nil && (strings.HasSuffix(e.Path, ".alternatives") || strings.HasSuffix(e.Path, ".items")) {
			n, _ := strconv.Atoi(m[1])
			need, _ := strconv.Atoi(m[2])
			if n < need {
				what := "no alternatives"
				if n == 1 {
					what = "one alternative"
				} else if n > 1 {
					what = fmt.Sprintf("%d alternatives", n)
				}
				errs[i].Msg = fmt.Sprintf("%s: an environment needs at least %d, since a preference compares two responses", what, need)
			}
		}
		if !schema.IsSchemaFile(e.File) || e.Path == "" {
			continue
		}
		p := cue.ParsePath(e.Path)
		if p.Err() != nil {
			continue
		}
		if v := user.LookupPath(p); v.Exists() && v.Pos().IsValid() {
			errs[i].File, errs[i].Line, errs[i].Col = relPath(v.Pos().Filename()), v.Pos().Line(), v.Pos().Column()
		}
	}
	return errs
}

// pruneFields deletes, for each position, the innermost field whose span
// contains it. It reports whether anything was deleted.
func pruneFields(files []*ast.File, positions []token.Pos) bool {
	victims := map[*ast.Field]bool{}
	for _, p := range positions {
		var best *ast.Field
		for _, f := range files {
			if f.Filename != p.Filename() {
				continue
			}
			ast.Walk(f, func(n ast.Node) bool {
				fd, ok := n.(*ast.Field)
				if !ok {
					return true
				}
				s, e := fd.Pos(), fd.End()
				if s.Offset() <= p.Offset() && p.Offset() <= e.Offset() {
					if best == nil || e.Offset()-s.Offset() < best.End().Offset()-best.Pos().Offset() {
						best = fd
					}
				}
				return true
			}, nil)
		}
		if best != nil {
			victims[best] = true
		}
	}
	if len(victims) == 0 {
		return false
	}
	for _, f := range files {
		astutil.Apply(f, func(c astutil.Cursor) bool {
			if fd, ok := c.Node().(*ast.Field); ok && victims[fd] {
				c.Delete()
				return false
			}
			return true
		}, nil)
	}
	return true
}

func decodeExperiment(name, path string, v, user cue.Value, opts Options, replica bool, names map[string]bool) (*Experiment, Errors) {
	x := &Experiment{Name: name, File: path, value: v, user: user, opts: opts, replica: replica, names: names}
	var cfg Config
	js, err := v.MarshalJSON()
	if err != nil {
		return nil, fromCUE(err, path)
	}
	if err := json.Unmarshal(js, &cfg); err != nil {
		return nil, Errors{{File: path, Path: "experiments." + name, Msg: err.Error()}}
	}
	cfg.Dir = filepath.Dir(path)
	if err := cfg.applyDefaults(); err != nil {
		return nil, Errors{{File: path, Path: "experiments." + name, Msg: err.Error()}}
	}
	x.Base = &cfg
	x.Seeds = cfg.Seeds
	x.MethodOrder = fieldOrder(v.LookupPath(cue.ParsePath("methods")))
	x.TableOrder = fieldOrder(v.LookupPath(cue.ParsePath("report.tables")))
	x.PlotOrder = fieldOrder(v.LookupPath(cue.ParsePath("report.plots")))
	x.ClaimOrder = fieldOrder(v.LookupPath(cue.ParsePath("report.claims")))
	errs := x.checkSeeds()
	errs = append(errs, x.readSweep()...)
	errs = append(errs, x.Check(&cfg)...)
	errs = append(errs, x.checkTables()...)
	errs = append(errs, x.checkPlots()...)
	return x, errs
}

func (x *Experiment) pos(path string) token.Pos {
	// Prefer the position the user wrote over the schema's: look the path
	// up in the spec as written, then walk up to the nearest that exists.
	cp := cue.ParsePath(path)
	sels := cp.Selectors()
	for n := len(sels); n >= 0; n-- {
		if v := x.user.LookupPath(cue.MakePath(sels[:n]...)); v.Exists() && v.Pos().IsValid() {
			return v.Pos()
		}
	}
	return x.value.Pos()
}

// ErrAt is an Error at the position of path (relative to the experiment)
// in the spec as written.
func (x *Experiment) ErrAt(path, format string, args ...any) Error {
	return x.errAt(path, format, args...)
}

func (x *Experiment) errAt(path, format string, args ...any) Error {
	return at(x.pos(path), "experiments."+x.Name+"."+path, format, args...)
}

// checkSeeds refuses an empty seed list (a table without rows) and a seed
// listed twice (counted twice in every mean over seeds), at the position
// of the list or of the repeated seed.
func (x *Experiment) checkSeeds() Errors {
	l := x.user.LookupPath(cue.ParsePath("seeds"))
	if !l.Exists() {
		return nil
	}
	it, err := l.List()
	if err != nil {
		return nil // not a list: the schema says so
	}
	var errs Errors
	first := map[string]token.Pos{}
	n := 0
	for it.Next() {
		n++
		v := it.Value()
		i, err := v.Int64()
		if err != nil {
			continue
		}
		k := strconv.FormatInt(i, 10)
		if p, ok := first[k]; ok {
			errs = append(errs, at(v.Pos(), "experiments."+x.Name+".seeds", "seed %s is listed twice (first at %s): each seed once, or every mean over seeds counts it twice", k, shortPos(p)))
			continue
		}
		first[k] = v.Pos()
	}
	if n == 0 {
		errs = append(errs, x.errAt("seeds", "seeds is empty, which leaves the experiment without cells: list at least one seed, or leave seeds out for [0]"))
	}
	return errs
}

// noDefaultHint is the advice for a swept path whose field the spec fixes
// to one value without a default (e.g. `beta: 1`): every other swept
// value conflicts with it. It is "" when the field has a default or is not
// fixed.
func (x *Experiment) noDefaultHint(path string) string {
	v := x.user.LookupPath(cue.ParsePath(path))
	if !v.Exists() || !v.IsConcrete() {
		return ""
	}
	if _, ok := v.Default(); ok {
		return ""
	}
	sels := cue.ParsePath(path).Selectors()
	if len(sels) == 0 {
		return ""
	}
	field := sels[len(sels)-1].String()
	var typ string
	switch v.Kind() {
	case cue.IntKind, cue.FloatKind, cue.NumberKind:
		typ = "number"
	case cue.StringKind:
		typ = "string"
	case cue.BoolKind:
		typ = "bool"
	default:
		return ""
	}
	return fmt.Sprintf(" (the spec fixes %s to %v; a swept field needs a default that every swept value fits: write `%s: %s | *%v`)", field, v, field, typ, v)
}

// shortPos is "line:col" of p, with its file when that is not file.
func shortPos(p token.Pos) string {
	if !p.IsValid() {
		return "?"
	}
	return fmt.Sprintf("%s:%d:%d", relPath(p.Filename()), p.Line(), p.Column())
}

// forbiddenSweepRoots are the parts of an experiment a sweep may not change.
var forbiddenSweepRoots = []string{"sweep", "seeds", "report", "metrics"}

func (x *Experiment) readSweep() Errors {
	var errs Errors
	sw := x.value.LookupPath(cue.ParsePath("sweep"))
	addAxis := func(paths []string, lists []cue.Value, where func(string) string) {
		ax := Axis{Paths: paths}
		n := -1
		for k, l := range lists {
			p := paths[k]
			target := x.value.LookupPath(cue.ParsePath(p))
			if err := cue.ParsePath(p).Err(); err != nil {
				errs = append(errs, x.errAt(where(p), "sweep path %q is not a CUE path: %v", p, err))
				return
			}
			root := strings.SplitN(p, ".", 2)[0]
			if p == "env.file" {
				errs = append(errs, x.errAt(where(p), "env.file cannot be swept: write one experiment per data file"))
				return
			}
			if slices.Contains(forbiddenSweepRoots, root) {
				errs = append(errs, x.errAt(where(p), "sweep path %q: %s cannot be swept (seeds are their own axis)", p, root))
				return
			}
			if !target.Exists() {
				errs = append(errs, x.errAt(where(p), "sweep path %q does not exist in experiment %s (a swept field must be written in the spec, with a default: e.g. `beta: number | *1`)", p, x.Name))
				return
			}
			vals, _ := l.List()
			var items []cue.Value
			for vals.Next() {
				items = append(items, vals.Value())
			}
			if n >= 0 && len(items) != n {
				errs = append(errs, x.errAt(where(p), "zip group: %q has %d values, the group's first path %d", p, len(items), n))
				return
			}
			n = len(items)
			for i, it := range items {
				if i >= len(ax.Values) {
					ax.Values = append(ax.Values, make([]any, len(paths)))
					ax.cue = append(ax.cue, make([]cue.Value, len(paths)))
					if !x.replica {
						ax.js = append(ax.js, make([][]byte, len(paths)))
					}
				}
				var dv any
				if err := it.Decode(&dv); err != nil {
					errs = append(errs, fromCUE(err, x.File)...)
					continue
				}
				ax.Values[i][k] = dv
				ax.cue[i][k] = it
				if x.replica {
					continue // the original already checked every value
				}
				filled := x.core().FillPath(cue.ParsePath(p), it)
				if err := filled.Validate(cue.Concrete(true)); err != nil {
					hint := x.noDefaultHint(p)
					for _, e := range fromCUE(err, x.File) {
						ip := it.Pos()
						errs = append(errs, at(ip, "experiments."+x.Name+".sweep", "value %s for %q does not fit: %s: %s%s", Canonical(dv), p, e.Path, e.Msg, hint))
					}
				} else if js, err := filled.LookupPath(cue.ParsePath(p)).MarshalJSON(); err == nil {
					ax.js[i][k] = js // the value as it exports in a cell (see classify)
				}
			}
			ax.pos = append(ax.pos, l.Pos())
		}
		// A value twice would make two cells of one and count it twice in
		// every summary; for a zip group, a tuple twice.
		if len(errs) == 0 && !x.replica {
			seen := map[string]int{}
			for i, vals := range ax.Values {
				k := Canonical(vals)
				if j, ok := seen[k]; ok {
					what := fmt.Sprintf("%q: %v is the same value as %v", paths[0], ax.cue[i][0], ax.cue[j][0])
					if len(paths) > 1 {
						what = fmt.Sprintf("zip group %s: values %s are the same as", Canonical(paths), k)
					}
					errs = append(errs, at(ax.cue[i][0].Pos(), "experiments."+x.Name+".sweep", "%s at %s: list each value once", what, shortPos(ax.cue[j][0].Pos())))
					continue
				}
				seen[k] = i
			}
		}
		if len(errs) == 0 {
			x.Axes = append(x.Axes, ax)
		}
	}
	it, err := sw.Fields()
	if err != nil {
		return fromCUE(err, x.File)
	}
	for it.Next() {
		key := it.Selector().Unquoted()
		if key == "zip" {
			groups, _ := it.Value().List()
			gi := 0
			for groups.Next() {
				g := groups.Value()
				gf, _ := g.Fields()
				var paths []string
				var lists []cue.Value
				for gf.Next() {
					paths = append(paths, gf.Selector().Unquoted())
					lists = append(lists, gf.Value())
				}
				idx := gi
				addAxis(paths, lists, func(p string) string { return fmt.Sprintf("sweep.zip[%d].%q", idx, p) })
				gi++
			}
			continue
		}
		addAxis([]string{key}, []cue.Value{it.Value()}, func(p string) string { return fmt.Sprintf("sweep.%q", p) })
	}
	// Two axes may not set the same path.
	seenPath := map[string]bool{}
	for _, a := range x.Axes {
		for _, p := range a.Paths {
			if seenPath[p] {
				errs = append(errs, x.errAt(fmt.Sprintf("sweep.%q", p), "path %q is swept twice", p))
			}
			seenPath[p] = true
		}
	}
	return errs
}

// cellFields are the parts of an experiment a cell is decoded from; the
// sweep itself and the report layout are left out of the per-cell
// evaluation, which makes filling a cell several times cheaper.
var cellFields = []string{"description", "population", "preference", "env", "data", "methods", "metrics", "seeds"}

// core returns the experiment without its sweep and report, built once.
func (x *Experiment) core() cue.Value {
	if x.coreValue.Exists() {
		return x.coreValue
	}
	v := x.value.Context().CompileString("{}")
	for _, f := range cellFields {
		if fv := x.value.LookupPath(cue.ParsePath(f)); fv.Exists() {
			v = v.FillPath(cue.ParsePath(f), fv)
		}
	}
	x.coreValue = v
	return v
}

// fieldOrder lists the field names of a struct in declaration order.
func fieldOrder(v cue.Value) []string {
	var out []string
	it, err := v.Fields()
	if err != nil {
		return nil
	}
	for it.Next() {
		out = append(out, it.Selector().Unquoted())
	}
	return out
}

// Cells evaluates the cells chosen by choices (see Cell) on up to workers
// goroutines. CUE values are not safe for concurrent use, so each extra
// worker loads its own copy of the spec in a CUE context of its own.
// Results are in the order of choices and do not depend on workers.
// EachCell, which streams and evaluates far fewer cells with CUE, is the
// way to walk a whole sweep.
func (x *Experiment) Cells(choices [][]int, workers int) ([]*Config, []error) {
	cfgs := make([]*Config, len(choices))
	errs := make([]error, len(choices))
	const minPerWorker = 256 // below this a replica costs more than it saves
	workers = max(min(workers, len(choices)/minPerWorker), 1)
	copies := x.replicas(workers)
	var wg sync.WaitGroup
	for k, c := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < len(choices); i += len(copies) {
				cfgs[i], errs[i] = c.Cell(choices[i])
			}
		}()
	}
	wg.Wait()
	return cfgs, errs
}

// Cell fills the axes with the chosen value indices (one per axis, in
// Axes order), validates the result and decodes it.
func (x *Experiment) Cell(choice []int) (*Config, error) {
	if len(choice) != len(x.Axes) {
		return nil, fmt.Errorf("experiment %s: %d axis choices for %d axes", x.Name, len(choice), len(x.Axes))
	}
	_, js, err := x.evalJSON(choice, nil)
	if err != nil {
		return nil, err
	}
	return x.decodeCell(js)
}
