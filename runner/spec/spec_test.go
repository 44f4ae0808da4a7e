package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"hetalign/envs"
	"hetalign/methods"
)

// kindList is the message for an unknown method kind, built from the
// method registry: every kind, quoted, in sorted order.
func kindList() string {
	var names []string
	for _, k := range methods.Kinds() {
		names = append(names, fmt.Sprintf("%q", k.Name))
	}
	sort.Strings(names)
	if len(names) > 24 { // many: their number and the closest ones
		return fmt.Sprintf(`"sft" is not one of the %d allowed values; closest: `, len(names))
	}
	return `"sft" is not one of ` + strings.Join(names, ", ")
}

// envList is the message for an unknown env kind, built from the env
// registry like kindList.
func envList() string {
	var names []string
	for _, k := range envs.Kinds() {
		names = append(names, fmt.Sprintf("%q", k.Name))
	}
	sort.Strings(names)
	return `"circle" is not one of ` + strings.Join(names, ", ")
}

// valid is a minimal valid experiment body; tests splice mistakes into it.
const valid = `experiments: x: {
	population: types: {
		A: {weight: 1, reward: {y1: 1, y2: 2}}
		B: {weight: 2, reward: {y1: 2, y2: 0}}
	}
	preference: temperature: 1
	env: {kind: "analytic", alternatives: ["y1", "y2"]}
	data: anon: {regime: "anonymous"}
	methods: {
		oracle: {kind: "oracle"}
		dpo: {kind: "dpo", data: "anon", beta: number | *1}
	}
	sweep: "methods.dpo.beta": [1, 2]
	report: tables: t: {rows: "methods.dpo.beta", columns: "method", cell: "tv"}
}
`

