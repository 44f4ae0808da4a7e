package survey

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// OpinionQA is one wave of OpinionQA's per-group answer counts
// (Santurkar et al. 2023, human_resp/<wave>/): a <ATTR>_data.json file
// mapping each question key to its "MC_options", "question_text" and, per
// group, the weighted count of each answer label; and the wave's info.csv,
// whose option_mapping column (a Python dict literal such as
// {1.0: 'Yes', 2.0: 'No', 99.0: 'Refused'}) fixes each question's options
// and their order. Labels may contain commas and quotes, so they are
// parsed from the mapping, never split on commas.
type OpinionQA struct {
	Path, Info string
	// Options maps a question key to its answer labels in code order,
	// codes of 99 and above (refused) left out.
	Options map[string][]string
	// InfoLine is the line of each question's row in info.csv.
	InfoLine map[string]int
	// Answers maps question, group and label to the weighted count.
	Answers map[string]map[string]map[string]float64
}

// ReadOpinionQA reads a <ATTR>_data.json file and its wave's info.csv.
func ReadOpinionQA(path, info string) (*OpinionQA, error) {
	o := &OpinionQA{Path: path, Info: info, Options: map[string][]string{}, InfoLine: map[string]int{},
		Answers: map[string]map[string]map[string]float64{}}
	if err := o.readInfo(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading OpinionQA answers: %w", err)
	}
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			l := 1 + strings.Count(string(b[:min(int(se.Offset), len(b))]), "\n")
			return nil, fmt.Errorf("%s:%d: %v", path, l, err)
		}
		return nil, fmt.Errorf("%s: not an object of questions, each an object of groups: %v", path, err)
	}
	for q, fields := range raw {
		groups := map[string]map[string]float64{}
		for g, v := range fields {
			if g == "MC_options" || g == "question_text" {
				continue
			}
			var counts map[string]float64
			if err := json.Unmarshal(v, &counts); err != nil {
				return nil, fmt.Errorf("%s: question %s, group %s: not an object of answer counts: %v", path, q, g, err)
			}
			for label, n := range counts {
				if !(n >= 0) || math.IsInf(n, 0) {
					return nil, fmt.Errorf("%s: question %s, group %s: count of %q is %v", path, q, g, label, n)
				}
			}
			groups[g] = counts
		}
		o.Answers[q] = groups
	}
	return o, nil
}

// readInfo reads info.csv's key and option_mapping columns.
func (o *OpinionQA) readInfo() error {
	f, err := os.Open(o.Info)
	if err != nil {
		return fmt.Errorf("reading OpinionQA info: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s:1: %w", o.Info, err)
	}
	key, mapping := -1, -1
	for i, h := range head {
		switch strings.TrimSpace(h) {
		case "key":
			key = i
		case "option_mapping":
			mapping = i
		}
	}
	if key < 0 || mapping < 0 {
		return fmt.Errorf("%s:1: needs columns key and option_mapping (header: %s)", o.Info, strings.Join(head, ","))
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return fmt.Errorf("%s: %w", o.Info, err)
		}
		if len(rec) <= max(key, mapping) {
			return fmt.Errorf("%s:%d: row has %d fields, the header %d", o.Info, line, len(rec), len(head))
		}
		labels, err := parseOptionMapping(rec[mapping])
		if err != nil {
			return fmt.Errorf("%s:%d: option_mapping of %s: %v", o.Info, line, rec[key], err)
		}
		o.Options[rec[key]] = labels
		o.InfoLine[rec[key]] = line
	}
}

// RefusedCode is the smallest option code OpinionQA uses for a refusal.
const RefusedCode = 99

