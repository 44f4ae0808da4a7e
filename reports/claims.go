package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"hetalign/metrics"
)

// Relations a claim can state between its cell and an operand.
const (
	RelEquals  = "equals"
	RelDiffers = "differs"
	RelLess    = "less"
	RelGreater = "greater"
	RelApprox  = "approx"
	RelSign    = "sign"
	RelOrder   = "order"
)

// Address names one cell of a report: a table of an experiment (the
// claim's own experiment when Experiment is ""), the table's each value
// when it is one of a series, a row label (a summary row such as "mean"
// included) and a column label. Row is "" in a claim that holds for
// every row.
type Address struct {
	Experiment string `json:"experiment,omitempty"`
	Table      string `json:"table"`
	Each       string `json:"each,omitempty"`
	Row        string `json:"row,omitempty"`
	Column     string `json:"column"`
}

// String writes the address as [experiment.]table[each][row, column].
func (a Address) String() string {
	var b strings.Builder
	if a.Experiment != "" {
		b.WriteString(a.Experiment + ".")
	}
	b.WriteString(a.Table)
	if a.Each != "" {
		fmt.Fprintf(&b, "[%s]", a.Each)
	}
	row := a.Row
	if row == "" {
		row = "*"
	}
	fmt.Fprintf(&b, "[%s, %s]", row, a.Column)
	return b.String()
}

// Operand is what a claim compares its cell with: another cell, a number
// or a text.
type Operand struct {
	Cell   *Address `json:"cell,omitempty"`
	Number *float64 `json:"number,omitempty"`
	Text   *string  `json:"text,omitempty"`
}

// ClaimLayout is a claim as the spec states it: a relation between cells
// of the report (see #Claim in the schema).
type ClaimLayout struct {
	Name string `json:"name"`
	// Says is the claim in words; Paper, when set, is what the paper
	// states where we measure otherwise.
	Says  string `json:"says"`
	Paper string `json:"paper,omitempty"`
	// Source says where the claim's threshold or tolerance comes from
	// (the paper's rounding, the seeds' standard error, a theorem, a
	// solver tolerance).
	Source string `json:"source,omitempty"`
	// Relation is one of RelEquals … RelOrder.
	Relation string `json:"relation"`
	// Cell is the claim's subject (every relation but order).
	Cell *Address `json:"cell,omitempty"`
	// Than is the other side of equals, less, greater and approx.
	Than *Operand `json:"than,omitempty"`
	// Tolerance of approx: |cell − than| ≤ Tolerance.
	Tolerance float64 `json:"tolerance,omitempty"`
	// Sign is "positive" or "negative".
	Sign string `json:"sign,omitempty"`
	// Order lists cells whose numbers strictly decrease.
	Order []Address `json:"order,omitempty"`
	// Every names the row axis (e.g. "seed") when the claim must hold on
	// every row: its addresses leave Row empty and take each row in turn.
	Every string `json:"every,omitempty"`
}

// Claim is an evaluated claim in report.json.
type Claim struct {
	Name  string `json:"name"`
	Says  string `json:"says"`
	Paper string `json:"paper,omitempty"`
	// Statement is the comparison with its numbers, e.g.
	// "summary[dpo, argmax] = 0 equals 0".
	Statement string `json:"statement"`
	// Terms are the cells and literals compared, in order (for a claim
	// over every row, the cells of every row).
	Terms []Term `json:"terms"`
	Holds bool   `json:"holds"`
	// Failing lists the rows where a claim over every row fails.
	Failing []string `json:"failing,omitempty"`
	// Margin is the relative margin: how far the subject is from failing,
	// relative to the threshold (negative when the claim fails; the
	// smallest over the rows of a claim over every row). approx:
	// (tolerance − |a − b|)/tolerance; less, greater: the gap in the
	// claim's direction over |threshold| (over |a| when the threshold is
	// 0); order: the smallest such gap between neighbours. nil where no
	// number measures it: equality of texts or numbers, sign, an approx
	// with tolerance 0, a cell that is not a number.
	Margin *float64 `json:"margin,omitempty"`
	// Source says where the threshold or tolerance comes from (the
	// paper's rounding, the seeds' standard error, a theorem, a solver
	// tolerance), as the spec states it.
	Source string `json:"source,omitempty"`
}

// relMargin is gap (positive when the claim holds) relative to the
// threshold: gap/|threshold|, or gap/|subject| when the threshold is 0
// (0 when both are).
func relMargin(gap, threshold, subject float64) float64 {
	switch {
	case threshold != 0:
		return gap / math.Abs(threshold)
	case subject != 0:
		return gap / math.Abs(subject)
	}
	return 0
}

