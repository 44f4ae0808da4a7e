// Package survey turns a file of survey responses into per-group
// Luce–Shepard rewards (paper, Eq. 27), the input of the paper's real-data
// analysis (Section 7.1, Appendix E): user types are groups of respondents
// (e.g. by party), alternatives are a question's answer options.
//
// The file is CSV or TSV (by extension, or a tab in the header line) with
// one respondent per row, a header row whose names may be wrapped in single
// or double quotes, a group column, question columns and an optional weight
// column. Errors name file:line:col.
package survey

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"hetalign/envs/tabfile"
)

// Type maps a user type to the group codes of its respondents.
type Type struct {
	Name  string
	Codes []string
}

// Option is one answer option: its code in the file and its label.
type Option struct {
	Code  string
	Label string
}

// Source says how to read one question of a survey.
type Source struct {
	// Path of the CSV or TSV file.
	Path string
	// Group is the column holding each respondent's group code.
	Group string
	// Weight is the column of respondent weights ("" for equal weights).
	Weight string
	// Types map group codes to user types; respondents in other groups
	// are not used.
	Types []Type
	// Question is the column of the question's answers.
	Question string
	// Options in table order.
	Options []Option
	// Drop lists answer codes to discard (refused, don't know).
	Drop []string
	// Missing lists values meaning "no answer" (default: empty, NA, ".").
	Missing []string
}

// Counts are the weighted answer counts of one question.
type Counts struct {
	// Types and Options (labels) in the Source's order.
	Types   []string
	Options []string
	// N[u][k] is the summed weight of type u's respondents who chose
	// option k.
	N [][]float64
	// Respondents[u] counts type u's respondents with a valid answer.
	Respondents []int
	// Shares[u] is type u's share of the summed weight of valid answers:
	// the type weight w_u.
	Shares []float64
}

// Code normalises a code: numbers compare by value ("1", "1.0" and " 1"
// are the same code), anything else by its trimmed text.
func Code(s string) string {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return s
}

// index maps codes to types and options, and lists dropped codes.
type index struct {
	typeOf, optionOf map[string]int
	drop             map[string]bool
	codes            []string
}

func (src Source) index() index {
	ix := index{typeOf: map[string]int{}, optionOf: map[string]int{}, drop: map[string]bool{}}
	for u, t := range src.Types {
		for _, c := range t.Codes {
			ix.typeOf[Code(c)] = u
		}
	}
	for k, o := range src.Options {
		ix.optionOf[Code(o.Code)] = k
		ix.codes = append(ix.codes, o.Code)
	}
	for _, d := range src.Drop {
		ix.drop[Code(d)] = true
	}
	return ix
}

func (src Source) emptyCounts() *Counts {
	c := &Counts{Options: make([]string, len(src.Options)), N: make([][]float64, len(src.Types)),
		Respondents: make([]int, len(src.Types)), Shares: make([]float64, len(src.Types))}
	for k, o := range src.Options {
		c.Options[k] = o.Label
	}
	for u, t := range src.Types {
		c.Types = append(c.Types, t.Name)
		c.N[u] = make([]float64, len(src.Options))
	}
	return c
}

// Read counts the answers to src.Question by type.
func Read(src Source) (*Counts, error) {
	f, err := os.Open(src.Path)
	if err != nil {
		return nil, fmt.Errorf("reading survey: %w", err)
	}
	defer f.Close()
	return read(f, src)
}

func read(in io.Reader, src Source) (*Counts, error) {
	t, err := tabfile.Open(in, src.Path)
	if err != nil {
		return nil, err
	}
	gcol, err := t.Column(src.Group, "group")
	if err != nil {
		return nil, err
	}
	qcol, err := t.Column(src.Question, "question")
	if err != nil {
		return nil, err
	}
	wcol := -1
	if src.Weight != "" {
		if wcol, err = t.Column(src.Weight, "weight"); err != nil {
			return nil, err
		}
	}
	ix := src.index()
	missing := map[string]bool{"": true, "NA": true, ".": true}
	if src.Missing != nil {
		missing = map[string]bool{"": true}
		for _, m := range src.Missing {
			missing[strings.TrimSpace(m)] = true
		}
	}
	c := src.emptyCounts()
	for {
		rec, err := t.Next(max(gcol, qcol, wcol))
		if err != nil {
			return nil, err
		}
		if rec == nil {
			break
		}
		g := strings.TrimSpace(rec[gcol])
		if missing[g] {
			continue
		}
		u, ok := ix.typeOf[Code(g)]
		if !ok {
			continue // a group no type claims
		}
		a := strings.TrimSpace(rec[qcol])
		if missing[a] || ix.drop[Code(a)] {
			continue
		}
		k, ok := ix.optionOf[Code(a)]
		if !ok {
			l, col := t.At(qcol)
			return nil, t.Fail(l, col, "answer %q to %s is not an option code (options %s; drop %s)", a, src.Question,
				strings.Join(ix.codes, ", "), strings.Join(src.Drop, ", "))
		}
		w := 1.0
		if wcol >= 0 {
			ws := strings.TrimSpace(rec[wcol])
			w, err = strconv.ParseFloat(ws, 64)
			if err != nil || w < 0 || math.IsInf(w, 0) || math.IsNaN(w) {
				l, col := t.At(wcol)
				return nil, t.Fail(l, col, "weight %q is not a non-negative number", ws)
			}
		}
		c.N[u][k] += w
		c.Respondents[u]++
	}
	var total float64
	for u := range c.N {
		for _, n := range c.N[u] {
			c.Shares[u] += n
		}
		total += c.Shares[u]
	}
	for u, s := range c.Shares {
		if c.Respondents[u] == 0 || s == 0 {
			return nil, fmt.Errorf("%s:1:%d: question %s: type %s (codes %s) has no respondents with an answer",
				src.Path, qcol+1, src.Question, src.Types[u].Name, strings.Join(src.Types[u].Codes, ", "))
		}
		c.Shares[u] = s / total
	}
	return c, nil
}

