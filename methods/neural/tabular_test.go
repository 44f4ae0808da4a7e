package neural

import (
	"fmt"
	"math"
	"testing"

	"hetalign/envs/analytic"
)

// trainTabular does what the GoMLX graph does: for every loss kind, from
// the same tuples, seed and settings, its policy and FinalLoss equal
// trainGraph's to 1e-9, for runs shorter and longer than the loss tail.
func TestHostTabularMatchesGraph(t *testing.T) {
	e := circle(8)
	w, _ := e.World()
	d, _ := w.Sample(analytic.Anonymous, 20_000, 1)
	tu := tuplesOf(d, wonOf)
	tu.V = make([]float64, tu.Len())
	for i := range tu.V {
		tu.V[i] = 0.02 + 0.2*float64(i%7)/7
	}
	be, err := Backend("go")
	if err != nil {
		t.Fatal(err)
	}
	if !hostTabular(be, Arch{Kind: "tabular"}) || hostTabular(be, Arch{Kind: "mlp"}) {
		t.Fatal("hostTabular should pick exactly the tabular policy on the pure-Go backend")
	}
	for _, loss := range testLosses {
		for _, steps := range []int{37, 160} {
			t.Run(fmt.Sprintf("%s-%v-%v-sym%v/steps%d", loss.Kind, loss.Beta, loss.Scale, loss.Symmetric, steps), func(t *testing.T) {
				opt := Optim{LR: 1e-2, Batch: 32, Steps: steps}
				got, err := trainTabular(tu, 8, 8, loss, opt, 3)
				if err != nil {
					t.Fatal(err)
				}
				want, err := trainGraph(be, tu, 8, 8, loss, Arch{Kind: "tabular"}, opt, 3)
				if err != nil {
					t.Fatal(err)
				}
				if diff := maxPolicyDiff(got.Policy, want.Policy); diff > 1e-9 {
					t.Errorf("policies differ by %.3g", diff)
				}
				if diff := math.Abs(got.FinalLoss - want.FinalLoss); diff > 1e-9*math.Max(1, math.Abs(want.FinalLoss)) {
					t.Errorf("final loss %v, graph %v", got.FinalLoss, want.FinalLoss)
				}
			})
		}
	}
}

// testLosses are one of every loss kind Train knows, with corrected DPO's
// warm-up inside the runs.
var testLosses = []Loss{
	{Kind: "dpo", Beta: 1, Scale: 1},
	{Kind: "dpo", Beta: 0.5, Scale: 3}, // the consistent loss
	{Kind: "ipo", Tau: 0.5},
	{Kind: "corrected", Beta: 1, Scale: 1, Alpha: 1, Clamp: 0.1, Epsilon: 1e-6, WarmSteps: 30},
	{Kind: "corrected", Beta: 2, Scale: 1, Alpha: 0.5, Clamp: 5, Epsilon: 1e-6},
	{Kind: "integral", Beta: 1, Scale: 3},
	{Kind: "consistent-published", Beta: 1, Scale: 3},
	{Kind: "consistent-published", Beta: 1, Scale: 3, Symmetric: true},
}

// pairGrad's dℓ/dz is the derivative of its loss (central differences),
// for every kind whose reported loss is the loss (integral reports h and
// is checked by the graph comparison above), at labels, margins and
// variances inside and outside corrected DPO's clamp.
func TestPairGradIsDerivative(t *testing.T) {
	for _, loss := range testLosses {
		if loss.Kind == "integral" {
			continue
		}
		for _, z := range []float64{-3, -0.7, 0.05, 1.3, 4} {
			for _, p := range []float64{0, 0.3, 1} {
				for _, V := range []float64{0.01, 0.2} {
					alpha := loss.Alpha
					d, _ := pairGrad(loss, z, p, V, alpha, true)
					const h = 1e-6
					_, lp := pairGrad(loss, z+h, p, V, alpha, true)
					_, lm := pairGrad(loss, z-h, p, V, alpha, true)
					fd := (lp - lm) / (2 * h)
					if math.Abs(d-fd) > 1e-6*math.Max(1, math.Abs(fd)) {
						t.Errorf("%s (β %v, U %v, sym %v) at z=%v p=%v V=%v: dℓ/dz %v, differences %v", loss.Kind, loss.Beta, loss.Scale, loss.Symmetric, z, p, V, d, fd)
					}
				}
			}
		}
	}
}
