package spec

import (
	"fmt"
	"slices"
	"strings"
)

// checkClaims checks every claim of every experiment of f: one relation,
// a cell where the relation needs one, and each address naming an
// experiment, a table, a row and a column that exist (see AddressLabels).
func checkClaims(f *File) Errors {
	var errs Errors
	byName := map[string]*Experiment{}
	for _, x := range f.Experiments {
		byName[x.Name] = x
	}
	for _, x := range f.Experiments {
		for _, cn := range sortedKeys(x.Base.Report.Claims) {
			c := x.Base.Report.Claims[cn]
			at := "report.claims." + quoteLabel(cn)
			rels := sortedKeys(c.Relations())
			switch {
			case len(rels) == 0:
				errs = append(errs, x.errAt(at, "claim %s states no relation: give one of equals, differs, less, greater, approx, sign, order", cn))
				continue
			case len(rels) > 1:
				errs = append(errs, x.errAt(at, "claim %s states %d relations (%s): give exactly one", cn, len(rels), strings.Join(rels, ", ")))
				continue
			}
			rel := rels[0]
			if rel != "order" && c.Cell == nil {
				errs = append(errs, x.errAt(at, "claim %s: %s needs a cell", cn, rel))
			}
			if rel == "order" && c.Cell != nil {
				errs = append(errs, x.errAt(at+".cell", "claim %s: order compares the cells it lists; remove cell", cn))
			}
			if c.Cell != nil {
				errs = append(errs, x.checkAddress(byName, at+".cell", c.Every, *c.Cell)...)
			}
			for i, a := range c.Order {
				errs = append(errs, x.checkAddress(byName, fmt.Sprintf("%s.order[%d]", at, i), c.Every, a)...)
			}
			var other any
			field := rel
			switch rel {
			case "equals":
				other = c.Equals
			case "differs":
				other = c.Differs
			case "less":
				other = c.Less
			case "greater":
				other = c.Greater
			case "approx":
				other, field = c.Approx.Value, "approx.value"
			}
			if other == nil {
				continue
			}
			_, _, cell, err := Operand(other)
			if err != nil {
				errs = append(errs, x.errAt(at+"."+field, "claim %s: %v", cn, err))
			} else if cell != nil {
				errs = append(errs, x.checkAddress(byName, at+"."+field, c.Every, *cell)...)
			}
		}
	}
	return errs
}

// checkAddress checks that address a names a cell of a table of this
// spec: with every, a table whose rows are that axis and no row.
func (x *Experiment) checkAddress(byName map[string]*Experiment, at, every string, a CellConfig) Errors {
	tx := x
	if a.Experiment != "" {
		if tx = byName[a.Experiment]; tx == nil {
			return Errors{x.errAt(at+".experiment", "no experiment %q in this spec (experiments: %s)", a.Experiment, strings.Join(sortedKeys(byName), ", "))}
		}
	}
	cfg := tx.Base
	t, ok := cfg.Report.Tables[a.Table]
	if !ok {
		return Errors{x.errAt(at+".table", "experiment %s has no table %q (tables: %s)", tx.Name, a.Table, strings.Join(sortedKeys(cfg.Report.Tables), ", "))}
	}
	var errs Errors
	cells := t.Cells()
	// An each over questions changes the alternatives from table to table.
	eachAlts := t.Each != "" && t.Each != AxisAlternative
	if t.Each != "" {
		vals, _ := tx.AxisValues(t.Each, cfg, cells)
		switch {
		case a.Each == nil:
			errs = append(errs, x.errAt(at+".table", "table %s is one per %s: name one with each (values: %s)", a.Table, t.Each, strings.Join(vals, ", ")))
		case !hasLabel(vals, a.Each):
			errs = append(errs, x.errAt(at+".each", "table %s has no %s %s (values: %s)", a.Table, t.Each, Label(a.Each), strings.Join(vals, ", ")))
		}
	} else if a.Each != nil {
		errs = append(errs, x.errAt(at+".each", "table %s is not one of a series (it has no each)", a.Table))
	}
	switch {
	case every != "" && t.Rows != every:
		errs = append(errs, x.errAt(at+".table", "the claim holds for every %s, but the rows of table %s are %s", every, a.Table, t.Rows))
	case every != "" && a.Row != nil:
		errs = append(errs, x.errAt(at+".row", "the claim holds for every %s: leave row out", every))
	case every == "" && a.Row == nil:
		errs = append(errs, x.errAt(at, "no row: give row (or every: %q for every row)", t.Rows))
	case a.Row != nil && !(eachAlts && t.Rows == AxisAlternative):
		vals, _ := tx.AxisValues(t.Rows, cfg, cells)
		vals = append(slices.Clip(vals), t.Summary...)
		if !hasLabel(vals, a.Row) {
			errs = append(errs, x.errAt(at+".row", "table %s has no row %s (rows: %s)", a.Table, Label(a.Row), strings.Join(vals, ", ")))
		}
	}
	if !(eachAlts && t.Columns == AxisAlternative) {
		vals, _ := tx.AxisValues(t.Columns, cfg, cells)
		if len(t.Show) > 0 {
			vals = t.Show
		}
		if !hasLabel(vals, a.Column) {
			errs = append(errs, x.errAt(at+".column", "table %s has no column %s (columns: %s)", a.Table, Label(a.Column), strings.Join(vals, ", ")))
		}
	}
	return errs
}

// hasLabel reports whether v, as a claim writes it, is one of the labels.
func hasLabel(labels []string, v any) bool {
	l := Label(v)
	return slices.Contains(labels, l) || slices.Contains(labels, Canonical(l))
}
