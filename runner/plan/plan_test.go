package plan

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hetalign/runner/spec"
	"hetalign/runner/steps"
)

const specSrc = `experiments: x: {
	population: types: {
		A: {reward: {y1: 1, y2: 2, y3: 0}}
		B: {weight: 2, reward: {y1: 2, y2: 0, y3: 1}}
	}
	env: {kind: "analytic", alternatives: ["y1", "y2", "y3"]}
	data: {
		pop: {regime: "anonymous"}
		sampled: {regime: "anonymous", pairs: 500}
	}
	methods: {
		oracle: {kind: "oracle"}
		dpo: {kind: "dpo", data: "pop", beta: number | *1}
		ipo: {kind: "ipo", data: "sampled", tau: TAU}
	}
	seeds: [0, 1, 2]
	sweep: "methods.dpo.beta": [1, 2]
	report: tables: t: {rows: "seed", columns: "method", cell: "tv", where: "methods.dpo.beta": 1}
}
`

func build(t *testing.T, tau string, code string) *Graph {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.cue")
	if err := os.WriteFile(p, []byte(strings.Replace(specSrc, "TAU", tau, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := spec.Load([]string{p}, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Name the report the same in every temp dir.
	files[0].Name = "s"
	g, err := Build(files, Options{Code: code})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// buildSrc plans the spec source src (code identity "c").
func buildSrc(t *testing.T, src string) *Graph {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.cue")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := spec.Load([]string{p}, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(files, Options{Code: "c"})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func count(g *Graph, kind string, labelHas string) int {
	n := 0
	for _, s := range g.Steps {
		if s.Kind == kind && strings.Contains(s.Label, labelHas) {
			n++
		}
	}
	return n
}

func TestStepsAreShared(t *testing.T) {
	g := build(t, "1", "code")
	tests := []struct {
		kind, label string
		want        int
	}{
		// The truth does not depend on a method's β: one for both cells.
		{steps.Truth, "", 1},
		// The exact dataset is the same for every seed; the sampled one is not.
		{steps.Dataset, "dataset pop", 1},
		{steps.Dataset, "dataset sampled", 3},
		// DPO on exact data: one per β; IPO on samples: one per seed.
		{steps.Train, "train dpo", 2},
		{steps.Train, "train ipo", 3},
		{steps.Train, "train oracle", 1},
		{steps.Report, "", 1},
	}
	for _, tc := range tests {
		if got := count(g, tc.kind, tc.label); got != tc.want {
			t.Errorf("%s %q: %d steps, want %d", tc.kind, tc.label, got, tc.want)
		}
	}
	// Inputs come before the steps that read them.
	for _, s := range g.Steps {
		for _, in := range s.Inputs {
			if in.Index >= s.Index {
				t.Fatalf("step %d reads later step %d", s.Index, in.Index)
			}
		}
	}
}

func keysByRole(g *Graph) map[string]string {
	m := map[string]string{}
	for _, s := range g.Steps {
		for _, r := range s.Roles {
			m[r] = s.Key
		}
	}
	return m
}

// Changing one method parameter changes only the steps downstream of it.
func TestChangeIsLocal(t *testing.T) {
	a, b := keysByRole(build(t, "1", "code")), keysByRole(build(t, "2", "code"))
	for role, ka := range a {
		changed := b[role] != ka
		downstream := strings.HasSuffix(role, "/train/ipo") || strings.HasSuffix(role, "/eval/ipo") || strings.HasSuffix(role, "/report")
		if changed != downstream {
			t.Errorf("%s: changed = %v, want %v", role, changed, downstream)
		}
	}
	// A new executable changes every key.
	c := keysByRole(build(t, "1", "other code"))
	for role, ka := range a {
		if c[role] == ka {
			t.Errorf("%s kept its key under new code", role)
		}
	}
}

func TestSeedsDerivedFromKeys(t *testing.T) {
	g1, g2 := build(t, "1", "code"), build(t, "1", "code")
	seen := map[uint64]bool{}
	for i, s := range g1.Steps {
		if s.Seed != g2.Steps[i].Seed || s.Key != g2.Steps[i].Key {
			t.Fatalf("step %d differs between identical plans", i)
		}
		if seen[s.Seed] {
			t.Errorf("two steps share seed %d", s.Seed)
		}
		seen[s.Seed] = true
	}
}

func TestWhy(t *testing.T) {
	old := build(t, "1", "code")
	idx := old.NewIndex(old.Reports[0], func(*Step) bool { return true })
	g := build(t, "2", "code")
	for _, s := range g.Steps {
		why := idx.Why(s, "code")
		switch {
		case strings.HasPrefix(s.Label, "train ipo"):
			if !strings.Contains(why, "tau: 1 → 2") {
				t.Errorf("%s: why = %q, want the tau change", s.Label, why)
			}
		case strings.HasPrefix(s.Label, "eval ipo"):
			if !strings.Contains(why, "inputs changed: train") {
				t.Errorf("%s: why = %q", s.Label, why)
			}
		case s.Kind == steps.Report:
		default:
			if why != "" {
				t.Errorf("%s: why = %q for an unchanged step", s.Label, why)
			}
		}
	}
	if got := (*Index)(nil).Why(g.Steps[0], "code"); got != "new" {
		t.Errorf("no index: %q", got)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	g := build(t, "1", "code")
	b, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	files := []*spec.File{g.Reports[0].File}
	h, err := Unmarshal(b, files, g.Options)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Steps) != len(g.Steps) {
		t.Fatalf("%d steps, want %d", len(h.Steps), len(g.Steps))
	}
	for i, s := range g.Steps {
		r := h.Steps[i]
		if r.Key != s.Key || r.Seed != s.Seed || len(r.Inputs) != len(s.Inputs) || string(r.Params) != string(s.Params) {
			t.Fatalf("step %d differs after the round trip", i)
		}
		for j := range s.Inputs {
			if r.Inputs[j].Key != s.Inputs[j].Key {
				t.Fatalf("step %d input %d differs", i, j)
			}
		}
	}
	if _, err := Unmarshal(b, nil, g.Options); err == nil {
		t.Error("plan for one spec accepted for none")
	}
}

func TestCanonical(t *testing.T) {
	a, _ := Canonical(map[string]any{"b": 1.0, "a": []any{2, "x"}})
	b, _ := Canonical(struct {
		B int   `json:"b"`
		A []any `json:"a"`
	}{1, []any{2.0, "x"}})
	if string(a) != string(b) || string(a) != `{"a":[2,"x"],"b":1}` {
		t.Errorf("canonical forms %s and %s", a, b)
	}
}

const zipSrc = `import "list"
experiments: z: {
	population: types: {
		A: {reward: {y1: 1, y2: 2}}
		B: {reward: {y1: 2, y2: 0}}
	}
	preference: temperature: number | *1
	env: {kind: "analytic", alternatives: ["y1", "y2"], beta: number | *1}
	data: pop: regime: "anonymous"
	methods: dpo: {kind: "dpo", data: "pop", beta: number | *1}
	sweep: {
		zip: [{"preference.temperature": [1, 2, 3], "env.beta": [0.5, 1, 1.5]}]
		"methods.dpo.beta": [for i in list.Range(1, N, 1) {i}]
	}
	report: tables: t: {rows: "preference.temperature", columns: "methods.dpo.beta", cell: "tv", where: method: "dpo"}
}
`

func loadSrc(t *testing.T, src string) []*spec.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "z.cue")
	os.WriteFile(p, []byte(src), 0o644)
	files, err := spec.Load([]string{p}, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// A zip group advances its paths together: 3 (zipped) × 4 cells, not 3 × 3 × 4.
func TestZip(t *testing.T) {
	files := loadSrc(t, strings.Replace(zipSrc, "N", "5", 1))
	g, err := Build(files, Options{Code: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if got := count(g, steps.Truth, ""); got != 3 {
		t.Errorf("%d truth steps, want 3 (τ and β advance together)", got)
	}
	if got := count(g, steps.Train, ""); got != 12 {
		t.Errorf("%d train steps, want 12", got)
	}
	for _, s := range g.Steps {
		if s.Kind == steps.Truth {
			ok := strings.Contains(s.Label, "preference.temperature=1 env.beta=0.5") ||
				strings.Contains(s.Label, "preference.temperature=2 env.beta=1 ") ||
				strings.Contains(s.Label, "preference.temperature=3 env.beta=1.5")
			if !ok {
				t.Errorf("truth step %q pairs values that are not zipped", s.Label)
			}
		}
	}
	bad := strings.Replace(strings.Replace(zipSrc, "N", "5", 1), `"env.beta": [0.5, 1, 1.5]`, `"env.beta": [0.5, 1]`, 1)
	p := filepath.Join(t.TempDir(), "bad.cue")
	os.WriteFile(p, []byte(bad), 0o644)
	if _, err := spec.Load([]string{p}, spec.Options{}); err == nil || !strings.Contains(err.Error(), "zip group") {
		t.Errorf("unequal zip lists: %v", err)
	}
}

// Evaluating cells on several workers gives the same graph as on one.
func TestWorkersDoNotChangeThePlan(t *testing.T) {
	files := loadSrc(t, strings.Replace(zipSrc, "N", "300", 1)) // 897 cells
	g1, err := Build(files, Options{Code: "c", Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := Build(files, Options{Code: "c", Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(g1.Steps) != len(g2.Steps) {
		t.Fatalf("%d vs %d steps", len(g1.Steps), len(g2.Steps))
	}
	for i := range g1.Steps {
		if g1.Steps[i].Key != g2.Steps[i].Key {
			t.Fatalf("step %d differs: %s vs %s", i, g1.Steps[i].Label, g2.Steps[i].Label)
		}
	}
}

// Seeds do not depend on the code identity: a rebuild samples the same data.
func TestSeedsSurviveNewCode(t *testing.T) {
	g1, g2 := build(t, "1", "code"), build(t, "1", "new code")
	for i := range g1.Steps {
		if g1.Steps[i].Seed != g2.Steps[i].Seed {
			t.Errorf("%s: seed changed with the code", g1.Steps[i].Label)
		}
	}
}

// The backend and its device enter the keys of computing (GoMLX) steps
// only: CPU and GPU results never share a cache entry, exact steps do,
// and seeds are the same on both.
func TestBackendInKeys(t *testing.T) {
	files := loadSrc(t, `experiments: x: {
	population: types: {A: reward: {y1: 1, y2: 2}, B: reward: {y1: 2, y2: 0}}
	env: {kind: "analytic", alternatives: ["y1", "y2"]}
	data: d: regime: "anonymous"
	methods: {
		exact: {kind: "dpo", data: "d"}
		sgd: {kind: "dpo", data: "d", optimizer: steps: 10}
	}
	report: tables: t: {rows: "method", columns: "metric", cell: "tv"}
}
`)
	cpu, err := Build(files, Options{Code: "c", Backend: "go"})
	if err != nil {
		t.Fatal(err)
	}
	gpu, err := Build(files, Options{Code: "c", Backend: "cuda@NVIDIA H100", GPU: true})
	if err != nil {
		t.Fatal(err)
	}
	a, b := keysByRole(cpu), keysByRole(gpu)
	for role, k := range a {
		sgd := strings.HasSuffix(role, "/train/sgd")
		if (k != b[role]) != (sgd || strings.Contains(role, "/eval/sgd") || strings.HasSuffix(role, "/report")) {
			t.Errorf("%s: key changed = %v", role, k != b[role])
		}
	}
	for i, s := range cpu.Steps {
		if s.Seed != gpu.Steps[i].Seed {
			t.Errorf("%s: seed differs between backends", s.Label)
		}
		if g := gpu.Steps[i]; g.GPU != (g.Kind == steps.Train && strings.Contains(g.Label, "sgd")) {
			t.Errorf("%s: GPU = %v", g.Label, g.GPU)
		}
	}
}

// Progress is reported while cells are planned, and MaxCells refuses a
// larger sweep before any cell is evaluated.
func TestProgressAndMaxCells(t *testing.T) {
	files := loadSrc(t, strings.Replace(zipSrc, "N", "300", 1)) // 897 cells
	var calls, last, total int
	_, err := Build(files, Options{Code: "c", ProgressEvery: time.Nanosecond, Progress: func(d, n int) {
		if d < last {
			t.Errorf("progress went back: %d after %d", d, last)
		}
		calls, last, total = calls+1, d, n
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || total != 897 || last > total {
		t.Errorf("%d progress calls, last %d of %d; want some, of 897", calls, last, total)
	}
	_, err = Build(files, Options{Code: "c", MaxCells: 896})
	var mc *MaxCellsError
	if !errors.As(err, &mc) || mc.Cells != 897 || mc.Experiment != "z" || !strings.Contains(err.Error(), "--max-cells") {
		t.Errorf("MaxCells 896: %v", err)
	}
	if _, err := Build(files, Options{Code: "c", MaxCells: 897}); err != nil {
		t.Errorf("MaxCells 897: %v", err)
	}
}

// Policies that start from a pre-trained reference read it from one
// reference step per seed and pre-training, shared by every method (and
// experiment) with the same architecture; a uniform reference needs none,
// and another pre-training is another step.
func TestReferenceSteps(t *testing.T) {
	src := `experiments: x: {
	population: types: {
		long: length: shape: "rising"
		short: length: shape: "falling"
	}
	env: {kind: "sequence", length: 16, prompts: 100, test: 0.2}
	data: {
		anon: {regime: "anonymous", pairs: 80}
		cons: {regime: "consensus", pairs: 80}
	}
	_net: {model: {kind: "transformer", width: 8, heads: 2}, optimizer: {lr: 3e-3, batch: 8, steps: 4}}
	_ref: {reference: "pretrained", pretrain: steps: int | *3}
	methods: {
		dpo: _net & _ref & {kind: "dpo", data: "anon"}
		cons: _net & _ref & {kind: "consistent", data: "cons"}
		longer: _net & _ref & {kind: "dpo", data: "anon", pretrain: steps: 5}
		uniform: _net & {kind: "dpo", data: "anon"}
	}
	seeds: [0, 1]
	report: tables: t: {rows: "seed", columns: "method", cell: "agreement"}
}
`
	g := buildSrc(t, src)
	// Two pre-trainings (3 and 5 steps) × two seeds.
	if n := count(g, steps.Reference, ""); n != 4 {
		t.Errorf("%d reference steps, want 4 (2 pre-trainings × 2 seeds)", n)
	}
	for _, s := range g.Steps {
		if s.Kind != steps.Train {
			continue
		}
		uniform := strings.Contains(s.Label, "uniform")
		last := s.InputNames[len(s.InputNames)-1]
		if uniform == (last == "reference") {
			t.Errorf("%s reads inputs %v", s.Label, s.InputNames)
		}
	}
	var dpo, cons *Step
	for _, s := range g.Steps {
		switch {
		case s.Kind == steps.Train && strings.HasPrefix(s.Label, "train dpo ") && strings.Contains(s.Label, "seed=0"):
			dpo = s
		case s.Kind == steps.Train && strings.HasPrefix(s.Label, "train cons ") && strings.Contains(s.Label, "seed=0"):
			cons = s
		}
	}
	if dpo == nil || cons == nil {
		t.Fatal("missing train steps")
	}
	if dpo.Inputs[2] != cons.Inputs[2] {
		t.Error("dpo and cons of one seed do not share their reference step")
	}
}

// A stored plan is verified on its own: every key is recomputed from its
// step's kind, params, inputs and code, every seed from its material; an
// edit of any of them (the JSON still well formed) is an error, never a
// graph.
func TestCheckRecomputesKeys(t *testing.T) {
	g := build(t, "1", "code")
	b, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(b); err != nil {
		t.Fatalf("intact plan: %v", err)
	}
	s := g.Steps[len(g.Steps)/2]
	var sg storedGraph
	for _, tc := range []struct {
		name string
		edit func(sg *storedGraph)
		want string
	}{
		{"params", func(sg *storedGraph) {
			p := sg.Steps[s.Index].Params
			sg.Steps[s.Index].Params = append(append([]byte{}, p[:len(p)-1]...), []byte(`,"x":1}`)...)
		}, "not to its key"},
		{"code", func(sg *storedGraph) { sg.Codes[sg.Steps[s.Index].Code] += "x" }, "not to its key"},
		{"input", func(sg *storedGraph) {
			for i, st := range sg.Steps {
				if len(st.Inputs) > 0 && st.Inputs[0] > 0 {
					sg.Steps[i].Inputs[0]--
					return
				}
			}
		}, "not to its key"},
		{"seed", func(sg *storedGraph) { sg.Steps[s.Index].Seed++ }, "seed"},
		{"kind", func(sg *storedGraph) {
			if sg.Steps[s.Index].Kind == steps.Train {
				sg.Steps[s.Index].Kind = steps.Eval
			} else {
				sg.Steps[s.Index].Kind = steps.Train
			}
		}, "not to its key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sg = storedGraph{}
			if err := json.Unmarshal(b, &sg); err != nil {
				t.Fatal(err)
			}
			tc.edit(&sg)
			e, err := json.Marshal(sg)
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(e); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check: %v, want %q", err, tc.want)
			}
			if _, err := Unmarshal(e, []*spec.File{g.Reports[0].File}, g.Options); err == nil {
				t.Error("Unmarshal accepted the edited plan")
			}
		})
	}
}

// The plan cache's bytes are json.Marshal's of the stored graph, whether
// the steps are written one by one (Marshal) or all at once: the format
// of plans already cached does not change.
func TestMarshalIsJSONMarshal(t *testing.T) {
	g := build(t, "1", "code")
	gpu := build(t, "1", "code")
	gpu.Options.Backend = "cuda@X"
	for _, tc := range []struct {
		name string
		g    *Graph
	}{{"go", g}, {"backend", gpu}, {"empty", &Graph{}}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.g.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			sg := storedGraph{Steps: make([]storedStep, len(tc.g.Steps)), Backend: tc.g.Options.Backend}
			if err := json.Unmarshal(got, &sg); err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(sg)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("Marshal:\n%.300s\njson.Marshal:\n%.300s", got, want)
			}
			var w strings.Builder
			if err := tc.g.WriteJSON(&w); err != nil || w.String() != string(want) {
				t.Errorf("WriteJSON: %.300s, %v; want json.Marshal's", w.String(), err)
			}
		})
	}
}

// MarshalIndex writes the bytes json.Marshal gives the index built as maps
// (NewIndex, then the previous run's roles that failed this time and that
// the graph still has), with and without a previous index.
func TestMarshalIndexIsJSONMarshal(t *testing.T) {
	old := build(t, "1", "code")
	prevIdx := old.NewIndex(old.Reports[0], func(*Step) bool { return true })
	prevIdx.Roles["s/gone/role"] = old.Steps[0].Key // a role no step has now
	g := build(t, "2", "code")
	r := g.Reports[0]
	// reference merges as maps (what saveIndex did before MarshalIndex).
	reference := func(keep func(*Step) bool, prev *Index) []byte {
		idx := g.NewIndex(r, keep)
		if prev != nil {
			current := map[string]bool{}
			for _, s := range g.Steps {
				for _, role := range s.Roles {
					current[role] = true
				}
			}
			for role, key := range prev.Roles {
				if _, ok := idx.Roles[role]; ok {
					continue
				}
				if ps, ok := prev.Steps[key]; ok && current[role] {
					idx.Roles[role] = key
					idx.Steps[key] = ps
				}
			}
		}
		b, err := json.Marshal(idx)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	all := func(*Step) bool { return true }
	noIPO := func(s *Step) bool { return !strings.Contains(s.Label, "ipo") } // the ipo steps failed
	for _, tc := range []struct {
		name string
		keep func(*Step) bool
		prev *Index
	}{{"cold", all, nil}, {"cold, failed", noIPO, nil}, {"warm", all, prevIdx}, {"warm, failed", noIPO, prevIdx}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := g.MarshalIndex(r, tc.keep, tc.prev)
			if err != nil {
				t.Fatal(err)
			}
			if want := reference(tc.keep, tc.prev); string(got) != string(want) {
				t.Errorf("MarshalIndex:\n%s\njson.Marshal:\n%s", got, want)
			}
		})
	}
	// The failed ipo roles keep the last run's steps.
	b, _ := g.MarshalIndex(r, noIPO, prevIdx)
	var idx Index
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	for role, key := range prevIdx.Roles {
		if strings.Contains(role, "ipo") && idx.Roles[role] != key {
			t.Errorf("role %s: %q, want the last run's %q", role, idx.Roles[role], key)
		}
	}
	if _, ok := idx.Roles["s/gone/role"]; ok {
		t.Error("a role no step has was kept")
	}
}