// parseOptionMapping parses a Python dict literal of number keys and
// quoted string values, {1.0: 'Yes', 2.0: "Don't know", 99.0: 'Refused'},
// and returns the labels of codes below RefusedCode in code order.
func parseOptionMapping(s string) ([]string, error) {
	p := &pyLit{s: strings.TrimSpace(s)}
	if !p.eat('{') {
		return nil, fmt.Errorf("expected '{' at column 1")
	}
	type opt struct {
		code  float64
		label string
	}
	var opts []opt
	for !p.eat('}') {
		if len(opts) > 0 && !p.eat(',') {
			return nil, p.fail("expected ',' or '}'")
		}
		if p.eat('}') { // a trailing comma
			break
		}
		code, err := p.number()
		if err != nil {
			return nil, err
		}
		if !p.eat(':') {
			return nil, p.fail("expected ':'")
		}
		label, err := p.str()
		if err != nil {
			return nil, err
		}
		opts = append(opts, opt{code, label})
	}
	if p.skip(); p.i != len(p.s) {
		return nil, p.fail("text after '}'")
	}
	sort.SliceStable(opts, func(a, b int) bool { return opts[a].code < opts[b].code })
	var out []string
	seen := map[string]bool{}
	for _, o := range opts {
		if o.code >= RefusedCode {
			continue
		}
		if seen[o.label] {
			return nil, fmt.Errorf("label %q is used twice", o.label)
		}
		seen[o.label] = true
		out = append(out, o.label)
	}
	return out, nil
}

// pyLit scans a Python literal.
type pyLit struct {
	s string
	i int
}

func (p *pyLit) skip() {
	for p.i < len(p.s) && strings.ContainsRune(" \t\r\n", rune(p.s[p.i])) {
		p.i++
	}
}

func (p *pyLit) eat(c byte) bool {
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyLit) fail(msg string) error {
	return fmt.Errorf("%s at column %d", msg, utf8.RuneCountInString(p.s[:min(p.i, len(p.s))])+1)
}

func (p *pyLit) number() (float64, error) {
	p.skip()
	j := p.i
	for j < len(p.s) && strings.ContainsRune("+-.0123456789eE", rune(p.s[j])) {
		j++
	}
	x, err := strconv.ParseFloat(p.s[p.i:j], 64)
	if err != nil {
		return 0, p.fail("expected a number")
	}
	p.i = j
	return x, nil
}

func (p *pyLit) str() (string, error) {
	p.skip()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", p.fail("expected a quoted label")
	}
	q := p.s[p.i]
	var b strings.Builder
	for j := p.i + 1; j < len(p.s); j++ {
		switch c := p.s[j]; {
		case c == '\\' && j+1 < len(p.s):
			j++
			switch p.s[j] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(p.s[j])
			}
		case c == q:
			p.i = j + 1
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", p.fail("unterminated label")
}

// Counts returns question key's weighted counts for the types, each type
// the union of its groups (codes), over the question's options from
// info.csv. A count under a label that is not an option (other than
// "Refused") is an error: the two files do not match.
func (o *OpinionQA) Counts(key string, types []Type) (*Counts, error) {
	opts, ok := o.Options[key]
	if !ok {
		return nil, fmt.Errorf("%s: no question %q in column key", o.Info, key)
	}
	groups, ok := o.Answers[key]
	if !ok {
		return nil, fmt.Errorf("%s: no question %q (it is in %s:%d)", o.Path, key, o.Info, o.InfoLine[key])
	}
	index := map[string]int{}
	for k, l := range opts {
		index[l] = k
	}
	c := &Counts{Options: opts, N: make([][]float64, len(types)), Respondents: make([]int, len(types)), Shares: make([]float64, len(types))}
	var total float64
	for u, t := range types {
		c.Types = append(c.Types, t.Name)
		c.N[u] = make([]float64, len(opts))
		for _, g := range t.Codes {
			counts, ok := groups[g]
			if !ok {
				names := make([]string, 0, len(groups))
				for n := range groups {
					names = append(names, n)
				}
				sort.Strings(names)
				return nil, fmt.Errorf("%s: question %s has no group %q, which type %s needs (groups: %s)", o.Path, key, g, t.Name, strings.Join(names, ", "))
			}
			for label, n := range counts {
				k, ok := index[label]
				if !ok {
					if label == "Refused" {
						continue
					}
					return nil, fmt.Errorf("%s: question %s, group %s: answer %q is not an option of %s:%d (%s)", o.Path, key, g, label, o.Info, o.InfoLine[key], strings.Join(opts, "; "))
				}
				c.N[u][k] += n
			}
		}
		for _, n := range c.N[u] {
			c.Shares[u] += n
		}
		if c.Shares[u] == 0 {
			return nil, fmt.Errorf("%s: question %s: type %s (groups %s) has no answers", o.Path, key, t.Name, strings.Join(t.Codes, ", "))
		}
		c.Respondents[u] = int(math.Round(c.Shares[u]))
		total += c.Shares[u]
	}
	for u := range c.Shares {
		c.Shares[u] /= total
	}
	return c, nil
}
