// Package reports turns evaluated cells into the report tables of a spec
// (a row per seed or sweep value, a column per method, as in the paper's
// Appendix F), renders them for the terminal, Markdown and CSV, and diffs
// two reports. It knows only result records: nothing of CUE, steps or the
// cache.
package reports

import (
	"encoding/json"
	"fmt"

	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat"

	"hetalign/metrics"
)

// Layout is everything a report step needs besides the evaluated cells:
// the parameters of the report step.
type Layout struct {
	// Name of the report (reports/<name>/).
	Name        string             `json:"name"`
	Experiments []ExperimentLayout `json:"experiments"`
}

// ExperimentLayout describes one experiment's cells and tables.
type ExperimentLayout struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Axes: every sweep path, then "seed", with their value labels.
	Axes []Axis `json:"axes"`
	// Alternatives of the base cell; a cell whose alternatives differ (a
	// survey question) lists its own.
	Alternatives []string      `json:"alternatives"`
	Types        []string      `json:"types"`
	Methods      []string      `json:"methods"`
	Tables       []TableLayout `json:"tables"`
	Plots        []PlotLayout  `json:"plots,omitempty"`
	// Claims are evaluated over the built report (see ClaimLayout).
	Claims []ClaimLayout `json:"claims,omitempty"`
	// Cells maps each evaluated cell to its input of the report step.
	Cells []CellRef `json:"cells"`
	// NoRecords leaves the cells' records out of the report (its tables
	// are built from them first).
	NoRecords bool `json:"no_records,omitempty"`
}

// Axis is a named axis and its value labels (canonical JSON).
type Axis struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// TableLayout is one table as the spec lays it out.
type TableLayout struct {
	Name    string            `json:"name"`
	Title   string            `json:"title"`
	Rows    string            `json:"rows"`
	Columns string            `json:"columns"`
	Cells   []string          `json:"cells"`
	Where   map[string]string `json:"where,omitempty"`
	Each    string            `json:"each,omitempty"`
	// Mean is an axis each cell averages over (numbers only).
	Mean    string   `json:"mean,omitempty"`
	Summary []string `json:"summary,omitempty"`
	Digits  int      `json:"digits"`
	// Show keeps these values of the column axis, in this order.
	Show []string `json:"show,omitempty"`
	// Partial lets a summary (and a mean over Mean) stand on the rows
	// that have a value when others failed; it is then marked "mean of
	// 2 of 3 seeds". Without it such a summary has no value.
	Partial bool `json:"partial,omitempty"`
}

// CellRef points a cell (axis labels and method, "" for the truth) at the
// index of its evaluation among the report step's inputs.
type CellRef struct {
	Axes         map[string]string `json:"axes"`
	Method       string            `json:"method,omitempty"`
	Alternatives []string          `json:"alternatives,omitempty"`
	Input        int               `json:"input"`
}

// Report is the content of report.json: nothing in it depends on time,
// host or scheduling, so the same spec and code give the same bytes.
type Report struct {
	Name        string       `json:"name"`
	Experiments []Experiment `json:"experiments"`
}

// Experiment is one experiment's records and tables.
type Experiment struct {
	Name         string       `json:"name"`
	Description  string       `json:"description,omitempty"`
	Axes         []Axis       `json:"axes"`
	Alternatives []string     `json:"alternatives"`
	Types        []string     `json:"types"`
	Records      []Record     `json:"records"`
	Tables       []Table      `json:"tables"`
	Plots        []PlotLayout `json:"plots,omitempty"`
	// Claims: the experiment's claims, evaluated, in the spec's order.
	Claims []Claim `json:"claims,omitempty"`
}

// Record is every metric of one cell and method.
type Record struct {
	Axes         map[string]string        `json:"axes"`
	Method       string                   `json:"method,omitempty"`
	Alternatives []string                 `json:"alternatives,omitempty"`
	Metrics      map[string]metrics.Value `json:"metrics"`
}

// Table is a rendered table: row labels, column labels and cells.
type Table struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	// Each and EachValue: the axis this table is one of a series over.
	Each      string   `json:"each,omitempty"`
	EachValue string   `json:"each_value,omitempty"`
	RowAxis   string   `json:"row_axis"`
	ColAxis   string   `json:"column_axis"`
	Columns   []string `json:"columns"`
	Rows      []Row    `json:"rows"`
	// Summary rows (by default mean, p25, p75 when rows are seeds).
	Summary []Row `json:"summary,omitempty"`
	// Flips: where a text cell changes along a numeric row axis.
	Flips []Flip `json:"flips,omitempty"`
}

