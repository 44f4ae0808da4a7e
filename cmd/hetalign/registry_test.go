package main

import (
	"bytes"
	"strings"
	"testing"
)

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
