// Package comparisons is the environment of real paired comparisons with
// annotator covariates (paired-comparison surveys): each annotator judged
// pairs of items; user types are defined by conditions on the annotators'
// covariates; each type's reward is its Bradley–Terry maximum-likelihood
// fit, r_u(i) = τ·(log π_i − mean_j log π_j) with Pr(i ≻ j | u) =
// σ((r_u(i) − r_u(j))/τ) (Eq. 8), and the type weights are the types'
// shares of annotators. Datasets come from the rows themselves
// (analytic.Observed).
package comparisons

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"hetalign/bradleyterry"
	"hetalign/envs/analytic"
	"hetalign/envs/tabfile"
)

// Source says how to read a long paired-comparison file.
type Source struct {
	Path string
	// Annotator, A, B and Outcome are column names.
	Annotator, A, B, Outcome string
	// First, Second and Tie list the outcome codes meaning "A preferred",
	// "B preferred" and "no preference".
	First, Second, Tie []string
	// DropTies leaves ties out instead of counting them half each way.
	DropTies bool
	// Items fixes the items' order (default: order of first appearance).
	Items []string
	// Types define the user types by conditions on covariate columns.
	Types []Type
	// DropUnmatched leaves out the annotators no type claims (e.g. a
	// missing covariate) instead of failing; Comparisons.Dropped lists them.
	DropUnmatched bool
}

// Type is a user type: the annotators whose covariates meet every
// condition.
type Type struct {
	Name  string
	Where []Condition
}

// Condition is a test on one covariate column: equal to one of Values
// (compared as text, numbers by value), or a number within [Min, Max].
type Condition struct {
	Column   string
	Values   []string
	Min, Max *float64
}

// Holds reports whether the value v meets the condition.
func (c Condition) Holds(v string) (bool, error) {
	v = strings.TrimSpace(v)
	if c.Min != nil || c.Max != nil {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false, fmt.Errorf("%s = %q is not a number", c.Column, v)
		}
		return (c.Min == nil || x >= *c.Min) && (c.Max == nil || x <= *c.Max), nil
	}
	for _, want := range c.Values {
		if code(want) == code(v) {
			return true, nil
		}
	}
	return false, nil
}

func (c Condition) String() string {
	switch {
	case c.Min != nil && c.Max != nil:
		return fmt.Sprintf("%v ≤ %s ≤ %v", *c.Min, c.Column, *c.Max)
	case c.Min != nil:
		return fmt.Sprintf("%s ≥ %v", c.Column, *c.Min)
	case c.Max != nil:
		return fmt.Sprintf("%s ≤ %v", c.Column, *c.Max)
	case len(c.Values) == 1:
		return fmt.Sprintf("%s = %s", c.Column, c.Values[0])
	}
	return fmt.Sprintf("%s ∈ {%s}", c.Column, strings.Join(c.Values, ", "))
}

// code normalises a value: numbers by value, text trimmed.
func code(s string) string {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return s
}

// Comparisons are the rows of a file with each annotator's type.
type Comparisons struct {
	Items      []string
	Types      []string
	Annotators []string // ids as in the file, in order of appearance
	// TypeOf[k] is annotator k's type.
	TypeOf []int
	Rows   []analytic.ObservedRow
	// Dropped lists the annotators left out because no type claims them
	// (Source.DropUnmatched).
	Dropped []string
}

// Read reads src.Path.
func Read(src Source) (*Comparisons, error) {
	f, err := os.Open(src.Path)
	if err != nil {
		return nil, fmt.Errorf("reading comparisons: %w", err)
	}
	defer f.Close()
	return read(f, src)
}

