package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A Condorcet winner (a, preferred 3:2 to each other alternative) that is
// not the Borda winner (b): DPO on anonymous labels follows the Borda
// count and tops b; the maximal lottery is a alone and Nash learning with
// a small τ tops a too.
func TestGameMethodsSpec(t *testing.T) {
	src := `name: "games"
experiments: x: {
	population: types: {
		majority: {weight: 3, reward: {a: 20, b: 0, c: -20}}
		minority: {weight: 2, reward: {a: -20, b: 20, c: 0}}
	}
	env: {kind: "analytic", alternatives: ["a", "b", "c"], beta: 1}
	data: anon: regime: "anonymous"
	methods: {
		dpo: {kind: "dpo", data: "anon", beta: 0.1}
		nash: {kind: "nash", data: "anon", tau: 0.01}
		ml: {kind: "maximal-lottery", data: "anon"}
	}
	metrics: ["condorcet_winner", "borda_winner", "top", "top_is_condorcet", "tv_maximal_lottery"]
	report: tables: {
		m: {rows: "method", columns: "metric", cell: ["top", "top_is_condorcet", "tv_maximal_lottery"]}
		w: {rows: "seed", columns: "metric", cell: ["condorcet_winner", "borda_winner"]}
	}
}
`
	path := filepath.Join(t.TempDir(), "games.cue")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	o := opts(t, 1)
	if _, err := Run(context.Background(), load(t, path), o); err != nil {
		t.Fatal(err)
	}
	_, r := readReport(t, o, "games")
	w := table(t, r, "x", "w")
	if c, b := cell(t, w, "0", "condorcet_winner").Value.Text, cell(t, w, "0", "borda_winner").Value.Text; c != "a" || b != "b" {
		t.Fatalf("Condorcet winner %q, Borda winner %q; want a and b", c, b)
	}
	m := table(t, r, "x", "m")
	for _, tc := range []struct {
		method, top string
	}{{"dpo", "b"}, {"nash", "a"}, {"ml", "a"}} {
		if got := cell(t, m, tc.method, "top").Value.Text; got != tc.top {
			t.Errorf("%s tops %q, want %q", tc.method, got, tc.top)
		}
	}
	if v := cell(t, m, "ml", "tv_maximal_lottery").Value.Number; v > 1e-9 {
		t.Errorf("maximal-lottery on population data is %v from the maximal lottery", v)
	}
}
