package runner

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/reports"
	"hetalign/runner/spec"
	"hetalign/runner/store"
)

func opts(t *testing.T, jobs int) Options {
	dir := t.TempDir()
	return Options{Jobs: jobs, Cache: filepath.Join(dir, "cache"), Out: filepath.Join(dir, "out"),
		Backend: "go", Code: "test-code", Version: "test", Log: zerolog.Nop(), Stdout: io.Discard}
}

func load(t *testing.T, paths ...string) []*spec.File {
	t.Helper()
	files, err := spec.Load(paths, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func readReport(t *testing.T, o Options, name string) ([]byte, *reports.Report) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(o.Out, name, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := reports.ParseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, r
}

func table(t *testing.T, r *reports.Report, experiment, name string) *reports.Table {
	t.Helper()
	for _, x := range r.Experiments {
		if x.Name != experiment {
			continue
		}
		for i := range x.Tables {
			if x.Tables[i].Name == name {
				return &x.Tables[i]
			}
		}
	}
	t.Fatalf("no table %s/%s", experiment, name)
	return nil
}

// cell finds a table cell by row and column label.
func cell(t *testing.T, tb *reports.Table, row, col string) reports.Cell {
	t.Helper()
	c := slices.Index(tb.Columns, col)
	for _, r := range tb.Rows {
		if r.Label == row && c >= 0 {
			return r.Cells[c]
		}
	}
	t.Fatalf("table %s has no cell [%s, %s]", tb.Name, row, col)
	return reports.Cell{}
}

const toy = "../specs/paper/toy.cue"

// The paper's five examples, read from the toy report that
// `go tool task run` writes.
func TestToyReportClaims(t *testing.T) {
	o := opts(t, 2)
	if _, err := Run(context.Background(), load(t, toy), o); err != nil {
		t.Fatal(err)
	}
	_, r := readReport(t, o, "toy")

	top := table(t, r, "sensitivity", "top")
	for _, tc := range []struct{ row, method, want string }{
		{"0.02", "dpo", "y2"}, {"0.04", "dpo", "y1"}, {"0.02", "oracle", "y2"}, {"0.04", "oracle", "y2"},
	} {
		if got := cell(t, top, tc.row, tc.method).Text; got != tc.want {
			t.Errorf("sensitivity: D(y3) = %s, %s prefers %s, want %s", tc.row, tc.method, got, tc.want)
		}
	}

	// Where the fine sweep flips must bracket the closed-form flip point
	// d* = A/(A − 2B) (see methods/tabular's TestPaperFlipPoint).
	pop, _ := envs.NewPopulation([]string{"A", "B"}, []float64{1, 1})
	e := &analytic.Env{Population: pop, Rewards: [][]float64{{6, 1, 4}, {3, 9, 4}}, Preference: envs.Preference{Temperature: 1}, Alternatives: []string{"y1", "y2", "y3"}}
	p := e.PrefMatrix()
	A, B := p[0][0]+p[0][1]-p[1][0]-p[1][1], p[0][2]-p[1][2]
	dstar := A / (A - 2*B)
	fine := table(t, r, "sensitivity_fine", "top")
	var dpoFlips []reports.Flip
	for _, f := range fine.Flips {
		if f.Column == "dpo" {
			dpoFlips = append(dpoFlips, f)
		}
	}
	if len(dpoFlips) != 1 {
		t.Fatalf("dpo flips %+v, want exactly one", dpoFlips)
	}
	var lo, hi float64
	if _, err := fmt.Sscan(dpoFlips[0].After, &lo); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscan(dpoFlips[0].Before, &hi); err != nil {
		t.Fatal(err)
	}
	if !(lo < dstar && dstar <= hi) || dpoFlips[0].From != "y2" || dpoFlips[0].To != "y1" {
		t.Errorf("dpo flips y2→y1 in (%v, %v]; the closed form puts it at %v", lo, hi, dstar)
	}

	rank := table(t, r, "temperature", "ranking")
	if a, b := cell(t, rank, "1", "dpo").Text, cell(t, rank, "2", "dpo").Text; !strings.HasPrefix(a, "y1 > y2") || !strings.HasPrefix(b, "y2 > y1") {
		t.Errorf("temperature: DPO ranks %q at τ=1 and %q at τ=2; want the y1/y2 flip", a, b)
	}
	if a, b := cell(t, rank, "1", "oracle").Text, cell(t, rank, "2", "oracle").Text; a != b {
		t.Errorf("π* changed with τ: %q vs %q", a, b)
	}

	med := table(t, r, "mediocrity", "summary")
	if got := cell(t, med, `oracle`, "top").Text; got != "short = long" {
		t.Errorf("mediocrity: π* top %q", got)
	}
	if got := cell(t, med, `dpo`, "top").Text; got != "med" {
		t.Errorf("mediocrity: DPO top %q, want med", got)
	}
	if tv := cell(t, med, `consistent`, "tv").Value.Number; tv > 1e-9 {
		t.Errorf("mediocrity: the consistent loss is %g from π*", tv)
	}

	iia := table(t, r, "iia_with_y3", "truth")
	if a, b := cell(t, iia, "y1", "nbc").Value.Number, cell(t, iia, "y2", "nbc").Value.Number; math.Round(a*100) != 62 || math.Round(b*100) != 55 {
		t.Errorf("IIA: NBC %v, %v; want ≈ 0.62, 0.55", a, b)
	}
	iiaRank := table(t, r, "iia_without_y3", "ranking")
	if got := cell(t, iiaRank, "dpo", "ranking").Text; got != "y2 > y1" {
		t.Errorf("IIA without y3: DPO ranks %q", got)
	}

	ty := table(t, r, "tyranny", "truth")
	if a, b := cell(t, ty, "y1", "nbc").Value.Number, cell(t, ty, "y2", "nbc").Value.Number; math.Round(a*100) != 47 || math.Round(b*100) != 53 {
		t.Errorf("tyranny: NBC %v, %v; want ≈ 0.47, 0.53", a, b)
	}
	tyr := table(t, r, "tyranny", "ranking")
	if cell(t, tyr, "oracle", "top").Text != "y1" || cell(t, tyr, "dpo", "top").Text != "y2" {
		t.Error("tyranny: want π* → y1 and DPO → y2")
	}
}

func TestRerunComputesNothing(t *testing.T) {
	o := opts(t, 2)
	files := load(t, toy)
	res, err := Run(context.Background(), files, o)
	if err != nil || res.Computed == 0 {
		t.Fatalf("first run: %+v %v", res, err)
	}
	first, _ := readReport(t, o, "toy")
	res, err = Run(context.Background(), load(t, toy), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Computed != 0 {
		t.Errorf("rerun computed %d steps", res.Computed)
	}
	again, _ := readReport(t, o, "toy")
	if string(first) != string(again) {
		t.Error("report.json changed on rerun")
	}
}

func TestJobsDoNotChangeTheReport(t *testing.T) {
	o1, o8 := opts(t, 1), opts(t, 8)
	for _, o := range []Options{o1, o8} {
		if _, err := Run(context.Background(), load(t, toy, "../specs/examples/quickstart.cue", "../specs/paper/survey.cue"), o); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"toy", "quickstart", "survey"} {
		a, _ := readReport(t, o1, name)
		b, _ := readReport(t, o8, name)
		if string(a) != string(b) {
			t.Errorf("%s: report.json differs between --jobs 1 and --jobs 8", name)
		}
	}
}

// Changing one method parameter: the plan reruns only that method's
// train and eval steps (one per seed) and the report, and says why.
func TestPlanAfterChange(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile("../specs/examples/quickstart.cue")
	path := filepath.Join(dir, "quickstart.cue")
	os.WriteFile(path, src, 0o644)
	o := opts(t, 2)
	if _, err := Run(context.Background(), load(t, path), o); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(src), `dpo_2k: {kind: "dpo", data: "small"}`, `dpo_2k: {kind: "dpo", data: "small", beta: 3}`, 1)
	if changed == string(src) {
		t.Fatal("the example changed; update this test")
	}
	os.WriteFile(path, []byte(changed), 0o644)
	files := load(t, path)
	st, _ := store.Open(o.Cache)
	g, err := Plan(files, o, st)
	if err != nil {
		t.Fatal(err)
	}
	seeds := len(files[0].Experiments[0].Seeds)
	var torun []string
	for _, s := range Status(g, st) {
		if s.Cached {
			continue
		}
		torun = append(torun, s.Step.Label)
		switch {
		case strings.HasPrefix(s.Step.Label, "train dpo_2k"):
			if !strings.Contains(s.Why, "beta: 1 → 3") {
				t.Errorf("%s: why %q", s.Step.Label, s.Why)
			}
		case strings.HasPrefix(s.Step.Label, "eval dpo_2k"), strings.HasPrefix(s.Step.Label, "report"):
		default:
			t.Errorf("%s reruns, but it does not depend on dpo_2k", s.Step.Label)
		}
	}
	if len(torun) != 2*seeds+1 {
		t.Errorf("to run: %v; want train and eval of dpo_2k per seed, and the report", torun)
	}
}

func TestFailingCellsAreMarked(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile("../specs/examples/quickstart.cue")
	// Two sampled pairs cannot identify a policy over three responses.
	bad := strings.Replace(string(src), "pairs: 2000", "pairs: 2", 1)
	path := filepath.Join(dir, "quickstart.cue")
	os.WriteFile(path, []byte(bad), 0o644)
	o := opts(t, 2)
	res, err := Run(context.Background(), load(t, path), o)
	if err == nil {
		t.Fatal("run with failing steps returned no error")
	}
	if res.Failed == 0 || len(res.Failures) == 0 || !strings.Contains(res.Failures[0], "no finite minimiser") {
		t.Errorf("failures %v", res.Failures)
	}
	_, r := readReport(t, o, "quickstart")
	tv := table(t, r, "disagree", "tv")
	if got := cell(t, tv, "0", "dpo_2k").Text; got != "failed" {
		t.Errorf("failed cell shows %q", got)
	}
	if got := cell(t, tv, "0", "oracle").Text; got != "0" {
		t.Errorf("independent cell shows %q, want 0", got)
	}
}

// SGD on GoMLX (pure-Go backend) is deterministic: the same spec gives the
// same report bytes on 1 and 8 workers, and the MLP learns DPO's shape.
func TestSGDDeterministic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sgd.cue")
	os.WriteFile(p, []byte(`experiments: sgd: {
	population: types: {
		l: {shift: -3, scale: 4, decay: 0.2}
		c: {shift: 0, scale: 1.5, decay: 0.25}
		r: {shift: 3, scale: 4, decay: 0.2}
	}
	env: {kind: "circular", n: 12}
	data: anon: {regime: "anonymous", pairs: 20000}
	methods: {
		mlp: {kind: "dpo", data: "anon", model: {kind: "mlp"}, optimizer: {lr: 0.01, batch: 256, steps: 300}}
		tab: {kind: "dpo", data: "anon", model: {kind: "tabular"}, optimizer: {lr: 0.05, batch: 256, steps: 300}}
		exact: {kind: "dpo", data: "anon"}
	}
	seeds: [0, 1]
	report: tables: tv: {rows: "seed", columns: "method", cell: "tv"}
}
`), 0o644)
	o1, o8 := opts(t, 1), opts(t, 8)
	for _, o := range []Options{o1, o8} {
		if _, err := Run(context.Background(), load(t, p), o); err != nil {
			t.Fatal(err)
		}
	}
	a, r := readReport(t, o1, "sgd")
	b, _ := readReport(t, o8, "sgd")
	if string(a) != string(b) {
		t.Error("SGD reports differ between --jobs 1 and --jobs 8")
	}
	tv := table(t, r, "sgd", "tv")
	for _, m := range []string{"mlp", "tab"} {
		if c := cell(t, tv, "0", m); c.Value.None || c.Value.Number > 0.5 {
			t.Errorf("%s: TV to π* %s", m, c.Text)
		}
	}
	if cell(t, tv, "0", "mlp").Text == cell(t, tv, "1", "mlp").Text {
		t.Error("two seeds trained identical MLPs")
	}
}

// The quick profile of specs/paper/circular.cue (exact fits and the MLP on
// GoMLX) gives the same report.json on 1 and 2 workers.
func TestCircularReportDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the circular spec twice")
	}
	o1, o2 := opts(t, 1), opts(t, 2)
	files := load(t, "../specs/paper/circular.cue")
	// The trained budget sweep (most of the spec's cost) is left out:
	// determinism across --jobs is the same property for it.
	files[0].Experiments = slices.DeleteFunc(files[0].Experiments, func(x *spec.Experiment) bool { return x.Name == "budget" })
	for _, o := range []Options{o1, o2} {
		if _, err := Run(context.Background(), files, o); err != nil {
			t.Fatal(err)
		}
	}
	a, r := readReport(t, o1, "circular")
	b, _ := readReport(t, o2, "circular")
	if string(a) != string(b) {
		t.Error("circular report.json differs between --jobs 1 and --jobs 2")
	}
	// The published training reproduces Fig. 4's shapes at the quick size:
	// π* peaks at ±10, DPO near 0.
	peak := table(t, r, "population", "summary")
	if v := cell(t, peak, "dpo", "argmax").Value.Number; v != 0 {
		t.Errorf("population DPO peaks at δ = %v", v)
	}
	if v := cell(t, peak, "oracle", "argmax").Value.Number; math.Abs(v) != 10 {
		t.Errorf("π* peaks at δ = %v", v)
	}
	// Corrected DPO at α = 2 with V estimated by the joint model lands
	// where the exact V puts it.
	est := table(t, r, "corrected", "estimated")
	exactTV, jointTV := cell(t, est, "corrected", "tv").Value.Number, cell(t, est, "estimated", "tv").Value.Number
	if math.Abs(exactTV-jointTV) > 0.005 || math.Abs(cell(t, est, "estimated", "argmax").Value.Number) != 10 {
		t.Errorf("corrected DPO: TV %v with exact V, %v with J's", exactTV, jointTV)
	}
}

