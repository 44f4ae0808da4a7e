package reports

import (
	"strings"
	"testing"

	"hetalign/metrics"
)

// TestSummaryCaption: the caption under a table names exactly the summary
// rows it has (reports/lengths had "The last 2 rows summarise … (p25,
// p75 …)" under rows mean and max, and "The last 1 rows").
func TestSummaryCaption(t *testing.T) {
	num := func(x float64) Cell { return Cell{Value: metrics.Num(x), Text: Format(metrics.Num(x), 3)} }
	cases := []struct {
		labels []string
		want   string
		absent []string
	}{
		{[]string{"mean", "max"}, "The last 2 rows (mean, max) summarise the rows above.", []string{"p25", "percentile"}},
		{[]string{"mean"}, "The last row (mean) summarises the rows above.", []string{"1 rows", "p25"}},
		{[]string{"mean", "p25", "p75"}, "The last 3 rows (mean, p25, p75) summarise the rows above; p25, p75: 25th and 75th percentiles.", nil},
		{[]string{"median", "count"}, "The last 2 rows (median, count) summarise the rows above; count: how many are numbers.", []string{"percentile"}},
	}
	for _, c := range cases {
		tab := Table{Name: "t", Title: "T", RowAxis: "seed", ColAxis: "method", Columns: []string{"a"},
			Rows: []Row{{Label: "0", Cells: []Cell{num(1)}}, {Label: "1", Cells: []Cell{num(2)}}}}
		for _, l := range c.labels {
			tab.Summary = append(tab.Summary, Row{Label: l, Cells: []Cell{num(1.5)}})
		}
		rep := &Report{Name: "r", Experiments: []Experiment{{Name: "x", Tables: []Table{tab}}}}
		md, err := rep.Markdown()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(md), c.want) {
			t.Errorf("summary %v: caption missing %q in\n%s", c.labels, c.want, md)
		}
		for _, a := range c.absent {
			if strings.Contains(string(md), a) {
				t.Errorf("summary %v: caption says %q:\n%s", c.labels, a, md)
			}
		}
		if got := SummaryCaption(&tab); !strings.Contains(string(md), got) {
			t.Errorf("SummaryCaption %q is not the Markdown's", got)
		}
	}
}
