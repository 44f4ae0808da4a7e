package methods

import (
	_ "embed"
	"fmt"
	"math"

	"hetalign/envs/analytic"
	"hetalign/methods/tabular"
	"hetalign/metrics"
)

//go:embed soft_kemeny.cue
var softKemenyCUE string

func init() {
	Register(Kind{
		Name: "soft-kemeny",
		Doc: "Differential Voting's soft-Kemeny loss σ(−Δ/τ), Δ = β(ρ_w − ρ_l) (arXiv 2601.18824), a smoothed 0–1 loss: its population infimum is the Kemeny–Young ranking of the data (the order maximising Σ_{a above b} Won[a][b]), reached only as the log-ratios diverge along it; " +
			"the exact fit returns that limit: the ranking by dynamic programming over subsets, π a point mass on its top, θ the ranking's centred positions",
		Regimes: familyRegimes,
		CUE:     softKemenyCUE, CUEFile: "hetalign/methods/soft_kemeny.cue",
		New: func() Params { return new(SoftKemeny) },
	})
}

// SoftKemeny is the soft-kemeny kind's settings.
type SoftKemeny struct {
	Tau *float64 `json:"tau,omitempty"`
}

// Defaults: τ = 1.
func (p *SoftKemeny) Defaults(Context) {
	if p.Tau == nil {
		v := 1.0
		p.Tau = &v
	}
}

// Check: τ > 0 (the schema says so too).
func (p *SoftKemeny) Check(Context) []Problem {
	if !(*p.Tau > 0) {
		return []Problem{problemf("tau", "must be positive, got %v", *p.Tau)}
	}
	return nil
}

// SGD is false: the population optimum is a ranking, found exactly.
func (*SoftKemeny) SGD() bool { return false }

// FitTabular returns, per prompt, the limit of the loss's minimising
// sequences. With σ(−x) = 1 − σ(x), the expected loss over the data is
// Σ_{a<b} (Won[b][a] − Won[a][b])·σ((θ_a − θ_b)β/τ) plus a constant, and
// σ(x_a − x_b) = Pr(x_a + G_a > x_b + G_b) for i.i.d. Gumbel G, so every
// finite θ scores the expectation of the 0–1 objective over a random
// ranking: no finite θ beats the best ranking, and θ = s·(ranking scores)
// approaches it as s → ∞. That best ranking maximises Σ_{a above b}
// Won[a][b] (Kemeny–Young with the data's pair weights).
func (p *SoftKemeny) FitTabular(in *TabularInput) (*metrics.Trained, error) {
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
