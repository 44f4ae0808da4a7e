package survey

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
)

// SharesTolerance is how far a line's shares may sum from 1.
const SharesTolerance = 1e-6

// subpopLine is one line of a group-shares JSONL file (the SubPOP layout):
// one question's answer shares within one group of one attribute.
type subpopLine struct {
	QKey      string    `json:"qkey"`
	Attribute string    `json:"attribute"`
	Group     string    `json:"group"`
	Question  string    `json:"question"`
	Options   []string  `json:"options"`
	Ordinal   []float64 `json:"ordinal"`
	Responses []float64 `json:"responses"`
	Refusal   *float64  `json:"refusal_rate"`
}

// GroupShares is a parsed group-shares file: for every question, its
// answer options and each group's shares. It is checked whole when read,
// so every bad line is found whichever question a cell analyses.
type GroupShares struct {
	Path      string
	Questions map[string]*SharesQuestion
}

// SharesQuestion is one question of a group-shares file.
type SharesQuestion struct {
	Key, Text string
	// Line is the question's first line in the file (1-based).
	Line int
	// Options are the answer options with a share, in file order: a last
	// option without a share (the refusal) is left out.
	Options []string
	// Groups maps attribute, then group, to the group's shares.
	Groups map[string]map[string]GroupLine
}

// GroupLine is one group's shares of a question and the line they came from.
type GroupLine struct {
	Line   int
	Shares []float64
}

// ReadGroupShares reads a group-shares JSONL file: one JSON object per line
// with qkey, attribute, group, options and responses (the shares, one per
// option; a last option without a share, such as "Refused", is allowed and
// left out). Errors name file:line: a line that is not a JSON object,
// shares that do not sum to 1 within SharesTolerance or are negative,
// options and shares of different lengths, a group named twice for one
// question, and options that differ between lines of one question.
//
// A file is parsed once per process and content: planning a sweep over a
// file's questions builds a configuration per cell, and each reads the
// file; the parsed value is never modified after it is returned.
func ReadGroupShares(path string) (*GroupShares, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading group shares: %w", err)
	}
	key := path + "\x00" + fmt.Sprintf("%x", sha256.Sum256(b))
	parsed.mu.Lock()
	defer parsed.mu.Unlock()
	if gs, ok := parsed.m[key]; ok {
		return gs, nil
	}
	gs, err := readGroupShares(bytes.NewReader(b), path)
	if err != nil {
		return nil, err
	}
	if parsed.m == nil {
		parsed.m = map[string]*GroupShares{}
	}
	parsed.m[key] = gs
	return gs, nil
}

// parsed memoises ReadGroupShares by path and content (SHA-256).
var parsed struct {
	mu sync.Mutex
	m  map[string]*GroupShares
}

func readGroupShares(in io.Reader, path string) (*GroupShares, error) {
	gs := &GroupShares{Path: path, Questions: map[string]*SharesQuestion{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<26)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
		}
		if b[0] != '{' {
			return nil, fail("not a JSON object")
		}
		var l subpopLine
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&l); err != nil {
			return nil, fail("not a JSON object of the group-shares layout: %v", err)
		}
		if dec.More() {
			return nil, fail("more than one JSON value on the line")
		}
		for _, f := range []struct{ name, v string }{{"qkey", l.QKey}, {"attribute", l.Attribute}, {"group", l.Group}} {
			if strings.TrimSpace(f.v) == "" {
				return nil, fail("%s is missing or empty", f.name)
			}
		}
		no, nr := len(l.Options), len(l.Responses)
		if no != nr && no != nr+1 {
			return nil, fail("question %s, group %s: %d options but %d shares (one share per option; only a last option such as \"Refused\" may go without)", l.QKey, l.Group, no, nr)
		}
		if nr < 2 {
			return nil, fail("question %s, group %s: %d shares; a question needs at least two options", l.QKey, l.Group, nr)
		}
		var sum float64
		for k, x := range l.Responses {
			if !(x >= 0) || math.IsInf(x, 0) {
				return nil, fail("question %s, group %s: share %d (%q) is %v; shares are non-negative", l.QKey, l.Group, k+1, l.Options[k], x)
			}
			sum += x
		}
		if math.Abs(sum-1) > SharesTolerance {
			return nil, fail("question %s, group %s: shares sum to %.9g, not 1 (within %g)", l.QKey, l.Group, sum, SharesTolerance)
		}
		opts := l.Options[:nr]
		q, ok := gs.Questions[l.QKey]
		if !ok {
			q = &SharesQuestion{Key: l.QKey, Text: l.Question, Line: line, Options: opts, Groups: map[string]map[string]GroupLine{}}
			seen := map[string]bool{}
			for _, o := range opts {
				if seen[o] {
					return nil, fail("question %s: option %q is listed twice", l.QKey, o)
				}
				seen[o] = true
			}
			gs.Questions[l.QKey] = q
		} else if !equalStrings(q.Options, opts) {
			return nil, fail("question %s: options %q differ from line %d's %q", l.QKey, opts, q.Line, q.Options)
		}
		byGroup := q.Groups[l.Attribute]
		if byGroup == nil {
			byGroup = map[string]GroupLine{}
			q.Groups[l.Attribute] = byGroup
		}
		if prev, dup := byGroup[l.Group]; dup {
			return nil, fail("question %s: group %s of %s is named twice (first on line %d)", l.QKey, l.Group, l.Attribute, prev.Line)
		}
		byGroup[l.Group] = GroupLine{Line: line, Shares: l.Responses}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", path, line+1, err)
	}
	if len(gs.Questions) == 0 {
		return nil, fmt.Errorf("%s: no lines", path)
	}
	return gs, nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Kept are the indices of q's options that some line of q (any attribute,
