package analytic

import (
	"fmt"
	"math/rand/v2"
)

// World is the exact ground truth of an environment with one or more
// prompts, each a finite problem of its own (one Truth per prompt), and a
// prior over prompts. Metrics summarise it along View:
//
//   - "alternatives": one prompt; vectors run over its alternatives.
//   - "delta": prompts and responses on a circle (Section 7.2); vectors
//     run over δ = y − x (mod n, from −n/2 to n/2 − 1), averaged over
//     prompts with the prior — the paper's 1-D views (Figs. 3 and 4).
type World struct {
	View    string    `json:"view"`
	Labels  []string  `json:"labels"`
	Prior   []float64 `json:"prior"`
	Prompts []*Truth  `json:"prompts"`
	// Observed, when set, holds real comparisons (one prompt): datasets
	// come from them, not from the preference model.
	Observed *Observed `json:"observed,omitempty"`
}

// Views.
const (
	ViewAlternatives = "alternatives"
	ViewDelta        = "delta"
)

// Data is a dataset over the prompts of a World: one Dataset per prompt,
// each normalised within its prompt, and the share of tuples each prompt
// holds.
type Data struct {
	Regime string `json:"regime"`
	Tuples int    `json:"tuples"`
	// Seed of a sampled dataset (paired data draws its pairs from it).
	Seed    uint64     `json:"seed,omitempty"`
	Mass    []float64  `json:"mass"`
	Prompts []*Dataset `json:"prompts"`
	// Annotated keeps each label's annotator (the annotated regime).
	Annotated *AnnotatedData `json:"annotated,omitempty"`
}

// DeltaIndex maps response y of prompt x on a circle of n to its position
// in the δ view: δ = ((y − x + n/2) mod n) − n/2, stored at δ + n/2.
func DeltaIndex(x, y, n int) int {
	return ((y-x+n/2)%n + n) % n
}

// PopulationData is the exact (infinite-data) statistics of regime for
// every prompt; prompts hold their prior's share of the data.
func (w *World) PopulationData(regime string) (*Data, error) {
	d := &Data{Regime: regime, Mass: w.Prior}
	for x, t := range w.Prompts {
		ds, err := t.Env().PopulationDataset(regime)
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %w", x, err)
		}
		d.Prompts = append(d.Prompts, ds)
	}
	return d, nil
}

// Sample draws tuples (x, y1, y2, labels): x ~ prior, then each prompt's
// tuples as Env.Sample draws them, from a stream seeded by seed and x. A
// prompt that draws no tuple has a nil Dataset. The result depends only on
// seed.
func (w *World) Sample(regime string, tuples int, seed uint64) (*Data, error) {
	if tuples <= 0 {
		return nil, fmt.Errorf("sampled dataset needs a positive number of tuples, got %d", tuples)
	}
	counts := make([]int, len(w.Prompts))
	if len(w.Prompts) == 1 {
		counts[0] = tuples
	} else {
		rng := rand.New(rand.NewPCG(seed, 0x5851f42d4c957f2d))
		cdf := cumulative(w.Prior)
		for range tuples {
			counts[draw(cdf, rng)]++
		}
	}
	d := &Data{Regime: regime, Tuples: tuples, Seed: seed}
	for x, c := range counts {
		d.Mass = append(d.Mass, float64(c)/float64(tuples))
		if c == 0 {
			d.Prompts = append(d.Prompts, nil)
			continue
		}
		s := seed
		if len(w.Prompts) > 1 {
			s = splitmix(seed ^ uint64(x+1)*0x9e3779b97f4a7c15)
		}
		ds, err := w.Prompts[x].Env().Sample(regime, c, s)
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %w", x, err)
		}
		d.Prompts = append(d.Prompts, ds)
	}
	return d, nil
}

// splitmix scrambles a seed (SplitMix64's finaliser).
func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Single wraps the truth of a one-prompt environment as a World.
func Single(t *Truth) *World {
	return &World{View: ViewAlternatives, Labels: t.Alternatives, Prior: []float64{1}, Prompts: []*Truth{t}}
}

// Paired is the regime of Section 5.3: pairs of tuples labelled by the
// same annotator, for the joint-likelihood model J.
const Paired = "paired"

// PairedSampler returns a function that draws n paired preferences: two
// tuples (x, a, b) and (x2, c, d), prompts from the prior and responses
// from each prompt's D, labelled by one annotator. With tuples = 0 (the
// population) every draw is fresh and its label is the exact probability
// Σ_u w_u σ_u(b ≻ a | x) σ_u(d ≻ c | x2) that the annotator prefers b and d;
// otherwise tuples paired samples with 0/1 labels o·o′ are drawn once
// (type u ~ w, each preference from σ_u) and batches are drawn from them
// with replacement. Everything depends only on seed.
func (w *World) PairedSampler(tuples int, seed uint64) func(n int) (x, a, b, x2, c, d []int32, label []float64) {
	rng := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	prior := cumulative(w.Prior)
	var ds [][]float64
	var prefs [][][][]float64 // [x][u][a][b]
	var weights []float64
	for _, t := range w.Prompts {
		ds = append(ds, cumulative(t.Sampling))
		prefs = append(prefs, t.Env().TypePrefs())
		weights = t.Weights
	}
	wcdf := cumulative(weights)
	drawTuple := func() (int, int, int) {
		x := draw(prior, rng)
		return x, draw(ds[x], rng), draw(ds[x], rng)
	}
	one := func(soft bool) (x, a, b, x2, c, d int, label float64) {
		x, a, b = drawTuple()
		x2, c, d = drawTuple()
		if soft {
			for u, wu := range weights {
				label += wu * prefs[x][u][b][a] * prefs[x2][u][d][c]
			}
			return
		}
		u := draw(wcdf, rng)
		if rng.Float64() < prefs[x][u][b][a] && rng.Float64() < prefs[x2][u][d][c] {
			label = 1
		}
		return
	}
	type sample struct {
		x, a, b, x2, c, d int32
		label             float64
	}
	var fixed []sample
	for range tuples {
		x, a, b, x2, c, d, l := one(false)
		fixed = append(fixed, sample{int32(x), int32(a), int32(b), int32(x2), int32(c), int32(d), l})
	}
	return func(n int) (x, a, b, x2, c, d []int32, label []float64) {
		x, a, b = make([]int32, n), make([]int32, n), make([]int32, n)
		x2, c, d = make([]int32, n), make([]int32, n), make([]int32, n)
		label = make([]float64, n)
		for i := range n {
			if tuples > 0 {
				s := fixed[rng.IntN(len(fixed))]
				x[i], a[i], b[i], x2[i], c[i], d[i], label[i] = s.x, s.a, s.b, s.x2, s.c, s.d, s.label
				continue
			}
			xi, ai, bi, x2i, ci, di, l := one(true)
			x[i], a[i], b[i], x2[i], c[i], d[i], label[i] = int32(xi), int32(ai), int32(bi), int32(x2i), int32(ci), int32(di), l
		}
		return
	}
}
