package comparisons

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/optimize"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

var items = map[string][]string{
	"topmodel2007.csv": {"Barbara", "Anni", "Hana", "Fiona", "Mandy", "Anja"},
	"cemschoice.csv":   {"London", "Paris", "Milano", "StGallen", "Barcelona", "Stockholm"},
}

func genderSource(file string) Source {
	return Source{Path: filepath.Join("..", "..", "specs", "beyond", "data", file), Annotator: "subject", A: "a", B: "b",
		Outcome: "outcome", First: []string{"1"}, Second: []string{"-1"}, Tie: []string{"0"}, Items: items[file],
		Types: []Type{{Name: "female", Where: []Condition{{Column: "gender", Values: []string{"female"}}}},
			{Name: "male", Where: []Condition{{Column: "gender", Values: []string{"male"}}}}}}
}

// gonumBT maximises the Bradley–Terry log-likelihood Σ W_ij log σ(θ_i − θ_j)
// directly with gonum's BFGS (θ_0 fixed at 0, then centred): an
// independent computation of FitBT's answer.
func gonumBT(t *testing.T, w [][]float64) []float64 {
	n := len(w)
	full := func(x []float64) []float64 { return append([]float64{0}, x...) }
	p := optimize.Problem{
		Func: func(x []float64) float64 {
			th := full(x)
			var f float64
			for i := range n {
				for j := range n {
					if i != j && w[i][j] > 0 {
						f += w[i][j] * math.Log1p(math.Exp(-(th[i] - th[j])))
					}
				}
			}
			return f
		},
		Grad: func(g, x []float64) {
			th := full(x)
			gf := make([]float64, n)
			for i := range n {
				for j := range n {
					if i != j && w[i][j] > 0 {
						s := 1 / (1 + math.Exp(th[i]-th[j])) // σ(−(θ_i − θ_j))
						gf[i] -= w[i][j] * s
						gf[j] += w[i][j] * s
					}
				}
			}
			copy(g, gf[1:])
		},
	}
	res, err := optimize.Minimize(p, make([]float64, n-1), &optimize.Settings{GradientThreshold: 1e-9}, &optimize.BFGS{})
	// Near the optimum a line search can fail on rounding in f; accept
	// the point when its gradient is small (θ's error is then about
	// |∇f| over the Hessian's smallest eigenvalue, here ≫ 1).
	if res == nil || (err != nil && floats.Norm(res.Gradient, math.Inf(1)) > 1e-7) {
		t.Fatalf("gonum BFGS: %v", err)
	}
	return center(full(res.X))
}

// On both surveys, split by gender, the MM fit of each type's
// Bradley–Terry rewards equals a direct maximisation of the likelihood.
func TestFitBTMatchesGonum(t *testing.T) {
	for file := range items {
		c, err := Read(genderSource(file))
		if err != nil {
			t.Fatal(err)
		}
		for u, name := range c.Types {
			w := c.Wins(u)
			mm, err := FitBT(w)
			if err != nil {
				t.Fatal(err)
			}
			ref := gonumBT(t, w)
			for i := range mm {
				if math.Abs(mm[i]-ref[i]) > 1e-6 {
					t.Errorf("%s, %s, %s: MM %v, gonum %v", file, name, c.Items[i], mm[i], ref[i])
				}
			}
		}
	}
}

// Closed forms: two items with wins 3 and 1 have θ_1 − θ_2 = log 3; items
// that never beat the rest have no maximum.
func TestFitBTClosedForm(t *testing.T) {
	th, err := FitBT([][]float64{{0, 3}, {1, 0}})
	if err != nil {
		t.Fatal(err)
	}
	if d := th[0] - th[1]; math.Abs(d-math.Log(3)) > 1e-12 {
		t.Errorf("θ1 − θ2 = %v, want log 3", d)
	}
	// Three items: 2 beats everyone and is never beaten.
	_, err = FitBT([][]float64{{0, 1, 0}, {1, 0, 0}, {2, 2, 0}})
	if err == nil || !strings.Contains(err.Error(), "never beat") {
		t.Errorf("unbeaten item: %v", err)
	}
}

