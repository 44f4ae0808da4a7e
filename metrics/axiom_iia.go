package metrics

func init() {
	RegisterAxiom(Axiom{
		Name:            "iia",
		Doc:             "independence of irrelevant alternatives: removing an alternative c (D and π_ref renormalised on the rest) keeps the method's order of every other pair; tried for every c",
		Variations:      []string{"remove"},
		MinAlternatives: 3,
		Check: func(c *Case) (Verdict, error) {
			t := c.Truth
			if !c.CanRefit() || len(t.Alternatives) < 3 {
				return notApplicable(), nil
			}
			for y := range t.Alternatives {
				c2, err := c.Fit(WithoutAlternative(t, y))
				if err != nil {
					return Verdict{}, err
				}
				if d := sameOrder(c, c2); d != "" {
					return violated("removing %s: %s", t.Alternatives[y], d), nil
				}
			}
			return holds(), nil
		},
	})
}
