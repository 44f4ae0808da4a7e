package metrics

func init() {
	RegisterAxiom(Axiom{
		Name:            "pareto",
		Doc:             "Pareto: when every type rates a at least as high as b and one strictly higher (r*(a;u) ≥ r*(b;u)), the method puts a strictly above b, or gives b no mass (a lottery drops dominated alternatives)",
		MinAlternatives: 2,
		Check: func(c *Case) (Verdict, error) {
			t := c.Truth
			any := false
			for a := range t.Alternatives {
				for b := range t.Alternatives {
					if a == b || !dominates(t.Rewards, t.Weights, a, b) {
						continue
					}
					any = true
					if c.Policy[b] > massTol && cmpTheta(c.Theta, a, b) != 1 {
						return violated("every type prefers %s to %s but the method has %s %s %s", t.Alternatives[a], t.Alternatives[b], t.Alternatives[a], rel(cmpTheta(c.Theta, a, b)), t.Alternatives[b]), nil
					}
				}
			}
			if !any {
				return notApplicable(), nil
			}
			return holds(), nil
		},
	})
}

// dominates reports whether every type with positive weight rates a at
// least as high as b and one strictly higher.
func dominates(r [][]float64, w []float64, a, b int) bool {
	strict := false
	for u := range r {
		if w[u] <= 0 {
			continue
		}
		if r[u][a] < r[u][b] {
			return false
		}
		if r[u][a] > r[u][b] {
			strict = true
		}
	}
	return strict
}
