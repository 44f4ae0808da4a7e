package methods

import "testing"

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
