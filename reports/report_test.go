package reports

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"hetalign/metrics"
)

func TestQuantile(t *testing.T) {
	// Type 7: position p(n−1), linear between order statistics.
	xs := []float64{1, 2, 4, 8}
	tests := []struct{ p, want float64 }{
		{0, 1}, {1, 8}, {0.25, 1.75}, {0.5, 3}, {0.75, 5},
	}
	for _, tc := range tests {
		if got := Quantile(xs, tc.p); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("Quantile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if Quantile([]float64{7}, 0.25) != 7 {
		t.Error("single value")
	}
}

// layout builds a two-seed, two-method experiment with a numeric metric.
func layout() (Layout, [][]byte) {
	l := Layout{Name: "r", Experiments: []ExperimentLayout{{
		Name:         "x",
		Axes:         []Axis{{Name: "seed", Values: []string{"0", "1"}}},
		Alternatives: []string{"a", "b"},
		Methods:      []string{"m1", "m2"},
		Tables: []TableLayout{
			{Name: "tv", Title: "TV", Rows: "seed", Columns: "method", Cells: []string{"tv"}, Summary: []string{"mean", "p25", "p75"}, Digits: 4},
			{Name: "pol", Title: "policy", Rows: "alternative", Columns: "method", Cells: []string{"policy"}, Where: map[string]string{"seed": "1"}, Digits: 4},
		},
	}}}
	var evals [][]byte
	for s := range 2 {
		for m := range 2 {
			v := map[string]metrics.Value{
				"tv":     metrics.Num(float64(s+1) * float64(m+1) / 10),
				"policy": metrics.Vec([]float64{0.1 * float64(s+m+1), 1 - 0.1*float64(s+m+1)}),
			}
			b, _ := json.Marshal(v)
			l.Experiments[0].Cells = append(l.Experiments[0].Cells, CellRef{
				Axes: map[string]string{"seed": []string{"0", "1"}[s]}, Method: []string{"m1", "m2"}[m], Input: len(evals)})
			evals = append(evals, b)
		}
	}
	return l, evals
}

func TestBuild(t *testing.T) {
	l, evals := layout()
	r, err := Build(l, evals)
	if err != nil {
		t.Fatal(err)
	}
	tv := r.Experiments[0].Tables[0]
	// Cell (seed s, method m) holds (s+1)(m+1)/10.
	if got := tv.Rows[1].Cells[1].Value.Number; math.Abs(got-0.4) > 1e-15 {
		t.Errorf("tv[seed 1][m2] = %v, want 0.4", got)
	}
	// Summary of m2 over seeds: values 0.2 and 0.4.
	if len(tv.Summary) != 3 || math.Abs(tv.Summary[0].Cells[1].Value.Number-0.3) > 1e-15 {
		t.Errorf("summary = %+v, want mean 0.3 for m2", tv.Summary)
	}
	if p25 := tv.Summary[1].Cells[1].Value.Number; math.Abs(p25-0.25) > 1e-15 {
		t.Errorf("p25 = %v, want 0.25", p25)
	}
	pol := r.Experiments[0].Tables[1]
	// where seed = 1, alternative b, method m1: 1 − 0.1·(1+0+1).
	if got := pol.Rows[1].Cells[0].Value.Number; math.Abs(got-0.8) > 1e-15 {
		t.Errorf("policy[b][m1] at seed 1 = %v, want 0.8", got)
	}
}

func TestBuildFailedCells(t *testing.T) {
	l, evals := layout()
	evals[3] = nil
	r, err := Build(l, evals)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Experiments[0].Tables[0].Rows[1].Cells[1].Text; got != "failed" {
		t.Errorf("failed cell shows %q", got)
	}
}

func TestCSVAndDiff(t *testing.T) {
	l, evals := layout()
	a, _ := Build(l, evals)
	b2 := map[string]metrics.Value{"tv": metrics.Num(0.45), "policy": metrics.Vec([]float64{0.3, 0.7})}
	evals[3], _ = json.Marshal(b2)
	b, _ := Build(l, evals)

	c, err := a.Experiments[0].Tables[0].CSV()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(c)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+2+3 || recs[2][0] != "1" || recs[2][2] != "0.4" {
		t.Errorf("csv = %q", recs)
	}

	changes := Diff(a, b)
	// tv[1][m2] 0.4 → 0.45 changes that cell and m2's summary rows; the
	// policy table (seed 1) changes in column m2.
	var tvCell *Change
	for i, ch := range changes {
		if ch.Table == "tv" && ch.Row == "1" && ch.Column == "m2" {
			tvCell = &changes[i]
		}
	}
	if tvCell == nil || tvCell.Delta == nil || math.Abs(*tvCell.Delta-0.05) > 1e-12 {
		t.Fatalf("changes = %+v, want tv[1][m2] Δ 0.05", changes)
	}
	if !tvCell.Exceeds(0.01) || tvCell.Exceeds(0.1) {
		t.Error("tolerance test wrong")
	}
	if len(Diff(a, a)) != 0 {
		t.Error("a report differs from itself")
	}
	var buf bytes.Buffer
	if n := WriteChanges(&buf, changes, 1); n != 0 {
		t.Errorf("%d changes beyond tolerance 1", n)
	}
}

func TestRenderers(t *testing.T) {
	l, evals := layout()
	r, _ := Build(l, evals)
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	md, err := r.Markdown()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TV", "mean", "p25", "p75", "0.4"} {
		if !bytes.Contains(buf.Bytes(), []byte(want)) || !bytes.Contains(md, []byte(want)) {
			t.Errorf("rendering lacks %q", want)
		}
	}
	if !bytes.Contains(md, []byte("| seed \\ method |")) && !bytes.Contains(md, []byte("seed \\ method")) {
		t.Errorf("markdown header missing:\n%s", md)
	}
}

