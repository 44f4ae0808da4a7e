package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// Annotated data on a population of three well-separated types: EM-DPO
// with K = 3 recovers the annotators' types, and the held-out likelihood
// is largest at the true K; MaxMin's worst-off type does at least as well
// as under DPO's policy, whose Borda count serves the majority.
func TestLatentTypesSpec(t *testing.T) {
	src := `name: "latent"
experiments: x: {
	population: types: {
		a: {weight: 2, reward: {y1: 3, y2: 2, y3: 1, y4: 0, y5: -1, y6: -2}}
		b: reward: {y1: -2, y2: -1, y3: 0, y4: 1, y5: 2, y6: 3}
		c: reward: {y1: -1, y2: 1, y3: 3, y4: 3, y5: 1, y6: -1}
	}
	env: {kind: "analytic", alternatives: ["y1", "y2", "y3", "y4", "y5", "y6"], beta: 1}
	data: {ann: {regime: "annotated", annotators: 200, per: 25}, anon: regime: "anonymous"}
	methods: {
		dpo: {kind: "dpo", data: "anon"}
		em: {kind: "em-dpo", data: "ann", k: int | *1, starts: 3}
		mm: {kind: "maxmin", data: "ann", k: 3, starts: 3}
	}
	sweep: "methods.em.k": [1, 2, 3, 4]
	metrics: ["type_recovery", "log_likelihood", "min_type_reward"]
	report: tables: {
		k: {rows: "methods.em.k", columns: "metric", cell: ["type_recovery", "log_likelihood"], where: method: "em"}
		w: {rows: "method", columns: "metric", cell: ["min_type_reward"], where: "methods.em.k": 3}
	}
}
`
	path := filepath.Join(t.TempDir(), "latent.cue")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	o := opts(t, 2)
	if _, err := Run(context.Background(), load(t, path), o); err != nil {
		t.Fatal(err)
	}
	_, r := readReport(t, o, "latent")
	k := table(t, r, "x", "k")
	if v := cell(t, k, "3", "type_recovery").Value.Number; v < 0.95 {
		t.Errorf("K = 3: adjusted Rand index %v", v)
	}
	ll3 := cell(t, k, "3", "log_likelihood").Value.Number
	for _, other := range []string{"1", "2", "4"} {
		if v := cell(t, k, other, "log_likelihood").Value.Number; v >= ll3 {
			t.Errorf("held-out log-likelihood %v at K = %s, %v at K = 3", v, other, ll3)
		}
	}
	w := table(t, r, "x", "w")
	if mm, dpo := cell(t, w, "mm", "min_type_reward").Value.Number, cell(t, w, "dpo", "min_type_reward").Value.Number; mm < dpo-1e-9 {
		t.Errorf("worst-off type's expected reward: MaxMin %v, DPO %v", mm, dpo)
	}
}
