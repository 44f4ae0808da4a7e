package metrics

import (
	"fmt"

	"hetalign/envs/analytic"
)

// dBisections is how many halvings locate the change of order along a
// segment from D to a candidate distribution (to 2⁻¹⁰ of its length).
const dBisections = 10

func init() {
	RegisterAxiom(Axiom{
		Name: "d_independence",
		Doc: "independence of the sampling distribution: no change of D (full support) changes the method's order. Candidate distributions: each NBC-ordered pair's minimal flip (the LP of App. E, what flip_tv solves) and, for each alternative y, ½ uniform + ½ on y; " +
			"along each segment from D toward a candidate the first change is found by bisection",
		MinAlternatives: 2,
		Extra:           []Info{{"d_flip_tv", Method, Number, "the smallest TV distance from the env's D at which the method's order changes, over the candidates of axiom_d_independence (exact for methods whose order is NBC's, an upper bound otherwise); none when no candidate changes it", NeedsRefit}},
		Check: func(c *Case) (Verdict, error) {
			if !c.CanRefit() {
				return notApplicable(), nil
			}
			t := c.Truth
			cands, err := dCandidates(t)
			if err != nil {
				return Verdict{}, err
			}
			best, found := 0.0, false
			var bestDetail string
			for _, q := range cands {
				full := TV(q, t.Sampling)
				if full <= 0 {
					continue
				}
				// The largest step worth trying: beyond the best TV so far
				// this candidate cannot improve on it.
				hi := 1.0
				if found {
					hi = min(1, best/full)
				}
				at := func(s float64) (string, error) {
					d := mix(t.Sampling, q, s)
					c2, err := c.Fit(WithSampling(t, d))
					if err != nil {
						return "", err
					}
					return sameOrder(c, c2), nil
				}
				d, err := at(hi)
				if err != nil {
					return Verdict{}, err
				}
				if d == "" {
					continue
				}
				lo := 0.0
				for range dBisections {
					mid := (lo + hi) / 2
					dm, err := at(mid)
					if err != nil {
						return Verdict{}, err
					}
					if dm != "" {
						hi, d = mid, dm
					} else {
						lo = mid
					}
				}
				if tv := hi * full; !found || tv < best {
					best, found, bestDetail = tv, true, fmt.Sprintf("moving D by TV %.4g: %s", tv, d)
				}
			}
			if !found {
				v := holds()
				return v, nil
			}
			v := violated("%s", bestDetail)
			v.Values = map[string]Value{"d_flip_tv": Num(best)}
			return v, nil
		},
	})
}

// dCandidates are the distributions D is moved toward: each NBC-ordered
// pair's minimal flip under the uniform D (Appendix E's LP, checked
// independently by analytic.CheckFlip) and ½ uniform + ½ on each
// alternative.
func dCandidates(t *analytic.Truth) ([][]float64, error) {
	s, err := analytic.NBCSensitivity(t.Pref, analytic.DefaultFlipParams)
	if err != nil {
		return nil, err
	}
	var out [][]float64
	for _, f := range s.Pairs {
		if f.Feasible {
			out = append(out, f.Q)
		}
	}
	n := len(t.Alternatives)
	for y := range n {
		q := make([]float64, n)
		for k := range q {
			q[k] = 0.5 / float64(n)
		}
		q[y] += 0.5
		out = append(out, q)
	}
	return out, nil
}

// mix is (1 − s)·d + s·q.
func mix(d, q []float64, s float64) []float64 {
	out := make([]float64, len(d))
	for i := range d {
		out[i] = (1-s)*d[i] + s*q[i]
	}
	return out
}