// any group) gives a positive share: an option nobody in the file chose
// (a volunteered answer not coded that year) says nothing about
// preferences and is left out.
func (q *SharesQuestion) Kept() []int {
	var out []int
	for k := range q.Options {
		chosen := false
		for _, byGroup := range q.Groups {
			for _, g := range byGroup {
				if g.Shares[k] > 0 {
					chosen = true
				}
			}
		}
		if chosen {
			out = append(out, k)
		}
	}
	return out
}

// Labels are the kept options' labels.
func (q *SharesQuestion) Labels() []string {
	var out []string
	for _, k := range q.Kept() {
		out = append(out, q.Options[k])
	}
	return out
}

// Attributes lists the question's attributes, sorted.
func (q *SharesQuestion) Attributes() []string {
	out := make([]string, 0, len(q.Groups))
	for a := range q.Groups {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Question finds a question by key; the error lists a few that exist.
func (gs *GroupShares) Question(key string) (*SharesQuestion, error) {
	q, ok := gs.Questions[key]
	if !ok {
		keys := make([]string, 0, len(gs.Questions))
		for k := range gs.Questions {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) > 8 {
			keys = append(keys[:8], "…")
		}
		return nil, fmt.Errorf("%s: no question %q (questions: %s)", gs.Path, key, strings.Join(keys, ", "))
	}
	return q, nil
}

// Counts returns the shares of question key for the types, each type one
// group of attribute, over the kept options (Kept). N[u] is the type's
// shares renormalised over the kept options; Shares (the type weights)
// are left zero for the caller: the file has no group sizes. A group a
// type needs that the question lacks is an error at the question's first
// line.
func (gs *GroupShares) Counts(key, attribute string, types []Type) (*Counts, error) {
	q, err := gs.Question(key)
	if err != nil {
		return nil, err
	}
	byGroup, ok := q.Groups[attribute]
	if !ok {
		return nil, fmt.Errorf("%s:%d: question %s has no groups of attribute %s (attributes: %s)", gs.Path, q.Line, key, attribute,
			strings.Join(q.Attributes(), ", "))
	}
	kept := q.Kept()
	c := &Counts{Options: q.Labels(), N: make([][]float64, len(types)), Respondents: make([]int, len(types)),
		Shares: make([]float64, len(types))}
	for u, t := range types {
		c.Types = append(c.Types, t.Name)
		if len(t.Codes) != 1 {
			return nil, fmt.Errorf("type %s: a group-shares file needs exactly one group per type (the file has no group sizes to merge groups by), got %d", t.Name, len(t.Codes))
		}
		g, ok := byGroup[t.Codes[0]]
		if !ok {
			groups := make([]string, 0, len(byGroup))
			for name := range byGroup {
				groups = append(groups, name)
			}
			sort.Strings(groups)
			return nil, fmt.Errorf("%s:%d: question %s has no line for group %q of %s, which type %s needs (groups: %s)", gs.Path, q.Line, key,
				t.Codes[0], attribute, t.Name, strings.Join(groups, ", "))
		}
		row := make([]float64, len(kept))
		var tot float64
		for i, k := range kept {
			row[i] = g.Shares[k]
			tot += row[i]
		}
		for i := range row {
			row[i] /= tot
		}
		c.N[u] = row
		c.Respondents[u] = 1
	}
	return c, nil
}