// A table with each is repeated per value; count and median summarise.
func TestEachAndSummaries(t *testing.T) {
	l, evals := layout()
	l.Experiments[0].Tables = []TableLayout{{Name: "per", Title: "per seed", Rows: "method", Columns: "metric",
		Cells: []string{"tv"}, Each: "seed", Summary: []string{"median", "count", "max"}, Digits: 4}}
	r, err := Build(l, evals)
	if err != nil {
		t.Fatal(err)
	}
	tabs := r.Experiments[0].Tables
	if len(tabs) != 2 || tabs[1].EachValue != "1" || tabs[1].FullTitle() != "per seed — seed = 1" {
		t.Fatalf("tables %+v", tabs)
	}
	// Seed 1: m1 = 0.2, m2 = 0.4.
	sum := tabs[1].Summary
	if math.Abs(sum[0].Cells[0].Value.Number-0.3) > 1e-15 {
		t.Errorf("median %v", sum[0].Cells[0].Value)
	}
	if sum[1].Cells[0].Value.Number != 2 || sum[2].Cells[0].Value.Number != 0.4 {
		t.Errorf("count %v max %v", sum[1].Cells[0].Value, sum[2].Cells[0].Value)
	}
	if CSVName("x", &tabs[1]) != "x.per.1.csv" {
		t.Errorf("csv name %s", CSVName("x", &tabs[1]))
	}
}

func TestFigures(t *testing.T) {
	l, evals := layout()
	for _, kind := range []string{"lines", "bars", "cdf"} {
		l.Experiments[0].Plots = []PlotLayout{{Name: "p", Table: "tv", Kind: kind, Normalize: kind == "bars"}}
		r, err := Build(l, evals)
		if err != nil {
			t.Fatal(err)
		}
		figs, err := r.Experiments[0].Figures()
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if len(figs) != 1 || figs[0].File != "x.p" {
			t.Fatalf("%s: figures %+v", kind, figs)
		}
		if !bytes.Contains(figs[0].SVG[:200], []byte("<svg")) || !bytes.HasPrefix(figs[0].PNG, []byte("\x89PNG")) {
			t.Errorf("%s: not an SVG and a PNG", kind)
		}
	}
	// A table without numbers cannot be drawn.
	l.Experiments[0].Plots = []PlotLayout{{Name: "p", Table: "tv", Kind: "lines", Columns: []string{"nope"}}}
	r, _ := Build(l, evals)
	if _, err := r.Experiments[0].Figures(); err == nil {
		t.Error("empty plot drawn")
	}
}

func TestFigureBand(t *testing.T) {
	l, evals := layout()
	l.Experiments[0].Plots = []PlotLayout{{Name: "p", Table: "tv", Kind: "lines", Band: "tv"}}
	r, _ := Build(l, evals)
	figs, err := r.Experiments[0].Figures()
	if err != nil || len(figs) != 1 || !bytes.Contains(figs[0].SVG, []byte("fill")) {
		t.Fatalf("band figure: %v", err)
	}
	l.Experiments[0].Plots[0].Band = "missing"
	r, _ = Build(l, evals)
	if _, err := r.Experiments[0].Figures(); err == nil {
		t.Error("a band from a missing table was drawn")
	}
}

