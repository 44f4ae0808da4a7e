package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

// The methods × axioms tables of docs/axioms.md and the README are
// computed from the committed reports/axioms/report.json (generated
// sections, kept true by TestDocsGenerated): for each method and axiom,
// the share of populations violating it, 1 − the report's share where it
// holds, over the nine settings of experiments types2, types3 and types5
// (2, 3, 5 types with Dirichlet weights × τ ∈ {0.5, 1, 2}).

// axiomReport is the part of report.json the tables read.
type axiomReport struct {
	Experiments []struct {
		Name   string `json:"name"`
		Tables []struct {
			Name    string   `json:"name"`
			Columns []string `json:"columns"`
			Rows    []struct {
				Label string `json:"label"`
				Cells []struct {
					Value json.RawMessage `json:"value"` // a number, null or (witnesses) text
				} `json:"cells"`
			} `json:"rows"`
		} `json:"tables"`
	} `json:"experiments"`
}

// axiomRates reads, per method and axiom metric, the violation rates of
// every setting where the axiom applied; methods and axioms in table order.
func axiomRates(t *testing.T) (methods, axioms []string, rates map[string]map[string][]float64) {
	t.Helper()
	b, err := os.ReadFile("../../reports/axioms/report.json")
	if err != nil {
		t.Fatal(err)
	}
	var r axiomReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("reading reports/axioms/report.json: %v", err)
	}
	rates = map[string]map[string][]float64{}
	for _, x := range r.Experiments {
		if !strings.HasPrefix(x.Name, "types") {
			continue // equal3: the equal-weights check of the consistent loss
		}
		for _, tb := range x.Tables {
			if tb.Name != "axioms" {
				continue
			}
			for _, c := range tb.Columns {
				if !slices.Contains(axioms, c) {
					axioms = append(axioms, c)
				}
			}
			for _, row := range tb.Rows {
				if !slices.Contains(methods, row.Label) {
					methods = append(methods, row.Label)
					rates[row.Label] = map[string][]float64{}
				}
				for i, c := range row.Cells {
					var v *float64
					if err := json.Unmarshal(c.Value, &v); err != nil {
						t.Fatalf("reports/axioms: %s, %s: %v", row.Label, tb.Columns[i], err)
					}
					if v != nil {
						rates[row.Label][tb.Columns[i]] = append(rates[row.Label][tb.Columns[i]], 1-*v)
					}
				}
			}
		}
	}
	if len(methods) == 0 {
		t.Fatal("reports/axioms/report.json has no axioms table")
	}
	return methods, axioms, rates
}

// rateRange renders violation rates: "always" (held wherever it applied),
// "never" (failed wherever it applied), "–" (applied nowhere), else the
// range of the violating shares in whole percent.
func rateRange(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	lo, hi := slices.Min(v), slices.Max(v)
	switch {
	case hi < 1e-9:
		return "always"
	case lo > 1-1e-9:
		return "never"
	}
	pct := func(x float64) int { return int(math.Round(100 * x)) }
	if pct(lo) == pct(hi) {
		return fmt.Sprintf("%d%%", pct(hi))
	}
	return fmt.Sprintf("%d–%d%%", pct(lo), pct(hi))
}

func axiomHeader(axioms []string) string {
	var b strings.Builder
	b.WriteString("| method |")
	for _, a := range axioms {
		fmt.Fprintf(&b, " %s |", strings.ReplaceAll(strings.TrimPrefix(a, "axiom_"), "_", " "))
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(axioms)) + "\n")
	return b.String()
}

// axiomMethodTable is docs/axioms.md's table: one row per method.
func axiomMethodTable(t *testing.T) string {
	methods, axioms, rates := axiomRates(t)
	var b strings.Builder
	b.WriteString(axiomHeader(axioms))
	for _, m := range methods {
		fmt.Fprintf(&b, "| %s |", m)
		for _, a := range axioms {
			fmt.Fprintf(&b, " %s |", rateRange(rates[m][a]))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// axiomFamilies group the axioms spec's methods by the rule their
// population optimum implements (docs/axioms.md; the paper's Section 4
// for the Borda family, Section 5 for π*).
var axiomFamilies = []struct{ name, methods string }{
	{"π* (oracle, relabelled DPO)", "oracle relabel"},
	{"Borda count (NBC, DPO, IPO, cDPO, EXO, BCO, DiscoPOP, NCA, SPPO)", "nbc dpo ipo cdpo exo bco discopop nca sppo"},
	{"consistent loss (Eq. 20, and its integral form)", "consistent integral"},
	{"corrected DPO (α = 2)", "corrected"},
	{"DPL (λ = 0)", "dpl"},
	{"group-robust DPO", "group"},
	{"hinge", "hinge"},
	{"Nash learning", "nash"},
	{"maximal lottery", "lottery"},
	{"soft-Copeland", "soft_copeland"},
	{"soft-Kemeny", "soft_kemeny"},
	{"proportional (Kim et al.)", "proportional"},
}

// axiomFamilyTable is the README's table: one row per family, each cell
// the range over the family's methods and the nine settings.
func axiomFamilyTable(t *testing.T) string {
	methods, axioms, rates := axiomRates(t)
	var b strings.Builder
	b.WriteString(strings.Replace(axiomHeader(axioms), "| method |", "| methods |", 1))
	seen := map[string]bool{}
	for _, f := range axiomFamilies {
		var in []string
		for _, m := range strings.Fields(f.methods) {
			if slices.Contains(methods, m) {
				in = append(in, m)
				seen[m] = true
			}
		}
		if len(in) == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s |", f.name)
		for _, a := range axioms {
			var v []float64
			for _, m := range in {
				v = append(v, rates[m][a]...)
			}
			fmt.Fprintf(&b, " %s |", rateRange(v))
		}
		b.WriteString("\n")
	}
	for _, m := range methods {
		if !seen[m] {
			t.Errorf("method %s of reports/axioms is in no family of the README's table (axiomFamilies)", m)
		}
	}
	return b.String()
}
