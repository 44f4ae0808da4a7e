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

// The annotated regime end to end in a spec: without annotators on an
// analytic env (the exact population of annotator records), EM-DPO
// separates two opposed types far better with four labels per annotator
// than with one (where they are not identified), and scores the exact
// expected log-likelihood; on the sequence env (annotators drawn, ids
// through the dataset codec) EM over the token count recovers the long
// and short types, which disagree on every pair of unequal lengths.
func TestAnnotatedRegimeSpecs(t *testing.T) {
	src := `name: "annotated"
experiments: {
	exact: {
		population: types: {
			a: {weight: 0.6, reward: {y1: 2, y2: 0, y3: -2}}
			b: {weight: 0.4, reward: {y1: -2, y2: 0, y3: 2}}
		}
		env: {kind: "analytic", alternatives: ["y1", "y2", "y3"], beta: 1}
		data: {four: {regime: "annotated", per: 4}, one: {regime: "annotated", per: 1}}
		methods: {
			em4: {kind: "em-dpo", data: "four", k: 2}
			em1: {kind: "em-dpo", data: "one", k: 2}
		}
		metrics: ["type_recovery", "log_likelihood"]
		report: tables: t: {rows: "method", columns: "metric", cell: ["type_recovery", "log_likelihood"]}
	}
	seq: {
		population: types: {
			long: length: shape: "rising"
			short: length: shape: "falling"
		}
		env: {kind: "sequence", corpus: "$GOROOT/src/testdata/Isaac.Newton-Opticks.txt", length: 24, prompts: 600, test: 0.2, prompt: max: 6}
		data: ann: {regime: "annotated", annotators: 60, per: 40}
		methods: em: {kind: "em-dpo", data: "ann", k: 2}
		metrics: ["type_recovery", "agreement"]
		report: tables: t: {rows: "method", columns: "metric", cell: ["type_recovery", "agreement"]}
	}
}
`
	path := filepath.Join(t.TempDir(), "annotated.cue")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	o := opts(t, 2)
	if _, err := Run(context.Background(), load(t, path), o); err != nil {
		t.Fatal(err)
	}
	_, r := readReport(t, o, "annotated")
	ex := table(t, r, "exact", "t")
	a4, a1 := cell(t, ex, "em4", "type_recovery").Value.Number, cell(t, ex, "em1", "type_recovery").Value.Number
	if a4 < a1+0.3 {
		t.Errorf("exact population: ARI %v with four labels each, %v with one", a4, a1)
	}
	if ll := cell(t, ex, "em4", "log_likelihood").Value; ll.None || ll.Number >= 0 {
		t.Errorf("exact population: log-likelihood %+v", ll)
	}
	if a := cell(t, table(t, r, "seq", "t"), "em", "type_recovery").Value.Number; a < 0.9 {
		t.Errorf("sequence env: ARI %v", a)
	}
}