// Row is a labelled row of cells.
type Row struct {
	Label string `json:"label"`
	Cells []Cell `json:"cells"`
}

// Cell holds a value and its text as shown.
type Cell struct {
	Value metrics.Value `json:"value"`
	Text  string        `json:"text"`
	// N and Of, on a summary cell (or a mean over an axis) some of whose
	// rows failed: the summary is over N values of Of rows (the failed
	// ones and those with a value). Both are 0 when nothing failed.
	N  int `json:"n,omitempty"`
	Of int `json:"of,omitempty"`
}

// Flip records that column Column shows From at row After and To at the
// next row Before.
type Flip struct {
	Column string `json:"column"`
	From   string `json:"from"`
	To     string `json:"to"`
	After  string `json:"after"`
	Before string `json:"before"`
}

// Build assembles the report from the layout and the evaluations (JSON maps
// from metric name to value, indexed as CellRef.Input).
//
// Experiments are built one after another, each decoding only the
// evaluations its cells refer to; an experiment without records
// (NoRecords) lets go of its decoded cells once its tables are built
// (claims read tables only), and an evaluation's bytes are let go (its
// entry of evals set to nil) once the last experiment that refers to it
// has decoded it (Consume; Build leaves evals as they are): a report of
// 10^5 cells holds one experiment's decoded cells at a time, not all of
// them.
func Build(l Layout, evals [][]byte) (*Report, error) {
	return Consume(l, slices.Clone(evals))
}

// Consume is Build that sets each entry of evals to nil once it is
// decoded for the last time, so the bytes can be collected while the
// report is built: for a caller that has no further use for them (the
// report step).
func Consume(l Layout, evals [][]byte) (*Report, error) {
	rep := &Report{Name: l.Name}
	last := make([]int, len(evals)) // the last experiment that reads each evaluation
	for xi, xl := range l.Experiments {
		for _, c := range xl.Cells {
			if c.Input >= 0 && c.Input < len(evals) {
				last[c.Input] = xi
			}
		}
	}
	decoded := make([]map[string]metrics.Value, len(evals))
	have := make([]bool, len(evals)) // decoded[i] holds evaluation i
	for xi, xl := range l.Experiments {
		for _, c := range xl.Cells {
			i := c.Input
			if i < 0 || i >= len(evals) || have[i] {
				continue
			}
			have[i] = true
			if evals[i] == nil {
				continue // a failed evaluation: its cells show "failed"
			}
			if err := json.Unmarshal(evals[i], &decoded[i]); err != nil {
				return nil, fmt.Errorf("reading evaluation %d: %w", i, err)
			}
		}
		for _, c := range xl.Cells {
			if i := c.Input; i >= 0 && i < len(evals) && last[i] == xi {
				evals[i] = nil
			}
		}
		x := Experiment{Name: xl.Name, Description: xl.Description, Axes: xl.Axes, Alternatives: xl.Alternatives, Types: xl.Types, Plots: xl.Plots}
		index := map[string]int{}
		for _, c := range xl.Cells {
			if c.Input < 0 || c.Input >= len(decoded) {
				return nil, fmt.Errorf("experiment %s: cell refers to evaluation %d of %d", xl.Name, c.Input, len(decoded))
			}
			index[recordKey(xl.Axes, c.Axes, c.Method)] = len(x.Records)
			x.Records = append(x.Records, Record{Axes: c.Axes, Method: c.Method, Alternatives: c.Alternatives, Metrics: decoded[c.Input]})
		}
		for _, tl := range xl.Tables {
			eachValues := []string{""}
			if tl.Each != "" {
				eachValues = axisValues(xl, tl, tl.Each)
			}
			for _, ev := range eachValues {
				fixed := map[string]string{}
				for k, v := range tl.Where {
					fixed[k] = v
				}
				if tl.Each != "" {
					fixed[tl.Each] = ev
				}
				t, err := buildTable(xl, tl, x.Records, index, fixed)
				if err != nil {
					return nil, fmt.Errorf("experiment %s, table %s: %w", xl.Name, tl.Name, err)
				}
				if tl.Each != "" {
					t.Each, t.EachValue = tl.Each, ev
				}
				x.Tables = append(x.Tables, *t)
			}
		}
		if xl.NoRecords {
			x.Records = nil
			for _, c := range xl.Cells {
				if i := c.Input; i >= 0 && i < len(decoded) && last[i] == xi {
					decoded[i] = nil
				}
			}
		}
		rep.Experiments = append(rep.Experiments, x)
	}
	// Claims may address another experiment's tables: all are built now.
	if err := rep.evalClaims(l); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	return rep, nil
}

