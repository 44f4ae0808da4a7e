package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
)

// Evaluating a sweep cell with CUE (unify the experiment with the cell's
// values, export it) costs about a millisecond; a sweep of 100,000 cells
// cannot afford one per cell. Most swept fields are leaves that nothing
// else reads: the cell's JSON is then the JSON of the experiment with the
// leaf's value written in. So the axes are split in two:
//
//   - patched axes: every path is a scalar field whose labels (and those
//     of its parents) no expression of the schema, the spec or its imports
//     names, so no other value is computed from it and no constraint but
//     its own reads it; each value was validated alone at load time
//     (readSweep), and its exported JSON is written into the cell's JSON
//     in place of the default;
//   - evaluated axes: all others (a field another one is computed from,
//     like y3 in `y1: (1 - y3) / 2`); CUE evaluates each combination of
//     their values once, the patched axes at their defaults.
//
// A patched field's own constraint may still read an evaluated one (`l2:
// <beta` with beta swept), so with each combination every patched value
// is checked against the field as that combination evaluates it; a cell
// with a value that does not fit there, or whose combination fails, is
// evaluated whole with CUE, as before, for exactly the same errors. Every
// cell's JSON is then decoded, completed and checked in Go as before
// (Check), so the cross-field rules still see every combination.

// Size is the number of cells of the experiment: the product of its axes'
// lengths times the number of seeds. It saturates at math.MaxInt.
func (x *Experiment) Size() int {
	n := x.combos()
	s := max(len(x.Seeds), 1)
	if n > math.MaxInt/s {
		return math.MaxInt
	}
	return n * s
}

// combos is the product of the axes' lengths (saturating).
func (x *Experiment) combos() int {
	n := 1
	for _, a := range x.Axes {
		l := a.Len()
		if l == 0 {
			return 0
		}
		if n > math.MaxInt/l {
			return math.MaxInt
		}
		n *= l
	}
	return n
}

// SizeText describes Size as a product, e.g. "100 × 100 values × 3 seeds".
func (x *Experiment) SizeText() string {
	s := ""
	for i, a := range x.Axes {
		if i > 0 {
			s += " × "
		}
		s += strconv.Itoa(a.Len())
	}
	if s == "" {
		s = "1"
	}
	seeds := "seeds"
	if len(x.Seeds) == 1 {
		seeds = "seed"
	}
	return fmt.Sprintf("%s values × %d %s", s, max(len(x.Seeds), 1), seeds)
}

// referencedNames collects every name an expression of files may refer to
// a field by: identifiers outside labels, selectors, string indexes, and
// for each alias the label of the field it names. It over-approximates:
// a name counts even when it resolves elsewhere.
func referencedNames(files []*ast.File, into map[string]bool) {
	aliases := map[string][]string{}
	for _, f := range files {
		var stack []string
		labels := map[*ast.Ident]bool{}
		ast.Walk(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Field:
				name := ""
				switch l := n.Label.(type) {
				case *ast.Ident:
					labels[l] = true
					name = l.Name
				case *ast.BasicLit:
					name, _ = strconv.Unquote(l.Value)
				case *ast.Alias:
					labels[l.Ident] = true
					if id, ok := l.Expr.(*ast.Ident); ok {
						labels[id] = true
						name = id.Name
					} else if bl, ok := l.Expr.(*ast.BasicLit); ok {
						name, _ = strconv.Unquote(bl.Value)
					}
					aliases[l.Ident.Name] = append(aliases[l.Ident.Name], name)
				}
				stack = append(stack, name)
			case *ast.Alias:
				if !labels[n.Ident] && len(stack) > 0 {
					labels[n.Ident] = true
					aliases[n.Ident.Name] = append(aliases[n.Ident.Name], stack[len(stack)-1])
				}
			case *ast.Ident:
				if !labels[n] {
					into[n.Name] = true
				}
			case *ast.SelectorExpr:
				if bl, ok := n.Sel.(*ast.BasicLit); ok {
					if s, err := strconv.Unquote(bl.Value); err == nil {
						into[s] = true
					}
				}
			case *ast.IndexExpr:
				if bl, ok := n.Index.(*ast.BasicLit); ok {
					if s, err := strconv.Unquote(bl.Value); err == nil {
						into[s] = true
					}
				}
			}
			return true
		}, func(n ast.Node) {
			if _, ok := n.(*ast.Field); ok {
				stack = stack[:len(stack)-1]
			}
		})
	}
	for a, names := range aliases {
		if into[a] {
			for _, n := range names {
				into[n] = true
			}
		}
	}
}