// SharesColumns names the columns of a table of per-group option shares.
type SharesColumns struct {
	Question, Option, Value string
}

// ReadShares reads a long table with one row per group, question and
// option: the group code (column src.Group), the question name, the option
// code and a share or count of the group's answers. Rows of other questions
// and of groups no type claims are skipped; dropped and empty codes too.
// N[u][k] sums the values of type u's groups. Shares are left zero: the
// caller supplies type weights (a table of shares says nothing of group
// sizes).
func ReadShares(src Source, cols SharesColumns) (*Counts, error) {
	f, err := os.Open(src.Path)
	if err != nil {
		return nil, fmt.Errorf("reading survey shares: %w", err)
	}
	defer f.Close()
	t, err := tabfile.Open(f, src.Path)
	if err != nil {
		return nil, err
	}
	var g, q, o, v int
	for _, c := range []struct {
		name string
		dst  *int
	}{{src.Group, &g}, {cols.Question, &q}, {cols.Option, &o}, {cols.Value, &v}} {
		if *c.dst, err = t.Column(c.name, "shares"); err != nil {
			return nil, err
		}
	}
	ix := src.index()
	c := src.emptyCounts()
	for {
		rec, err := t.Next(max(g, q, o, v))
		if err != nil {
			return nil, err
		}
		if rec == nil {
			break
		}
		if strings.TrimSpace(rec[q]) != src.Question {
			continue
		}
		u, ok := ix.typeOf[Code(rec[g])]
		if !ok || ix.drop[Code(rec[o])] || strings.TrimSpace(rec[o]) == "" {
			continue
		}
		k, ok := ix.optionOf[Code(rec[o])]
		if !ok {
			l, cc := t.At(o)
			return nil, t.Fail(l, cc, "option %q of %s is not an option code", rec[o], src.Question)
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(rec[v]), 64)
		if err != nil || x < 0 || math.IsInf(x, 0) || math.IsNaN(x) {
			l, cc := t.At(v)
			return nil, t.Fail(l, cc, "value %q is not a non-negative number", rec[v])
		}
		c.N[u][k] += x
		c.Respondents[u]++
	}
	for u, row := range c.N {
		var tot float64
		for _, x := range row {
			tot += x
		}
		if tot == 0 {
			return nil, fmt.Errorf("%s: question %s: type %s has no shares", src.Path, src.Question, src.Types[u].Name)
		}
	}
	return c, nil
}

// Smoothing selects how an option a group never chose is treated.
type Smoothing struct {
	// Published reproduces the published code: p = n/N, r = log(p + 1e-15),
	// so a never-chosen option gets about −34.5 and dominates the average.
	Published bool
	// PseudoCount α > 0 for additive smoothing: p = (n + α)/(N + αK).
	PseudoCount float64
}

// Rewards are the Luce–Shepard rewards of Eq. 27: with p_u(k) the share
// of type u choosing option k among K options, r_u(k) = log p_u(k) minus
// its mean over options (rewards are identified up to a constant per type).
func (c *Counts) Rewards(s Smoothing) ([][]float64, error) {
	if !s.Published && !(s.PseudoCount > 0) {
		return nil, fmt.Errorf("Luce–Shepard rewards need a positive pseudo-count or the published treatment")
	}
	K := float64(len(c.Options))
	out := make([][]float64, len(c.N))
	for u, row := range c.N {
		var total float64
		for _, n := range row {
			total += n
		}
		r := make([]float64, len(row))
		var mean float64
		for k, n := range row {
			if s.Published {
				r[k] = math.Log(n/total + 1e-15)
			} else {
				r[k] = math.Log((n + s.PseudoCount) / (total + s.PseudoCount*K))
			}
			mean += r[k] / K
		}
		for k := range r {
			r[k] -= mean
		}
		out[u] = r
	}
	return out, nil
}