func recordKey(axes []Axis, labels map[string]string, method string) string {
	var b strings.Builder
	b.WriteString(method)
	for _, a := range axes {
		b.WriteByte('\x00')
		b.WriteString(labels[a.Name])
	}
	return b.String()
}

// axisValues lists the labels along a table axis.
func axisValues(xl ExperimentLayout, tl TableLayout, name string) []string {
	switch name {
	case "method":
		return xl.Methods
	case "alternative":
		return xl.Alternatives
	case "type":
		return xl.Types
	case "metric":
		return tl.Cells
	}
	for _, a := range xl.Axes {
		if a.Name == name {
			return a.Values
		}
	}
	return nil
}

func buildTable(xl ExperimentLayout, tl TableLayout, recs []Record, index map[string]int, fixed map[string]string) (*Table, error) {
	alts := xl.Alternatives
	if tl.Rows == "alternative" || tl.Columns == "alternative" {
		// The alternatives of the cells this table shows (they differ
		// between survey questions).
		for _, r := range recs {
			if matches(r, fixed) && r.Alternatives != nil {
				alts = r.Alternatives
				break
			}
		}
	}
	values := func(axis string) []string {
		if axis == "alternative" {
			return alts
		}
		return axisValues(xl, tl, axis)
	}
	rows, cols := values(tl.Rows), values(tl.Columns)
	if rows == nil || cols == nil {
		return nil, fmt.Errorf("unknown axis in %q × %q", tl.Rows, tl.Columns)
	}
	if len(tl.Show) > 0 {
		for _, c := range tl.Show {
			if !slices.Contains(cols, c) {
				return nil, fmt.Errorf("show: %q is not a value of axis %s (values: %s)", c, tl.Columns, strings.Join(cols, ", "))
			}
		}
		cols = tl.Show
	}
	t := &Table{Name: tl.Name, Title: tl.Title, RowAxis: tl.Rows, ColAxis: tl.Columns, Columns: cols}
	for _, r := range rows {
		row := Row{Label: r}
		for _, c := range cols {
			assign := map[string]string{tl.Rows: r, tl.Columns: c}
			for k, v := range fixed {
				assign[k] = v
			}
			if tl.Mean == "" {
				row.Cells = append(row.Cells, lookup(xl, tl, assign, recs, index))
				continue
			}
			row.Cells = append(row.Cells, meanCell(xl, tl, assign, recs, index))
		}
		t.Rows = append(t.Rows, row)
	}
	if len(tl.Summary) > 0 && len(rows) > 0 {
		t.Summary = summarise(t.Rows, len(cols), tl.Summary, tl.Digits, tl.Partial, plural(tl.Rows))
	}
	if tl.Rows != "seed" && numericLabels(rows) {
		t.Flips = flips(t)
	}
	return t, nil
}

// meanCell is the mean of a cell's numbers over the values of tl.Mean
// (none values and text left out); none when no value is a number. A
// metric whose values are texts gets the least of them in byte order (an
// axiom's witnesses start with their size, "a3 t2 | …", so the least is
// the smallest witness).
func meanCell(xl ExperimentLayout, tl TableLayout, assign map[string]string, recs []Record, index map[string]int) Cell {
	var sum float64
	var n, failed int
	least, texts := "", false
	for _, v := range axisValues(xl, tl, tl.Mean) {
		assign[tl.Mean] = v
		c := lookup(xl, tl, assign, recs, index)
		if c.failed() {
			failed++
		}
		if !c.Value.None && c.Value.Shape == metrics.Text && (!texts || c.Value.Text < least) {
			least, texts = c.Value.Text, true
		}
		if c.Value.None || c.Value.Shape != metrics.Number {
			continue
		}
		sum += c.Value.Number
		n++
	}
	delete(assign, tl.Mean)
	if n == 0 && failed == 0 && texts {
		return Cell{Value: metrics.Str(least), Text: least}
	}
	if n == 0 && failed == 0 {
		return Cell{Value: metrics.NA(), Text: "–"}
	}
	if failed > 0 {
		return partialCell("mean", sum/max(float64(n), 1), n, n+failed, tl.Digits, tl.Partial, plural(tl.Mean))
	}
	v := metrics.Num(sum / float64(n))
	return Cell{Value: v, Text: Format(v, tl.Digits)}
}

