package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

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
	conflict           = regexp.MustCompile(`^conflicting values (.+) and (.+?)( \(mismatched types .*\))?$`)
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
		e.Msg = fmt.Sprintf("%s is not one of %s", user, strings.Join(allowed, ", "))
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
		if e.File == "" {
			e.File = fallbackFile
		}
		out = append(out, e)
	}
	return condense(out)
}
