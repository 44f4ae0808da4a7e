package methods

import (
	"math"
	"testing"

	"hetalign/envs/analytic"
	"hetalign/methods/tabular"
)

// correctedLoss is corrected DPO's loss (Eqs. 17–19 as published, clamp
// 0.1, ε = 1e-6) written out independently of tabular.FitCorrected:
// −Σ won·log max(q, ε), q = s + α·clamp(½(1 − 2s)V/(s(1 − s))).
func correctedLoss(won, v [][]float64, alpha float64, theta []float64) float64 {
	var f float64
	for a := range won {
		for b := range won {
			if a == b || won[a][b] == 0 {
				continue
			}
			s := 1 / (1 + math.Exp(-(theta[a] - theta[b])))
			c := math.Max(-0.1, math.Min(0.1, 0.5*(1-2*s)*v[a][b]/(s*(1-s))))
			f -= won[a][b] * math.Log(math.Max(s+alpha*c, 1e-6))
		}
	}
	return f
}

// On these random populations (α = 2) the corrected loss's minimum lies
// on a kink of the clamp, where L-BFGS alone fails: the fit succeeds, at
// least one pair sits on the clamp, and no step of 1e-5 along ± any
// coordinate or pair direction lowers the independent loss. The first
// five are solved on the kinks active where L-BFGS stops, the others
// need the smoothed clamp's continuation.
func TestCorrectedKinkMinimum(t *testing.T) {
	for _, tc := range []struct {
		types, inst int
		tau         float64
	}{{2, 22, 0.5}, {2, 29, 0.5}, {2, 34, 0.5}, {2, 39, 0.5}, {2, 45, 0.5},
		{2, 349, 0.5}, {3, 820, 0.5}, {5, 261, 0.5}, {5, 534, 0.5}, {5, 48, 0.5}, {3, 97, 1}, {5, 132, 1}} {
		w, d := randomWorld(t, tc.inst, tc.types, tc.tau, analytic.Anonymous)
		v := tabular.PreferenceVariance(w.Prompts[0].Env())
		won := d.Prompts[0].Won
		res, err := tabular.FitCorrected(d.Prompts[0], w.Prompts[0].Reference, tabular.CorrectedConfig{Beta: 1, Alpha: 2, Clamp: 0.1, V: v})
		if err != nil {
			t.Errorf("%d types, instance %d: %v", tc.types, tc.inst, err)
			continue
		}
		th := res.LogRatio
		f0 := correctedLoss(won, v, 2, th)
		onKink := false
		for a := range th {
			for b := range th {
				s := 1 / (1 + math.Exp(-(th[a] - th[b])))
				if a != b && math.Abs(math.Abs(0.5*(1-2*s)*v[a][b]/(s*(1-s)))-0.1) < 1e-6 {
					onKink = true
				}
				for _, h := range []float64{1e-5, -1e-5} {
					try := append([]float64(nil), th...)
					try[a] += h
					if a != b {
						try[b] -= h
					}
					if f := correctedLoss(won, v, 2, try); f < f0-1e-12 {
						t.Errorf("%d types, instance %d: a step along (%d, %d) lowers the loss by %.3g", tc.types, tc.inst, a, b, f0-f)
					}
				}
			}
		}
		if !onKink {
			t.Errorf("%d types, instance %d: no pair on the clamp at %v", tc.types, tc.inst, th)
		}
	}
}
