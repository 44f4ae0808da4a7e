package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// base is a valid spec that the cases below break one way each.
const base = `experiments: x: {
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

// lineCol is "line:col" of the first occurrence of marker in src.
func lineCol(src, marker string) string {
	i := strings.Index(src, marker)
	if i < 0 {
		return "marker not found"
	}
	return fmt.Sprintf("%d:%d", strings.Count(src[:i], "\n")+1, i-strings.LastIndex(src[:i], "\n"))
}

// Every mistake a user can make gets a message that names the file and
// the position (or the parameter) and says what is wrong; vet finds it
// before anything runs.
func TestVetErrorMessages(t *testing.T) {
	tests := []struct {
		name     string
		from, to string // base with from replaced by to ("" from: the file is to)
		marker   string // the error is at this text ("" : the file alone)
		want     string
	}{
		{"temperature beyond float64", "temperature: 1", "temperature: 1e400", "temperature: 1e400", "does not fit in a 64-bit float"},
		{"empty sweep list", `"methods.dpo.beta": [1, 2]`, `"methods.dpo.beta": []`, `"methods.dpo.beta": []`, "the list is empty"},
		{"unknown metric", `cell: "tv"`, `cell: "tvv"`, `"tvv"`, `closest: "tv"`},
		{"empty file", "", " \n", "", "the spec file is empty"},
		{"reward beyond float64 precision", "y2: 0}", "y2: 1e308}", "y2: 1e308", "beyond ±1e+15"},
		{"bad show value", `cell: "tv"}`, `cell: "tv", show: ["nope"]}`, `"nope"`, `"nope" is not a value of the column axis "method"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.to
			if tc.from != "" {
				if !strings.Contains(base, tc.from) {
					t.Fatalf("%q not in the base spec", tc.from)
				}
				src = strings.Replace(base, tc.from, tc.to, 1)
			}
			p := writeSpec(t, t.TempDir(), "s.cue", src)
			_, stderr, code := cli(t, "vet", p)
			if code != exitInvalid {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInvalid, stderr)
			}
			at := p + ":"
			if tc.marker != "" {
				at += lineCol(src, tc.marker)
			}
			if !strings.Contains(stderr, at) || !strings.Contains(stderr, tc.want) {
				t.Errorf("want %q at %s; got:\n%s", tc.want, at, stderr)
			}
			if len(stderr) > 600 {
				t.Errorf("%d characters of errors for one mistake:\n%s", len(stderr), stderr)
			}
		})
	}
}

func TestVetFileErrors(t *testing.T) {
	dir := t.TempDir()
	tiny := writeSpec(t, dir, "tiny.txt", "abcd")
	_ = tiny
	seq := writeSpec(t, dir, "seq.cue", `experiments: x: {
	population: types: {
		long: length: shape: "rising"
		short: length: shape: "falling"
	}
	env: {kind: "sequence", length: 16, prompts: 100, corpus: "tiny.txt"}
	data: anon: {regime: "anonymous", pairs: 80}
	methods: rm: {kind: "reward", data: "anon", model: kind: "transformer"}
	metrics: ["agreement"]
	report: tables: t: {rows: "method", columns: "metric", cell: "agreement"}
}
`)
	a := writeSpec(t, dir, "a.cue", "name: \"same\"\n"+base)
	b := writeSpec(t, dir, "b.cue", "name: \"same\"\n"+base)
	if err := os.Mkdir(filepath.Join(dir, "specs"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{filepath.Join(dir, "nope.cue")}, "nope.cue: no such spec file"},
		{"directory", []string{filepath.Join(dir, "specs")}, "is a directory"},
		{"corpus too short", []string{seq}, "has 4 bytes"},
		{"two reports of one name", []string{a, b}, `report name "same" is also the name of`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := cli(t, append([]string{"vet"}, tc.args...)...)
			if code != exitInvalid || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d and %q; stderr:\n%s", code, exitInvalid, tc.want, stderr)
			}
		})
	}
	// The corpus error names the env's position in the spec.
	_, stderr, _ := cli(t, "vet", seq)
	if !strings.Contains(stderr, seq+":6:2") {
		t.Errorf("corpus error not at env (6:2):\n%s", stderr)
	}
}

// diff compares hetalign reports only.
func TestDiffRefusesOtherJSON(t *testing.T) {
	dir := t.TempDir()
	a := writeSpec(t, dir, "a.json", `{"a": 1}`)
	b := writeSpec(t, dir, "b.json", `{"b": 2}`)
	_, stderr, code := cli(t, "diff", a, b)
	if code != exitInvalid || !strings.Contains(stderr, "not a hetalign report") {
		t.Errorf("exit %d; stderr:\n%s", code, stderr)
	}
}
