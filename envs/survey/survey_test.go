package survey

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func source(path string) Source {
	return Source{
		Path: path, Group: "party", Question: "q",
		Types:   []Type{{"D", []string{"0"}}, {"R", []string{"1"}}},
		Options: []Option{{"1", "a"}, {"2", "b"}, {"3", "c"}},
		Drop:    []string{"9"},
	}
}

func TestReadCounts(t *testing.T) {
	// Quoted headers, a dropped code, a missing answer, a group no type
	// claims, and codes written as 1.0.
	p := writeFile(t, "s.tsv", "'party'\t'q'\t'w'\n0\t1\t2\n0\t2\t1\n1\t3.0\t1\n1\t9\t1\n1\tNA\t1\n5\t1\t1\n1\t2\t3\n")
	src := source(p)
	src.Weight = "w"
	c, err := Read(src)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{{2, 1, 0}, {0, 3, 1}}
	for u := range want {
		for k := range want[u] {
			if c.N[u][k] != want[u][k] {
				t.Fatalf("N = %v, want %v", c.N, want)
			}
		}
	}
	if c.Respondents[0] != 2 || c.Respondents[1] != 2 {
		t.Errorf("respondents %v", c.Respondents)
	}
	// Shares are weighted: D has weight 3 of 7.
	if math.Abs(c.Shares[0]-3.0/7) > 1e-15 {
		t.Errorf("shares %v", c.Shares)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, file, content string
		mutate              func(*Source)
		want                string
	}{
		{"missing column", "s.csv", "party,x\n0,1\n", nil, `s.csv:1:1: no question column "q"`},
		{"answer not an option", "s.csv", "party,q\n0,1\n1,2\n0,x\n", nil, `s.csv:4:3: answer "x" to q is not an option code`},
		{"non-numeric weight", "s.csv", "party,q,w\n0,1,1\n1,2,heavy\n", func(s *Source) { s.Weight = "w" }, `s.csv:3:5: weight "heavy"`},
		{"short row", "s.csv", "party,q\n0\n", nil, `s.csv:2:1: row has 1 fields`},
		{"ragged row past the used columns", "s.csv", "party,q,extra\n0,1,a\n1,2\n", nil, `s.csv:3:1: row has 2 fields, the header 3`},
		{"row longer than the header", "s.csv", "party,q\n0,1\n1,2,3\n", nil, `s.csv:3:1: row has 3 fields, the header 2`},
		{"group without respondents", "s.csv", "party,q\n0,1\n0,2\n", nil, `type R (codes 1) has no respondents`},
		{"bad quoting", "s.csv", "party,q\n0,\"1\n", nil, `s.csv:2:`},
		{"tsv named csv", "s.csv", "party\tq\n0\t1\n", nil, `name the file .tsv`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := source(writeFile(t, tc.file, tc.content))
			if tc.mutate != nil {
				tc.mutate(&src)
			}
			_, err := Read(src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// Luce–Shepard (Eq. 27): the rewards' softmax gives back the (smoothed)
// shares, and they are centred.
func TestRewards(t *testing.T) {
	c := &Counts{Types: []string{"D"}, Options: []string{"a", "b", "c"}, N: [][]float64{{6, 3, 1}}}
	r, err := c.Rewards(Smoothing{PseudoCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{7. / 13, 4. / 13, 2. / 13}
	var z, mean float64
	for _, x := range r[0] {
		z += math.Exp(x)
		mean += x
	}
	for k, x := range r[0] {
		if d := math.Exp(x)/z - want[k]; math.Abs(d) > 1e-15 {
			t.Errorf("softmax(r)[%d] − p = %g", k, d)
		}
	}
	if math.Abs(mean) > 1e-15 {
		t.Errorf("rewards not centred: mean %g", mean)
	}
	if _, err := c.Rewards(Smoothing{}); err == nil {
		t.Error("zero pseudo-count accepted")
	}
}

// A group that never picks an option: smoothing keeps its reward finite
// and moderate; the published treatment puts it near log(1e-15) ≈ −34.5
// below the others' mean.
func TestNeverChosenOption(t *testing.T) {
	c := &Counts{Types: []string{"D"}, Options: []string{"a", "b", "c"}, N: [][]float64{{5, 5, 0}}}
	smooth, _ := c.Rewards(Smoothing{PseudoCount: 0.5})
	pub, _ := c.Rewards(Smoothing{Published: true})
	if smooth[0][2] < -5 {
		t.Errorf("smoothed reward of a never-chosen option %v", smooth[0][2])
	}
	// Published: r = log(p + 1e-15) − mean, p = (½, ½, 0).
	l := math.Log(0.5 + 1e-15)
	mean := (2*l + math.Log(1e-15)) / 3
	if d := pub[0][2] - (math.Log(1e-15) - mean); math.Abs(d) > 1e-12 {
		t.Errorf("published reward %v, want %v", pub[0][2], math.Log(1e-15)-mean)
	}
	if pub[0][2] > -20 {
		t.Errorf("published reward %v should be far below the others", pub[0][2])
	}
}

func TestCode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{{"1", "1"}, {" 1.0 ", "1"}, {"01", "1"}, {"DK", "DK"}} {
		if got := Code(tc.in); got != tc.want {
			t.Errorf("Code(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestReadShares(t *testing.T) {
	p := writeFile(t, "s.csv", "party,question,option,share\n0,q,1,0.5\n0,q,2,0.5\n1,q,3,0.7\n1,q,2,0.3\n0,other,1,1\n1,q,9,0.2\n")
	c, err := ReadShares(source(p), SharesColumns{Question: "question", Option: "option", Value: "share"})
	if err != nil {
		t.Fatal(err)
	}
	if c.N[0][0] != 0.5 || c.N[1][2] != 0.7 || c.N[1][1] != 0.3 || c.N[0][2] != 0 {
		t.Errorf("N = %v", c.N)
	}
	bad := writeFile(t, "b.csv", "party,question,option,share\n0,q,1,x\n")
	if _, err := ReadShares(source(bad), SharesColumns{"question", "option", "share"}); err == nil || !strings.Contains(err.Error(), "b.csv:2:") {
		t.Errorf("bad value: %v", err)
	}
	if _, err := ReadShares(source(p), SharesColumns{"question", "option", "count"}); err == nil || !strings.Contains(err.Error(), `column "count"`) {
		t.Errorf("missing column: %v", err)
	}
}

// A survey exported as "CSV UTF-8" starts with a byte order mark; it
// counts as the same file without one (the group column is found, and a
// quoted header still parses).
func TestReadBOM(t *testing.T) {
	body := "\"party\",\"q\"\n0,1\n0,2\n1,3\n"
	plain, err := Read(source(writeFile(t, "s.csv", body)))
	if err != nil {
		t.Fatal(err)
	}
	bom, err := Read(source(writeFile(t, "s.csv", "\ufeff"+body)))
	if err != nil {
		t.Fatalf("with a BOM: %v", err)
	}
	for u := range plain.N {
		for k := range plain.N[u] {
			if plain.N[u][k] != bom.N[u][k] {
				t.Fatalf("with a BOM N = %v, without %v", bom.N, plain.N)
			}
		}
	}
}