// A table wider than the terminal is cut and folded: no line is wider
// than the width, every column still appears, and the CSV is named.
func TestWriteTextFolds(t *testing.T) {
	tb := Table{Name: "wide", Title: "wide", RowAxis: "row", ColAxis: "col"}
	for c := range 12 {
		tb.Columns = append(tb.Columns, fmt.Sprintf("column_%02d", c))
	}
	for r := range 3 {
		row := Row{Label: fmt.Sprintf("r%d", r)}
		for range tb.Columns {
			row.Cells = append(row.Cells, Cell{Text: strings.Repeat("x", 50)})
		}
		tb.Rows = append(tb.Rows, row)
	}
	rep := &Report{Name: "r", Experiments: []Experiment{{Name: "e", Tables: []Table{tb}}}}
	for _, width := range []int{60, 100} {
		var b bytes.Buffer
		if err := rep.WriteTextWidth(&b, width); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(b.String(), "\n") {
			if n := len([]rune(line)); n > width {
				t.Errorf("width %d: a line of %d runes: %q", width, n, line)
			}
		}
		for _, c := range tb.Columns {
			if !strings.Contains(b.String(), c) {
				t.Errorf("width %d: column %s is missing", width, c)
			}
		}
		if !strings.Contains(b.String(), "e.wide.csv") {
			t.Errorf("width %d: the CSV is not named:\n%s", width, b.String())
		}
	}
}

// A table whose rows are one path of a zip group (paths that advance
// together) finds each row's cell: the group's other paths follow the row
// instead of taking their first value.
func TestZipGroupRows(t *testing.T) {
	l := Layout{Name: "r", Experiments: []ExperimentLayout{{
		Name: "x",
		Axes: []Axis{
			{Name: "data.a.pairs", Values: []string{"10", "20", "30"}},
			{Name: "data.b.pairs", Values: []string{"10", "20", "30"}},
			{Name: "steps", Values: []string{"1", "2"}},
			{Name: "seed", Values: []string{"0"}},
		},
		Methods: []string{"m"},
		Tables: []TableLayout{
			{Name: "tv", Rows: "data.a.pairs", Columns: "steps", Cells: []string{"tv"}, Digits: 4},
			{Name: "by_b", Rows: "steps", Columns: "method", Cells: []string{"tv"}, Where: map[string]string{"data.b.pairs": "30"}, Digits: 4},
		},
	}}}
	var evals [][]byte
	for i, n := range []string{"10", "20", "30"} {
		for j, s := range []string{"1", "2"} {
			b, _ := json.Marshal(map[string]metrics.Value{"tv": metrics.Num(float64(10*(i+1) + j + 1))})
			l.Experiments[0].Cells = append(l.Experiments[0].Cells, CellRef{
				Axes: map[string]string{"data.a.pairs": n, "data.b.pairs": n, "steps": s, "seed": "0"}, Method: "m", Input: len(evals)})
			evals = append(evals, b)
		}
	}
	r, err := Build(l, evals)
	if err != nil {
		t.Fatal(err)
	}
	tv := r.Experiments[0].Tables[0]
	for i, row := range tv.Rows {
		for j, c := range row.Cells {
			if want := float64(10*(i+1) + j + 1); c.Value.Number != want || c.Text == "–" {
				t.Errorf("tv[%s][%s] = %q (%v), want %v", row.Label, tv.Columns[j], c.Text, c.Value.Number, want)
			}
		}
	}
	byB := r.Experiments[0].Tables[1]
	if got := byB.Rows[1].Cells[0].Value.Number; got != 32 {
		t.Errorf("where data.b.pairs = 30, steps 2: %v, want 32", got)
	}
}

// A table that averages over the seeds holds each method's mean tv
// ((0.1 + 0.2)/2 for m1, (0.2 + 0.4)/2 for m2); without records the report
// keeps its tables and drops the per-cell values.
func TestMeanOverAxisAndNoRecords(t *testing.T) {
	l, evals := layout()
	l.Experiments[0].Tables = append(l.Experiments[0].Tables,
		TableLayout{Name: "avg", Title: "mean tv", Rows: "method", Columns: "metric", Cells: []string{"tv"}, Mean: "seed", Digits: 4})
	l.Experiments[0].NoRecords = true
	r, err := Build(l, evals)
	if err != nil {
		t.Fatal(err)
	}
	x := r.Experiments[0]
	if x.Records != nil {
		t.Errorf("%d records kept", len(x.Records))
	}
	var avg *Table
	for i := range x.Tables {
		if x.Tables[i].Name == "avg" {
			avg = &x.Tables[i]
		}
	}
	if avg == nil || len(avg.Rows) != 2 {
		t.Fatalf("mean table %+v", avg)
	}
	for i, want := range []float64{0.15, 0.3} {
		if got := avg.Rows[i].Cells[0].Value.Number; math.Abs(got-want) > 1e-15 {
			t.Errorf("%s: mean tv %v, want %v", avg.Rows[i].Label, got, want)
		}
	}
}

