package reports

import (
	"math"
	"strings"
	"testing"

	"hetalign/metrics"
)

// claimReport is a small hand-built report: a table of numbers and text
// over seeds with a mean row, and a second experiment.
func claimReport() *Report {
	num := func(x float64) Cell { v := metrics.Num(x); return Cell{Value: v, Text: Format(v, 4)} }
	txt := func(s string) Cell { return Cell{Value: metrics.Str(s), Text: s} }
	return &Report{Name: "r", Experiments: []Experiment{
		{Name: "x", Tables: []Table{{
			Name: "t", RowAxis: "seed", ColAxis: "method", Columns: []string{"a", "b", "top"},
			Rows: []Row{
				{Label: "0", Cells: []Cell{num(1), num(-2), txt("y2")}},
				{Label: "1", Cells: []Cell{num(3), num(-1), txt("y2")}},
			},
			Summary: []Row{{Label: "mean", Cells: []Cell{num(2), num(-1.5), {Value: metrics.NA(), Text: "–"}}}},
		}}},
		{Name: "other", Tables: []Table{{Name: "s", Columns: []string{"c"}, Rows: []Row{{Label: "\"k\"", Cells: []Cell{num(2)}}}}}},
	}}
}

func TestEvaluateClaims(t *testing.T) {
	at := func(row, col string) *Address { return &Address{Table: "t", Row: row, Column: col} }
	n := func(x float64) *Operand { return &Operand{Number: &x} }
	s := func(x string) *Operand { return &Operand{Text: &x} }
	c := func(a *Address) *Operand { return &Operand{Cell: a} }
	tests := []struct {
		name  string
		claim ClaimLayout
		holds bool
	}{
		{"equals number", ClaimLayout{Relation: RelEquals, Cell: at("0", "a"), Than: n(1)}, true},
		{"equals number, false", ClaimLayout{Relation: RelEquals, Cell: at("0", "a"), Than: n(2)}, false},
		{"equals text", ClaimLayout{Relation: RelEquals, Cell: at("0", "top"), Than: s("y2")}, true},
		{"equals text, false", ClaimLayout{Relation: RelEquals, Cell: at("0", "top"), Than: s("y1")}, false},
		{"equals cell", ClaimLayout{Relation: RelEquals, Cell: at("0", "top"), Than: c(at("1", "top"))}, true},
		{"equals another experiment", ClaimLayout{Relation: RelEquals, Cell: at("mean", "a"), Than: c(&Address{Experiment: "other", Table: "s", Row: "k", Column: "c"})}, true},
		{"differs number", ClaimLayout{Relation: RelDiffers, Cell: at("0", "a"), Than: c(at("1", "a"))}, true},
		{"differs number, false", ClaimLayout{Relation: RelDiffers, Cell: at("0", "a"), Than: n(1)}, false},
		{"differs text", ClaimLayout{Relation: RelDiffers, Cell: at("0", "top"), Than: s("y1")}, true},
		{"differs text, false", ClaimLayout{Relation: RelDiffers, Cell: at("0", "top"), Than: c(at("1", "top"))}, false},
		{"less", ClaimLayout{Relation: RelLess, Cell: at("0", "b"), Than: c(at("0", "a"))}, true},
		{"less, false", ClaimLayout{Relation: RelLess, Cell: at("0", "a"), Than: c(at("0", "b"))}, false},
		{"greater", ClaimLayout{Relation: RelGreater, Cell: at("1", "a"), Than: n(2.5)}, true},
		{"greater, false", ClaimLayout{Relation: RelGreater, Cell: at("1", "a"), Than: n(3)}, false},
		{"greater than text does not hold", ClaimLayout{Relation: RelGreater, Cell: at("1", "top"), Than: n(0)}, false},
		{"approx", ClaimLayout{Relation: RelApprox, Cell: at("mean", "a"), Than: n(2.05), Tolerance: 0.1}, true},
		{"approx, false", ClaimLayout{Relation: RelApprox, Cell: at("mean", "a"), Than: n(2.5), Tolerance: 0.1}, false},
		{"sign", ClaimLayout{Relation: RelSign, Cell: at("mean", "b"), Sign: "negative"}, true},
		{"sign, false", ClaimLayout{Relation: RelSign, Cell: at("mean", "b"), Sign: "positive"}, false},
		{"order", ClaimLayout{Relation: RelOrder, Order: []Address{*at("1", "a"), *at("0", "a"), *at("1", "b")}}, true},
		{"order, false", ClaimLayout{Relation: RelOrder, Order: []Address{*at("0", "a"), *at("1", "a")}}, false},
		{"every seed", ClaimLayout{Relation: RelGreater, Every: "seed", Cell: &Address{Table: "t", Column: "a"}, Than: c(&Address{Table: "t", Column: "b"})}, true},
		{"every seed, false", ClaimLayout{Relation: RelGreater, Every: "seed", Cell: &Address{Table: "t", Column: "a"}, Than: n(2)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.claim.Name = "c"
			got, err := claimReport().Evaluate("x", tc.claim)
			if err != nil {
				t.Fatal(err)
			}
			if got.Holds != tc.holds {
				t.Errorf("holds = %v, want %v (%s)", got.Holds, tc.holds, got.Statement)
			}
			if len(got.Terms) == 0 || got.Statement == "" {
				t.Errorf("no numbers compared: %+v", got)
			}
		})
	}
}