func read(in io.Reader, src Source) (*Comparisons, error) {
	t, err := tabfile.Open(in, src.Path)
	if err != nil {
		return nil, err
	}
	col := func(name, what string) (int, error) { return t.Column(name, what) }
	ac, err := col(src.Annotator, "annotator")
	if err != nil {
		return nil, err
	}
	ca, err := col(src.A, "item")
	if err != nil {
		return nil, err
	}
	cb, err := col(src.B, "item")
	if err != nil {
		return nil, err
	}
	oc, err := col(src.Outcome, "outcome")
	if err != nil {
		return nil, err
	}
	need := max(ac, ca, cb, oc)
	// The covariate columns the types read.
	var covs []string
	covCol := map[string]int{}
	for _, ty := range src.Types {
		for _, c := range ty.Where {
			if _, ok := covCol[c.Column]; ok {
				continue
			}
			i, err := col(c.Column, "covariate")
			if err != nil {
				return nil, fmt.Errorf("type %s: %w", ty.Name, err)
			}
			covCol[c.Column] = i
			covs = append(covs, c.Column)
			need = max(need, i)
		}
	}
	outcome := map[string]float64{}
	for _, c := range src.First {
		outcome[code(c)] = 1
	}
	for _, c := range src.Second {
		outcome[code(c)] = 0
	}
	for _, c := range src.Tie {
		outcome[code(c)] = 0.5
	}
	out := &Comparisons{}
	for _, ty := range src.Types {
		out.Types = append(out.Types, ty.Name)
	}
	itemIx := map[string]int{}
	for _, it := range src.Items {
		itemIx[it] = len(out.Items)
		out.Items = append(out.Items, it)
	}
	fixed := len(src.Items) > 0
	annIx := map[string]int{}
	annCov := [][]string{} // each annotator's covariates, as first seen
	inA, inB := map[string]bool{}, map[string]bool{}
	type pos struct{ line, col int }
	firstAt := map[string]pos{}
	for {
		rec, err := t.Next(need)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			break
		}
		id := strings.TrimSpace(rec[ac])
		k, seen := annIx[id]
		if !seen {
			k = len(out.Annotators)
			annIx[id] = k
			out.Annotators = append(out.Annotators, id)
			cv := make([]string, len(covs))
			for j, c := range covs {
				cv[j] = strings.TrimSpace(rec[covCol[c]])
			}
			annCov = append(annCov, cv)
			l, cl := t.At(ac)
			firstAt[id] = pos{l, cl}
		} else {
			for j, c := range covs {
				if v := strings.TrimSpace(rec[covCol[c]]); v != annCov[k][j] {
					l, cl := t.At(covCol[c])
					return nil, t.Fail(l, cl, "annotator %s has %s = %q here but %q on line %d: covariates must not change within an annotator",
						id, c, v, annCov[k][j], firstAt[id].line)
				}
			}
		}
		item := func(ci int) (int, error) {
			name := strings.TrimSpace(rec[ci])
			i, ok := itemIx[name]
			if !ok {
				if fixed {
					l, cl := t.At(ci)
					return 0, t.Fail(l, cl, "item %q is not in env.items (%s)", name, strings.Join(out.Items, ", "))
				}
				i = len(out.Items)
				itemIx[name] = i
				out.Items = append(out.Items, name)
			}
			return i, nil
		}
		a, err := item(ca)
		if err != nil {
			return nil, err
		}
		b, err := item(cb)
		if err != nil {
			return nil, err
		}
		if a == b {
			l, cl := t.At(cb)
			return nil, t.Fail(l, cl, "item %q is compared with itself", rec[cb])
		}
		inA[out.Items[a]], inB[out.Items[b]] = true, true
		o := code(rec[oc])
		win, ok := outcome[o]
		if !ok {
			l, cl := t.At(oc)
			return nil, t.Fail(l, cl, "outcome %q is not a known code (first preferred: %s; second: %s; tie: %s)", rec[oc],
				strings.Join(src.First, ", "), strings.Join(src.Second, ", "), strings.Join(src.Tie, ", "))
		}
		if win == 0.5 && src.DropTies {
			continue
		}
		out.Rows = append(out.Rows, analytic.ObservedRow{Annotator: int32(k), A: int32(a), B: int32(b), Win: win})
	}
	if len(out.Rows) == 0 {
		return nil, fmt.Errorf("%s: no comparisons", src.Path)
	}
	for _, it := range out.Items {
		if !inA[it] && !inB[it] {
			return nil, fmt.Errorf("%s: item %q is never compared", src.Path, it)
		}
	}
	// Types: each annotator matches exactly one.
	out.TypeOf = make([]int, len(out.Annotators))
	var none []string
	for k, id := range out.Annotators {
		match := -1
		for u, ty := range src.Types {
			ok := true
			for _, c := range ty.Where {
				j := slices.Index(covs, c.Column)
				h, err := c.Holds(annCov[k][j])
				if err != nil {
					p := firstAt[id]
					return nil, t.Fail(p.line, p.col, "annotator %s, type %s: %v", id, ty.Name, err)
				}
				ok = ok && h
			}
			if !ok {
				continue
			}
			if match >= 0 {
				p := firstAt[id]
				return nil, t.Fail(p.line, p.col, "annotator %s matches both type %s and type %s: make the types' conditions exclusive",
					id, src.Types[match].Name, ty.Name)
			}
			match = u
		}
		if match < 0 {
			none = append(none, id)
		}
		out.TypeOf[k] = match
	}
	if len(none) > 0 && src.DropUnmatched {
		out.dropUnmatched(none)
		if len(out.Annotators) == 0 {
			return nil, fmt.Errorf("%s: no annotator matches a type", src.Path)
		}
	} else if len(none) > 0 {
		sample := none
		if len(sample) > 10 {
			sample = append(slices.Clone(sample[:10]), "…")
		}
		return nil, fmt.Errorf("%s: %d annotator(s) match no type (%s); add a type for them or widen the conditions", src.Path, len(none), strings.Join(sample, ", "))
	}
	for i := range out.Rows {
		out.Rows[i].Type = int32(out.TypeOf[out.Rows[i].Annotator])
	}
	return out, nil
}

// Shares are the types' shares of annotators.
func (c *Comparisons) Shares() []float64 {
	w := make([]float64, len(c.Types))
	for _, u := range c.TypeOf {
		w[u] += 1 / float64(len(c.TypeOf))
	}
	return w
}

