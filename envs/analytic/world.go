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
	Regime  string     `json:"regime"`
	Tuples  int        `json:"tuples"`
	Mass    []float64  `json:"mass"`
	Prompts []*Dataset `json:"prompts"`
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
	d := &Data{Regime: regime, Tuples: tuples}
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
