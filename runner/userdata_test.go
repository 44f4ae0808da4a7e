package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hetalign/reports"
)

// copyExample copies a spec of specs/examples/userdata into a fresh
// folder, where the test then writes the data files it names.
func copyExample(t *testing.T, name string) (dir, spec string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "specs", "examples", "userdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	spec = filepath.Join(dir, name)
	if err := os.WriteFile(spec, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, spec
}

func writeAt(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// avgReward is r̄ = Σ_u w_u r_u with Luce–Shepard rewards r_u(k) =
// log((n_uk + α)/(N_u + αK)) − mean_k (Eq. 27), α = ½, and w_u the
// types' shares of the counted answers.
func avgReward(counts [][]float64) []float64 {
	const alpha = 0.5
	K := len(counts[0])
	var total float64
	tot := make([]float64, len(counts))
	for u, row := range counts {
		for _, n := range row {
			tot[u] += n
		}
		total += tot[u]
	}
	out := make([]float64, K)
	for u, row := range counts {
		r := make([]float64, K)
		var mean float64
		for k, n := range row {
			r[k] = math.Log((n + alpha) / (tot[u] + alpha*float64(K)))
			mean += r[k] / float64(K)
		}
		for k := range r {
			out[k] += tot[u] / total * (r[k] - mean)
		}
	}
	return out
}

// The ATP example on a synthetic wave in the layout R's write.csv gives a
// converted SPSS file: a quoted header, a row-name column, the party
// column, the weight and the question (codes 1–4, 99 refused).
func TestExamplePewATP(t *testing.T) {
	dir, spec := copyExample(t, "pew_atp.cue")
	var b strings.Builder
	b.WriteString(`"","QKEY","F_PARTYSUM_FINAL","WEIGHT_W99","EVCAR1_W99"` + "\n")
	// answers[group] lists (answer, weight) per respondent.
	answers := map[int][][2]float64{
		1: {{4, 1.5}, {4, 1}, {3, 1}, {2, 0.5}, {99, 1}},
		2: {{1, 2}, {2, 1}, {2, 1}, {3, 0.5}},
		9: {{2, 1}, {3, 1}, {4, 1}},
	}
	counts := map[int][]float64{1: make([]float64, 4), 2: make([]float64, 4), 9: make([]float64, 4)}
	row := 0
	for _, g := range []int{1, 2, 9} {
		for _, a := range answers[g] {
			row++
			fmt.Fprintf(&b, "\"%d\",%d,%d,%v,%v\n", row, 1000+row, g, a[1], a[0])
			if a[0] != 99 {
				counts[g][int(a[0])-1] += a[1]
			}
		}
	}
	writeAt(t, filepath.Join(dir, "data", "pew", "ATP_W99.csv"), b.String())
	o := opts(t, 2)
	if _, err := Run(context.Background(), load(t, spec), o); err != nil {
		t.Fatal(err)
	}
	_, r := readReport(t, o, "pew_atp")
	tb := eachTable(t, r, "w99", "aggregate", "EVCAR1_W99")
	// Types in sorted order: Democrat (2), Neither (9), Republican (1).
	want := avgReward([][]float64{counts[2], counts[9], counts[1]})
	for k, label := range []string{"Very likely", "Somewhat likely", "Not too likely", "Not at all likely"} {
		if got := cell(t, tb, label, "avg_reward").Value.Number; math.Abs(got-want[k]) > 1e-12 {
			t.Errorf("r̄(%s) = %v, want %v", label, got, want[k])
		}
	}
}

// The OpinionQA example on a synthetic wave in OpinionQA's layout: a
// <ATTR>_data.json of per-group answer counts keyed by label, and an
// info.csv whose option_mapping is a Python dict literal with labels that
// hold commas and quotes.
func TestExampleOpinionQA(t *testing.T) {
	dir, spec := copyExample(t, "opinionqa.cue")
	wave := filepath.Join(dir, "data", "opinionqa", "American_Trends_Panel_W32")
	labels := []string{"Yes, definitely", "Don't know, \"maybe\"", "No"}
	mapping := `{1.0: 'Yes, definitely', 2.0: 'Don\'t know, "maybe"', 3.0: 'No', 99.0: 'Refused'}`
	keys := []string{"SATLIFEA_W32", "SATLIFEB_W32", "COMMYRS_W32", "COMATTACH_W32", "FEELA_W32"}
	var info strings.Builder
	info.WriteString(",Unnamed: 0.1,Unnamed: 0,key,option_mapping,question,references,option_ordinal\n")
	data := map[string]any{}
	groups := []string{"Democrat", "Independent", "Other", "Refused", "Republican"}
	counts := map[string][][]float64{} // question → group → counts
	for i, k := range keys {
		fmt.Fprintf(&info, "%d,%d,%d,%s,\"%s\",Question %d?,\"['a', 'b']\",\"[1.0, 2.0, 3.0]\"\n", i, i, i, k,
			strings.ReplaceAll(mapping, `"`, `""`), i)
		q := map[string]any{"MC_options": append(append([]string{}, labels...), "Refused"), "question_text": "?"}
		for g, name := range groups {
			c := map[string]float64{"Refused": 3}
			row := make([]float64, 3)
			// Democrats and Republicans at opposite ends, a mediocre third
			// option, rotated by question.
			base := [][]float64{{300, 1, 60}, {30, 30, 40}, {10, 10, 5}, {2, 2, 2}, {1, 300, 60}}[g]
			for j := range labels {
				row[j] = base[(j+i)%3] + float64(i)
				c[labels[j]] = row[j]
			}
			q[name] = c
			counts[k] = append(counts[k], row)
		}
		data[k] = q
	}
	writeAt(t, filepath.Join(wave, "info.csv"), info.String())
	b, _ := json.Marshal(data)
	writeAt(t, filepath.Join(wave, "POLPARTY_data.json"), string(b))
	o := opts(t, 2)
	if _, err := Run(context.Background(), load(t, spec), o); err != nil {
		t.Fatal(err)
	}
	_, r := readReport(t, o, "opinionqa")
	for _, k := range keys {
		tb := eachTable(t, r, "party", "aggregate", k)
		c := counts[k]
		// Types in sorted order: Democrat, Neither (Independent + Other +
		// Refused), Republican.
		neither := make([]float64, 3)
		for _, g := range []int{1, 2, 3} {
			for j := range neither {
				neither[j] += c[g][j]
			}
		}
		want := avgReward([][]float64{c[0], neither, c[4]})
		for j, label := range labels {
			if got := cell(t, tb, label, "avg_reward").Value.Number; math.Abs(got-want[j]) > 1e-12 {
				t.Errorf("%s: r̄(%s) = %v, want %v", k, label, got, want[j])
			}
		}
	}
}

// eachTable finds the table of a series (a table with each) by its value.
func eachTable(t *testing.T, r *reports.Report, experiment, name, value string) *reports.Table {
	t.Helper()
	for _, x := range r.Experiments {
		for i := range x.Tables {
			tb := &x.Tables[i]
			if x.Name == experiment && tb.Name == name && strings.Trim(tb.EachValue, `"`) == value {
				return tb
			}
		}
	}
	t.Fatalf("no table %s/%s for %s", experiment, name, value)
	return nil
}
