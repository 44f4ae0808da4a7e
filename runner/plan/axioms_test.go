package plan

import (
	"encoding/json"
	"strings"
	"testing"

	"hetalign/runner/steps"
)

// An eval step gets its method's train parameters and data regime when the
// spec names an axiom metric and the method fits exactly on exact data
// (oracle: no data; dpo: population data), and not for sampled data
// (ipo on 500 pairs) nor when no axiom metric is named (the base spec:
// its eval keys stay what they were).
func TestEvalRefitOnlyForAxioms(t *testing.T) {
	src := strings.Replace(specSrc, "TAU", "1", 1)
	src = strings.Replace(src, "\tseeds: [0, 1, 2]", "\tseeds: [0]\n\tmetrics: [\"tv\", \"axiom_iia\"]", 1)
	g := buildSrc(t, src)
	want := map[string][2]any{"oracle": {true, ""}, "dpo": {true, "anonymous"}, "ipo": {false, ""}}
	seen := 0
	for _, s := range g.Steps {
		if s.Kind != steps.Eval || len(s.InputNames) < 2 {
			continue
		}
		var ep steps.EvalParams
		if err := json.Unmarshal(s.Params, &ep); err != nil {
			t.Fatal(err)
		}
		for m, w := range want {
			if strings.Contains(s.Label, "eval "+m+" ") {
				seen++
				if got := [2]any{len(ep.Refit) > 0, ep.Regime}; got != w {
					t.Errorf("%s: refit, regime = %v, want %v", s.Label, got, w)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no method eval steps")
	}
	for _, s := range build(t, "1", "c").Steps {
		if s.Kind == steps.Eval && strings.Contains(string(s.Params), "refit") {
			t.Errorf("%s refits without an axiom metric: %s", s.Label, s.Params)
		}
	}
}

// The variations an axiom tries on every population are steps: one
// variations step per truth and family, shared by every method, cell and
// seed on that truth (the sweep of dpo's β keeps the truth), and one refit
// step per method and family, shared by the cells whose method is the
// same (the oracle's); the eval reads them. Sampled-data methods (ipo on
// 500 pairs) get none. Here: IIA reads "remove", clones "clone"; the
// oracle (one fit for both β cells) and dpo at β = 1 and 2: 3 × 2 refits.
func TestVariationsArePlannedSteps(t *testing.T) {
	src := strings.Replace(specSrc, "TAU", "1", 1)
	src = strings.Replace(src, "\tseeds: [0, 1, 2]", "\tseeds: [0]\n\tmetrics: [\"tv\", \"axiom_iia\", \"axiom_clones\"]", 1)
	g := buildSrc(t, src)
	fams := map[string]int{}
	refits := 0
	for _, s := range g.Steps {
		switch s.Kind {
		case steps.Variations:
			var vp steps.VariationParams
			if err := json.Unmarshal(s.Params, &vp); err != nil {
				t.Fatal(err)
			}
			fams[vp.Variation]++
		case steps.Refit:
			refits++
			if len(s.Inputs) != 1 || s.Inputs[0].Kind != steps.Variations {
				t.Errorf("%s reads %d inputs, want its variations step", s.Label, len(s.Inputs))
			}
		case steps.Eval:
			n := 0
			for _, in := range s.Inputs {
				if in.Kind == steps.Refit {
					n++
				}
			}
			want := 2
			if strings.Contains(s.Label, "eval ipo ") || !strings.Contains(s.Label, "eval ") || strings.Contains(s.Label, "eval truth") {
				want = 0
			}
			if n != want {
				t.Errorf("%s reads %d refit steps, want %d", s.Label, n, want)
			}
		}
	}
	if fams["remove"] != 1 || fams["clone"] != 1 || len(fams) != 2 {
		t.Errorf("variations steps by family = %v, want one remove and one clone", fams)
	}
	if refits != 6 {
		t.Errorf("%d refit steps, want 6 (oracle, dpo β = 1, dpo β = 2; × remove, clone)", refits)
	}
}
