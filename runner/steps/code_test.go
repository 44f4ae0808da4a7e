package steps

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"hetalign"
	"hetalign/runner/codeid"
)

// overlay copies the embedded module source and applies edits (path →
// function of the old content).
func overlay(t *testing.T, edits map[string]func(string) string) *Codes {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(hetalign.Source, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(hetalign.Source, p)
		if err != nil {
			return err
		}
		if e, ok := edits[p]; ok {
			b = []byte(e(string(b)))
			delete(edits, p)
		}
		m[p] = &fstest.MapFile{Data: b}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(edits) > 0 {
		t.Fatalf("edited files not in the source: %v", edits)
	}
	src, err := codeid.Load(m)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCodes(src)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func comment(s string) string { return s + "\n// an edited comment\n" }

// Step keys name the code of their own computation: which edits rerun
// which steps.
func TestCodeIdentityPerStep(t *testing.T) {
	steps := []struct {
		name, kind, params string
	}{
		{"truth analytic", Truth, `{"env":"analytic"}`},
		{"truth circular", Truth, `{"env":"circular"}`},
		{"truth sequence", Truth, `{"env":"sequence"}`},
		{"dataset", Dataset, `{"regime":"anonymous"}`},
		{"train dpo", Train, `{"kind":"dpo"}`},
		{"train ipo", Train, `{"kind":"ipo"}`},
		{"train hinge", Train, `{"kind":"hinge"}`},
		{"eval", Eval, `{"metrics":["tv"]}`},
		{"report", Report, `{}`},
	}
	ids := func(c *Codes) map[string]string {
		out := map[string]string{}
		for _, s := range steps {
			id, err := c.For(s.kind, json.RawMessage(s.params))
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			out[s.name] = id
		}
		return out
	}
	base := ids(overlay(t, nil))
	if base["train dpo"] == base["train ipo"] || base["truth analytic"] == base["truth circular"] {
		t.Fatal("different kinds share a code identity")
	}
	tests := []struct {
		edit    string
		changes []string // the steps whose identity must change; all others must not
	}{
		{"reports/render.go", []string{"report"}},
		{"methods/dpo.go", []string{"train dpo"}},
		{"methods/common.go", []string{"train dpo", "train ipo", "train hinge"}},
		// The sequence env (and through it the metrics and reports) reads
		// methods/neural's sequence types, which import the loss family.
		{"methods/pairloss/hinge.go", []string{"train dpo", "train ipo", "train hinge", "truth sequence", "eval", "report"}},
		{"methods/tabular/tabular.go", []string{"train dpo", "train ipo", "train hinge"}},
		{"envs/circular/kind.go", []string{"truth circular"}},
		{"envs/analytic/world.go", []string{"truth analytic", "truth circular", "dataset", "train dpo", "train ipo", "train hinge", "eval", "report"}},
		{"metrics/metrics.go", []string{"eval", "train dpo", "train ipo", "train hinge", "report"}},
		{"runner/steps/steps.go", []string{"truth analytic", "truth circular", "truth sequence", "dataset", "train dpo", "train ipo", "train hinge", "eval", "report"}},
		{"runner/plan/plan.go", nil},
		{"cmd/hetalign/main.go", nil},
	}
	for _, tc := range tests {
		got := ids(overlay(t, map[string]func(string) string{tc.edit: comment}))
		for _, s := range steps {
			changed := got[s.name] != base[s.name]
			want := false
			for _, c := range tc.changes {
				want = want || c == s.name
			}
			if changed != want {
				t.Errorf("editing %s: %s identity changed = %v, want %v", tc.edit, s.name, changed, want)
			}
		}
	}
	// README and go.sum are not code; a dependency's version is.
	if got := ids(overlay(t, map[string]func(string) string{"go.sum": comment})); got["train dpo"] != base["train dpo"] {
		t.Error("editing go.sum changed a fit's identity")
	}
	bumped := ids(overlay(t, map[string]func(string) string{"go.mod": func(s string) string {
		return strings.Replace(s, "gonum.org/v1/gonum v0.17.0", "gonum.org/v1/gonum v0.99.0", 1)
	}}))
	if bumped["train dpo"] == base["train dpo"] || bumped["truth sequence"] != base["truth sequence"] {
		t.Error("a new gonum version must rerun exact fits (and only what uses gonum)")
	}
}