// schemaNames are the names the embedded schema refers to, parsed once.
var schemaNames = sync.OnceValue(func() map[string]bool {
	names := map[string]bool{}
	var files []*ast.File
	for _, f := range SchemaFiles() {
		af, err := parser.ParseFile(f.Name, f.Source)
		if err != nil {
			names["\x00unparsed"] = true // patch nothing
			continue
		}
		files = append(files, af)
	}
	referencedNames(files, names)
	return names
})

// instanceNames are the names the spec and everything it imports refer
// to, with the schema's.
func instanceNames(inst *build.Instance) map[string]bool {
	names := map[string]bool{}
	for n := range schemaNames() {
		names[n] = true
	}
	seen := map[*build.Instance]bool{}
	var walk func(*build.Instance)
	walk = func(in *build.Instance) {
		if seen[in] {
			return
		}
		seen[in] = true
		referencedNames(in.Files, names)
		for _, imp := range in.Imports {
			walk(imp)
		}
	}
	walk(inst)
	return names
}

// plainLabels splits a sweep path into its labels; ok is false for paths
// with other selectors than regular fields.
func plainLabels(path string) ([]string, bool) {
	cp := cue.ParsePath(path)
	if cp.Err() != nil {
		return nil, false
	}
	var out []string
	for _, s := range cp.Selectors() {
		if s.LabelType() != cue.StringLabel || s.ConstraintType() != 0 {
			return nil, false
		}
		out = append(out, s.Unquoted())
	}
	return out, len(out) > 0
}

// classify decides which axes can be patched (see the top of this file).
func (x *Experiment) classify() []bool {
	patch := make([]bool, len(x.Axes))
	if x.replica || x.names == nil || x.names["\x00unparsed"] {
		return patch
	}
	var all [][]string
	for _, a := range x.Axes {
		for _, p := range a.Paths {
			l, _ := plainLabels(p)
			all = append(all, l)
		}
	}
	prefixOf := func(a, b []string) bool {
		if len(a) > len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	base, err := x.core().MarshalJSON()
	if err != nil {
		return patch
	}
	k := 0
axes:
	for ai, a := range x.Axes {
		start := k
		k += len(a.Paths)
		if len(a.js) != a.Len() {
			continue
		}
		for pi, p := range a.Paths {
			labels := all[start+pi]
			if labels == nil {
				continue axes
			}
			for _, l := range append([]string{"experiments", x.Name}, labels...) {
				if x.names[l] {
					continue axes
				}
			}
			for j, other := range all {
				if j != start+pi && (other == nil || prefixOf(other, labels) || prefixOf(labels, other)) {
					continue axes
				}
			}
			fv := x.value.LookupPath(cue.ParsePath(p))
			if fv.IncompleteKind()&(cue.StructKind|cue.ListKind) != 0 {
				continue axes
			}
			if _, _, ok := jsonSpan(base, labels); !ok {
				continue axes
			}
			for i := range a.js {
				js := a.js[i][pi]
				if len(js) == 0 || js[0] == '{' || js[0] == '[' {
					continue axes
				}
			}
		}
		patch[ai] = true
	}
	return patch
}

// render formats a field's evaluated constraint with the values of what
// it refers to written in; ok is false when a name is left (other than
// CUE's predeclared types) or the rendering fails.
func render(v cue.Value) (string, bool) {
	n := v.Syntax()
	ok := true
	ast.Walk(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Ident:
			switch n.Name {
			case "number", "int", "float", "string", "bytes", "bool", "null", "_":
			default:
				ok = false
			}
		case *ast.SelectorExpr, *ast.CallExpr, *ast.IndexExpr, *ast.Comprehension, *ast.Interpolation:
			ok = false
		}
		return ok
	}, nil)
	if !ok {
		return "", false
	}
	b, err := format.Node(n)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// renders renders every patched field as the experiment was loaded.
