package spec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: Load never panics on any CUE text, and an error is either
// Errors, each located in a file and with a message, or a plain error
// with a message.
func FuzzLoad(f *testing.F) {
	quickstart, err := os.ReadFile("../../specs/examples/quickstart.cue")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(quickstart))
	f.Add(`name: "tiny"
experiments: x: {
	population: types: {
		A: {reward: {y1: 1, y2: 0}}
		B: {reward: {y1: 0, y2: 2}}
	}
	env: {kind: "analytic", alternatives: ["y1", "y2"]}
	data: d: {regime: "anonymous"}
	methods: dpo: {kind: "dpo", data: "d"}
	seeds: [0]
	report: tables: tv: {rows: "seed", columns: "method", cell: "tv"}
}
`)
	f.Add(`import "list"
experiments: s: {
	population: types: A: {reward: {y1: 6, y2: 1}}
	env: {kind: "analytic", alternatives: ["y1", "y2"], sampling: {y2: number | *0.5, y1: 1 - y2}}
	data: big: {regime: "full", pairs: 10}
	methods: dpo: {kind: "dpo", data: "big"}
	seeds: [0, 1]
	sweep: "env.sampling.y2": [for i in list.Range(0, 3, 1) {0.1 + i*0.2}]
	report: tables: tv: {rows: "env.sampling.y2", columns: "method", cell: "tv", where: seed: 0}
}
`)
	f.Add(`experiments: x: {preferences: 1}`)
	f.Add(`experiments: x: {`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, src string) {
		p := filepath.Join(t.TempDir(), "fuzz.cue")
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load([]string{p}, Options{})
		if err == nil {
			return
		}
		var es Errors
		if !errors.As(err, &es) {
			if err.Error() == "" {
				t.Error("error without a message")
			}
			return
		}
		if len(es) == 0 {
			t.Error("empty Errors")
		}
		for _, e := range es {
			if e.Msg == "" || e.File == "" {
				t.Errorf("error without a file or a message: %+v", e)
			}
		}
	})
}