func TestEvaluateClaimMissingAddress(t *testing.T) {
	one := 1.0
	tests := []struct {
		name string
		cell Address
		want string
	}{
		{"table", Address{Table: "nope", Row: "0", Column: "a"}, `no table "nope"`},
		{"row", Address{Table: "t", Row: "9", Column: "a"}, `no row "9"`},
		{"column", Address{Table: "t", Row: "0", Column: "z"}, `no column "z"`},
		{"experiment", Address{Experiment: "y", Table: "t", Row: "0", Column: "a"}, `no experiment "y"`},
		{"no row", Address{Table: "t", Column: "a"}, "no row"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := claimReport().Evaluate("x", ClaimLayout{Name: "c", Relation: RelEquals, Cell: &tc.cell, Than: &Operand{Number: &one}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// Build evaluates the layout's claims; report.md and the terminal show them.
func TestBuildClaims(t *testing.T) {
	l, evals := layout()
	zero := 0.0
	l.Experiments[0].Claims = []ClaimLayout{
		{Name: "small", Says: "m1 is closer", Relation: RelLess, Cell: &Address{Table: "tv", Row: "mean", Column: "m1"}, Than: &Operand{Cell: &Address{Table: "tv", Row: "mean", Column: "m2"}}},
		{Name: "zero", Says: "m1 is exact", Paper: "m1 is exact", Relation: RelEquals, Cell: &Address{Table: "tv", Row: "0", Column: "m1"}, Than: &Operand{Number: &zero}},
	}
	rep, err := Build(l, evals)
	if err != nil {
		t.Fatal(err)
	}
	cs := rep.Experiments[0].Claims
	if len(cs) != 2 || !cs[0].Holds || cs[1].Holds {
		t.Fatalf("claims = %+v", cs)
	}
	if got := rep.FailedClaims(); len(got) != 1 || got[0] != "r/x/zero: m1 is exact" {
		t.Errorf("FailedClaims = %q", got)
	}
	md, err := rep.Markdown()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### Claims", "- ✓ **small**: m1 is closer", "- ✗ **zero**", "The paper states: m1 is exact", "tv[0, m1] = 0.1 equals 0"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "✗ zero: m1 is exact") {
		t.Errorf("terminal output lacks the claim:\n%s", b.String())
	}
	l.Experiments[0].Claims[0].Cell.Table = "nope"
	if _, err := Build(l, evals); err == nil || !strings.Contains(err.Error(), "no table") {
		t.Errorf("a missing table: %v", err)
	}
}

// A claim's relative margin is its distance from failing over the
// threshold, computed here by hand from the cells of claimReport (a: 1, 3,
// mean 2; b: −2, −1, mean −1.5): positive when it holds, negative when it
// fails, nil where no number measures it; --weak lists margins under R.
func TestClaimMargins(t *testing.T) {
	at := func(row, col string) *Address { return &Address{Table: "t", Row: row, Column: col} }
	n := func(x float64) *Operand { return &Operand{Number: &x} }
	s := func(x string) *Operand { return &Operand{Text: &x} }
	c := func(a *Address) *Operand { return &Operand{Cell: a} }
	none := 12345.0 // marks "no margin"
	tests := []struct {
		name   string
		claim  ClaimLayout
		margin float64
	}{
		{"approx: (0.1 − |2 − 2.05|)/0.1", ClaimLayout{Relation: RelApprox, Cell: at("mean", "a"), Than: n(2.05), Tolerance: 0.1}, 0.5},
		{"approx failing: (0.1 − 0.5)/0.1", ClaimLayout{Relation: RelApprox, Cell: at("mean", "a"), Than: n(2.5), Tolerance: 0.1}, -4},
		{"greater: (3 − 2.5)/2.5", ClaimLayout{Relation: RelGreater, Cell: at("1", "a"), Than: n(2.5)}, 0.2},
		{"greater failing: (1 − 2)/2", ClaimLayout{Relation: RelGreater, Cell: at("0", "a"), Than: n(2)}, -0.5},
		{"less than a cell: (1 − (−2))/1", ClaimLayout{Relation: RelLess, Cell: at("0", "b"), Than: c(at("0", "a"))}, 3},
		{"greater than 0: relative to the subject", ClaimLayout{Relation: RelGreater, Cell: at("1", "a"), Than: n(0)}, 1},
		{"order: min((3 − 1)/1, (1 − (−1))/1)", ClaimLayout{Relation: RelOrder, Order: []Address{*at("1", "a"), *at("0", "a"), *at("1", "b")}}, 2},
		{"every seed: the worst row, (1 − 2)/2", ClaimLayout{Relation: RelGreater, Every: "seed", Cell: &Address{Table: "t", Column: "a"}, Than: n(2)}, -0.5},
		{"equals text: none", ClaimLayout{Relation: RelEquals, Cell: at("0", "top"), Than: s("y2")}, none},
		{"sign: none", ClaimLayout{Relation: RelSign, Cell: at("mean", "b"), Sign: "negative"}, none},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.claim.Name, tc.claim.Source = "c", "a test"
			got, err := claimReport().Evaluate("x", tc.claim)
			if err != nil {
				t.Fatal(err)
			}
			if got.Source != "a test" {
				t.Errorf("source %q", got.Source)
			}
			switch {
			case tc.margin == none && got.Margin != nil:
				t.Errorf("margin %v, want none", *got.Margin)
			case tc.margin != none && (got.Margin == nil || math.Abs(*got.Margin-tc.margin) > 1e-12):
				t.Errorf("margin %v, want %v", got.Margin, tc.margin)
			}
			if (got.Margin != nil && *got.Margin < 0) == got.Holds {
				t.Errorf("margin %v but holds = %v", got.Margin, got.Holds)
			}
			weak := WeakClaims([]Claim{got}, 0.3)
			if want := tc.margin == none || tc.margin < 0.3; (len(weak) == 1) != want {
				t.Errorf("--weak 0.3 lists it: %v, want %v", len(weak) == 1, want)
			}
		})
	}
}
