package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"hetalign/metrics"
)

// Change is one table cell that differs between two reports.
type Change struct {
	Experiment string `json:"experiment"`
	Table      string `json:"table"`
	Row        string `json:"row"`
	Column     string `json:"column"`
	// Kind is "changed", "added" (only in the new report) or "removed".
	Kind string `json:"kind"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
	// Delta is new − old for numbers.
	Delta *float64 `json:"delta,omitempty"`
}

// Exceeds reports whether the change is more than tol: a numeric change
// with |delta| > tol, any text change, any added or removed cell.
func (c Change) Exceeds(tol float64) bool {
	if c.Kind == "changed" && c.Delta != nil {
		return math.Abs(*c.Delta) > tol
	}
	return true
}

type cellID struct{ x, t, r, c string }

func cells(r *Report) (map[cellID]Cell, []cellID) {
	m := map[cellID]Cell{}
	var order []cellID
	for _, x := range r.Experiments {
		for _, t := range x.Tables {
			for _, row := range append(append([]Row{}, t.Rows...), t.Summary...) {
				for j, c := range row.Cells {
					if j >= len(t.Columns) {
						continue
					}
					name := t.Name
					if t.Each != "" {
						name += "[" + unquote(t.EachValue) + "]"
					}
					id := cellID{x.Name, name, row.Label, t.Columns[j]}
					if _, dup := m[id]; !dup {
						order = append(order, id)
					}
					m[id] = c
				}
			}
		}
	}
	return m, order
}

// Diff lists the cells that differ between old and new, in the new
// report's order, then the removed ones.
func Diff(old, new *Report) []Change {
	om, oorder := cells(old)
	nm, norder := cells(new)
	var out []Change
	for _, id := range norder {
		n := nm[id]
		o, ok := om[id]
		ch := Change{Experiment: id.x, Table: id.t, Row: id.r, Column: id.c, New: n.Text}
		switch {
		case !ok:
			ch.Kind = "added"
		case o.Value.Shape == metrics.Number && n.Value.Shape == metrics.Number && !o.Value.None && !n.Value.None:
			if o.Value.Number == n.Value.Number {
				continue
			}
			d := n.Value.Number - o.Value.Number
			ch.Kind, ch.Old, ch.Delta = "changed", o.Text, &d
		default:
			if sameValue(o.Value, n.Value) {
				continue
			}
			ch.Kind, ch.Old = "changed", o.Text
		}
		out = append(out, ch)
	}
	var removed []Change
	for _, id := range oorder {
		if _, ok := nm[id]; !ok {
			removed = append(removed, Change{Experiment: id.x, Table: id.t, Row: id.r, Column: id.c, Kind: "removed", Old: om[id].Text})
		}
	}
	return append(out, removed...)
}

func sameValue(a, b metrics.Value) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// ParseReport reads a report.json.
//
// It refuses JSON that is not a hetalign report: one needs a "name" and an
// "experiments" list whose entries are named.
func ParseReport(b []byte) (*Report, error) {
	var shape map[string]json.RawMessage
	if err := json.Unmarshal(b, &shape); err != nil {
		return nil, fmt.Errorf("not a hetalign report: %w", err)
	}
	if _, ok := shape["name"]; !ok {
		return nil, fmt.Errorf("not a hetalign report: no \"name\" field (a report.json that hetalign run wrote has name and experiments)")
	}
	if e, ok := shape["experiments"]; !ok || len(e) == 0 || e[0] != '[' {
		return nil, fmt.Errorf("not a hetalign report: no \"experiments\" list")
	}
	r := new(Report)
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("reading a report: %w", err)
	}
	if r.Name == "" {
		return nil, fmt.Errorf("not a hetalign report: the name is empty")
	}
	for i, x := range r.Experiments {
		if x.Name == "" {
			return nil, fmt.Errorf("not a hetalign report: experiment %d has no name", i)
		}
	}
	return r, nil
}

// WriteChanges prints changes one per line and returns how many exceed tol.
func WriteChanges(w io.Writer, changes []Change, tol float64) int {
	n := 0
	for _, c := range changes {
		mark := " "
		if c.Exceeds(tol) {
			mark = "!"
			n++
		}
		where := fmt.Sprintf("%s/%s [%s, %s]", c.Experiment, c.Table, unquote(c.Row), unquote(c.Column))
		switch c.Kind {
		case "added":
			fmt.Fprintf(w, "%s added    %s = %s\n", mark, where, c.New)
		case "removed":
			fmt.Fprintf(w, "%s removed  %s (was %s)\n", mark, where, c.Old)
		default:
			if c.Delta != nil {
				fmt.Fprintf(w, "%s changed  %s: %s → %s (Δ %+.4g)\n", mark, where, c.Old, c.New, *c.Delta)
			} else {
				fmt.Fprintf(w, "%s changed  %s: %s → %s\n", mark, where, c.Old, c.New)
			}
		}
	}
	return n
}

// Compared counts the table cells both reports have.
func Compared(old, new *Report) int {
	om, _ := cells(old)
	nm, _ := cells(new)
	n := 0
	for id := range nm {
		if _, ok := om[id]; ok {
			n++
		}
	}
	return n
}