// Relabelled DPO and Appendix C's loss also train by SGD; on population
// data they land near π*.
func TestSGDRelabelAndIntegral(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sgd2.cue")
	os.WriteFile(p, []byte(`experiments: s: {
	population: types: {
		l: {shift: -2, scale: 4, decay: 0.3}
		c: {shift: 0, scale: 1.5, decay: 0.4}
		r: {shift: 2, scale: 4, decay: 0.3}
	}
	env: {kind: "circular", n: 8}
	data: {typed: regime: "typed", full: regime: "full"}
	_sgd: {model: kind: "tabular", optimizer: {lr: 0.05, batch: 512, steps: 1500}}
	methods: {
		relabel: _sgd & {kind: "relabel-dpo", data: "typed"}
		integral: _sgd & {kind: "consistent-integral", data: "full"}
		dpo: _sgd & {kind: "dpo", data: "full"}
	}
	report: tables: tv: {rows: "method", columns: "metric", cell: ["tv"]}
}
`), 0o644)
	o := opts(t, 2)
	if _, err := Run(context.Background(), load(t, p), o); err != nil {
		t.Fatal(err)
	}
	_, r := readReport(t, o, "sgd2")
	tv := table(t, r, "s", "tv")
	dpo := cell(t, tv, "dpo", "tv").Value.Number
	for _, m := range []string{"relabel", "integral"} {
		if v := cell(t, tv, m, "tv").Value.Number; !(v < 0.02 && v < dpo) {
			t.Errorf("%s by SGD: TV to π* %v (DPO %v)", m, v, dpo)
		}
	}
}
