package tabular

import (
	"fmt"
	"math"
	"testing"
)

// DPLTupleLoss's gradient matches central differences of its value, and
// its value matches −[p log Φ(d) + (1 − p) log Φ(−d)] with Φ from
// math.Erf, across labels, signs of d and σ ratios. Central differences
// of step h err by O(h²·ℓ‴) ≈ 1e-10 at h = 1e-5 (ℓ‴ of order 1 here),
// plus rounding ε·ℓ/h ≈ 1e-11: tolerance 1e-8.
func TestDPLTupleLossGradient(t *testing.T) {
	for _, tc := range []struct{ muA, muB, sA, sB, p float64 }{
		{0, 0, 0, 0, 0.5}, {0.3, -1.2, 0.2, -0.4, 0.8}, {-0.5, 1.5, 1, -1, 0.1}, {2, 1, -0.3, 0.6, 1}, {1, 2.5, 0.5, 0.5, 0},
	} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			l, g := DPLTupleLoss(tc.muA, tc.muB, tc.sA, tc.sB, tc.p)
			d := (tc.muB - tc.muA) / math.Hypot(math.Exp(tc.sA), math.Exp(tc.sB))
			phi := func(x float64) float64 { return 0.5 * (1 + math.Erf(x/math.Sqrt2)) }
			if want := -(tc.p*math.Log(phi(d)) + (1-tc.p)*math.Log(phi(-d))); math.Abs(l-want) > 1e-12 {
				t.Errorf("loss %v, want %v", l, want)
			}
			x := []float64{tc.muA, tc.muB, tc.sA, tc.sB}
			const h = 1e-5
			for i := range x {
				xp, xm := append([]float64(nil), x...), append([]float64(nil), x...)
				xp[i] += h
				xm[i] -= h
				lp, _ := DPLTupleLoss(xp[0], xp[1], xp[2], xp[3], tc.p)
				lm, _ := DPLTupleLoss(xm[0], xm[1], xm[2], xm[3], tc.p)
				if fd := (lp - lm) / (2 * h); math.Abs(fd-g[i]) > 1e-8 {
					t.Errorf("∂ℓ/∂x%d = %v, central difference %v", i, g[i], fd)
				}
			}
		})
	}
}
