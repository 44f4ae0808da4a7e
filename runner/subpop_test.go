package runner

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"hetalign/envs/survey"
	"hetalign/runner/spec"
)

// writeSubpop writes a group-shares file (SubPOP's layout) with question
// q1 answered by Dem and Rep (and a SEX group), and a spec analysing it
// with the given types block.
func writeSubpop(t *testing.T, types string) string {
	t.Helper()
	dir := t.TempDir()
	line := func(attr, group string, shares []float64) string {
		return fmt.Sprintf(`{"qkey": "q1", "attribute": %q, "group": %q, "question": "?", "options": ["a", "b", "c", "never", "Refused"], "ordinal": [1, 2, 3, 4], "responses": [%v, %v, %v, 0], "refusal_rate": 0.01}`+"\n",
			attr, group, shares[0], shares[1], shares[2])
	}
	data := line("PARTY", "Dem", []float64{0.5, 0.3, 0.2}) + line("PARTY", "Rep", []float64{0.1, 0.3, 0.6}) + line("SEX", "Male", []float64{0.3, 0.3, 0.4})
	if err := os.WriteFile(filepath.Join(dir, "s.jsonl"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := fmt.Sprintf(`experiments: s: {
	population: types: {%s}
	env: {kind: "survey", format: "subpop", file: "s.jsonl", attribute: "PARTY", question: string | *"q1"}
	methods: oracle: kind: "oracle"
	sweep: "env.question": ["q1"]
	report: tables: alt: {rows: "alternative", columns: "metric", cell: "avg_reward", each: "env.question"}
}
`, types)
	p := filepath.Join(dir, "s.cue")
	if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// r̄ from a group-shares file is Σ_u w_u r_u with the spec's weights and
// r_u(k) = log((p_u(k) + α)/(1 + Kα)) − mean_k (Eq. 27, α = 0.005 of
// share), over the options some group chose ("never" and the refusal are
// left out).
func TestSubpopSurvey(t *testing.T) {
	o := opts(t, 2)
	if _, err := Run(context.Background(), load(t, writeSubpop(t, `Dem: weight: 3, R: {weight: 1, codes: ["Rep"]}`)), o); err != nil {
		t.Fatal(err)
	}
	_, r := readReport(t, o, "s")
	tb := table(t, r, "s", "alt")
	shares := [][]float64{{0.5, 0.3, 0.2}, {0.1, 0.3, 0.6}}
	weights := []float64{0.75, 0.25}
	const alpha = 0.005
	want := make([]float64, 3)
	for u, p := range shares {
		var mean float64
		r := make([]float64, 3)
		for k := range p {
			r[k] = math.Log((p[k] + alpha) / (1 + 3*alpha))
			mean += r[k] / 3
		}
		for k := range r {
			want[k] += weights[u] * (r[k] - mean)
		}
	}
	if len(tb.Rows) != 3 {
		t.Fatalf("%d alternatives, want a, b, c", len(tb.Rows))
	}
	for k, name := range []string{"a", "b", "c"} {
		if got := cell(t, tb, name, "avg_reward").Value.Number; math.Abs(got-want[k]) > 1e-12 {
			t.Errorf("r̄(%s) = %v, want %v", name, got, want[k])
		}
	}
}

func TestSubpopSurveyErrors(t *testing.T) {
	for _, tc := range []struct{ name, types, want string }{
		{"missing group", `Dem: {}, Ind: {}`, `s.jsonl:1: question q1 has no line for group "Ind" of PARTY, which type Ind needs`},
		{"merged groups", `Both: codes: ["Dem", "Rep"]`, "s.cue:2:28: experiments.s.population.types.Both.codes: a group-shares file has no group sizes to merge groups by"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeSubpop(t, tc.types)
			// Errors the spec can show come from loading (at the spec's
			// file:line:col); the data's at planning (at the data file's line).
			files, err := spec.Load([]string{p}, spec.Options{})
			if err == nil {
				_, err = Run(context.Background(), files, opts(t, 1))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// specs/beyond/gss.cue analyses every question of its file with three or
// more options that some group chose, and no other: the sweep's list
// equals what the reader finds.
func TestGSSQuestionList(t *testing.T) {
	files := load(t, "../specs/beyond/gss.cue")
	gs, err := survey.ReadGroupShares("../specs/beyond/data/gss2022/subpop_eval.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for k, q := range gs.Questions {
		if len(q.Labels()) >= 3 {
			want = append(want, k)
		}
	}
	sort.Strings(want)
	for _, x := range files[0].Experiments {
		var got []string
		for _, a := range x.Axes {
			if a.Paths[0] == "env.question" {
				for _, v := range a.Values {
					got = append(got, fmt.Sprint(v[0]))
				}
			}
		}
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: questions %v, want the %d with ≥ 3 chosen options %v", x.Name, got, len(want), want)
		}
	}
}
