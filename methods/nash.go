package methods

import (
	_ "embed"
	"fmt"
	"math"

	"hetalign/envs/analytic"
	"hetalign/methods/games"
	"hetalign/methods/neural"
	"hetalign/metrics"
)

//go:embed nash.cue
var nashCUE string

func init() {
	Register(Kind{
		Name:    "nash",
		Doc:     "Nash learning from human feedback (Munos et al. 2023): the regularised Nash equilibrium of max_π min_π′ P(π ≻ π′) − τ·KL(π‖π_ref) + τ·KL(π′‖π_ref), P the data's pairwise win rates, by Nash mirror descent to a duality gap below 1e-10; with model or optimizer, by SGD (Nash-MD with function approximation): every refresh Adam steps the target T ∝ π^{1−ητ}·π_ref^{ητ}·exp(η·P(· ≻ π)), one mirror-descent step from the network's policy π, computed exactly, and Adam on KL(T‖π_θ) per prompt; its fixed point is the equilibrium",
		Regimes: familyRegimes,
		CUE:     nashCUE, CUEFile: "hetalign/methods/nash.cue",
		New: func() Params { return new(Nash) },
	})
}

// Nash is the nash kind's settings: the regularisation τ (default
// env.beta) and the mirror-descent step η (default 1/(2τ) capped at 1).
//
// With model or optimizer (SGDConfig) it trains a policy network by SGD
// instead (Munos et al. 2023, Nash-MD with function approximation; see
// neural.TrainNash): every Refresh Adam steps (a round; default 10) the
// target T ∝ π^{1−ητ}·π_ref^{ητ}·exp(η·P(· ≻ π)), one step of the exact
// solver's mirror descent from the network's current policy π, is
// computed exactly, and Adam regresses the network onto it
// (KL(T‖π_θ) per prompt). Its fixed point is the regularised Nash
// equilibrium, the exact fit's.
type Nash struct {
	Tau     *float64 `json:"tau,omitempty"`
	Eta     float64  `json:"eta,omitempty"`
	Refresh int      `json:"refresh,omitempty"`
	SGDConfig
}

// Defaults: τ = env.beta, η = min(1, 1/(2τ)); by SGD, the SGD defaults
// and 10 Adam steps a round.
func (p *Nash) Defaults(c Context) {
	defaultBeta(&p.Tau, c)
	if p.Eta == 0 {
		p.Eta = min(1, 1/(2**p.Tau))
	}
	p.SGDConfig.defaults(false)
	if p.SGDConfig.SGD() && p.Refresh == 0 {
		p.Refresh = 10
	}
}

// Check: η·τ ≤ 1 (Nash-MD's geometric mixture needs it); refresh only by
// SGD.
func (p *Nash) Check(c Context) []Problem {
	ps := p.SGDConfig.check(c)
	if p.Refresh != 0 && !p.SGDConfig.SGD() {
		ps = append(ps, problemf("refresh", "refresh is the SGD fit's Adam steps per round: set model or optimizer"))
	}
	if p.Eta**p.Tau > 1 {
		ps = append(ps, problemf("eta", "η·τ = %v exceeds 1: choose eta ≤ 1/tau", p.Eta**p.Tau))
	}
	return ps
}

// SGD reports whether the policy is trained by SGD (a model or an
// optimizer is set); otherwise the equilibrium is computed exactly.
func (p *Nash) SGD() bool { return p.SGDConfig.SGD() }

// FitTabular solves each prompt's game on the win rates of its data
// (games.Nash), or by SGD trains a policy network on the same games.
func (p *Nash) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	if p.SGDConfig.SGD() {
		return p.fitSGD(in)
	}
	return gameFit(in, func(x int, P [][]float64, ref []float64) ([]float64, error) {
		pi, _, err := games.Nash(P, ref, *p.Tau, p.Eta, 1e-10, 1_000_000)
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %w", x, err)
		}
		return pi, nil
	})
}

// fitSGD trains the policy network on every prompt's game at once by
// neural.TrainNash: P the win rates of each prompt's data (games.WinRates,
// as the exact fit reads them; the population's preference on population
// data), prompts weighted by their share of the data; a prompt without
// data is left to the network (the loss never sees it).
func (p *Nash) fitSGD(in *TabularInput) (*metrics.Trained, error) {
	w := in.World
	nX, nY := len(w.Prompts), len(w.Prompts[0].Alternatives)
	game := &neural.NashGame{P: make([][][]float64, nX), LogRef: make([][]float64, nX), Mass: make([]float64, nX),
		Tau: *p.Tau, Eta: p.Eta, Refresh: p.Refresh}
	for x, t := range w.Prompts {
		game.LogRef[x] = make([]float64, nY)
		for y, r := range t.Reference {
			game.LogRef[x][y] = math.Log(r)
		}
		if ds := datasetOf(in.Data, x); ds != nil {
			game.P[x] = games.WinRates(ds.Won)
			game.Mass[x] = in.Data.Mass[x]
		}
	}
	be, err := in.Backend()
	if err != nil {
		return nil, err
	}
	res, err := neural.TrainNash(be, game, nX, nY, p.arch(), p.Optimizer.optim(), in.Seed)
	if err != nil {
		return nil, fmt.Errorf("nash by SGD: %w", err)
	}
	used := 1.0
	out := &metrics.Trained{Policy: res.Policy, DataUsed: &used}
	for x, t := range w.Prompts {
		out.LogRatio = append(out.LogRatio, logRatio(res.Policy[x], t.Reference))
	}
	return out, nil
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
