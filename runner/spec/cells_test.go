package spec

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// cellSpecs exercise patched and evaluated axes: a field others are
// computed from (y3), a constraint that refers to another swept field
// (l2 < beta), a zip group, and leaves nothing reads.
var cellSpecs = map[string]struct {
	src   string
	patch []bool // which axes classify patches
	bad   int    // cells that must fail
}{
	"computed": {`import "list"
experiments: big: {
	population: types: {
		A: {reward: {y1: 6, y2: 1, y3: 4}}
		B: {reward: {y1: 3, y2: 9, y3: 4}}
	}
	preference: temperature: number | *1
	env: {
		kind: "analytic"
		alternatives: ["y1", "y2", "y3"]
		sampling: {y3: number | *0.02, y1: (1 - y3) / 2, y2: (1 - y3) / 2}
	}
	data: pop: regime: "anonymous"
	methods: dpo: {kind: "dpo", data: "pop"}
	metrics: ["top"]
	seeds: [0, 1]
	sweep: {
		"env.sampling.y3": [for i in list.Range(0, 5, 1) {0.01 + i*0.001}]
		"preference.temperature": [for i in list.Range(0, 4, 1) {0.5 + i*0.02}]
	}
	report: tables: top: {rows: "env.sampling.y3", columns: "preference.temperature", cell: "top", where: {method: "dpo", seed: 0}}
}
`, []bool{false, true}, 0},
	"constraint": {strings.NewReplacer(`beta: number | *1}`, `beta: number | *1, l2: number & <beta | *0}`,
		`"methods.dpo.beta": [1, 2]`, `"methods.dpo.beta": [1, 0.5]`).Replace(valid) +
		`experiments: x: sweep: "methods.dpo.l2": [0.25, 0.75]
experiments: x: report: tables: t: where: "methods.dpo.l2": 0.25
`, []bool{false, true}, 1}, // l2 is patched, and checked against each beta
	"zip": {`experiments: z: {
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
		"methods.dpo.beta": [1, 2, 3, 4]
	}
	report: tables: t: {rows: "preference.temperature", columns: "methods.dpo.beta", cell: "tv", where: method: "dpo"}
}
`, nil, 0},
}

// EachCell gives every cell exactly what Cell (a CUE evaluation of the
// whole cell) gives, in order, whatever the number of workers.
func TestEachCellMatchesCell(t *testing.T) {
	for name, tc := range cellSpecs {
		t.Run(name, func(t *testing.T) {
			files, err := Load([]string{write(t, tc.src)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			x := files[0].Experiments[0]
			if tc.patch != nil && !slices.Equal(x.classify(), tc.patch) {
				t.Errorf("classify = %v, want %v", x.classify(), tc.patch)
			}
			for _, workers := range []int{1, 3} {
				n, bad := 0, 0
				var last []int
				err := x.EachCell(workers, func(choice []int, cfg *Config, err error) error {
					n++
					if last != nil && slices.Compare(last, choice) >= 0 {
						t.Errorf("cell %v after %v", choice, last)
					}
					last = slices.Clone(choice)
					want, werr := x.Cell(choice)
					if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
						t.Errorf("cell %v: error %v, want %v", choice, err, werr)
					}
					if err != nil {
						bad++
						return nil
					}
					if !reflect.DeepEqual(cfg, want) {
						t.Errorf("cell %v: %+v, want %+v", choice, cfg, want)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if n != x.combos() || bad != tc.bad {
					t.Errorf("workers %d: %d cells (%d bad), want %d (%d bad)", workers, n, bad, x.combos(), tc.bad)
				}
			}
		})
	}
}

func TestSize(t *testing.T) {
	files, err := Load([]string{write(t, cellSpecs["computed"].src)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := files[0].Experiments[0]
	if x.Size() != 40 || x.SizeText() != "5 × 4 values × 2 seeds" {
		t.Errorf("size %d (%s), want 40 (5 × 4 values × 2 seeds)", x.Size(), x.SizeText())
	}
	stop := errors.New("stop")
	n := 0
	if err := x.EachCell(1, func([]int, *Config, error) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("fn's error: %v after %d cells", err, n)
	}
}

func TestJSONSpan(t *testing.T) {
	js := []byte(`{"a": {"b\"": [1, {"c": 2}], "c": {"d": "x,}"}, "e": 1.5e-3}, "f": true}`)
	for _, tc := range []struct {
		keys []string
		want string
	}{{[]string{"a", "e"}, "1.5e-3"}, {[]string{"a", "c", "d"}, `"x,}"`}, {[]string{"f"}, "true"}, {[]string{`b"`}, ""}, {[]string{"a", `b"`}, `[1, {"c": 2}]`}} {
		s, e, ok := jsonSpan(js, tc.keys)
		got := ""
		if ok {
			got = string(js[s:e])
		}
		if got != tc.want {
			t.Errorf("%v: %q, want %q", tc.keys, got, tc.want)
		}
	}
}
