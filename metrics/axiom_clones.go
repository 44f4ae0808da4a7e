package metrics

import "math"

func init() {
	RegisterAxiom(Axiom{
		Name:            "clones",
		Doc:             "independence of clones (order): adding an exact copy c' of an alternative c (the same reward for every type, c's D and π_ref weights, then renormalised) keeps the order of every other pair, and c and c' each keep c's order against every other alternative; tried for every c",
		Variations:      []string{"clone"},
		MinAlternatives: 2,
		Check: func(c *Case) (Verdict, error) {
			if !c.CanRefit() {
				return notApplicable(), nil
			}
			t := c.Truth
			for y, name := range t.Alternatives {
				c2, err := c.Fit(WithClone(t, y))
				if err != nil {
					return Verdict{}, err
				}
				if d := sameOrder(c, c2, name); d != "" {
					return violated("cloning %s: %s", name, d), nil
				}
				k := len(t.Alternatives) // the clone's index in c2
				for b := range t.Alternatives {
					if b == y {
						continue
					}
					s := cmpTheta(c.Theta, y, b)
					for _, cy := range []int{y, k} {
						if dropped(c2, cy, b) {
							continue // the lottery splits c's mass between the copies
						}
						if s2 := cmpTheta(c2.Theta, cy, b); s2 != s {
							return violated("cloning %s: %s %s %s becomes %s %s %s", name, name, rel(s), t.Alternatives[b], c2.Truth.Alternatives[cy], rel(s2), t.Alternatives[b]), nil
						}
					}
				}
			}
			return holds(), nil
		},
	})
	RegisterAxiom(Axiom{
		Name:            "clone_mass",
		Doc:             "independence of clones (mass, for lotteries): adding an exact copy c' of c leaves every other alternative's probability unchanged, so c and c' share what c had; tried for every c",
		Variations:      []string{"clone"},
		MinAlternatives: 2,
		Check: func(c *Case) (Verdict, error) {
			if !c.CanRefit() {
				return notApplicable(), nil
			}
			t := c.Truth
			for y, name := range t.Alternatives {
				c2, err := c.Fit(WithClone(t, y))
				if err != nil {
					return Verdict{}, err
				}
				for b := range t.Alternatives {
					if b != y && math.Abs(c2.Policy[b]-c.Policy[b]) > 1e-6 {
						return violated("cloning %s changes π(%s) from %.4g to %.4g (the clones hold %.4g, %s had %.4g)", name, t.Alternatives[b], c.Policy[b], c2.Policy[b], c2.Policy[y]+c2.Policy[len(t.Alternatives)], name, c.Policy[y]), nil
					}
				}
			}
			return holds(), nil
		},
	})
}
