package analytic

import (
	"math"
	"testing"
)

func sum(m [][]float64) float64 {
	var s float64
	for _, r := range m {
		for _, x := range r {
			s += x
		}
	}
	return s
}

func TestPopulationDatasetSumsToOne(t *testing.T) {
	e := newEnv(t, [][]float64{{0, 1, 4}, {4, 1, 0}, {0, 1, 0}}, []float64{1, 1, 1}, []float64{0.2, 0.3, 0.5}, 1)
	for _, regime := range []string{Anonymous, Full} {
		ds, err := e.PopulationDataset(regime)
		if err != nil {
			t.Fatal(err)
		}
		if s := sum(ds.Won); math.Abs(s-1) > 1e-14 {
			t.Errorf("%s: Σ Won = %v, want 1", regime, s)
		}
	}
	ds, _ := e.PopulationDataset(Full)
	// A tuple (y1, y2) = (a, b) is drawn with probability D(a)D(b) and is
	// unanimous with probability Π_u σ_u(a≻b) + Π_u σ_u(b≻a).
	tp := e.TypePrefs()
	var want float64
	for a := range 3 {
		for b := range 3 {
			pab, pba := 1.0, 1.0
			for u := range tp {
				pab *= tp[u][a][b]
				pba *= tp[u][b][a]
			}
			want += e.Sampling[a] * e.Sampling[b] * (pab + pba)
		}
	}
	if got := sum(ds.Unanimous); math.Abs(got-want) > 1e-14 {
		t.Errorf("Σ Unanimous = %v, want %v", got, want)
	}
	if _, err := e.PopulationDataset("bogus"); err == nil {
		t.Error("unknown regime accepted")
	}
}

// A sampled dataset's statistics converge to the population ones: every
// cell is within 5 standard errors of its expectation.
func TestSampleMatchesPopulation(t *testing.T) {
	e := newEnv(t, [][]float64{{6, 1, 4}, {3, 9, 4}}, []float64{2, 1}, []float64{0.5, 0.3, 0.2}, 1)
	const n = 400_000
	for _, regime := range []string{Anonymous, Full} {
		pop, _ := e.PopulationDataset(regime)
		s, err := e.Sample(regime, n, 7)
		if err != nil {
			t.Fatal(err)
		}
		check := func(name string, got, want [][]float64) {
			for a := range want {
				for b := range want[a] {
					se := math.Sqrt(want[a][b]*(1-want[a][b])/n) + 1e-9
					if d := math.Abs(got[a][b] - want[a][b]); d > 5*se {
						t.Errorf("%s %s[%d][%d] = %v, want %v ± %v", regime, name, a, b, got[a][b], want[a][b], se)
					}
				}
			}
		}
		check("Won", s.Won, pop.Won)
		if regime == Full {
			check("Unanimous", s.Unanimous, pop.Unanimous)
		}
	}
}

func TestSampleDeterministic(t *testing.T) {
	e := newEnv(t, [][]float64{{6, 1, 4}, {3, 9, 4}}, []float64{1, 1}, nil, 1)
	a, _ := e.Sample(Anonymous, 1000, 42)
	b, _ := e.Sample(Anonymous, 1000, 42)
	c, _ := e.Sample(Anonymous, 1000, 43)
	same := func(x, y *Dataset) bool {
		for i := range x.Won {
			for j := range x.Won[i] {
				if x.Won[i][j] != y.Won[i][j] {
					return false
				}
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("same seed gave different datasets")
	}
	if same(a, c) {
		t.Error("different seeds gave the same dataset")
	}
	if _, err := e.Sample(Anonymous, 0, 1); err == nil {
		t.Error("zero tuples accepted")
	}
}

// Typed data from observed comparisons record each type's share of the
// annotators (each drawn annotator once), not of the rows: annotator 0
// (type 0) labels three pairs, annotator 1 (type 1) one.
func TestObservedTypeShares(t *testing.T) {
	o := &Observed{Annotators: 2, Rows: []ObservedRow{
		{Annotator: 0, Type: 0, A: 0, B: 1, Win: 1},
		{Annotator: 0, Type: 0, A: 1, B: 2, Win: 1},
		{Annotator: 0, Type: 0, A: 0, B: 2, Win: 0.5},
		{Annotator: 1, Type: 1, A: 2, B: 0, Win: 1},
	}}
	d, err := o.Data(Typed, 0, 1, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	ds := d.Prompts[0]
	if len(ds.TypeShares) != 2 || ds.TypeShares[0] != 0.5 || ds.TypeShares[1] != 0.5 {
		t.Errorf("type shares %v, want [0.5 0.5] (rows: 3 and 1)", ds.TypeShares)
	}
}
