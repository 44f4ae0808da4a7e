package methods

import (
	_ "embed"
	"fmt"

	"hetalign/envs/analytic"
	"hetalign/methods/games"
	"hetalign/metrics"
)

//go:embed nash.cue
var nashCUE string

func init() {
	Register(Kind{
		Name:    "nash",
		Doc:     "Nash learning from human feedback (Munos et al. 2023): the regularised Nash equilibrium of max_π min_π′ P(π ≻ π′) − τ·KL(π‖π_ref) + τ·KL(π′‖π_ref), P the data's pairwise win rates, by Nash mirror descent to a duality gap below 1e-10",
		Regimes: familyRegimes,
		CUE:     nashCUE, CUEFile: "hetalign/methods/nash.cue",
		New: func() Params { return new(Nash) },
	})
}

// Nash is the nash kind's settings: the regularisation τ (default
// env.beta) and the mirror-descent step η (default 1/(2τ) capped at 1).
type Nash struct {
	Tau *float64 `json:"tau,omitempty"`
	Eta float64  `json:"eta,omitempty"`
}

// Defaults: τ = env.beta, η = min(1, 1/(2τ)).
func (p *Nash) Defaults(c Context) {
	defaultBeta(&p.Tau, c)
	if p.Eta == 0 {
		p.Eta = min(1, 1/(2**p.Tau))
	}
}

// Check: η·τ ≤ 1 (Nash-MD's geometric mixture needs it).
func (p *Nash) Check(Context) []Problem {
	if p.Eta**p.Tau > 1 {
		return []Problem{problemf("eta", "η·τ = %v exceeds 1: choose eta ≤ 1/tau", p.Eta**p.Tau)}
	}
	return nil
}

// SGD is false: the equilibrium is computed exactly.
func (*Nash) SGD() bool { return false }

// FitTabular solves each prompt's game on the win rates of its data.
func (p *Nash) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return gameFit(in, func(x int, P [][]float64, ref []float64) ([]float64, error) {
		pi, _, err := games.Nash(P, ref, *p.Tau, p.Eta, 1e-10, 1_000_000)
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %w", x, err)
		}
		return pi, nil
	})
}

// gameFit computes a policy per prompt from the dataset's pairwise win
// rates (games.WinRates of Won) and the reference; prompts without data
// keep the reference.
func gameFit(in *TabularInput, solve func(x int, P [][]float64, ref []float64) ([]float64, error)) (*metrics.Trained, error) {
	w := in.World
	used := 1.0
	out := &metrics.Trained{DataUsed: &used}
	for x, t := range w.Prompts {
		pol := append([]float64(nil), t.Reference...)
		if ds := datasetOf(in.Data, x); ds != nil {
			var err error
			if pol, err = solve(x, games.WinRates(ds.Won), t.Reference); err != nil {
				return nil, err
			}
		}
		out.Policy = append(out.Policy, pol)
		out.LogRatio = append(out.LogRatio, logRatio(pol, t.Reference))
	}
	return out, nil
}

// datasetOf is prompt x's dataset, nil when it has none.
func datasetOf(d *analytic.Data, x int) *analytic.Dataset {
	if d == nil || x >= len(d.Prompts) {
		return nil
	}
	return d.Prompts[x]
}
