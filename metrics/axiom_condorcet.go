package metrics

func init() {
	RegisterAxiom(Axiom{
		Name:            "condorcet",
		Doc:             "Condorcet consistency: when an alternative c beats every other by majority (Pr(c ≻ b) > ½, Eq. 8), the method puts c strictly above every other (θ = log π/π_ref)",
		MinAlternatives: 2,
		Check: func(c *Case) (Verdict, error) {
			t := c.Truth
			w := CondorcetWinner(t.Pref)
			if w < 0 {
				return notApplicable(), nil
			}
			for b := range t.Alternatives {
				if b != w && cmpTheta(c.Theta, w, b) != 1 {
					return violated("%s is the Condorcet winner but the method has %s %s %s", t.Alternatives[w], t.Alternatives[w], rel(cmpTheta(c.Theta, w, b)), t.Alternatives[b]), nil
				}
			}
			return holds(), nil
		},
	})
	RegisterAxiom(Axiom{
		Name:            "condorcet_loser",
		Doc:             "Condorcet loser: an alternative every other beats by majority (Pr(l ≻ b) < ½ for all b) is never top: some alternative is strictly above it",
		MinAlternatives: 2,
		Check: func(c *Case) (Verdict, error) {
			t := c.Truth
			l := condorcetLoser(t.Pref)
			if l < 0 {
				return notApplicable(), nil
			}
			for b := range t.Alternatives {
				if b != l && cmpTheta(c.Theta, b, l) == 1 {
					return holds(), nil
				}
			}
			return violated("%s is the Condorcet loser but the method puts it top", t.Alternatives[l]), nil
		},
	})
}

// condorcetLoser is the alternative a majority ranks below every other
// (P[l][b] < ½ for all b ≠ l), or −1.
func condorcetLoser(P [][]float64) int {
	for l := range P {
		ok := true
		for b := range P {
			if l != b && !(0.5-P[l][b] > tieTol) {
				ok = false
				break
			}
		}
		if ok {
			return l
		}
	}
	return -1
}
