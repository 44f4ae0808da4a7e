package methods

import (
	"strings"
	"testing"
)

func TestKinds(t *testing.T) {
	tests := []struct {
		kind      string
		needsData bool
		accepts   []string
		rejects   []string
	}{
		{"dpo", true, []string{"anonymous", "full", "paired", "typed"}, []string{"consensus"}},
		{"ipo", true, []string{"anonymous"}, nil},
		{"consistent", true, []string{"full"}, []string{"anonymous"}},
		{"oracle", false, nil, []string{"anonymous"}},
	}
	for _, tc := range tests {
		k, ok := Lookup(tc.kind)
		if !ok {
			t.Fatalf("kind %s missing", tc.kind)
		}
		if k.NeedsData() != tc.needsData {
			t.Errorf("%s: NeedsData = %v", tc.kind, k.NeedsData())
		}
		for _, r := range tc.accepts {
			if !k.Accepts(r) {
				t.Errorf("%s should accept %s", tc.kind, r)
			}
		}
		for _, r := range tc.rejects {
			if k.Accepts(r) {
				t.Errorf("%s should reject %s", tc.kind, r)
			}
		}
		if k.Doc == "" {
			t.Errorf("%s has no doc", tc.kind)
		}
	}
	if _, ok := Lookup("sft"); ok {
		t.Error("unknown kind found")
	}
}

// Every registered kind is complete: a doc, a schema fragment that adds
// fields under its own name only, parameters that decode, take defaults
// and encode, and a fit for at least one world.
func TestRegistryComplete(t *testing.T) {
	kinds := Kinds()
	if len(kinds) < 20 {
		t.Fatalf("%d kinds registered", len(kinds))
	}
	for _, k := range kinds {
		if k.Doc == "" || k.CUEFile == "" || !strings.HasPrefix(k.CUEFile, "hetalign/methods/") {
			t.Errorf("%s: doc %q, CUE file %q", k.Name, k.Doc, k.CUEFile)
		}
		if !strings.Contains(k.CUE, `if kind == "`+k.Name+`"`) || strings.Count(k.CUE, "if kind ==") != 1 {
			t.Errorf("%s: its fragment must add fields under `if kind == %q` only", k.Name, k.Name)
		}
		p, err := Decode(k.Name, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		p.Defaults(Context{EnvBeta: 1, Types: 2})
		raw, err := StepParams(k.Name, p, 0)
		if err != nil || !strings.Contains(string(raw), `"kind":"`+k.Name+`"`) {
			t.Errorf("%s: step params %s, %v", k.Name, raw, err)
		}
		if len(k.Worlds()) == 0 {
			t.Errorf("%s fits on no world", k.Name)
		}
	}
}
