package reports

import (
	"encoding/json"
	"io"
	"os"
	"testing"
)

// smallToyReport is reports/toy/report.json cut down to its first
// experiment, two records and two rows of each of its first two tables.
func smallToyReport(f *testing.F) []byte {
	b, err := os.ReadFile("toy/report.json")
	if err != nil {
		f.Fatal(err)
	}
	r, err := ParseReport(b)
	if err != nil {
		f.Fatal(err)
	}
	x := r.Experiments[0]
	x.Records = x.Records[:min(2, len(x.Records))]
	x.Tables = x.Tables[:min(2, len(x.Tables))]
	for i := range x.Tables {
		t := &x.Tables[i]
		t.Rows = t.Rows[:min(2, len(t.Rows))]
		t.Summary = t.Summary[:min(1, len(t.Summary))]
	}
	r.Experiments = []Experiment{x}
	out, err := json.Marshal(r)
	if err != nil {
		f.Fatal(err)
	}
	return out
}

// FuzzParseDiff: ParseReport and Diff (and printing the changes) never
// panic on any JSON.
func FuzzParseDiff(f *testing.F) {
	toy := smallToyReport(f)
	small := []byte(`{"name":"r","experiments":[{"name":"x","axes":[{"name":"seed","values":["0"]}],"tables":[` +
		`{"name":"t","each":"a","each_value":"\"1\"","columns":["dpo","\"q\""],"rows":[{"label":"0","cells":[` +
		`{"value":0.5,"text":"0.5"},{"value":"a>b","text":"a>b"},{"value":null,"text":"—"}]}],` +
		`"summary":[{"label":"mean","cells":[{"value":[1,2],"text":"v"},{"value":[[1],[2]],"text":"m"}]}]}]}]}`)
	f.Add(toy, toy)
	f.Add(toy, small)
	f.Add(small, toy)
	f.Add(small, []byte(`{"name":"r","experiments":[{"name":"x","tables":[{"name":"t","columns":["dpo"],"rows":[{"label":"0","cells":[{"value":0.7,"text":"0.7"}]}]}]}]}`))
	f.Add([]byte(`{}`), []byte(`null`))
	f.Add([]byte(`{"experiments":[{"tables":[{"rows":[{"cells":[{"value":[[1],2]}]}]}]}]}`), []byte(`[`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ra, erra := ParseReport(a)
		rb, errb := ParseReport(b)
		for _, err := range []error{erra, errb} {
			if err != nil && err.Error() == "" {
				t.Error("error without a message")
			}
		}
		if erra != nil || errb != nil {
			return
		}
		changes := Diff(ra, rb)
		WriteChanges(io.Discard, changes, 0)
		if len(Diff(ra, ra)) != 0 {
			t.Errorf("a report differs from itself: %v", Diff(ra, ra))
		}
	})
}