// Term is one side of a comparison: a cell (its address) or a literal.
type Term struct {
	Cell  string        `json:"cell,omitempty"`
	Value metrics.Value `json:"value"`
	Text  string        `json:"text"`
}

// FailedClaims lists the claims of the report that do not hold, as
// "report/experiment/claim: says".
func (r *Report) FailedClaims() []string {
	var out []string
	for _, x := range r.Experiments {
		for _, c := range x.Claims {
			if !c.Holds {
				out = append(out, fmt.Sprintf("%s/%s/%s: %s", r.Name, x.Name, c.Name, c.Says))
			}
		}
	}
	return out
}

// table finds the table an address names, seen from experiment xn.
func (r *Report) table(xn string, a Address) (*Table, error) {
	if a.Experiment != "" {
		xn = a.Experiment
	}
	for i := range r.Experiments {
		x := &r.Experiments[i]
		if x.Name != xn {
			continue
		}
		for j := range x.Tables {
			t := &x.Tables[j]
			if t.Name == a.Table && (t.Each == "" || sameLabel(t.EachValue, a.Each)) {
				return t, nil
			}
		}
		return nil, fmt.Errorf("%s: experiment %s has no table %q", a, xn, a.Table)
	}
	return nil, fmt.Errorf("%s: the report has no experiment %q", a, xn)
}

// sameLabel compares a table label (canonical JSON for sweep values) with
// a label as a claim writes it.
func sameLabel(label, want string) bool {
	return label == want || unquote(label) == want
}

// Lookup returns the cell at address a, seen from experiment xn.
func (r *Report) Lookup(xn string, a Address) (Cell, error) {
	t, err := r.table(xn, a)
	if err != nil {
		return Cell{}, err
	}
	col := -1
	for i, c := range t.Columns {
		if sameLabel(c, a.Column) {
			col = i
			break
		}
	}
	if col < 0 {
		return Cell{}, fmt.Errorf("%s: table %s has no column %q (columns: %s)", a, t.Name, a.Column, strings.Join(t.Columns, ", "))
	}
	for _, rows := range [][]Row{t.Rows, t.Summary} {
		for _, row := range rows {
			if sameLabel(row.Label, a.Row) {
				return row.Cells[col], nil
			}
		}
	}
	return Cell{}, fmt.Errorf("%s: table %s has no row %q", a, t.Name, a.Row)
}

// Evaluate evaluates claim c of experiment xn against the report. An
// address that names no cell is an error; a comparison that cannot be
// made (a cell that is not a number, or failed) does not hold.
func (r *Report) Evaluate(xn string, c ClaimLayout) (Claim, error) {
	out := Claim{Name: c.Name, Says: c.Says, Paper: c.Paper, Source: c.Source, Holds: true}
	rows := []string{""}
	if c.Every != "" {
		first := c.Cell
		if first == nil && len(c.Order) > 0 {
			first = &c.Order[0]
		}
		if first == nil {
			return out, fmt.Errorf("claim %s: no cell", c.Name)
		}
		t, err := r.table(xn, *first)
		if err != nil {
			return out, fmt.Errorf("claim %s: %w", c.Name, err)
		}
		rows = rows[:0]
		for _, row := range t.Rows {
			rows = append(rows, row.Label)
		}
	}
	var statements []string
	for _, row := range rows {
		terms, stmt, holds, margin, err := r.evalRow(xn, c, row)
		if err != nil {
			return out, fmt.Errorf("claim %s: %w", c.Name, err)
		}
		if margin != nil && (out.Margin == nil || *margin < *out.Margin) {
			out.Margin = margin
		}
		out.Terms = append(out.Terms, terms...)
		statements = append(statements, stmt)
		if !holds {
			out.Holds = false
			if c.Every != "" {
				out.Failing = append(out.Failing, unquote(row))
			}
		}
	}
	out.Statement = strings.Join(statements, "; ")
	return out, nil
}

