package metrics

func init() {
	RegisterAxiom(Axiom{
		Name:            "proportionality",
		Doc:             "proportionality (for lotteries): every alternative gets at least the total weight of the types whose unique favourite it is, π(y) ≥ Σ_{u: y = argmax r*(·;u)} w_u (random dictatorship meets it with equality)",
		MinAlternatives: 2,
		Check: func(c *Case) (Verdict, error) {
			t := c.Truth
			share := make([]float64, len(t.Alternatives))
			for u, r := range t.Rewards {
				fav := 0
				for y := range r {
					if r[y] > r[fav] {
						fav = y
					}
				}
				unique := true
				for y := range r {
					if y != fav && r[y] == r[fav] {
						unique = false
					}
				}
				if unique {
					share[fav] += t.Weights[u]
				}
			}
			for y, s := range share {
				if c.Policy[y] < s-massTol {
					return violated("types of total weight %.4g have %s as favourite but π(%s) = %.4g", s, t.Alternatives[y], t.Alternatives[y], c.Policy[y]), nil
				}
			}
			return holds(), nil
		},
	})
}