// failedText is the text of a cell whose evaluation failed.
const failedText = "failed"

func (c Cell) failed() bool { return c.Value.None && c.Text == failedText }

// plural names the rows of a summary over axis in words: "seeds" for the
// seed axis, else "values of AXIS".
func plural(axis string) string {
	if axis == "seed" {
		return "seeds"
	}
	return "values of " + axis
}

// partialCell is a summary stat of x over n of the of rows (the others
// failed): with partial the value, marked "0.24 (mean of 1 of 3 seeds)";
// without, no value and the text says why.
func partialCell(stat string, x float64, n, of, digits int, partial bool, rows string) Cell {
	if rows == "" {
		rows = "rows"
	}
	if !partial || n == 0 {
		return Cell{Value: metrics.NA(), Text: fmt.Sprintf("– (%d of %d %s failed)", of-n, of, rows), N: n, Of: of}
	}
	v := metrics.Num(x)
	return Cell{Value: v, Text: fmt.Sprintf("%s (%s of %d of %d %s)", Format(v, digits), stat, n, of, rows), N: n, Of: of}
}

// zipPartners sets the free axes of labels (unassigned, several values) to
// those of the one record of method that agrees with every other label:
// the other paths of a zip group follow the path a table assigns. Without
// exactly one such record the labels keep their first values.
func zipPartners(labels map[string]string, free []string, method string, recs []Record) {
	var found *Record
	for i := range recs {
		r := &recs[i]
		if r.Method != method {
			continue
		}
		ok := true
		for k, v := range labels {
			if !slices.Contains(free, k) && r.Axes[k] != v {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if found != nil {
			return
		}
		found = r
	}
	if found != nil {
		for _, k := range free {
			labels[k] = found.Axes[k]
		}
	}
}

// matches reports whether a record has the fixed axis values (axes it does
// not carry, like method, are ignored).
func matches(r Record, fixed map[string]string) bool {
	for k, v := range fixed {
		if got, ok := r.Axes[k]; ok && got != v {
			return false
		}
	}
	return true
}

// lookup finds the value of one table cell. Axes not assigned by the row,
// the column, where or each take their single value (the spec check
// guarantees there is one), except the other paths of a zip group, which
// have as many values as the assigned path and advance with it: they take
// the value of the one record that matches every other label.
func lookup(xl ExperimentLayout, tl TableLayout, assign map[string]string, recs []Record, index map[string]int) Cell {
	metric := tl.Cells[0]
	if m, ok := assign["metric"]; ok {
		metric = m
	}
	info, _ := metrics.Lookup(metric)
	method := ""
	if info.Scope == metrics.Method {
		method = assign["method"]
		if method == "" && len(xl.Methods) == 1 {
			method = xl.Methods[0]
		}
	}
	labels := map[string]string{}
	var free []string // unassigned axes with several values: zip partners
	for _, a := range xl.Axes {
		if v, ok := assign[a.Name]; ok {
			labels[a.Name] = v
		} else if len(a.Values) > 0 {
			labels[a.Name] = a.Values[0]
			if len(a.Values) > 1 {
				free = append(free, a.Name)
			}
		}
	}
	if len(free) > 0 {
		zipPartners(labels, free, method, recs)
	}
	i, ok := index[recordKey(xl.Axes, labels, method)]
	if !ok {
		return Cell{Value: metrics.NA(), Text: "–"}
	}
	if recs[i].Metrics == nil {
		return Cell{Value: metrics.NA(), Text: failedText}
	}
	v, ok := recs[i].Metrics[metric]
	if !ok {
		return Cell{Value: metrics.NA(), Text: "–"}
	}
	alts := xl.Alternatives
	if recs[i].Alternatives != nil {
		alts = recs[i].Alternatives
	}
	switch {
	case v.None:
	case v.Shape == metrics.Vector:
		k := slices.Index(alts, assign["alternative"])
		if k < 0 || k >= len(v.Vector) {
			return Cell{Value: metrics.NA(), Text: "–"}
		}
		v = metrics.Num(v.Vector[k])
	case v.Shape == metrics.Matrix:
		u := slices.Index(xl.Types, assign["type"])
		k := slices.Index(alts, assign["alternative"])
		if u < 0 || u >= len(v.Matrix) || k < 0 || k >= len(v.Matrix[u]) {
			return Cell{Value: metrics.NA(), Text: "–"}
		}
		v = metrics.Num(v.Matrix[u][k])
	}
	return Cell{Value: v, Text: Format(v, tl.Digits)}
}

// Format renders a value with the given significant digits.
func Format(v metrics.Value, digits int) string {
	switch {
	case v.None:
		return "–"
	case v.Shape == metrics.Text:
		return v.Text
	case v.Shape == metrics.Vector:
		parts := make([]string, len(v.Vector))
		for i, x := range v.Vector {
			parts[i] = strconv.FormatFloat(x, 'g', digits, 64)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return strconv.FormatFloat(v.Number, 'g', digits, 64)
}

// Quantile is the p-quantile of sorted xs by linear interpolation between
// order statistics at position p·(n−1) (Hyndman and Fan's type 7, the
// default of numpy and pandas, so tables match what researchers compute).
func Quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 1 {
		return sorted[0]
	}
	h := p * float64(n-1)
	lo := int(h)
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// summarise computes the named statistics of each numeric column, over its
// cells that are numbers (a column of text gets "–"): mean, median, p25,
// p75 (see Quantile), min, max, and count (how many numbers). A column
// some of whose rows failed gets summaries only with partial, marked with
// how many rows (named by unit, e.g. "seeds") they are over (see
// partialCell).
func summarise(rows []Row, ncol int, names []string, digits int, partial bool, unit string) []Row {
	out := make([]Row, len(names))
	for i, n := range names {
		out[i] = Row{Label: n, Cells: make([]Cell, ncol)}
	}
	for c := range ncol {
		var xs []float64
		numeric := true
		failed := 0
		for _, r := range rows {
			v := r.Cells[c].Value
			if r.Cells[c].failed() {
				failed++
			}
			if v.None {
				continue
			}
			if v.Shape != metrics.Number {
				numeric = false
				break
			}
			xs = append(xs, v.Number)
		}
		for i, n := range names {
			if !numeric || (len(xs) == 0 && n != "count" && failed == 0) {
				out[i].Cells[c] = Cell{Value: metrics.NA(), Text: "–"}
				continue
			}
			if len(xs) == 0 && n != "count" {
				out[i].Cells[c] = partialCell(n, 0, 0, failed, digits, partial, unit)
				continue
			}
			sort.Float64s(xs)
			var x float64
			switch n {
			case "mean":
				x = stat.Mean(xs, nil)
			case "median":
				x = Quantile(xs, 0.5)
			case "p25":
				x = Quantile(xs, 0.25)
			case "p75":
				x = Quantile(xs, 0.75)
			case "min":
				x = xs[0]
			case "max":
				x = xs[len(xs)-1]
			case "count":
				x = float64(len(xs))
			}
			if failed > 0 {
				out[i].Cells[c] = partialCell(n, x, len(xs), len(xs)+failed, digits, partial, unit)
				continue
			}
			v := metrics.Num(x)
			out[i].Cells[c] = Cell{Value: v, Text: Format(v, digits)}
		}
	}
	return out
}

func numericLabels(labels []string) bool {
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if _, err := strconv.ParseFloat(l, 64); err != nil {
			return false
		}
	}
	return true
}

// flips lists, for each text column, consecutive rows whose text differs.
func flips(t *Table) []Flip {
	var out []Flip
	for c, col := range t.Columns {
		for i := 1; i < len(t.Rows); i++ {
			a, b := t.Rows[i-1].Cells[c], t.Rows[i].Cells[c]
			if a.Value.Shape != metrics.Text || b.Value.Shape != metrics.Text || a.Text == b.Text {
				continue
			}
			out = append(out, Flip{Column: col, From: a.Text, To: b.Text, After: t.Rows[i-1].Label, Before: t.Rows[i].Label})
		}
	}
	return out
}

// Marshal writes the report as indented JSON with a final newline.
func (r *Report) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
