package survey

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// subpopLineJSON writes one line of the group-shares layout.
func subpopLineJSON(q, attr, group string, options []string, shares []float64) string {
	var o, s []string
	for _, x := range options {
		o = append(o, fmt.Sprintf("%q", x))
	}
	for _, x := range shares {
		s = append(s, fmt.Sprint(x))
	}
	return fmt.Sprintf(`{"qkey": %q, "attribute": %q, "group": %q, "question": "text", "options": [%s], "ordinal": [], "responses": [%s], "refusal_rate": 0.0}`+"\n",
		q, attr, group, strings.Join(o, ", "), strings.Join(s, ", "))
}

var abcR = []string{"a", "b", "c", "Refused"}

func goodSubpop() string {
	return subpopLineJSON("q1", "PARTY", "Dem", abcR, []float64{0.5, 0.3, 0.2}) +
		subpopLineJSON("q1", "PARTY", "Rep", abcR, []float64{0.2, 0.3, 0.5}) +
		subpopLineJSON("q1", "SEX", "Male", abcR, []float64{0.4, 0.4, 0.2}) +
		// q2's option "x" is chosen by nobody: it is left out.
		subpopLineJSON("q2", "PARTY", "Dem", []string{"y", "n", "x", "Refused"}, []float64{0.6, 0.4, 0}) +
		subpopLineJSON("q2", "PARTY", "Rep", []string{"y", "n", "x", "Refused"}, []float64{0.1, 0.9, 0})
}

func TestReadGroupShares(t *testing.T) {
	gs, err := ReadGroupShares(writeFile(t, "g.jsonl", goodSubpop()))
	if err != nil {
		t.Fatal(err)
	}
	q1, _ := gs.Question("q1")
	if got := strings.Join(q1.Options, ","); got != "a,b,c" {
		t.Errorf("q1 options %q: the refusal (no share) should be left out", got)
	}
	c, err := gs.Counts("q1", "PARTY", []Type{{"R", []string{"Rep"}}, {"D", []string{"Dem"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.N[0][2] != 0.5 || c.N[1][0] != 0.5 || c.Types[0] != "R" {
		t.Errorf("N = %v for types %v", c.N, c.Types)
	}
	q2, _ := gs.Question("q2")
	if got := strings.Join(q2.Labels(), ","); got != "y,n" {
		t.Errorf("q2 labels %q, want the never-chosen x left out", got)
	}
	c2, err := gs.Counts("q2", "PARTY", []Type{{"D", []string{"Dem"}}, {"R", []string{"Rep"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c2.N[0]) != 2 || math.Abs(c2.N[1][1]-0.9) > 0 {
		t.Errorf("q2 N = %v", c2.N)
	}
}

func TestReadGroupSharesErrors(t *testing.T) {
	good := goodSubpop()
	tests := []struct {
		name, content string
		question      string
		types         []Type
		want          string
	}{
		{"not JSON", good + "qkey,attribute\n", "", nil, "g.jsonl:6: not a JSON object"},
		{"broken JSON", good[:40] + "\n", "", nil, "g.jsonl:1: not a JSON object of the group-shares layout"},
		{"shares do not sum to 1", good + subpopLineJSON("q3", "PARTY", "Dem", abcR, []float64{0.5, 0.3, 0.1}), "", nil,
			"g.jsonl:6: question q3, group Dem: shares sum to 0.9, not 1"},
		{"shares within 1e-6 pass, beyond fail", subpopLineJSON("q3", "PARTY", "Dem", abcR, []float64{0.5, 0.3, 0.2 + 5e-7}) +
			subpopLineJSON("q3", "PARTY", "Rep", abcR, []float64{0.5, 0.3, 0.2 + 2e-6}), "", nil, "g.jsonl:2: question q3, group Rep: shares sum to 1.000002"},
		{"options and shares of different lengths", good + subpopLineJSON("q3", "PARTY", "Dem", []string{"a", "b", "c", "d", "Refused"}, []float64{0.5, 0.5}), "", nil,
			"g.jsonl:6: question q3, group Dem: 5 options but 2 shares"},
		{"negative share", subpopLineJSON("q3", "PARTY", "Dem", abcR, []float64{1.2, -0.2, 0}), "", nil, "g.jsonl:1: question q3, group Dem: share 2 (\"b\") is -0.2"},
		{"group named twice", good + subpopLineJSON("q1", "PARTY", "Dem", abcR, []float64{0.5, 0.3, 0.2}), "", nil,
			"g.jsonl:6: question q1: group Dem of PARTY is named twice (first on line 1)"},
		{"options differ", good + subpopLineJSON("q1", "PARTY", "Ind", []string{"a", "c", "b", "Refused"}, []float64{0.5, 0.3, 0.2}), "", nil,
			"g.jsonl:6: question q1: options"},
		{"missing group", good, "q1", []Type{{"D", []string{"Dem"}}, {"I", []string{"Independent"}}},
			`g.jsonl:1: question q1 has no line for group "Independent" of PARTY, which type I needs (groups: Dem, Rep)`},
		{"missing attribute", good, "q2", []Type{{"M", []string{"Male"}}}, "g.jsonl:4: question q2 has no groups of attribute SEX (attributes: PARTY)"},
		{"missing question", good, "q9", []Type{{"D", []string{"Dem"}}}, `g.jsonl: no question "q9"`},
		{"missing field", `{"attribute": "PARTY", "group": "Dem", "options": ["a", "b"], "responses": [0.5, 0.5]}` + "\n", "", nil, "g.jsonl:1: qkey is missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gs, err := ReadGroupShares(writeFile(t, "g.jsonl", tc.content))
			if err == nil && tc.question != "" {
				attr := "PARTY"
				if tc.name == "missing attribute" {
					attr = "SEX"
				}
				_, err = gs.Counts(tc.question, attr, tc.types)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
