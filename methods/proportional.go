package methods

import (
	_ "embed"
	"fmt"
	"math"

	"hetalign/metrics"
)

//go:embed proportional.cue
var proportionalCUE string

func init() {
	Register(Kind{
		Name: "proportional",
		Doc: "population-proportional alignment (Kim, Zhang, Ozdaglar, Parrilo, arXiv 2506.05619): u(y) = min_{y'≠y} P(y ≻ y') bounds the share of the population that ranks y first; " +
			"F^β puts π(y) ∝ u(y)·exp(β·u(y)); β = 0 (default) is F*, π ∝ u, which gives each y at least w(y)/Σu ≥ (2/m)·w(y), w(y) its first-choice share; β → ∞ concentrates on the minimax winner (the Condorcet winner when there is one); a closed form of the data's win rates, without π_ref",
		Regimes: familyRegimes,
		CUE:     proportionalCUE, CUEFile: "hetalign/methods/proportional.cue",
		New: func() Params { return new(Proportional) },
	})
}

// Proportional is the proportional kind's settings: the β of the soft-max
// relaxation F^β (default 0, the rule F*).
//
// The rule, on finite alternatives Y (|Y| = m), from the data's win rates
// P(a ≻ b) = Won[a][b]/(Won[a][b] + Won[b][a]):
//
//	u(y) = min_{y' ≠ y} P(y ≻ y')                                (the upper bound of the feasible set W̄(P))
//	F*:  π(y) = u(y) / Σ_{y'} u(y')
//	F^β: π(y) = u(y)·e^{β u(y)} / Σ_{y'} u(y')·e^{β u(y')}
//
// Why u bounds a share: in a population of rankings (Kim et al.'s
// profile σ; here each Bradley–Terry type is the Plackett–Luce ranking
// distribution with scores r(·;u)/τ, whose pairwise marginals are exactly
// σ_τ(r(a;u) − r(b;u)), Eq. 7), everyone who ranks y first ranks y above
// every y', so the first-choice share w(y) ≤ P(y ≻ y') for each y', and
// w ∈ W̄(P) = {w ∈ Δ(Y): w(y) ≤ u(y)}. F* is the policy that maximises
// the worst ratio π(y)/w(y) over W̄ (π ∝ u), which gives the α-PPA bound
// π(y) ≥ w(y)/Σu ≥ (2/m)·w(y) (Σu ≤ Σ_y Borda(y)/(m − 1) = m/2).
// u is monotone in each win rate, so F^β is Pareto-efficient and
// monotone; argmax u is the minimax (Simpson–Kramer) winner, which is the
// Condorcet winner when one exists (it alone has u > ½), and F^β tends to
// a point mass on it as β → ∞.
//
// What the sources left open, and what this implementation assumes: only
// the paper's abstract and secondary summaries of it (its reviews, notes)
// could be read here, not its equation numbers, which are therefore not
// cited; the forms of u, F* and F^β above are those the summaries state.
// A pair never compared in the data constrains nothing and is left out of
// the minimum (an alternative never compared has u = 1); when every u is
// 0 (possible only on sampled data, e.g. a cycle of unanimous defeats) the
// policy is uniform, the limit of equal u. The policy ignores π_ref; its
// log-ratios are log π − log π_ref as for the other lotteries.
type Proportional struct {
	Beta *float64 `json:"beta,omitempty"`
}

// Defaults: β = 0 (F*).
func (p *Proportional) Defaults(Context) {
	if p.Beta == nil {
		v := 0.0
		p.Beta = &v
	}
}

// Check: β ≥ 0 and finite (the schema says ≥ 0 too).
func (p *Proportional) Check(Context) []Problem {
	if b := *p.Beta; !(b >= 0) || math.IsInf(b, 0) {
		return []Problem{problemf("beta", "must be non-negative and finite, got %v", b)}
	}
	return nil
}

// SGD is false: F^β is a closed form of the win rates. The paper trains
// no per-pair loss whose expected minimiser is F^β (u is a minimum over
// opponents, which a sum of per-pair terms cannot express).
func (*Proportional) SGD() bool { return false }

// FitTabular computes F^β per prompt from the win rates of its data.
func (p *Proportional) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	used := 1.0
	out := &metrics.Trained{DataUsed: &used}
	for x, t := range in.World.Prompts {
		ds := datasetOf(in.Data, x)
		if ds == nil {
			return nil, fmt.Errorf("prompt %d has no data: draw more pairs", x)
		}
		if len(ds.Won) != len(t.Alternatives) {
			return nil, fmt.Errorf("prompt %d: win counts of %d alternatives, truth has %d", x, len(ds.Won), len(t.Alternatives))
		}
		pol := ProportionalPolicy(ProportionalBounds(ds.Won), *p.Beta)
		out.Policy = append(out.Policy, pol)
		out.LogRatio = append(out.LogRatio, logRatio(pol, t.Reference))
	}
	return out, nil
}

// ProportionalBounds is u(y) = min_{y' ≠ y} P(y ≻ y') with P(y ≻ y') =
// won[y][y']/(won[y][y'] + won[y'][y]) over the pairs the data compares
// (a pair without comparisons constrains nothing; u = 1 without any).
func ProportionalBounds(won [][]float64) []float64 {
	u := make([]float64, len(won))
	for y := range won {
		u[y] = 1
		for z := range won {
			if z == y {
				continue
			}
			if t := won[y][z] + won[z][y]; t > 0 {
				u[y] = math.Min(u[y], won[y][z]/t)
			}
		}
	}
	return u
}

// ProportionalPolicy is F^β: π(y) ∝ u(y)·e^{β u(y)}, computed relative to
// the largest u so that large β does not overflow; uniform when every u
// is 0.
func ProportionalPolicy(u []float64, beta float64) []float64 {
	top := 0.0
	for _, v := range u {
		top = math.Max(top, v)
	}
	pol := make([]float64, len(u))
	if top == 0 {
		for y := range pol {
			pol[y] = 1 / float64(len(pol))
		}
		return pol
	}
	var z float64
	for y, v := range u {
		pol[y] = v * math.Exp(beta*(v-top))
		z += pol[y]
	}
	for y := range pol {
		pol[y] /= z
	}
	return pol
}