// evalRow evaluates the claim once, with row filling addresses that
// leave the row empty.
func (r *Report) evalRow(xn string, c ClaimLayout, row string) ([]Term, string, bool, *float64, error) {
	cell := func(a Address) (Term, error) {
		if a.Row == "" {
			if row == "" {
				return Term{}, fmt.Errorf("%s: no row (set row, or every)", a)
			}
			a.Row = unquote(row)
		}
		v, err := r.Lookup(xn, a)
		if err != nil {
			return Term{}, err
		}
		return Term{Cell: a.String(), Value: v.Value, Text: v.Text}, nil
	}
	show := func(t Term) string {
		if t.Cell == "" {
			return t.Text
		}
		return t.Cell + " = " + t.Text
	}
	if c.Relation == RelOrder {
		if len(c.Order) < 2 {
			return nil, "", false, nil, fmt.Errorf("order needs at least two cells")
		}
		var terms []Term
		var parts []string
		holds := true
		var margin *float64
		for i, a := range c.Order {
			t, err := cell(a)
			if err != nil {
				return nil, "", false, nil, err
			}
			if !isNumber(t.Value) || i > 0 && !(isNumber(terms[i-1].Value) && terms[i-1].Value.Number > t.Value.Number) {
				holds = false
			}
			if i > 0 && isNumber(t.Value) && isNumber(terms[i-1].Value) {
				if m := relMargin(terms[i-1].Value.Number-t.Value.Number, t.Value.Number, terms[i-1].Value.Number); margin == nil || m < *margin {
					margin = &m
				}
			}
			terms = append(terms, t)
			parts = append(parts, show(t))
		}
		return terms, strings.Join(parts, " > "), holds, margin, nil
	}
	if c.Cell == nil {
		return nil, "", false, nil, fmt.Errorf("%s needs a cell", c.Relation)
	}
	a, err := cell(*c.Cell)
	if err != nil {
		return nil, "", false, nil, err
	}
	if c.Relation == RelSign {
		holds := isNumber(a.Value) && (c.Sign == "positive" && a.Value.Number > 0 || c.Sign == "negative" && a.Value.Number < 0)
		return []Term{a}, fmt.Sprintf("%s is %s", show(a), c.Sign), holds, nil, nil
	}
	if c.Than == nil {
		return nil, "", false, nil, fmt.Errorf("%s needs a value or cell to compare with", c.Relation)
	}
	var b Term
	switch {
	case c.Than.Cell != nil:
		if b, err = cell(*c.Than.Cell); err != nil {
			return nil, "", false, nil, err
		}
	case c.Than.Number != nil:
		b = Term{Value: metrics.Num(*c.Than.Number), Text: strconv.FormatFloat(*c.Than.Number, 'g', -1, 64)}
	case c.Than.Text != nil:
		b = Term{Value: metrics.Str(*c.Than.Text), Text: *c.Than.Text}
	default:
		return nil, "", false, nil, fmt.Errorf("%s: nothing to compare with", c.Relation)
	}
	both := isNumber(a.Value) && isNumber(b.Value)
	var holds bool
	var rel string
	var margin *float64
	set := func(m float64) { margin = &m }
	switch c.Relation {
	case RelEquals:
		rel = "equals"
		if both {
			holds = a.Value.Number == b.Value.Number
		} else {
			holds = !a.Value.None && !b.Value.None && a.Text == b.Text
		}
	case RelDiffers:
		rel = "differs from"
		if both {
			holds = a.Value.Number != b.Value.Number
		} else {
			holds = !a.Value.None && !b.Value.None && a.Text != b.Text
		}
	case RelLess:
		rel = "<"
		holds = both && a.Value.Number < b.Value.Number
		if both {
			set(relMargin(b.Value.Number-a.Value.Number, b.Value.Number, a.Value.Number))
		}
	case RelGreater:
		rel = ">"
		holds = both && a.Value.Number > b.Value.Number
		if both {
			set(relMargin(a.Value.Number-b.Value.Number, b.Value.Number, a.Value.Number))
		}
	case RelApprox:
		rel = fmt.Sprintf("≈ (within %s, off by %s)", strconv.FormatFloat(c.Tolerance, 'g', -1, 64), "–")
		if both {
			d := math.Abs(a.Value.Number - b.Value.Number)
			holds = d <= c.Tolerance
			if c.Tolerance > 0 {
				set((c.Tolerance - d) / c.Tolerance)
			}
			rel = fmt.Sprintf("≈ (within %s, off by %.3g)", strconv.FormatFloat(c.Tolerance, 'g', -1, 64), d)
		}
	default:
		return nil, "", false, nil, fmt.Errorf("unknown relation %q", c.Relation)
	}
	return []Term{a, b}, fmt.Sprintf("%s %s %s", show(a), rel, show(b)), holds, margin, nil
}

func isNumber(v metrics.Value) bool {
	return !v.None && v.Shape == metrics.Number && !math.IsNaN(v.Number)
}

// evalClaims evaluates every claim of the layout into the report.
func (r *Report) evalClaims(l Layout) error {
	for i, xl := range l.Experiments {
		for _, cl := range xl.Claims {
			c, err := r.Evaluate(xl.Name, cl)
			if err != nil {
				return fmt.Errorf("experiment %s: %w", xl.Name, err)
			}
			r.Experiments[i].Claims = append(r.Experiments[i].Claims, c)
		}
	}
	return nil
}

// Mark is ✓ for a claim that holds and ✗ for one that does not.
func (c Claim) Mark() string {
	if c.Holds {
		return "✓"
	}
	return "✗"
}
