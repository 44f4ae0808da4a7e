package runner

import (
	"context"
	"sort"
	"strings"
	"testing"
)

// The loss atlas (specs/beyond/losses.cue) shows what the paper proves:
// DPO's population policy ranks responses as NBC does (Section 4's
// proposition), and so do IPO (its log-ratio is affine in NBC), cdpo and
// robust DPO (DPO on win rates that are an increasing affine map of the
// true ones, whose NBC is an increasing affine map of NBC); the consistent
// loss recovers π* when the types are equally weighted and τ = 1
// (Eq. 20).
func TestLossAtlas(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole atlas")
	}
	o := opts(t, 2)
	files := load(t, "../specs/beyond/losses.cue")
	if _, err := Run(context.Background(), files, o); err != nil {
		t.Fatal(err)
	}
	_, r := readReport(t, o, "losses")
	// Equal weights and τ = 1, where Eq. 20 is consistent for π*.
	equalWeights := map[string]bool{"section43": true, "sensitivity": true, "mediocrity": true, "iia": true}
	for _, x := range []string{"section43", "sensitivity", "temperature", "mediocrity", "iia", "tyranny"} {
		tb := table(t, r, x, "atlas")
		nbc := cell(t, tb, "nbc", "ranking").Text
		for _, m := range []string{"dpo", "ipo", "cdpo", "robust"} {
			if got := cell(t, tb, m, "ranking").Text; !sameRanking(got, nbc) {
				t.Errorf("%s: %s ranks %q, NBC %q", x, m, got, nbc)
			}
		}
		if equalWeights[x] {
			if tv := cell(t, tb, "consistent", "tv").Value.Number; tv > 1e-9 {
				t.Errorf("%s: the consistent loss is %g from π* in TV", x, tv)
			}
		}
	}
	circ := table(t, r, "circular", "atlas")
	if a := cell(t, circ, "dpo", "argmax").Value.Number; a != 0 {
		t.Errorf("circle: DPO peaks at δ = %v, NBC at 0", a)
	}
	if a := cell(t, circ, "consistent", "argmax").Value.Number; a != 10 {
		t.Errorf("circle: the consistent loss peaks at δ = %v, π* at ±10", a)
	}
}

// sameRanking compares rankings "a > b = c" up to the order of tied
// names.
func sameRanking(a, b string) bool {
	norm := func(s string) []string {
		var groups []string
		for _, g := range splitTrim(s, ">") {
			names := splitTrim(g, "=")
			sort.Strings(names)
			groups = append(groups, strings.Join(names, "="))
		}
		return groups
	}
	ga, gb := norm(a), norm(b)
	if len(ga) != len(gb) {
		return false
	}
	for i := range ga {
		if ga[i] != gb[i] {
			return false
		}
	}
	return true
}

func splitTrim(s, sep string) []string {
	parts := strings.Split(s, sep)
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}
