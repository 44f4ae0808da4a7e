package analytic

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// Regimes a dataset can be collected under (shared vocabulary with every
// environment; see the schema's #Data).
const (
	// Anonymous: one type, drawn with probability w_u, labels each pair (Section 4).
	Anonymous = "anonymous"
	// Full: every type labels the same pair; the label vector o of Section 6.
	Full = "full"
	// Consensus: every type labels the pair, resampled until all agree; the
	// agreed label is kept (Appendix F's maximum-information data). Drawn
	// directly from its distribution, Pr(y2 | agree) = Π_u σ_u / (Π_u σ_u +
	// Π_u (1 − σ_u)), which equals σ(Σ_u Δr_u) under BT with τ = 1.
	Consensus = "consensus"
	// Typed: like Anonymous, with the labelling type recorded (for
	// personalised reward models, end of Section 6).
	Typed = "typed"
)

// Regimes lists every regime.
var Regimes = []string{Anonymous, Full, Consensus, Typed, Paired}

// Dataset is a pairwise preference dataset over a finite alternative set,
// reduced to the statistics the tabular losses need. Pairs (y1, y2) are drawn
// i.i.d. from D. All entries are fractions of the dataset, so each matrix of
// a population dataset is the expectation of the sampled one.
type Dataset struct {
	// Regime is Anonymous or Full.
	Regime string `json:"regime"`
	// Tuples is the number of sampled tuples, 0 for the exact population
	// (infinite-data) statistics.
	Tuples int `json:"tuples"`
	// Won[a][b] is the fraction of labels that prefer a over b. In the Full
	// regime each type's label counts with its weight w_u. Σ_{a,b} Won = 1;
	// the diagonal holds the pairs with y1 = y2.
	Won [][]float64 `json:"won"`
	// Unanimous[a][b] is the fraction of tuples on which every type prefers
	// a over b (Full regime only; Eq. 20 trains on these).
	Unanimous [][]float64 `json:"unanimous,omitempty"`
	// ByType[u][a][b] is the fraction of tuples labelled by type u that
	// prefer a over b (Typed regime only); Won is their sum.
	ByType [][][]float64 `json:"by_type,omitempty"`
	// TypeShares[u] is type u's share of the annotators behind the data
	// (Typed regime), where it differs from its share of the tuples:
	// observed comparisons, whose annotators label different numbers of
	// pairs. nil when every tuple has its own annotator (sampled data),
	// or in the population statistics, where the two shares agree.
	TypeShares []float64 `json:"type_shares,omitempty"`
}

func square(n int) [][]float64 {
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
	}
	return m
}

// PopulationDataset returns the exact expected statistics of regime under
// the environment, with y1, y2 ~ D i.i.d.: Won[a][b] = 2 D(a) D(b) Pr(a ≻ b)
// for a ≠ b and Won[a][a] = D(a)² (Eq. 8); in the Full regime also
// Unanimous[a][b] = 2 D(a) D(b) Π_u σ_τ(r(a;u) − r(b;u)); in the Consensus
// regime Won uses Pr(a ≻ b | all agree); in the Typed regime
// ByType[u][a][b] = w_u 2 D(a) D(b) σ_τ(r(a;u) − r(b;u)).
func (e *Env) PopulationDataset(regime string) (*Dataset, error) {
	if err := checkRegime(regime); err != nil {
		return nil, err
	}
	n := len(e.Alternatives)
	p := e.PrefMatrix()
	tp := e.TypePrefs()
	ds := &Dataset{Regime: regime, Won: square(n)}
	d := e.Sampling
	// Paired data's first tuples are anonymous tuples; the pairs themselves
	// are drawn by World.PairedSampler when the joint model trains.
	agree := func(a, b int) (float64, float64) {
		pab, pba := 1.0, 1.0
		for u := range tp {
			pab *= tp[u][a][b]
			pba *= tp[u][b][a]
		}
		return pab, pba
	}
	for a := range n {
		for b := range n {
			switch {
			case a == b:
				ds.Won[a][a] = d[a] * d[a]
			case regime == Consensus:
				pab, pba := agree(a, b)
				ds.Won[a][b] = 2 * d[a] * d[b] * pab / (pab + pba)
			default:
				ds.Won[a][b] = 2 * d[a] * d[b] * p[a][b]
			}
		}
	}
	switch regime {
	case Full:
		ds.Unanimous = square(n)
		for a := range n {
			for b := range n {
				pab, _ := agree(a, b)
				mass := 2 * d[a] * d[b]
				if a == b {
					// y1 = y2: each type's label is a fair coin, so the
					// tuple is unanimous with probability 2·(½)^|U|;
					// split it over the single diagonal cell.
					mass = d[a] * d[a] * 2
				}
				ds.Unanimous[a][b] = mass * pab
			}
		}
	case Typed:
		ds.ByType = make([][][]float64, len(tp))
		for u, w := range e.Population.Weights {
			ds.ByType[u] = square(n)
			for a := range n {
				for b := range n {
					if a == b {
						ds.ByType[u][a][a] = w * d[a] * d[a]
					} else {
						ds.ByType[u][a][b] = w * 2 * d[a] * d[b] * tp[u][a][b]
					}
				}
			}
		}
	}
	return ds, nil
}

