package page

import (
	"fmt"
	"html/template"
	"math"
	"strconv"

	"hetalign/reports"
)

// Side is one side of a diff: a label (a file, a directory or rev:path),
// its report and its provenance (nil when there is none).
type Side struct {
	Label      string
	Report     *reports.Report
	Provenance *Provenance
}

// DiffInput is what a diff page shows: the two sides, the changes
// (reports.Diff(Old, New)) and the tolerance past which a change counts.
type DiffInput struct {
	Old, New  Side
	Tolerance float64
}

type diffView struct {
	Old, New     Side
	Tolerance    string
	Compared     int
	Past         int
	Changed      int
	Flipped      []claimFlip
	Added        []string
	Removed      []string
	Groups       []changeGroup
	CSS          template.CSS
	JS           template.JS
	OldLabelText string
}

type claimFlip struct {
	Where    string
	Says     string
	Old, New string // "✓", "✗" or "–" (absent)
	OldStmt  string
	NewStmt  string
}

type changeGroup struct {
	Experiment, Table, ID string
	Changes               []changeView
}

type changeView struct {
	Row, Column, Kind, Old, New string
	Delta, Rel                  string
	DeltaV, RelV                string
	Past                        bool
}

// Diff builds the page of the changes between two reports. It also
// returns how many changes are past the tolerance (the text diff's
// count, which decides the exit status).
func Diff(in DiffInput) ([]byte, int, error) {
	css, err := assets.ReadFile("assets/style.css")
	if err != nil {
		return nil, 0, err
	}
	js, err := assets.ReadFile("assets/page.js")
	if err != nil {
		return nil, 0, err
	}
	changes := reports.Diff(in.Old.Report, in.New.Report)
	v := diffView{Old: in.Old, New: in.New, Tolerance: strconv.FormatFloat(in.Tolerance, 'g', -1, 64),
		Compared: reports.Compared(in.Old.Report, in.New.Report), Changed: len(changes), CSS: template.CSS(css), JS: template.JS(js)}
	v.Flipped = flips(in.Old.Report, in.New.Report)
	v.Added, v.Removed = addedRemoved(in.Old.Report, in.New.Report)
	index := map[[2]string]int{}
	for _, c := range changes {
		k := [2]string{c.Experiment, c.Table}
		gi, ok := index[k]
		if !ok {
			gi = len(v.Groups)
			index[k] = gi
			v.Groups = append(v.Groups, changeGroup{Experiment: c.Experiment, Table: c.Table, ID: "d-" + slug(c.Experiment+"."+c.Table)})
		}
		cv := changeView{Row: unquote(c.Row), Column: unquote(c.Column), Kind: c.Kind, Old: c.Old, New: c.New, Past: c.Exceeds(in.Tolerance)}
		if cv.Past {
			v.Past++
		}
		if c.Delta != nil {
			d := *c.Delta
			cv.Delta = strconv.FormatFloat(d, 'g', 4, 64)
			cv.DeltaV = strconv.FormatFloat(math.Abs(d), 'g', -1, 64)
			if old, err := strconv.ParseFloat(c.Old, 64); err == nil && old != 0 {
				r := d / math.Abs(old)
				cv.Rel = strconv.FormatFloat(r*100, 'g', 3, 64) + "%"
				cv.RelV = strconv.FormatFloat(math.Abs(r), 'g', -1, 64)
			}
		}
		v.Groups[gi].Changes = append(v.Groups[gi].Changes, cv)
	}
	b, err := execute("diff.html", v)
	return b, v.Past, err
}

// flips lists the claims whose verdict differs, and those only one side
// has.
func flips(old, new *reports.Report) []claimFlip {
	type side struct {
		holds bool
		stmt  string
		says  string
	}
	collect := func(r *reports.Report) (map[string]side, []string) {
		m := map[string]side{}
		var order []string
		for _, x := range r.Experiments {
			for _, c := range x.Claims {
				k := x.Name + " / " + c.Name
				if _, ok := m[k]; !ok {
					order = append(order, k)
				}
				m[k] = side{c.Holds, c.Statement, c.Says}
			}
		}
		return m, order
	}
	mark := func(s side, ok bool) string {
		switch {
		case !ok:
			return "–"
		case s.holds:
			return "✓"
		}
		return "✗"
	}
	om, oorder := collect(old)
	nm, norder := collect(new)
	var out []claimFlip
	for _, k := range norder {
		n := nm[k]
		o, ok := om[k]
		if ok && o.holds == n.holds {
			continue
		}
		out = append(out, claimFlip{Where: k, Says: n.says, Old: mark(o, ok), New: mark(n, true), OldStmt: o.stmt, NewStmt: n.stmt})
	}
	for _, k := range oorder {
		if _, ok := nm[k]; !ok {
			o := om[k]
			out = append(out, claimFlip{Where: k, Says: o.says, Old: mark(o, true), New: "–", OldStmt: o.stmt})
		}
	}
	return out
}

// addedRemoved lists experiments and tables only the new (added) or the
// old (removed) report has.
func addedRemoved(old, new *reports.Report) (added, removed []string) {
	names := func(r *reports.Report) (map[string]bool, []string) {
		m := map[string]bool{}
		var order []string
		for _, x := range r.Experiments {
			order = append(order, "experiment "+x.Name)
			m["experiment "+x.Name] = true
			for i := range x.Tables {
				t := &x.Tables[i]
				k := fmt.Sprintf("table %s / %s", x.Name, t.FullTitle())
				if t.Name != t.Title {
					k = fmt.Sprintf("table %s / %s (%s)", x.Name, t.Name, t.FullTitle())
				}
				if !m[k] {
					order = append(order, k)
				}
				m[k] = true
			}
		}
		return m, order
	}
	om, oorder := names(old)
	nm, norder := names(new)
	for _, k := range norder {
		if !om[k] {
			added = append(added, k)
		}
	}
	for _, k := range oorder {
		if !nm[k] {
			removed = append(removed, k)
		}
	}
	return added, removed
}