func (x *Experiment) renders(patch []bool) [][]string {
	out := make([][]string, len(x.Axes))
	for a, ax := range x.Axes {
		if !patch[a] {
			continue
		}
		out[a] = make([]string, len(ax.Paths))
		for p, path := range ax.Paths {
			if r, ok := render(x.core().LookupPath(cue.ParsePath(path))); ok {
				out[a][p] = r
			} else {
				out[a][p] = "\x00" // matches nothing
			}
		}
	}
	return out
}

// template is the JSON of one combination of the evaluated axes, split
// where the patched paths' values go.
type template struct {
	segs  [][]byte // len(holes)+1 pieces
	holes [][2]int // axis and path index of each hole
	// bad[a][i] is set when value i of patched axis a does not fit the
	// combination (nil when there are no evaluated axes).
	bad [][]bool
}

// whole reports whether the cell must be evaluated whole with CUE.
func (t *template) whole(choice []int) bool {
	if t == nil {
		return true
	}
	for a, b := range t.bad {
		if b != nil && b[choice[a]] {
			return true
		}
	}
	return false
}

// misfits marks the values of the patched axes that do not fit the field
// as the combination v evaluates it. base[a][p] is the field's rendering
// in the experiment as loaded, where every value was checked: a field that
// renders the same (with no reference left) needs no check.
func (x *Experiment) misfits(v cue.Value, patch []bool, base [][]string) [][]bool {
	bad := make([][]bool, len(x.Axes))
	for a, ax := range x.Axes {
		if !patch[a] {
			continue
		}
		bad[a] = make([]bool, ax.Len())
		for p, path := range ax.Paths {
			fv := v.LookupPath(cue.ParsePath(path))
			if r, ok := render(fv); ok && base != nil && r == base[a][p] {
				continue
			}
			for i := range bad[a] {
				if !bad[a][i] && fv.Unify(ax.cue[i][p]).Validate(cue.Concrete(true)) != nil {
					bad[a][i] = true
				}
			}
		}
	}
	return bad
}

func (t *template) fill(x *Experiment, choice []int) []byte {
	n := 0
	for _, s := range t.segs {
		n += len(s)
	}
	for _, h := range t.holes {
		n += len(x.Axes[h[0]].js[choice[h[0]]][h[1]])
	}
	b := make([]byte, 0, n)
	for i, h := range t.holes {
		b = append(b, t.segs[i]...)
		b = append(b, x.Axes[h[0]].js[choice[h[0]]][h[1]]...)
	}
	return append(b, t.segs[len(t.segs)-1]...)
}

