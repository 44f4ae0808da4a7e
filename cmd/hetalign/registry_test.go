package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// The README's tables of kinds are the registry's: every registered kind,
// with its regimes, environments and doc, and nothing else.
func TestREADMEKindTables(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, command := range []string{"methods", "envs"} {
		begin, end := "<!-- "+command+":begin -->\n", "<!-- "+command+":end -->"
		s := string(readme)
		i, j := strings.Index(s, begin), strings.Index(s, end)
		if i < 0 || j < i {
			t.Fatalf("README has no %s table between %q and %q", command, begin, end)
		}
		infos, err := registryInfo(command)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		writeMarkdown(&want, command, infos)
		if got := s[i+len(begin) : j]; got != want.String() {
			t.Errorf("README's %s table differs from the registry; regenerate it with `hetalign %s -markdown`:\n%s", command, command, want.String())
		}
	}
}

func TestRegistryCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"methods"}, []string{"dpo", "data: anonymous | full | paired | typed", "tau: >0   (default 1)", "epsilon: >=0 & <0.5   (default 0.1)"}},
		{[]string{"envs"}, []string{"circular", "n: int & >=2", "corpus:"}},
		{[]string{"metrics"}, []string{"agreement", "needs policy"}},
		{[]string{"methods", "-json"}, []string{`"kind": "hinge"`, `"regimes": [`}},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != exitOK {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errb.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: output lacks %q", tc.args, w)
			}
		}
	}
}