// The surveys read as documented: 192 and 303 respondents, two genders
// whose shares sum to 1; the counts of rows match the files (CEMSChoice
// has ties, which stay as half wins).
func TestReadSurveys(t *testing.T) {
	for _, tc := range []struct {
		file       string
		annotators int
		rows       int
		ties       bool
	}{{"topmodel2007.csv", 192, 2880, false}, {"cemschoice.csv", 303, 4454, true}} {
		c, err := Read(genderSource(tc.file))
		if err != nil {
			t.Fatal(err)
		}
		var ties int
		for _, r := range c.Rows {
			if r.Win == 0.5 {
				ties++
			}
		}
		if len(c.Annotators) != tc.annotators || len(c.Rows) != tc.rows || (ties > 0) != tc.ties {
			t.Errorf("%s: %d annotators, %d rows, %d ties", tc.file, len(c.Annotators), len(c.Rows), ties)
		}
		w := c.Shares()
		if math.Abs(w[0]+w[1]-1) > 1e-12 {
			t.Errorf("%s: shares %v", tc.file, w)
		}
	}
}

// Bad files and bad types are errors that say what and where.
func TestReadErrors(t *testing.T) {
	head := "subject,gender,age,a,b,outcome\n"
	ok := "1,f,30,X,Y,1\n1,f,30,Y,Z,-1\n1,f,30,X,Z,1\n"
	lo, hi := 40.0, 41.0
	for _, tc := range []struct {
		name, body string
		types      []Type
		want       string
	}{
		{"ragged row", head + "1,f,30,X,Y\n", nil, "f.csv:2:1: row has 5 fields"},
		{"unknown outcome", head + "1,f,30,X,Y,2\n", nil, `f.csv:2:12: outcome "2" is not a known code`},
		{"missing column", "subject,gender,a,b\n1,f,X,Y\n", nil, `f.csv:1:1: no outcome column "outcome"`},
		{"item not listed", head + "1,f,30,X,W,1\n", nil, `f.csv:2:10: item "W" is not in env.items`},
		{"self comparison", head + "1,f,30,X,X,1\n", nil, `f.csv:2:10: item "X" is compared with itself`},
		{"never compared", head + "1,f,30,X,Y,1\n", nil, `item "Z" is never compared`},
		{"covariate changes", head + "1,f,30,X,Y,1\n1,m,30,Y,Z,1\n", nil, `f.csv:3:3: annotator 1 has gender = "m" here but "f" on line 2`},
		{"no type", head + ok + "2,m,50,X,Y,1\n", []Type{{Name: "women", Where: []Condition{{Column: "gender", Values: []string{"f"}}}}},
			"1 annotator(s) match no type (2)"},
		{"two types", head + ok, []Type{{Name: "women", Where: []Condition{{Column: "gender", Values: []string{"f"}}}},
			{Name: "young", Where: []Condition{{Column: "age", Max: &hi}}}}, "f.csv:2:1: annotator 1 matches both type women and type young"},
		{"not a number", head + "1,f,old,X,Y,1\n1,f,old,Y,Z,1\n1,f,old,X,Z,1\n", []Type{{Name: "old", Where: []Condition{{Column: "age", Min: &lo}}}},
			`age = "old" is not a number`},
		{"unknown covariate", head + ok, []Type{{Name: "t", Where: []Condition{{Column: "income", Values: []string{"1"}}}}},
			`f.csv:1:1: no covariate column "income"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f.csv")
			if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			types := tc.types
			if types == nil {
				types = []Type{{Name: "all", Where: []Condition{{Column: "gender", Values: []string{"f", "m"}}}}}
			}
			_, err := Read(Source{Path: p, Annotator: "subject", A: "a", B: "b", Outcome: "outcome", First: []string{"1"},
				Second: []string{"-1"}, Tie: []string{"0"}, Items: []string{"X", "Y", "Z"}, Types: types})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// Datasets from the rows: every row once (pairs: 0), Won summing to 1
// and equal to the typed split's sum; a bootstrap of annotators that
// depends on the seed alone; no regime the rows cannot give.
func TestObservedData(t *testing.T) {
	c, err := Read(genderSource("cemschoice.csv"))
	if err != nil {
		t.Fatal(err)
	}
	o := &analytic.Observed{Annotators: len(c.Annotators), Rows: c.Rows}
	n := len(c.Items)
	all, err := o.Data(analytic.Typed, 0, 0, n, 2)
	if err != nil {
		t.Fatal(err)
	}
	ds := all.Prompts[0]
	var sum float64
	for a := range n {
		for b := range n {
			sum += ds.Won[a][b]
			if s := ds.ByType[0][a][b] + ds.ByType[1][a][b]; math.Abs(s-ds.Won[a][b]) > 1e-15 {
				t.Errorf("Won[%d][%d] = %v, the types' sum %v", a, b, ds.Won[a][b], s)
			}
		}
	}
	if math.Abs(sum-1) > 1e-12 || all.Tuples != len(c.Rows) {
		t.Errorf("Σ Won = %v over %d tuples", sum, all.Tuples)
	}
	// London beat Paris: count it from the rows.
	var lp float64
	for _, r := range c.Rows {
		switch {
		case r.A == 0 && r.B == 1:
			lp += r.Win
		case r.A == 1 && r.B == 0:
			lp += 1 - r.Win
		}
	}
	if got := ds.Won[0][1] * float64(len(c.Rows)); math.Abs(got-lp) > 1e-9 {
		t.Errorf("London over Paris: %v, counted %v", got, lp)
	}
	b1, _ := o.Data(analytic.Anonymous, len(c.Rows), 1, n, 2)
	b1again, _ := o.Data(analytic.Anonymous, len(c.Rows), 1, n, 2)
	b2, _ := o.Data(analytic.Anonymous, len(c.Rows), 2, n, 2)
	if b1.Tuples < len(c.Rows) || b1.Prompts[0].Won[0][1] != b1again.Prompts[0].Won[0][1] || b1.Prompts[0].Won[0][1] == b2.Prompts[0].Won[0][1] {
		t.Errorf("bootstrap: %d tuples; seed 1 twice %v %v, seed 2 %v", b1.Tuples, b1.Prompts[0].Won[0][1], b1again.Prompts[0].Won[0][1], b2.Prompts[0].Won[0][1])
	}
	if _, err := o.Data(analytic.Full, 0, 0, n, 2); err == nil {
		t.Error("full regime from observed rows: no error")
	}
}

// center subtracts the mean.
func center(v []float64) []float64 {
	var m float64
	for _, x := range v {
		m += x / float64(len(v))
	}
	for i := range v {
		v[i] -= m
	}
	return v
}

// gonumDavidson maximises Davidson's log-likelihood written directly from
// the model's probabilities (bradleyterry.DavidsonLogLik is not used), in
// (θ_1 … θ_{n−1}, log ν) with θ_0 = 0, by gonum's BFGS with a numerical
// gradient of central differences: a computation independent of the
// Newton iteration of FitDavidson.
func gonumDavidson(t *testing.T, w, ties [][]float64) ([]float64, float64) {
	n := len(w)
	ll := func(x []float64) float64 {
		th := append([]float64{0}, x[:n-1]...)
		nu := math.Exp(x[n-1])
		var f float64
		for i := range n {
			for j := range n {
				if i == j {
					continue
				}
				pi, pj := math.Exp(th[i]), math.Exp(th[j])
				den := pi + pj + nu*math.Sqrt(pi*pj)
				f += w[i][j] * math.Log(pi/den)
				if i < j {
					f += ties[i][j] * math.Log(nu*math.Sqrt(pi*pj)/den)
				}
			}
		}
		return -f
	}
	p := optimize.Problem{
		Func: ll,
		Grad: func(g, x []float64) {
			const h = 1e-6
			y := append([]float64(nil), x...)
			for k := range x {
				y[k] = x[k] + h
				fp := ll(y)
				y[k] = x[k] - h
				fm := ll(y)
				y[k] = x[k]
				g[k] = (fp - fm) / (2 * h)
			}
		},
	}
	res, err := optimize.Minimize(p, make([]float64, n), &optimize.Settings{GradientThreshold: 1e-8}, &optimize.BFGS{})
	if res == nil || (err != nil && floats.Norm(res.Gradient, math.Inf(1)) > 1e-6) {
		t.Fatalf("gonum BFGS: %v", err)
	}
	return center(append([]float64{0}, res.X[:n-1]...)), math.Exp(res.X[n-1])
}

// On CEMSChoice (which has ties), split by gender, Davidson's fit of each
// type equals a direct maximisation of the raw likelihood to 1e-6; its
// strict-preference rewards are more spread than the half-each-way fit's,
// since a tie counted half each way pulls every pair's win share towards ½.
func TestFitDavidsonMatchesGonum(t *testing.T) {
	c, err := Read(genderSource("cemschoice.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for u, name := range c.Types {
		w, ties := c.Counts(u)
		th, nu, err := FitDavidson(w, ties)
		if err != nil {
			t.Fatal(err)
		}
		ref, refNu := gonumDavidson(t, w, ties)
		for i := range th {
			if math.Abs(th[i]-ref[i]) > 1e-6 {
				t.Errorf("%s, %s: Newton %v, gonum %v", name, c.Items[i], th[i], ref[i])
			}
		}
		if math.Abs(math.Log(nu/refNu)) > 1e-6 {
			t.Errorf("%s: ν Newton %v, gonum %v", name, nu, refNu)
		}
		half, err := FitBT(c.Wins(u))
		if err != nil {
			t.Fatal(err)
		}
		spread := func(v []float64) float64 { return floats.Max(v) - floats.Min(v) }
		if spread(th) <= spread(half) {
			t.Errorf("%s: Davidson spread %v ≤ half-each-way spread %v", name, spread(th), spread(half))
		}
		t.Logf("%s: ν = %.4f; Davidson %.4f; half %.4f", name, nu, th, half)
	}
}

// Without ties, or with items that never beat nor tie the rest (items 0
// and 1 never beat nor tie item 2), there is
// no Davidson fit, and the error says so.
func TestFitDavidsonErrors(t *testing.T) {
	c, err := Read(genderSource("topmodel2007.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := FitDavidson(c.Counts(0)); err == nil || !strings.Contains(err.Error(), "without ties") {
		t.Errorf("Topmodel (no ties): %v", err)
	}
	w := [][]float64{{0, 1, 0}, {1, 0, 0}, {2, 2, 0}}
	ties := [][]float64{{0, 1, 0}, {0, 0, 0}, {0, 0, 0}}
	if _, _, err := FitDavidson(w, ties); err == nil || !strings.Contains(err.Error(), "items [0 1] never beat nor tie") {
		t.Errorf("unbeaten item: %v", err)
	}
}

// A comparisons file with a UTF-8 byte order mark reads as without one.
func TestReadBOM(t *testing.T) {
	body := "subject,gender,a,b,outcome\n1,f,X,Y,1\n1,f,Y,Z,-1\n1,f,X,Z,1\n"
	read := func(content string) (*Comparisons, error) {
		p := filepath.Join(t.TempDir(), "f.csv")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return Read(Source{Path: p, Annotator: "subject", A: "a", B: "b", Outcome: "outcome", First: []string{"1"},
			Second: []string{"-1"}, Tie: []string{"0"}, Items: []string{"X", "Y", "Z"},
			Types: []Type{{Name: "all", Where: []Condition{{Column: "gender", Values: []string{"f"}}}}}})
	}
	plain, err := read(body)
	if err != nil {
		t.Fatal(err)
	}
	bom, err := read("\ufeff" + body)
	if err != nil {
		t.Fatalf("with a BOM: %v", err)
	}
	if len(bom.Rows) != len(plain.Rows) || len(bom.Annotators) != 1 || bom.Annotators[0] != "1" {
		t.Errorf("with a BOM: %d rows, annotators %q; without: %d rows", len(bom.Rows), bom.Annotators, len(plain.Rows))
	}
}

// Annotators no type claims (a blank covariate) are an error by default
// and left out with DropUnmatched: the others are renumbered in order,
// their rows kept, the weights their shares.
func TestDropUnmatched(t *testing.T) {
	body := "subject,gender,a,b,outcome\n" +
		"1,f,X,Y,1\n1,f,Y,Z,-1\n1,f,X,Z,1\n" +
		"2,,X,Y,-1\n2,,Y,Z,1\n" +
		"3,m,X,Y,-1\n3,m,Y,Z,1\n3,m,X,Z,-1\n" +
		"4,f,X,Y,1\n4,f,Y,Z,1\n"
	p := filepath.Join(t.TempDir(), "f.csv")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	src := Source{Path: p, Annotator: "subject", A: "a", B: "b", Outcome: "outcome", First: []string{"1"},
		Second: []string{"-1"}, Tie: []string{"0"}, Items: []string{"X", "Y", "Z"},
		Types: []Type{{Name: "f", Where: []Condition{{Column: "gender", Values: []string{"f"}}}},
			{Name: "m", Where: []Condition{{Column: "gender", Values: []string{"m"}}}}}}
	if _, err := Read(src); err == nil || !strings.Contains(err.Error(), "1 annotator(s) match no type (2)") {
		t.Fatalf("without DropUnmatched: %v", err)
	}
	src.DropUnmatched = true
	c, err := Read(src)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Annotators, ",") != "1,3,4" || strings.Join(c.Dropped, ",") != "2" || len(c.Rows) != 8 {
		t.Fatalf("annotators %v, dropped %v, %d rows", c.Annotators, c.Dropped, len(c.Rows))
	}
	wantAnn := []int32{0, 0, 0, 1, 1, 1, 2, 2}
	wantType := []int32{0, 0, 0, 1, 1, 1, 0, 0}
	for i, r := range c.Rows {
		if r.Annotator != wantAnn[i] || r.Type != wantType[i] {
			t.Errorf("row %d: annotator %d type %d, want %d %d", i, r.Annotator, r.Type, wantAnn[i], wantType[i])
		}
	}
	if s := c.Shares(); math.Abs(s[0]-2.0/3) > 1e-15 || math.Abs(s[1]-1.0/3) > 1e-15 {
		t.Errorf("shares %v, want 2/3, 1/3", s)
	}
}

// Consensus data on observed comparisons (for the consistent loss) are the
// fitted types' exact consensus statistics, Pr(y ≻ y' | all agree) =
// σ(Σ_u Δr_u) under BT, not the rows: recomputed here from the rewards.
func TestConsensusFromFittedTypes(t *testing.T) {
	c, err := Read(genderSource("cemschoice.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var rewards [][]float64
	for u := range c.Types {
		th, err := FitBT(c.Wins(u))
		if err != nil {
			t.Fatal(err)
		}
		rewards = append(rewards, th)
	}
	n := len(c.Items)
	uni := make([]float64, n)
	for i := range uni {
		uni[i] = 1 / float64(n)
	}
	e := &analytic.Env{Alternatives: c.Items, Population: envs.Population{Names: c.Types, Weights: c.Shares()},
		Rewards: rewards, Sampling: uni, Reference: uni, Beta: 1, Preference: envs.Preference{Temperature: 1}}
	tr, err := e.ComputeTruth()
	if err != nil {
		t.Fatal(err)
	}
	w := analytic.Single(tr)
	w.Observed = &analytic.Observed{Annotators: len(c.Annotators), Rows: c.Rows}
	codec, err := envs.World("")
	if err != nil {
		t.Fatal(err)
	}
	got, err := codec.Sample(w, envs.DataSpec{Regime: analytic.Consensus}, 0)
	if err != nil {
		t.Fatal(err)
	}
	won := got.(*analytic.Data).Prompts[0].Won
	// Won[a][b] ∝ D(a)D(b)·σ(Σ_u (r_u(a) − r_u(b))): compare the ratio
	// Won[a][b]/Won[b][a] = exp(Σ_u Δr_u).
	for a := range n {
		for b := range n {
			if a == b {
				continue
			}
			var d float64
			for u := range rewards {
				d += rewards[u][a] - rewards[u][b]
			}
			if r := won[a][b] / won[b][a]; math.Abs(math.Log(r)-d) > 1e-9 {
				t.Errorf("Won[%d][%d]/Won[%d][%d] = %v, want exp(%v)", a, b, b, a, r, d)
			}
		}
	}
	if _, err := codec.Sample(w, envs.DataSpec{Regime: analytic.Full}, 0); err == nil {
		t.Error("full data from observed rows: no error")
	}
}