// newTemplate splits js at the values of the patched paths.
func newTemplate(x *Experiment, js []byte, patch []bool) (*template, bool) {
	type span struct{ start, end, axis, path int }
	var spans []span
	for a, ax := range x.Axes {
		if !patch[a] {
			continue
		}
		for p, path := range ax.Paths {
			labels, _ := plainLabels(path)
			s, e, ok := jsonSpan(js, labels)
			if !ok {
				return nil, false
			}
			spans = append(spans, span{s, e, a, p})
		}
	}
	// Sort by position (few holes: insertion sort).
	for i := 1; i < len(spans); i++ {
		for j := i; j > 0 && spans[j].start < spans[j-1].start; j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
	t := &template{}
	at := 0
	for _, s := range spans {
		if s.start < at {
			return nil, false
		}
		t.segs = append(t.segs, js[at:s.start])
		t.holes = append(t.holes, [2]int{s.axis, s.path})
		at = s.end
	}
	t.segs = append(t.segs, js[at:])
	return t, true
}

// jsonSpan finds the value at keys in the JSON object js: its start and
// end offsets.
func jsonSpan(js []byte, keys []string) (start, end int, ok bool) {
	i := skipSpace(js, 0)
	for _, k := range keys {
		if i >= len(js) || js[i] != '{' {
			return 0, 0, false
		}
		i++
		for {
			i = skipSpace(js, i)
			if i >= len(js) || js[i] != '"' {
				return 0, 0, false
			}
			ke := skipString(js, i)
			if ke < 0 {
				return 0, 0, false
			}
			var key string
			if err := json.Unmarshal(js[i:ke], &key); err != nil {
				return 0, 0, false
			}
			i = skipSpace(js, ke)
			if i >= len(js) || js[i] != ':' {
				return 0, 0, false
			}
			i = skipSpace(js, i+1)
			if key == k {
				break
			}
			i = skipValue(js, i)
			if i < 0 {
				return 0, 0, false
			}
			i = skipSpace(js, i)
			if i >= len(js) || js[i] != ',' {
				return 0, 0, false
			}
			i++
		}
	}
	e := skipValue(js, i)
	if e < 0 {
		return 0, 0, false
	}
	return i, e, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset after the string starting at b[i] ('"').
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the offset after the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			i = skipString(b, i)
			if i < 0 {
				return -1
			}
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
			if depth < 0 {
				return i
			}
		case ',', ' ', '\n', '\t', '\r':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	if depth != 0 {
		return -1
	}
	return i
}

// evalJSON unifies the experiment with the values of the axes in which
// (all when nil) chosen by choice and exports it; on failure it returns
// every error with its position.
func (x *Experiment) evalJSON(choice []int, which []bool) (cue.Value, []byte, error) {
	v := x.core()
	if len(choice) > 0 {
		// Gather every axis value in a small patch and unify once: each
		// unification re-evaluates the whole experiment.
		patch := v.Context().CompileString("{}")
		n := 0
		for a, i := range choice {
			if which != nil && !which[a] {
				continue
			}
			for p, path := range x.Axes[a].Paths {
				patch = patch.FillPath(cue.ParsePath(path), x.Axes[a].cue[i][p])
				n++
			}
		}
		if n > 0 {
			v = v.Unify(patch)
		}
	}
	// MarshalJSON fails on any error or incomplete value; only then is the
	// slower Validate run, for the full list of errors.
	js, err := v.MarshalJSON()
	if err != nil {
		if verr := v.Validate(cue.Concrete(true)); verr != nil {
			return v, nil, fromCUE(verr, x.File)
		}
		return v, nil, fromCUE(err, x.File)
	}
	return v, js, nil
}

// decodeCell decodes, completes and checks a cell's JSON.
func (x *Experiment) decodeCell(js []byte) (*Config, error) {
	var cfg Config
	if err := json.Unmarshal(js, &cfg); err != nil {
		return nil, fmt.Errorf("decoding cell of %s: %w", x.Name, err)
	}
	cfg.Dir = filepath.Dir(x.File)
	if err := cfg.applyDefaults(); err != nil {
		return nil, fmt.Errorf("cell of %s: %w", x.Name, err)
	}
	if errs := x.Check(&cfg); len(errs) > 0 {
		return nil, errs
	}
	return &cfg, nil
}

// replicas returns x and up to n-1 copies of it, each loaded in a CUE
// context of its own (CUE values are not safe for concurrent use).
func (x *Experiment) replicas(n int) []*Experiment {
	copies := []*Experiment{x}
	for range n - 1 {
		ctx := cuecontext.New()
		def, err := compileSchema(ctx)
		if err != nil {
			break
		}
		f, es := loadFile(ctx, def, x.File, x.opts, true)
		if len(es) > 0 || f == nil {
			break
		}
		for _, c := range f.Experiments {
			if c.Name == x.Name {
				copies = append(copies, c)
			}
		}
	}
	return copies
}

// EachCell evaluates every cell of the experiment and calls fn with each
// one's choice (value indices, one per axis, in Axes order), its decoded
// configuration or its error, in order: the last axis varies fastest. It
// streams: only a chunk of cells is held at a time, so memory does not
// grow with the number of cells. Up to workers goroutines evaluate; the
// calls to fn, their order and their arguments do not depend on workers.
// An error returned by fn stops the walk and is returned.
func (x *Experiment) EachCell(workers int, fn func(choice []int, cfg *Config, err error) error) error {
	total := x.combos()
	if total == 0 {
		return nil
	}
	workers = max(workers, 1)
	patch := x.classify()
	// The evaluated axes' combinations, numbered in mixed radix.
	evalIndex := func(choice []int) int {
		n := 0
		for a, i := range choice {
			if !patch[a] {
				n = n*x.Axes[a].Len() + i
			}
		}
		return n
	}
	nEval := 1
	anyPatch, anyEval := false, false
	for a, ax := range x.Axes {
		if patch[a] {
			anyPatch = true
		} else {
			anyEval = true
			nEval = min(nEval*ax.Len(), math.MaxInt/max(ax.Len(), 1))
		}
	}
	// Templates are kept for the whole walk when they are shared by
	// several cells and few; otherwise each chunk evaluates its own.
	keep := anyPatch && nEval <= 1<<16
	templates := map[int]*template{}
	var baseRenders [][]string
	if anyEval && anyPatch {
		baseRenders = x.renders(patch)
	}
	var copies []*Experiment
	const chunk = 1024
	const minPerWorker = 256 // below this a replica costs more than it saves

	choice := make([]int, len(x.Axes))
	type cell struct {
		choice []int
		cfg    *Config
		err    error
	}
	cells := make([]cell, 0, chunk)
	for done := 0; done < total; {
		cells = cells[:0]
		for len(cells) < chunk && done+len(cells) < total {
			cells = append(cells, cell{choice: append([]int(nil), choice...)})
			for k := len(choice) - 1; k >= 0; k-- {
				choice[k]++
				if choice[k] < x.Axes[k].Len() {
					break
				}
				choice[k] = 0
			}
		}
		// The combinations of evaluated axes this chunk needs.
		var need []int
		var needChoice [][]int
		for _, c := range cells {
			e := evalIndex(c.choice)
			if _, ok := templates[e]; ok {
				continue
			}
			templates[e] = nil
			need = append(need, e)
			needChoice = append(needChoice, c.choice)
		}
		if len(need) > 0 {
			w := min(workers, len(need)/minPerWorker)
			if w > len(copies) {
				copies = x.replicas(w) // rebuilt only when more are needed
			}
			w = max(min(w, len(copies)), 1)
			if len(copies) == 0 {
				copies = []*Experiment{x}
			}
			out := make([]*template, len(need))
			var wg sync.WaitGroup
			for k := range w {
				c := copies[k]
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := k; i < len(need); i += w {
						v, js, err := c.evalJSON(needChoice[i], notOf(patch))
						if err != nil {
							continue // its cells are evaluated whole, for their own errors
						}
						t, ok := newTemplate(x, js, patch)
						if !ok {
							continue // cannot happen for paths found in the base
						}
						if anyEval && anyPatch {
							t.bad = c.misfits(v, patch, baseRenders)
						}
						out[i] = t
					}
				}()
			}
			wg.Wait()
			for i, e := range need {
				templates[e] = out[i]
			}
		}
		// Decode the chunk in parallel: plain Go from here.
		var wg sync.WaitGroup
		var mu sync.Mutex // guards x.Cell (CUE) for template misses
		for k := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := k; i < len(cells); i += workers {
					c := &cells[i]
					t := templates[evalIndex(c.choice)]
					if t.whole(c.choice) {
						mu.Lock()
						c.cfg, c.err = x.Cell(c.choice)
						mu.Unlock()
						continue
					}
					c.cfg, c.err = x.decodeCell(t.fill(x, c.choice))
				}
			}()
		}
		wg.Wait()
		if !keep {
			clear(templates)
		}
		for i := range cells {
			if err := fn(cells[i].choice, cells[i].cfg, cells[i].err); err != nil {
				return err
			}
			cells[i] = cell{}
		}
		done += len(cells)
	}
	return nil
}

func notOf(b []bool) []bool {
	out := make([]bool, len(b))
	for i, v := range b {
		out[i] = !v
	}
	return out
}
