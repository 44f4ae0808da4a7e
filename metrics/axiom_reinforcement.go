package metrics

import "strings"

func init() {
	RegisterAxiom(Axiom{
		Name:            "reinforcement",
		Doc:             "reinforcement (consistency): split the types into two groups (each a population of its own, weights renormalised); when the method's optima on both groups have the same unique top, its optimum on the merged population (the original) has it too; tried for every split",
		Variations:      []string{"split"},
		MinAlternatives: 2,
		MinTypes:        2,
		Check: func(c *Case) (Verdict, error) {
			t := c.Truth
			T := len(t.Types)
			if !c.CanRefit() || T < 2 || T > maxSplitTypes {
				return notApplicable(), nil
			}
			top := uniqueTop(c.Theta)
			applies := false
			// Splits S ∪ S̄ with type 0 in S, S̄ non-empty.
			for _, sp := range splits(T) {
				s, sc := sp[0], sp[1]
				c1, err := c.Fit(SubPopulation(t, s))
				if err != nil {
					return Verdict{}, err
				}
				t1 := uniqueTop(c1.Theta)
				if t1 < 0 {
					continue
				}
				c2, err := c.Fit(SubPopulation(t, sc))
				if err != nil {
					return Verdict{}, err
				}
				if uniqueTop(c2.Theta) != t1 {
					continue
				}
				applies = true
				if top != t1 {
					got := "no unique top"
					if top >= 0 {
						got = t.Alternatives[top] + " top"
					}
					return violated("{%s} and {%s} both put %s top; merged, the method has %s", names(t.Types, s), names(t.Types, sc), t.Alternatives[t1], got), nil
				}
			}
			if !applies {
				return notApplicable(), nil
			}
			return holds(), nil
		},
	})
}

func names(all []string, idx []int) string {
	out := make([]string, len(idx))
	for i, k := range idx {
		out[i] = all[k]
	}
	return strings.Join(out, ", ")
}
