package metrics

import (
	"math"

	"hetalign/envs/analytic"
)

// FirstChoiceShares are the shares w(y) of population-proportional
// alignment (PPA; Kim, Zhang, Ozdaglar and Parrilo, arXiv 2506.05619):
// a policy is α-PPA when π(y) ≥ α·w(y) for
// every alternative y, w(y) being the share of the population that ranks
// y first. Each Bradley–Terry type of temperature τ is the Plackett–Luce
// ranking distribution with scores r*(·; u)/τ (its pairwise marginals are
// Eq. 7's σ((r*(a) − r*(b))/τ)), so w(y) = Σ_u w_u e^{r*(y;u)/τ} /
// Σ_y' e^{r*(y';u)/τ}. The axiom tests α = 2/m (m alternatives): the
// guarantee of the paper's rule F* (π ∝ u, u(y) = min_y' Pr(y ≻ y') ≥
// w(y), Σ_y u(y) ≤ m/2; docs/proportional.md), and reports the largest α
// the policy meets, ppa_alpha = min_y π(y)/w(y).
func FirstChoiceShares(t *analytic.Truth) []float64 {
	w := make([]float64, len(t.Alternatives))
	for u, r := range t.Rewards {
		mx := math.Inf(-1)
		for _, x := range r {
			mx = math.Max(mx, x/t.Temperature)
		}
		var z float64
		e := make([]float64, len(r))
		for y, x := range r {
			e[y] = math.Exp(x/t.Temperature - mx)
			z += e[y]
		}
		for y := range e {
			w[y] += t.Weights[u] * e[y] / z
		}
	}
	return w
}

func init() {
	RegisterAxiom(Axiom{
		Name: "ppa",
		Doc: "population-proportional alignment (Kim et al., arXiv 2506.05619) at α = 2/m: π(y) ≥ (2/m)·w(y) for every y, where w(y) = Σ_u w_u softmax(r*(·; u)/τ)(y) is the share of the population whose (Plackett–Luce) first choice is y; " +
			"the guarantee of their rule F* (the proportional kind at β = 0) on every population",
		MinAlternatives: 2,
		Extra:           []Info{{"ppa_alpha", Method, Number, "the largest α for which the method's policy is α-population-proportional, min_y π(y)/w(y) with w(y) the population's first-choice share (axiom_ppa): 1 for a policy equal to w, 0 for one that drops an alternative somebody ranks first", NeedsRefit}},
		Check: func(c *Case) (Verdict, error) {
			t := c.Truth
			w := FirstChoiceShares(t)
			m := float64(len(t.Alternatives))
			alpha, worst := math.Inf(1), 0
			for y := range w {
				if r := c.Policy[y] / w[y]; r < alpha {
					alpha, worst = r, y
				}
			}
			var v Verdict
			if c.Policy[worst] < 2/m*w[worst]-massTol {
				v = violated("%s is the first choice of %.4g of the population but π(%s) = %.4g < (2/%d)·%.4g", t.Alternatives[worst], w[worst], t.Alternatives[worst], c.Policy[worst], len(t.Alternatives), w[worst])
			} else {
				v = holds()
			}
			v.Values = map[string]Value{"ppa_alpha": Num(alpha)}
			return v, nil
		},
	})
}