// A table over a mean axis of a text metric shows the least text in byte
// order (an axiom's smallest witness, "a2 …" before "a3 …"), none when
// every value is none: seed 0 holds "a3 t2 | x" for m1 and nothing for m2,
// seed 1 "a2 t5 | y" for m1.
func TestMeanOfTextIsLeast(t *testing.T) {
	l := Layout{Name: "r", Experiments: []ExperimentLayout{{
		Name: "x", Axes: []Axis{{Name: "seed", Values: []string{"0", "1"}}}, Alternatives: []string{"a", "b"}, Methods: []string{"m1", "m2"},
		Tables: []TableLayout{{Name: "w", Title: "witness", Rows: "method", Columns: "metric", Cells: []string{"axiom_iia_witness"}, Mean: "seed"}},
	}}}
	var evals [][]byte
	for s, texts := range [][2]metrics.Value{{metrics.Str("a3 t2 | x"), metrics.NA()}, {metrics.Str("a2 t5 | y"), metrics.NA()}} {
		for m := range 2 {
			b, _ := json.Marshal(map[string]metrics.Value{"axiom_iia_witness": texts[m]})
			l.Experiments[0].Cells = append(l.Experiments[0].Cells, CellRef{Axes: map[string]string{"seed": []string{"0", "1"}[s]}, Method: []string{"m1", "m2"}[m], Input: len(evals)})
			evals = append(evals, b)
		}
	}
	r, err := Build(l, evals)
	if err != nil {
		t.Fatal(err)
	}
	rows := r.Experiments[0].Tables[0].Rows
	if got := rows[0].Cells[0].Text; got != "a2 t5 | y" {
		t.Errorf("m1: %q, want the least witness %q", got, "a2 t5 | y")
	}
	if got := rows[1].Cells[0]; !got.Value.None {
		t.Errorf("m2: %+v, want none", got)
	}
}

// Consume builds what Build builds and lets go of every evaluation's bytes
// (nil entries) once read, also when two experiments share evaluations and
// one keeps no records; Build leaves its argument as it was.
func TestConsumeReleasesEvaluations(t *testing.T) {
	l, evals := layout()
	y := l.Experiments[0]
	y.Name = "y"
	x := l.Experiments[0]
	x.NoRecords = true
	l.Experiments = []ExperimentLayout{x, y} // y reads x's evaluations again
	evals[3] = nil                           // a failed evaluation
	orig := make([][]byte, len(evals))
	for i, b := range evals {
		orig[i] = bytes.Clone(b)
	}
	built, err := Build(l, evals)
	if err != nil {
		t.Fatal(err)
	}
	for i := range evals {
		if !bytes.Equal(evals[i], orig[i]) || (evals[i] == nil) != (orig[i] == nil) {
			t.Errorf("Build changed evaluation %d: %q, was %q", i, evals[i], orig[i])
		}
	}
	consumed, err := Consume(l, evals)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range evals {
		if b != nil {
			t.Errorf("evaluation %d still held after Consume: %q", i, b)
		}
	}
	a, _ := built.Marshal()
	b, _ := consumed.Marshal()
	if !bytes.Equal(a, b) {
		t.Errorf("Consume's report differs from Build's:\n%s\n%s", b, a)
	}
	if n := len(consumed.Experiments[1].Records); n != 4 || consumed.Experiments[0].Records != nil {
		t.Errorf("records: x %d (want none), y %d (want 4)", len(consumed.Experiments[0].Records), n)
	}
	for _, xi := range []int{0, 1} {
		if got := consumed.Experiments[xi].Tables[0].Rows[1].Cells[1].Text; got != "failed" {
			t.Errorf("experiment %d: the failed cell shows %q", xi, got)
		}
		if got := consumed.Experiments[xi].Tables[0].Rows[1].Cells[0].Value.Number; math.Abs(got-0.2) > 1e-15 {
			t.Errorf("experiment %d: tv[seed 1][m1] = %v, want 0.2", xi, got)
		}
	}
}
