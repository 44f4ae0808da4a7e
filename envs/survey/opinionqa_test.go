package survey

import (
	"strings"
	"testing"
)

func TestParseOptionMapping(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{`{1.0: 'Yes', 2.0: 'No', 99.0: 'Refused'}`, []string{"Yes", "No"}, ""},
		// Commas and quotes inside labels; codes out of order.
		{`{2.0: "You can't be too careful", 1.0: 'Hard work, luck equally important', 3.0: 'Don\'t "know"'}`,
			[]string{"Hard work, luck equally important", "You can't be too careful", `Don't "know"`}, ""},
		{`{1.0: 'a', 2.0: 'b',}`, []string{"a", "b"}, ""},
		{`[1.0, 2.0]`, nil, "expected '{'"},
		{`{1.0 'a'}`, nil, "expected ':' at column 6"},
		{`{1.0: 'a}`, nil, "unterminated label"},
		{`{1.0: 'a', 2.0: 'a'}`, nil, `label "a" is used twice`},
	} {
		got, err := parseOptionMapping(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestOpinionQAErrors(t *testing.T) {
	info := ",key,option_mapping\n0,Q1,\"{1.0: 'Yes', 2.0: 'No', 99.0: 'Refused'}\"\n1,Q2,\"{1.0: 'Yes' 2.0: 'No'}\"\n"
	good := `{"Q1": {"MC_options": ["Yes", "No", "Refused"], "question_text": "?", "Dem": {"Yes": 5, "No": 2, "Refused": 1}, "Rep": {"Yes": 1, "Maybe": 3}}}`
	if _, err := ReadOpinionQA(writeFile(t, "d.json", good), writeFile(t, "info.csv", info)); err == nil || !strings.Contains(err.Error(), "info.csv:3: option_mapping of Q2: expected ',' or '}'") {
		t.Errorf("bad mapping: %v", err)
	}
	info = info[:strings.Index(info, "1,Q2")]
	o, err := ReadOpinionQA(writeFile(t, "d.json", good), writeFile(t, "info.csv", info))
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.Counts("Q1", []Type{{"D", []string{"Dem"}}})
	if err != nil || c.N[0][0] != 5 || c.N[0][1] != 2 {
		t.Errorf("counts %+v, %v (Refused left out)", c, err)
	}
	if _, err := o.Counts("Q1", []Type{{"R", []string{"Rep"}}}); err == nil || !strings.Contains(err.Error(), `answer "Maybe" is not an option of`) {
		t.Errorf("unknown label: %v", err)
	}
	if _, err := o.Counts("Q1", []Type{{"I", []string{"Ind"}}}); err == nil || !strings.Contains(err.Error(), `has no group "Ind", which type I needs (groups: Dem, Rep)`) {
		t.Errorf("missing group: %v", err)
	}
	if _, err := ReadOpinionQA(writeFile(t, "d.json", "{\n\"Q1\": [}"), writeFile(t, "info.csv", info)); err == nil || !strings.Contains(err.Error(), "d.json:2:") {
		t.Errorf("bad JSON: %v", err)
	}
}