func write(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spec.cue")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pos returns "line:col" (1-based) of the first occurrence of marker.
func pos(t *testing.T, src, marker string) string {
	t.Helper()
	i := strings.Index(src, marker)
	if i < 0 {
		t.Fatalf("marker %q not in source", marker)
	}
	line := strings.Count(src[:i], "\n") + 1
	col := i - strings.LastIndex(src[:i], "\n")
	return fmt.Sprintf("%d:%d", line, col)
}

func TestLoadValid(t *testing.T) {
	files, err := Load([]string{write(t, valid)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := files[0].Experiments[0]
	if x.Name != "x" || len(x.Axes) != 1 || x.Axes[0].Len() != 2 {
		t.Fatalf("experiment = %+v", x)
	}
	if files[0].Name != "spec" {
		t.Errorf("report name %q, want the file's base name", files[0].Name)
	}
	cfg, err := x.Cell([]int{1})
	if err != nil {
		t.Fatal(err)
	}
	if b := *cfg.Methods["dpo"].Params.(*methods.DPO).Beta; b != 2 {
		t.Errorf("cell 1: beta = %v, want 2", b)
	}
	// Defaults documented in the schema.
	if cfg.Seeds[0] != 0 || cfg.Env.Beta != 1 || len(cfg.Metrics) == 0 || cfg.Preference.Model != "bt" {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

// TestExecutorField: executor.slurm is decoded into File.Slurm.
func TestExecutorField(t *testing.T) {
	for _, tc := range []struct {
		name, field string
		want        *SlurmConfig
	}{
		{"none", "", nil},
		{"slurm", `executor: slurm: {partition: "gpu", time: "1:00:00", cpus: 2, mem: "4G", gpus: 1, extra: ["--qos=x"]}`,
			&SlurmConfig{Partition: "gpu", Time: "1:00:00", CPUs: 2, Mem: "4G", GPUs: 1, Extra: []string{"--qos=x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Load([]string{write(t, tc.field+"\n"+valid)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := files[0].Slurm; fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
				t.Errorf("Slurm = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestVetErrors(t *testing.T) {
	tests := []struct {
		name    string
		from    string // replaced in valid …
		to      string // … by this
		marker  string // the error is at the first occurrence of this in the new source
		message string
	}{
		{"unknown field", `preference: temperature: 1`, `preference: temprature: 1`, "temprature", "field not allowed"},
		{"misspelled top-level key", `	sweep:`, `	swep: 1
	sweep:`, "swep:", "field not allowed"},
		{"wrong type", `temperature: 1`, `temperature: "hot"`, `"hot"`, "mismatched types"},
		{"unknown env kind", `kind: "analytic"`, `kind: "circle"`, `"circle"`, envList()},
		{"unknown method kind", `{kind: "oracle"}`, `{kind: "sft"}`, `"sft"`, kindList()},
		{"missing dataset", `data: "anon", beta`, `data: "paired", beta`, `data: "paired"`, `needs dataset "paired", which data does not define`},
		{"wrong regime", `data: anon: {regime: "anonymous"}
	methods: {
		oracle: {kind: "oracle"}`, `data: anon: {regime: "anonymous"}
	methods: {
		oracle: {kind: "consistent", data: "anon"}`, `data: "anon"}`, `needs data of regime full or consensus, but dataset "anon" has regime "anonymous"`},
		{"sweep path missing", `"methods.dpo.beta": [1, 2]`, `"methods.dpo.gamma": [1, 2]`, `"methods.dpo.gamma"`, `sweep path "methods.dpo.gamma" does not exist`},
		{"negative weight", `weight: 2`, `weight: -2`, "-2", "out of bound >0"},
		{"zero weight", `weight: 2`, `weight: 0`, "0, reward", "out of bound >0"},
		{"empty population", `population: types: {
		A: {weight: 1, reward: {y1: 1, y2: 2}}
		B: {weight: 2, reward: {y1: 2, y2: 0}}
	}`, `population: types: {}`, "{}", "struct.MinFields(1)"},
		{"syntax error", `env: {kind`, `env: {kind:`, `: "analytic"`, "expected"},
		{"reward for an unknown alternative", `reward: {y1: 2, y2: 0}`, `reward: {y1: 2, y2: 0, y3: 1}`, "y3: 1", `"y3" is not an alternative`},
		{"missing reward", `reward: {y1: 2, y2: 0}`, `reward: {y1: 2}`, "reward: {y1: 2}", `type B has no reward for alternative "y2"`},
		{"table metric not computed", `cell: "tv"`, `cell: "tv"}
	metrics: ["kl"]
	_x: {`, `cell: "tv"`, `metric "tv" is not computed`},
		{"unknown table axis", `columns: "method"`, `columns: "kind"`, `columns: "kind"`, `unknown axis "kind"`},
		{"sweep value that does not fit", `[1, 2]`, `[1, -2]`, "-2", "does not fit"},
		{"annotators outside the annotated regime", `data: anon: {regime: "anonymous"}`, `data: anon: {regime: "anonymous", annotators: 5}`,
			`annotators: 5`, `annotators is for the "annotated" regime`},
		{"annotated without per", `data: anon: {regime: "anonymous"}`, `data: {anon: {regime: "anonymous"}, ann: {regime: "annotated", annotators: 3}}`,
			`ann: {regime: "annotated"`, "annotated data need per: m"},
		{"executor field misspelled", `experiments: x: {`, `executor: slurm: {partiton: "p"}
experiments: x: {`, "partiton", "field not allowed"},
		{"executor cpus below 1", `experiments: x: {`, `executor: slurm: {cpus: 0}
experiments: x: {`, "0}", "out of bound >=1"},
		{"judgments on an analytic env", `data: anon: {regime: "anonymous"}`, `data: anon: {regime: "anonymous", judgments: 100}`,
			`judgments: 100`, "judgments (a budget of annotator judgments) is for envs that declare it (sequence)"},
		{"em-dpo on anonymous data", `		oracle: {kind: "oracle"}`, `		oracle: {kind: "em-dpo", data: "anon", k: 2}`, `data: "anon", k`,
			`needs data of regime annotated, but dataset "anon" has regime "anonymous"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkMutation(t, valid, tc.from, tc.to, tc.marker, tc.message) })
	}
}

// checkMutation replaces from by to in a valid spec and wants an error
// containing message at the first occurrence of marker in the result.
func checkMutation(t *testing.T, valid, from, to, marker, message string) {
	t.Helper()
	if !strings.Contains(valid, from) {
		t.Fatalf("%q not in the valid spec", from)
	}
	src := strings.Replace(valid, from, to, 1)
	path := write(t, src)
	_, err := Load([]string{path}, Options{})
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want Errors", err)
	}
	want := path + ":" + pos(t, src, marker)
	for _, e := range errs {
		if strings.HasPrefix(e.String(), want) && strings.Contains(e.Msg, message) {
			return
		}
	}
	t.Errorf("want an error at %s containing %q; got:\n%v", want, message, err)
}

// Every independent mistake is reported in one pass, each at its place.
func TestVetReportsAllErrors(t *testing.T) {
	src := strings.NewReplacer(
		`weight: 2`, `weight: -2`,
		`temperature: 1`, `temprature: 1`,
		`{kind: "oracle"}`, `{kind: "sft"}`,
		`report:`, `bogus: 1
	report:`,
	).Replace(valid)
	path := write(t, src)
	_, err := Load([]string{path}, Options{})
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v", err)
	}
	for _, marker := range []string{"-2", "temprature", `"sft"`, "bogus"} {
		want := path + ":" + pos(t, src, marker)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no error at %s (%s); got:\n%v", want, marker, err)
		}
	}
}

func TestTags(t *testing.T) {
	src := strings.Replace(valid, `preference: temperature: 1`, `preference: temperature: [if profile == "hot" {3}, 1][0]`, 1) +
		"profile: *\"quick\" | \"hot\" @tag(profile)\n"
	path := write(t, src)
	for _, tc := range []struct {
		tags []string
		want float64
	}{{nil, 1}, {[]string{"profile=hot"}, 3}} {
		files, err := Load([]string{path}, Options{Tags: tc.tags})
		if err != nil {
			t.Fatal(err)
		}
		if got := files[0].Experiments[0].Base.Preference.Temperature; got != tc.want {
			t.Errorf("tags %v: temperature %v, want %v", tc.tags, got, tc.want)
		}
	}
	if _, err := Load([]string{path}, Options{Tags: []string{"profile=cold"}}); err == nil {
		t.Error("a tag value outside the declared set was accepted")
	}
}

func TestPaperSpecsAreValid(t *testing.T) {
	paper, _ := filepath.Glob("../../specs/paper/*.cue")
	examples, _ := filepath.Glob("../../specs/examples/*.cue")
	paths := append(paper, examples...)
	if len(paths) == 0 {
		t.Fatal("no specs found")
	}
	for _, p := range paths {
		if _, err := Load([]string{p}, Options{}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

const validSequence = `experiments: lengths: {
	population: types: {
		long: length: shape: "rising"
		short: length: shape: "falling"
	}
	env: {kind: "sequence", length: 16, prompts: 100}
	data: {anon: {regime: "anonymous", pairs: 80}, cons: {regime: "consensus", pairs: 80}}
	methods: {
		rm: {kind: "reward", data: "anon", model: kind: "transformer"}
		pol: {kind: "consistent", data: "cons", model: {kind: "transformer", width: 8, heads: 2}}
	}
	metrics: ["agreement"]
	report: tables: t: {rows: "method", columns: "metric", cell: "agreement"}
}
`

func TestVetSequenceErrors(t *testing.T) {
	if _, err := Load([]string{write(t, validSequence)}, Options{}); err != nil {
		t.Fatalf("valid sequence spec: %v", err)
	}
	tests := []struct{ name, from, to, marker, message string }{
		{"type without a length reward", `short: length: shape: "falling"`, `short: weight: 1`, "short: weight", "type short needs a length reward"},
		{"unknown length shape", `"falling"`, `"cubic"`, `"cubic"`, `"cubic" is not one of`},
		{"regime the env cannot sample", `cons: {regime: "consensus"`, `cons: {regime: "full"`, `regime: "full"`, "a sequence env samples"},
		{"method without a transformer", `rm: {kind: "reward", data: "anon", model: kind: "transformer"}`, `rm: {kind: "reward", data: "anon"}`, `rm: {kind`, `needs model: kind: "transformer"`},
		{"width not a multiple of heads", `width: 8, heads: 2`, `width: 9, heads: 2`, `model: {kind: "transformer", width: 9`, "width 9 is not a multiple of heads 2"},
		{"consistent reward on anonymous data", `kind: "reward", data: "anon"`, `kind: "consistent-reward", data: "anon"`, `data: "anon", model`, `needs data of regime consensus`},
		{"prompt longer than L", `length: 16, prompts: 100`, `length: 16, prompts: 100, prompt: max: 20`, `prompt: max`, "must be ordered and below length 16"},
		{"pairs and judgments", `anon: {regime: "anonymous", pairs: 80}`, `anon: {regime: "anonymous", pairs: 80, judgments: 100}`, `judgments: 100`, "by pairs or by judgments, not both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkMutation(t, validSequence, tc.from, tc.to, tc.marker, tc.message) })
	}
	// Reward learning and transformers need text.
	src := strings.Replace(valid, `{kind: "oracle"}`, `{kind: "reward", data: "anon"}`, 1)
	if _, err := Load([]string{write(t, src)}, Options{}); err == nil || !strings.Contains(err.Error(), `needs env kind "sequence"`) {
		t.Errorf("reward on an analytic env: %v", err)
	}
}

// Every claim of a committed spec says where its threshold or tolerance
// comes from (#Claim.source; issue 24), and no approx claim has a
// tolerance of 0 (then it is equals).
func TestCommittedClaimsStateSources(t *testing.T) {
	paths, _ := filepath.Glob("../../specs/*/*.cue")
	n := 0
	for _, p := range paths {
		if strings.Contains(p, "/schema/") {
			continue
		}
		files, err := Load([]string{p}, Options{})
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		for _, f := range files {
			for _, x := range f.Experiments {
				for name, c := range x.Base.Report.Claims {
					n++
					if strings.TrimSpace(c.Source) == "" {
						t.Errorf("%s: experiment %s, claim %s states no source for its threshold", p, x.Name, name)
					}
					if c.Approx != nil && c.Approx.Tolerance == 0 {
						t.Errorf("%s: experiment %s, claim %s: approx with tolerance 0", p, x.Name, name)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no claims found")
	}
}
