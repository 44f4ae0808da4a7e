package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"

	"hetalign/specs/schema"
)

// Error is one problem in a spec, located at file:line:col.
type Error struct {
	// File, Line and Col locate the problem (Line 0 when unknown).
	File      string
	Line, Col int
	// Path is the CUE path of the offending value, e.g.
	// experiments.toy.population.types.A.weight.
	Path string
	// Msg says what is wrong.
	Msg string
}

func (e Error) String() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Col)
	}
	if e.Path != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Errors is every problem found in one or more specs; it is an error.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.String()
	}
	return strings.Join(lines, "\n")
}

// sorted orders errors by file, line, column and message, dropping duplicates.
func (es Errors) sorted() Errors {
	es = condense(es)
	// An error reported both in the user's file and in the schema is shown
	// once, where the user can fix it.
	inUser := map[string]bool{}
	for _, e := range es {
		if !schema.IsSchemaFile(e.File) {
			inUser[e.Path+"\x00"+e.Msg] = true
		}
	}
	kept := es[:0]
	for _, e := range es {
		if schema.IsSchemaFile(e.File) && inUser[e.Path+"\x00"+e.Msg] {
			continue
		}
		kept = append(kept, e)
	}
	es = kept
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.String() < b.String()
	})
	out := es[:0]
	for i, e := range es {
		if i > 0 && e == es[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

var (
	disjunctionSummary = regexp.MustCompile(`^\d+ errors in empty disjunction`)
	conflict           = regexp.MustCompile(`^conflicting values (.+?) and (.+?)( \(mismatched types .*\))?( \(set at .*\))?$`)
)

// condense rewrites CUE's errors for a value that matches no branch of a
// disjunction (one error per branch, plus a summary) into one error that
// lists the allowed values, and drops follow-on "unresolved disjunction"
// errors when the real cause is reported.
func condense(in Errors) Errors {
	type group struct {
		idx  []int
		vals [][2]string
	}
	groups := map[string]*group{}
	var order []string
	for i, e := range in {
		m := conflict.FindStringSubmatch(e.Msg)
		if m == nil {
			continue
		}
		k := fmt.Sprintf("%s:%d:%d:%s", e.File, e.Line, e.Col, e.Path)
		g := groups[k]
		if g == nil {
			g = &group{}
			groups[k] = g
			order = append(order, k)
		}
		g.idx = append(g.idx, i)
		g.vals = append(g.vals, [2]string{m[1], m[2]})
	}
	drop := map[int]bool{}
	var extra Errors
	for _, k := range order {
		g := groups[k]
		if len(g.idx) < 2 {
			continue
		}
		// The user's value is the one every conflict shares.
		user := ""
		for _, cand := range g.vals[0] {
			shared := true
			for _, v := range g.vals[1:] {
				if v[0] != cand && v[1] != cand {
					shared = false
				}
			}
			if shared {
				user = cand
			}
		}
		if user == "" {
			continue
		}
		var allowed []string
		for _, v := range g.vals {
			other := v[0]
			if other == user {
				other = v[1]
			}
			allowed = append(allowed, other)
		}
		sort.Strings(allowed)
		for _, i := range g.idx {
			drop[i] = true
		}
		e := in[g.idx[0]]
		e.Msg = notOneOf(user, allowed)
		extra = append(extra, e)
	}
	var out Errors
	for i, e := range in {
		if drop[i] || disjunctionSummary.MatchString(e.Msg) {
			continue
		}
		out = append(out, e)
	}
	out = append(out, extra...)
	if len(out) > 0 {
		kept := out[:0]
		real := false
		for _, e := range out {
			if !strings.HasPrefix(e.Msg, "unresolved disjunction") {
				real = true
			}
		}
		for _, e := range out {
			if real && strings.HasPrefix(e.Msg, "unresolved disjunction") {
				continue
			}
			kept = append(kept, e)
		}
		out = kept
	}
	return out
}

// at builds an Error at a CUE position.
func at(pos token.Pos, path, format string, args ...any) Error {
	e := Error{Path: path, Msg: fmt.Sprintf(format, args...)}
	if pos.IsValid() {
		e.File, e.Line, e.Col = relPath(pos.Filename()), pos.Line(), pos.Column()
	}
	return e
}

func relPath(p string) string {
	if !filepath.IsAbs(p) {
		return p
	}
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}

// fromCUE converts a CUE error list, preferring a position in the user's
// files over one in the schema, and trims the #Spec prefix from paths.
func fromCUE(err error, fallbackFile string) Errors {
	var out Errors
	for _, ce := range errors.Errors(err) {
		var pos token.Pos
		for _, p := range errors.Positions(ce) {
			if !schema.IsSchemaFile(p.Filename()) {
				pos = p
				break
			}
		}
		if !pos.IsValid() {
			pos = ce.Position()
		}
		format, args := ce.Msg()
		path := strings.TrimPrefix(strings.Join(ce.Path(), "."), "#Spec.")
		e := at(pos, path, format, args...)
		if strings.HasPrefix(e.Msg, "conflicting values ") {
			e.Msg += bothPlaces(errors.Positions(ce))
		}
		if e.File == "" {
			e.File = fallbackFile
		}
		out = append(out, e)
	}
	return condense(out)
}

// bothPlaces names where the user's files set the two values of a
// conflict, " (set at a.cue:3:9 and a.cue:10:28)", when they are set in
// two places; "" otherwise.
func bothPlaces(ps []token.Pos) string {
	var places []string
	seen := map[string]bool{}
	for _, p := range ps {
		if !p.IsValid() || schema.IsSchemaFile(p.Filename()) {
			continue
		}
		s := fmt.Sprintf("%s:%d:%d", relPath(p.Filename()), p.Line(), p.Column())
		if !seen[s] {
			seen[s] = true
			places = append(places, s)
		}
	}
	if len(places) < 2 {
		return ""
	}
	return " (set at " + strings.Join(places, " and ") + ")"
}

// checkNumbers reports every number of a spec that does not fit a float64
// (CUE's numbers are arbitrary-precision; 1e400 is valid CUE), at its
// position.
func checkNumbers(v cue.Value, file string) Errors {
	var errs Errors
	v.Walk(func(x cue.Value) bool {
		if x.IncompleteKind() != cue.NumberKind && x.IncompleteKind() != cue.FloatKind && x.IncompleteKind() != cue.IntKind {
			return true
		}
		if !x.IsConcrete() {
			return true
		}
		if _, err := x.Float64(); err != nil {
			e := at(x.Pos(), strings.Join(pathStrings(x), "."), "%v does not fit in a 64-bit float (largest magnitude about 1.8e308)", x)
			if e.File == "" {
				e.File = file
			}
			errs = append(errs, e)
		}
		return true
	}, nil)
	return errs
}

func pathStrings(v cue.Value) []string {
	var out []string
	for _, s := range v.Path().Selectors() {
		out = append(out, s.String())
	}
	return out
}

// notOneOf words "the user's value is none of the allowed ones": every
// allowed value when there are few, else their number and the closest by
// edit distance (a list or struct form of the field, such as
// [#Metric, ...], is mentioned apart).
func notOneOf(user string, allowed []string) string {
	var literals, forms []string
	for _, a := range allowed {
		if strings.HasPrefix(a, `"`) || a == "true" || a == "false" || a != "" && (a[0] >= '0' && a[0] <= '9' || a[0] == '-') {
			literals = append(literals, a)
		} else {
			forms = append(forms, a)
		}
	}
	if len(literals) <= 24 {
		return fmt.Sprintf("%s is not one of %s", user, strings.Join(allowed, ", "))
	}
	sort.SliceStable(literals, func(i, j int) bool { return editDistance(user, literals[i]) < editDistance(user, literals[j]) })
	msg := fmt.Sprintf("%s is not one of the %d allowed values; closest: %s", user, len(literals), strings.Join(literals[:3], ", "))
	if len(forms) > 0 {
		msg += fmt.Sprintf(" (or a value of the form %s)", strings.Join(forms, ", "))
	}
	return msg + "; `hetalign methods`, `hetalign envs` and `hetalign metrics` list the kinds and metrics"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
