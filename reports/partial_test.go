package reports

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"hetalign/metrics"
)

// partialLayout: three seeds, two methods; m1's evaluations of seeds 1
// and 2 failed (nil), so only seed 0 of m1 has a value. tv(s, m) =
// (s+1)(m+1)/10. Tables: tv by seed with the default summaries, and the
// mean of tv over seeds per method.
func partialLayout(partial bool) (Layout, [][]byte) {
	seeds := []string{"0", "1", "2"}
	l := Layout{Name: "r", Experiments: []ExperimentLayout{{
		Name:         "x",
		Axes:         []Axis{{Name: "seed", Values: seeds}},
		Alternatives: []string{"a", "b"},
		Methods:      []string{"m1", "m2"},
		Tables: []TableLayout{
			{Name: "tv", Title: "TV", Rows: "seed", Columns: "method", Cells: []string{"tv"}, Summary: []string{"mean", "p25", "p75"}, Digits: 4, Partial: partial},
			{Name: "avg", Title: "mean TV", Rows: "method", Columns: "metric", Cells: []string{"tv"}, Mean: "seed", Digits: 4, Partial: partial},
		},
	}}}
	var evals [][]byte
	for s := range 3 {
		for m := range 2 {
			var b []byte
			if m == 1 || s == 0 {
				b, _ = json.Marshal(map[string]metrics.Value{"tv": metrics.Num(float64(s+1) * float64(m+1) / 10)})
			}
			l.Experiments[0].Cells = append(l.Experiments[0].Cells, CellRef{
				Axes: map[string]string{"seed": seeds[s]}, Method: []string{"m1", "m2"}[m], Input: len(evals)})
			evals = append(evals, b)
		}
	}
	return l, evals
}

// A summary over seeds some of which failed is never a silent number:
// without `partial` it has no value and says how many seeds failed; with
// it, it is the statistic of the seeds that have a value, marked "mean of
// 1 of 3 seeds". The mark is in every output (terminal, Markdown, CSV,
// and JSON's n and of); a column with no failure is unmarked.
func TestSummaryOverFailedSeedsIsMarked(t *testing.T) {
	for _, partial := range []bool{false, true} {
		l, evals := partialLayout(partial)
		r, err := Build(l, evals)
		if err != nil {
			t.Fatal(err)
		}
		tv, avg := r.Experiments[0].Tables[0], r.Experiments[0].Tables[1]
		for i, row := range tv.Summary {
			c := row.Cells[0] // m1: 1 of 3 seeds
			if c.N != 1 || c.Of != 3 {
				t.Errorf("partial=%v: %s of m1 has n=%d of=%d, want 1 of 3", partial, row.Label, c.N, c.Of)
			}
			ok := row.Cells[1] // m2: every seed, 0.2 0.4 0.6
			want := []float64{0.4, 0.3, 0.5}[i]
			if ok.N != 0 || ok.Of != 0 || strings.Contains(ok.Text, "of") || math.Abs(ok.Value.Number-want) > 1e-15 {
				t.Errorf("partial=%v: %s of m2 = %+v, want %v unmarked", partial, row.Label, ok, want)
			}
			if partial {
				// The one value is seed 0's, 0.1, for every statistic.
				if c.Value.None || math.Abs(c.Value.Number-0.1) > 1e-15 || c.Text != "0.1 ("+row.Label+" of 1 of 3 seeds)" {
					t.Errorf("partial: %s of m1 = %+v, want 0.1 marked", row.Label, c)
				}
			} else if !c.Value.None || c.Text != "– (2 of 3 seeds failed)" {
				t.Errorf("%s of m1 = %+v, want no value and \"– (2 of 3 seeds failed)\"", row.Label, c)
			}
		}
		m := avg.Rows[0].Cells[0]
		if m.N != 1 || m.Of != 3 || m.Value.None != !partial {
			t.Errorf("partial=%v: mean over seeds of m1 = %+v", partial, m)
		}
		if m2 := avg.Rows[1].Cells[0]; m2.Of != 0 || math.Abs(m2.Value.Number-0.4) > 1e-15 {
			t.Errorf("mean over seeds of m2 = %+v, want 0.4 unmarked", m2)
		}
		mark := "2 of 3 seeds failed"
		if partial {
			mark = "mean of 1 of 3 seeds"
		}
		var text bytes.Buffer
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		md, err := r.Markdown()
		if err != nil {
			t.Fatal(err)
		}
		csv, err := tv.CSV()
		if err != nil {
			t.Fatal(err)
		}
		js, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		for name, out := range map[string]string{"terminal": text.String(), "markdown": string(md), "csv": string(csv)} {
			if !strings.Contains(out, mark) {
				t.Errorf("partial=%v: the %s output lacks %q:\n%s", partial, name, mark, out)
			}
		}
		if !strings.Contains(string(js), `"n": 1,`) || !strings.Contains(string(js), `"of": 3`) {
			t.Errorf("partial=%v: report.json lacks n and of", partial)
		}
	}
}