func checkRegime(regime string) error {
	for _, r := range Regimes {
		if r == regime {
			return nil
		}
	}
	return fmt.Errorf("unknown data regime %q (want one of %v)", regime, Regimes)
}

// Sample draws a finite dataset of tuples (y1, y2, label) with y1, y2 ~ D
// i.i.d. In the Anonymous regime one type u ~ w labels each tuple, y2 ≻ y1
// with probability σ_τ(r(y2;u) − r(y1;u)); in the Full regime every type
// labels it. The random stream is fully determined by seed.
func (e *Env) Sample(regime string, tuples int, seed uint64) (*Dataset, error) {
	if err := checkRegime(regime); err != nil {
		return nil, err
	}
	if tuples <= 0 {
		return nil, fmt.Errorf("sampled dataset needs a positive number of tuples, got %d", tuples)
	}
	n := len(e.Alternatives)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cdfD := cumulative(e.Sampling)
	cdfW := cumulative(e.Population.Weights)
	tp := e.TypePrefs()
	won := square(n)
	var unan [][]float64
	if regime == Full {
		unan = square(n)
	}
	var byType [][][]float64
	if regime == Typed {
		byType = make([][][]float64, len(tp))
		for u := range byType {
			byType[u] = square(n)
		}
	}
	w := e.Population.Weights
	for range tuples {
		y1 := draw(cdfD, rng)
		y2 := draw(cdfD, rng)
		switch regime {
		case Anonymous, Typed, Paired:
			u := draw(cdfW, rng)
			if rng.Float64() < tp[u][y2][y1] {
				won[y2][y1]++
				if byType != nil {
					byType[u][y2][y1]++
				}
			} else {
				won[y1][y2]++
				if byType != nil {
					byType[u][y1][y2]++
				}
			}
		case Consensus:
			p2, p1 := 1.0, 1.0
			for u := range tp {
				p2 *= tp[u][y2][y1]
				p1 *= tp[u][y1][y2]
			}
			if rng.Float64()*(p1+p2) < p2 {
				won[y2][y1]++
			} else {
				won[y1][y2]++
			}
		case Full:
			all2, all1 := true, true
			for u := range tp {
				if rng.Float64() < tp[u][y2][y1] {
					won[y2][y1] += w[u]
					all1 = false
				} else {
					won[y1][y2] += w[u]
					all2 = false
				}
			}
			switch {
			case all2:
				unan[y2][y1]++
			case all1:
				unan[y1][y2]++
			}
		}
	}
	inv := 1 / float64(tuples)
	for a := range n {
		for b := range n {
			won[a][b] *= inv
			if unan != nil {
				unan[a][b] *= inv
			}
			for u := range byType {
				byType[u][a][b] *= inv
			}
		}
	}
	return &Dataset{Regime: regime, Tuples: tuples, Won: won, Unanimous: unan, ByType: byType}, nil
}

func cumulative(p []float64) []float64 {
	c := make([]float64, len(p))
	var s float64
	for i, x := range p {
		s += x
		c[i] = s
	}
	c[len(c)-1] = 1
	return c
}

func draw(cdf []float64, rng *rand.Rand) int {
	return sort.SearchFloat64s(cdf, rng.Float64())
}
