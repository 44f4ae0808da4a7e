package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A small length experiment end to end: every step runs, the report is
// byte-identical across --jobs, and the numbers obey what they must.
func TestSequenceSpec(t *testing.T) {
	dir := t.TempDir()
	src := `name: "tinylengths"
experiments: lengths: {
	population: types: {
		long: length: shape: "rising"
		short: length: shape: "falling"
		mid: length: shape: "bump"
	}
	env: {kind: "sequence", length: 16, prompts: 300, test: 0.25}
	data: {
		anon: {regime: "anonymous", pairs: 225}
		cons: {regime: "consensus", pairs: 225}
		typed: {regime: "typed", pairs: 225}
	}
	_net: {model: {kind: "transformer", width: 8, heads: 2}, optimizer: {lr: 3e-3, batch: 8, steps: 6}}
	methods: {
		rm: _net & {kind: "reward", data: "anon"}
		crm: _net & {kind: "consistent-reward", data: "cons"}
		dpo: _net & {kind: "dpo", data: "anon", beta: 0.1, reference: "pretrained", pretrain: steps: 3}
		cdpo: _net & {kind: "consistent", data: "cons", beta: 0.1, reference: "pretrained", pretrain: steps: 3}
		relabel: _net & {kind: "relabel-dpo", data: "typed", beta: 0.1}
	}
	metrics: ["avg_reward", "reward", "test_pairs", "majority_agreement", "agreement", "ties", "score_profile", "final_loss", "pretrain_loss", "loss_curve"]
	seeds: [0, 1]
	report: tables: {
		agree: {rows: "seed", columns: "method", cell: "agreement", show: ["crm", "rm"]}
		ceiling: {rows: "seed", columns: "metric", cell: ["test_pairs", "majority_agreement"]}
		pre: {rows: "seed", columns: "method", cell: "pretrain_loss", show: ["dpo", "cdpo", "relabel"]}
		fig11: {rows: "alternative", columns: "type", cell: "reward", where: seed: 0}
	}
}
`
	path := filepath.Join(dir, "tiny.cue")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	o1, o2 := opts(t, 1), opts(t, 2)
	for _, o := range []Options{o1, o2} {
		if _, err := Run(context.Background(), load(t, path), o); err != nil {
			t.Fatal(err)
		}
	}
	a, r := readReport(t, o1, "tinylengths")
	b, _ := readReport(t, o2, "tinylengths")
	if string(a) != string(b) {
		t.Error("report.json differs between --jobs 1 and --jobs 2")
	}
	agree := table(t, r, "lengths", "agree")
	if len(agree.Columns) != 2 || agree.Columns[0] != "crm" {
		t.Errorf("show did not pick the columns: %v", agree.Columns)
	}
	for _, seed := range []string{"0", "1"} {
		for _, m := range []string{"crm", "rm"} {
			c := cell(t, agree, seed, m)
			if v := c.Value; v.None || v.Number < 0 || v.Number > 1 {
				t.Errorf("agreement of %s, seed %s: %+v", m, seed, c)
			}
		}
		if c := cell(t, table(t, r, "lengths", "ceiling"), seed, "majority_agreement"); c.Value.None || c.Value.Number < 0.5 {
			t.Errorf("majority agreement %+v: the anonymous majority should mostly follow r̄", c)
		}
	}
	// DPO and the consistent loss of a seed start from one reference (one
	// step, so one pre-training loss); relabelled DPO's is uniform.
	pre := table(t, r, "lengths", "pre")
	for _, seed := range []string{"0", "1"} {
		d, c, u := cell(t, pre, seed, "dpo"), cell(t, pre, seed, "cdpo"), cell(t, pre, seed, "relabel")
		if d.Value.None || d.Value.Number != c.Value.Number || !u.Value.None {
			t.Errorf("seed %s: pre-training loss dpo %+v, cdpo %+v, relabel %+v", seed, d.Value, c.Value, u.Value)
		}
	}
	// Fig. 11: at the longest x the "long" type's reward is the largest.
	fig := table(t, r, "lengths", "fig11")
	last := fig.Rows[len(fig.Rows)-1].Label
	if l, s := cell(t, fig, last, "long"), cell(t, fig, last, "short"); l.Value.Number <= s.Value.Number {
		t.Errorf("at x = %s: long %v ≤ short %v", last, l.Value.Number, s.Value.Number)
	}
}