// Wins returns, for type u, W[i][j]: the judgements of type u preferring
// item i over item j (a tie counts ½ each way).
func (c *Comparisons) Wins(u int) [][]float64 {
	n := len(c.Items)
	w := make([][]float64, n)
	for i := range w {
		w[i] = make([]float64, n)
	}
	for _, r := range c.Rows {
		if int(r.Type) != u {
			continue
		}
		w[r.A][r.B] += r.Win
		w[r.B][r.A] += 1 - r.Win
	}
	return w
}

// Counts returns, for type u, the strict wins W[i][j] (judgements of
// type u preferring i to j) and the ties T[i][j] between i < j (upper
// triangle): the data of Davidson's model (FitDavidson).
func (c *Comparisons) Counts(u int) (wins, ties [][]float64) {
	n := len(c.Items)
	wins, ties = square(n), square(n)
	for _, r := range c.Rows {
		if int(r.Type) != u {
			continue
		}
		switch r.Win {
		case 1:
			wins[r.A][r.B]++
		case 0:
			wins[r.B][r.A]++
		default:
			ties[min(r.A, r.B)][max(r.A, r.B)]++
		}
	}
	return wins, ties
}

func square(n int) [][]float64 {
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
	}
	return m
}

// FitDavidson is the maximum-likelihood fit of Davidson's (1970) tie
// model to one type's strict wins and ties (bradleyterry.Davidson):
// P(i ≻ j) = π_i/(π_i + π_j + ν√(π_iπ_j)), P(tie) = ν√(π_iπ_j)/(…), with ν
// fitted per call (per type). It returns θ = log π centred to mean 0 —
// the Bradley–Terry reward of the strict preferences, since P(i ≻ j | no
// tie) = σ(θ_i − θ_j) — and ν. Newton stops when no parameter moves by
// more than 1e-12. Without ties, with only ties, or when some items never
// beat nor tie the rest (Zermelo's condition with ties linking both ways),
// there is no maximum and the error says which.
func FitDavidson(wins, ties [][]float64) (theta []float64, nu float64, err error) {
	if set := bradleyterry.DavidsonUnbeaten(wins, ties); set != nil {
		return nil, 0, &ZermeloError{Items: set, Ties: true}
	}
	return bradleyterry.Davidson(wins, ties, 1e-12, 200)
}

// FitBT is the Bradley–Terry maximum-likelihood fit of win counts
// W[i][j] (i preferred to j): the log-strengths θ maximising
// Σ_{i≠j} W_ij log σ(θ_i − θ_j), centred to mean 0, by the MM algorithm
// (Hunter 2004, Eq. 3), π_i ← W_i / Σ_{j≠i} n_ij/(π_i + π_j) with W_i =
// Σ_j W_ij and n_ij = W_ij + W_ji, iterated until no log-strength moves
// by more than 1e-13. The maximum exists and is unique exactly when the
// directed graph with an edge i → j whenever W_ij > 0 is strongly
// connected (Zermelo's condition; Hunter's Assumption 1); otherwise the
// error names a set of items that never beat the rest.
func FitBT(w [][]float64) ([]float64, error) {
	n := len(w)
	if n < 2 {
		return nil, fmt.Errorf("Bradley–Terry needs at least two items")
	}
	if set := bradleyterry.Unbeaten(w); set != nil {
		return nil, &ZermeloError{Items: set}
	}
	theta, ok := bradleyterry.MM(w, 1e-13, 1_000_000)
	if !ok {
		return nil, fmt.Errorf("Bradley–Terry MM did not converge in 1,000,000 iterations")
	}
	return theta, nil
}

// ZermeloError says that the items in Items never beat any item outside
// the set, so their strengths relative to the rest are not identified (the
// likelihood keeps rising as they fall).
type ZermeloError struct {
	Items []int
	// Ties: ties count as links both ways (Davidson's model).
	Ties bool
}

func (e *ZermeloError) Error() string {
	if e.Ties {
		return fmt.Sprintf("no maximum-likelihood Davidson fit: items %v never beat nor tie an item outside that set (the comparison graph is not strongly connected)", e.Items)
	}
	return fmt.Sprintf("no maximum-likelihood Bradley–Terry fit: items %v never beat an item outside that set (the comparison graph is not strongly connected)", e.Items)
}

// dropUnmatched removes the annotators whose TypeOf is −1 and their rows,
// renumbering the others in order.
func (c *Comparisons) dropUnmatched(ids []string) {
	c.Dropped = ids
	newIndex := make([]int32, len(c.Annotators))
	var anns []string
	var typeOf []int
	for k, id := range c.Annotators {
		if c.TypeOf[k] < 0 {
			newIndex[k] = -1
			continue
		}
		newIndex[k] = int32(len(anns))
		anns = append(anns, id)
		typeOf = append(typeOf, c.TypeOf[k])
	}
	rows := c.Rows[:0]
	for _, r := range c.Rows {
		if k := newIndex[r.Annotator]; k >= 0 {
			r.Annotator = k
			rows = append(rows, r)
		}
	}
	c.Annotators, c.TypeOf, c.Rows = anns, typeOf, rows
}
