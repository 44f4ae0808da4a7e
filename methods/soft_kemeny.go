package methods

import (
	_ "embed"
	"fmt"
	"math"

	"hetalign/envs/analytic"
	"hetalign/methods/pairloss"
	"hetalign/methods/tabular"
	"hetalign/metrics"
)

//go:embed soft_kemeny.cue
var softKemenyCUE string

func init() {
	Register(Kind{
		Name: "soft-kemeny",
		Doc: "Differential Voting's soft-Kemeny loss σ(−Δ/τ), Δ = β(ρ_w − ρ_l) (arXiv 2601.18824), a smoothed 0–1 loss: its population infimum is the Kemeny–Young ranking of the data (the order maximising Σ_{a above b} Won[a][b]), reached only as the log-ratios diverge along it; " +
			"the exact fit returns that limit: the ranking by dynamic programming over subsets, π a point mass on its top, θ the ranking's centred positions; " +
			"model or optimizer switch to SGD (Adam on the loss, tabular or MLP), whose margins grow while it runs and whose order tends to a locally Kemeny-optimal ranking",
		Regimes: familyRegimes,
		CUE:     softKemenyCUE, CUEFile: "hetalign/methods/soft_kemeny.cue",
		New: func() Params { return new(SoftKemeny) },
	})
}

// SoftKemeny is the soft-kemeny kind's settings: τ, and for SGD fits
// (model or optimizer set) β of Δ = β(ρ_w − ρ_l) and the network and
// Adam's settings. The exact fit depends on neither τ nor β.
type SoftKemeny struct {
	Tau  *float64 `json:"tau,omitempty"`
	Beta *float64 `json:"beta,omitempty"`
	SGDConfig
}

func (p *SoftKemeny) loss() pairloss.Loss { return pairloss.SoftKemeny(*p.Beta, *p.Tau) }

// Defaults: τ = 1; for SGD fits β = env.beta and the SGD defaults (a
// tabular policy, Adam at lr 1e-3, batch 1024, 10,000 steps). β stays
// unset on exact fits, whose step keys therefore do not name it.
func (p *SoftKemeny) Defaults(c Context) {
	if p.Tau == nil {
		v := 1.0
		p.Tau = &v
	}
	if p.SGD() {
		p.SGDConfig.defaults(false)
		defaultBeta(&p.Beta, c)
	}
}

// Check: τ > 0 (the schema says so too); β only with SGD, positive; the
// network against the env.
func (p *SoftKemeny) Check(c Context) []Problem {
	var ps []Problem
	if !(*p.Tau > 0) || math.IsInf(*p.Tau, 0) {
		ps = append(ps, problemf("tau", "must be positive and finite, got %v", *p.Tau))
	}
	if !p.SGD() {
		if p.Beta != nil {
			ps = append(ps, problemf("beta", "only SGD fits use β (set model or optimizer); the exact fit is the Kemeny–Young ranking whatever β is"))
		}
		return ps
	}
	if b := *p.Beta; !(b > 0) || math.IsInf(b, 0) {
		ps = append(ps, problemf("beta", "must be positive and finite, got %v", b))
	}
	return append(ps, p.SGDConfig.check(c)...)
}

// FitTabular returns, per prompt, the limit of the loss's minimising
// sequences. With σ(−x) = 1 − σ(x), the expected loss over the data is
// Σ_{a<b} (Won[b][a] − Won[a][b])·σ((θ_a − θ_b)β/τ) plus a constant, and
// σ(x_a − x_b) = Pr(x_a + G_a > x_b + G_b) for i.i.d. Gumbel G, so every
// finite θ scores the expectation of the 0–1 objective over a random
// ranking: no finite θ beats the best ranking, and θ = s·(ranking scores)
// approaches it as s → ∞. That best ranking maximises Σ_{a above b}
// Won[a][b] (Kemeny–Young with the data's pair weights).
//
// With model or optimizer set, the fit is instead Adam on the loss
// (LossFamily's SGD path, neural.TrainLoss) with ρ = log π − log π_ref.
func (p *SoftKemeny) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	if p.SGD() {
		lf := LossFamily{Beta: p.Beta, SGDConfig: p.SGDConfig}
		return lf.fitTabular(in, p.loss())
	}
	return exactFit(in, func(_ int, ds *analytic.Dataset, ref []float64) (*tabular.Result, error) {
		order, err := KemenyRanking(ds.Won)
		if err != nil {
			return nil, err
		}
		n := len(order)
		pol := make([]float64, n)
		pol[order[0]] = 1
		theta := make([]float64, n)
		for pos, y := range order {
			theta[y] = float64(n-1-pos) - float64(n-1)/2
		}
		return &tabular.Result{Policy: pol, LogRatio: theta, DataUsed: 1}, nil
	})
}

// maxKemeny bounds the alternatives KemenyRanking takes (2ⁿ subsets).
const maxKemeny = 20

// KemenyRanking is the order of the alternatives, best first, maximising
// Σ_{a above b} won[a][b], by dynamic programming over the set of
// alternatives placed so far (best[S ∪ {y}] = best[S] + Σ_{a∈S} won[a][y]
// when y comes right below S). Ties go to the smaller index first, so the
// answer is deterministic.
func KemenyRanking(won [][]float64) ([]int, error) {
	n := len(won)
	if n > maxKemeny {
		return nil, fmt.Errorf("Kemeny ranking of %d alternatives: at most %d", n, maxKemeny)
	}
	full := 1<<n - 1
	best := make([]float64, full+1)
	from := make([]int, full+1)
	for s := range best {
		best[s] = math.Inf(-1)
	}
	best[0] = 0
	for s := 0; s < full; s++ {
		if math.IsInf(best[s], -1) {
			continue
		}
		for y := range n {
			if s&(1<<y) != 0 {
				continue
			}
			gain := 0.0
			for a := range n {
				if s&(1<<a) != 0 {
					gain += won[a][y]
				}
			}
			t := s | 1<<y
			if v := best[s] + gain; v > best[t]+1e-15 {
				best[t], from[t] = v, y
			}
		}
	}
	order := make([]int, n)
	for s, k := full, n-1; k >= 0; k-- {
		y := from[s]
		order[k] = y
		s &^= 1 << y
	}
	return order, nil
}
