package runner

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hetalign/reports"
)

// writeSurvey writes a TSV in which group g answers option k (1-based)
// counts[g][k-1] times, and a spec over its question q.
func writeSurvey(t *testing.T, counts [][]int, smoothing string) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("'grp'\t'q'\n")
	for g, row := range counts {
		for k, n := range row {
			for range n {
				fmt.Fprintf(&b, "%d\t%d\n", g, k+1)
			}
		}
	}
	os.WriteFile(filepath.Join(dir, "s.tsv"), []byte(b.String()), 0o644)
	spec := fmt.Sprintf(`experiments: s: {
	population: types: {A: codes: [0], B: codes: [1]}
	env: {
		kind: "survey", file: "s.tsv", group: "grp", question: string | *"q"
		questions: q: options: [[1, "a"], [2, "b"], [3, "c"]]
		rewards: smoothing: %q
	}
	methods: oracle: kind: "oracle"
	sweep: "env.question": ["q"]
	report: tables: {
		q: {rows: "env.question", columns: "metric", cell: ["avg_ranking", "nbc_ranking", "flip_tv", "can_flip", "top_can_flip"]}
		alt: {rows: "alternative", columns: "metric", cell: ["avg_reward", "nbc"], each: "env.question"}
	}
}
`, smoothing)
	p := filepath.Join(dir, "s.cue")
	os.WriteFile(p, []byte(spec), 0o644)
	return p
}

func runSurvey(t *testing.T, counts [][]int, smoothing string) *reports.Report {
	t.Helper()
	o := opts(t, 2)
	if _, err := Run(context.Background(), load(t, writeSurvey(t, counts, smoothing)), o); err != nil {
		t.Fatal(err)
	}
	_, r := readReport(t, o, "s")
	return r
}

func TestSyntheticSurveys(t *testing.T) {
	t.Run("identical groups", func(t *testing.T) {
		// Homogeneous preferences: NBC follows the reward under every D, so
		// every LP is infeasible and the report says no flip exists.
		r := runSurvey(t, [][]int{{50, 30, 20}, {50, 30, 20}}, "additive")
		q := table(t, r, "s", "q")
		if got := cell(t, q, `"q"`, "can_flip").Value.Number; got != 0 {
			t.Errorf("can_flip = %v", got)
		}
		if c := cell(t, q, `"q"`, "flip_tv"); !c.Value.None {
			t.Errorf("flip_tv = %v, want none", c.Text)
		}
		if a, n := cell(t, q, `"q"`, "avg_ranking").Text, cell(t, q, `"q"`, "nbc_ranking").Text; a != "a > b > c" || n != a {
			t.Errorf("rankings %q, %q; want a > b > c for both", a, n)
		}
	})
	t.Run("mirror-image shares", func(t *testing.T) {
		// B's shares are A's reversed, with equal group sizes: by symmetry
		// a and c tie in r̄ and in NBC; b's share 0.3 is below the geometric
		// mean √(0.5·0.2) ≈ 0.316 of a's, so r̄ ranks it last.
		r := runSurvey(t, [][]int{{50, 30, 20}, {20, 30, 50}}, "additive")
		q := table(t, r, "s", "q")
		// Additive smoothing (α = 0.5) keeps the symmetry.
		if got := cell(t, q, `"q"`, "avg_ranking").Text; got != "a = c > b" {
			t.Errorf("avg ranking %q", got)
		}
		alt := table(t, r, "s", "alt")
		if d := cell(t, alt, "a", "nbc").Value.Number - cell(t, alt, "c", "nbc").Value.Number; math.Abs(d) > 1e-12 {
			t.Errorf("NBC(a) − NBC(c) = %g", d)
		}
	})
	t.Run("never-chosen option", func(t *testing.T) {
		counts := [][]int{{40, 40, 20}, {50, 50, 0}}
		smooth := table(t, runSurvey(t, counts, "additive"), "s", "alt")
		pub := table(t, runSurvey(t, counts, "published"), "s", "alt")
		if v := cell(t, smooth, "c", "avg_reward").Value.Number; v < -3 {
			t.Errorf("smoothed r̄(c) = %v", v)
		}
		// Published: B's reward for c is about log(1e-15) − mean ≈ −23, so
		// r̄(c) is far below the rest.
		if v := cell(t, pub, "c", "avg_reward").Value.Number; v > -10 {
			t.Errorf("published r̄(c) = %v, want the log(1e-15) artefact", v)
		}
	})
}

// The ANES report: every LP answer passed the independent check (a failed
// check fails the step), and the tables have one row per question.
func TestSurveySpec(t *testing.T) {
	o := opts(t, 2)
	if _, err := Run(context.Background(), load(t, "../specs/paper/survey.cue"), o); err != nil {
		t.Fatal(err)
	}
	_, r := readReport(t, o, "survey")
	q := table(t, r, "anes", "questions")
	if len(q.Rows) != 4 || len(q.Summary) != 3 {
		t.Fatalf("%d rows, %d summary rows", len(q.Rows), len(q.Summary))
	}
	for _, row := range q.Rows {
		for _, c := range row.Cells {
			if c.Text == "failed" {
				t.Errorf("question %s has a failed cell", row.Label)
			}
		}
	}
}

// The same answers as a table of per-group counts give the same rewards
// as the respondent file (equal group sizes, so equal type weights).
func TestSharesFormatMatchesResponses(t *testing.T) {
	counts := [][]int{{50, 30, 20}, {20, 30, 50}}
	byResp := table(t, runSurvey(t, counts, "additive"), "s", "alt")

	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("grp,question,option,share\n")
	for g, row := range counts {
		for k, n := range row {
			fmt.Fprintf(&b, "%d,q,%d,%d\n", g, k+1, n)
		}
	}
	os.WriteFile(filepath.Join(dir, "shares.csv"), []byte(b.String()), 0o644)
	src, _ := os.ReadFile(writeSurvey(t, counts, "additive"))
	spec := strings.Replace(string(src), `file: "s.tsv"`, `file: "shares.csv", format: "shares"`, 1)
	p := filepath.Join(dir, "s.cue")
	os.WriteFile(p, []byte(spec), 0o644)
	o := opts(t, 2)
	if _, err := Run(context.Background(), load(t, p), o); err != nil {
		t.Fatal(err)
	}
	_, r := readReport(t, o, "s")
	byShares := table(t, r, "s", "alt")
	for _, alt := range []string{"a", "b", "c"} {
		x, y := cell(t, byResp, alt, "avg_reward").Value.Number, cell(t, byShares, alt, "avg_reward").Value.Number
		if math.Abs(x-y) > 1e-12 {
			t.Errorf("r̄(%s): %v from responses, %v from shares", alt, x, y)
		}
	}
}
