package metrics

// MonotonicityRaise is how much the monotonicity check raises one type's
// reward of one alternative: one standard deviation of the random env's
// standard normal rewards.
const MonotonicityRaise = 1.0

// monoTol is the fall of π(a) that counts as a violation: the iterative
// fits stop short of the optimum (group-dpo at a duality gap of 1e-5,
// where its π still moves by up to about 5e-5 between nearby
// populations), so smaller falls are the solver's.
const monoTol = 1e-4

func init() {
	RegisterAxiom(Axiom{
		Name:            "monotonicity",
		Doc:             "monotonicity: raising one type's reward of a (by 1) never lowers π(a) nor a's rank (the number of alternatives strictly above it); tried for every alternative and type",
		Variations:      []string{"raise"},
		MinAlternatives: 2,
		Check: func(c *Case) (Verdict, error) {
			if !c.CanRefit() {
				return notApplicable(), nil
			}
			t := c.Truth
			for y := range t.Alternatives {
				for u := range t.Types {
					c2, err := c.Fit(WithReward(t, u, y, MonotonicityRaise))
					if err != nil {
						return Verdict{}, err
					}
					if c2.Policy[y] < c.Policy[y]-monoTol {
						return violated("raising r(%s; %s) by %g lowers π(%s) from %.7g to %.7g", t.Alternatives[y], t.Types[u], MonotonicityRaise, t.Alternatives[y], c.Policy[y], c2.Policy[y]), nil
					}
					if c.Policy[y] <= massTol && c2.Policy[y] <= massTol {
						continue // dropped before and after: a lottery does not rank it
					}
					if r, r2 := above(c.Theta, y), above(c2.Theta, y); r2 > r {
						return violated("raising r(%s; %s) by %g moves %s from %d to %d alternatives above it", t.Alternatives[y], t.Types[u], MonotonicityRaise, t.Alternatives[y], r, r2), nil
					}
				}
			}
			return holds(), nil
		},
	})
}

// above counts the alternatives strictly above y in θ.
func above(theta []float64, y int) int {
	n := 0
	for b := range theta {
		if b != y && cmpTheta(theta, b, y) == 1 {
			n++
		}
	}
	return n
}
