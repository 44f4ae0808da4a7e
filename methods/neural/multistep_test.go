package neural

import (
	"fmt"
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"

	"hetalign/envs/analytic"
	"hetalign/methods/pairloss"
)

// The multi-step trainer does what the one-step-per-call trainer did: for
// every loss kind and both architectures, from the same tuples, seed and
// settings, its policy is the reference's (trainReference, the former
// Train) to 1e-9 and so is its FinalLoss, with step counts that leave
// steps over after whole calls, calls of several sizes (one step per call
// included) and runs shorter than the loss tail or than one call.
func TestMultiStepMatchesReference(t *testing.T) {
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
	losses := testLosses
	archs := []Arch{{Kind: "tabular"}, {Kind: "mlp", Depth: 2, Width: 6, Activation: "tanh"}}
	defer func(k int) { stepsPerCall = k }(stepsPerCall)
	for _, arch := range archs {
		for _, loss := range losses {
			for _, run := range []struct{ k, steps int }{{20, 137}, {7, 64}, {4, 3}, {1, 5}} {
				name := fmt.Sprintf("%s/%s-%v-%v-sym%v/k%d-steps%d", arch.Kind, loss.Kind, loss.Beta, loss.Scale, loss.Symmetric, run.k, run.steps)
				t.Run(name, func(t *testing.T) {
					stepsPerCall = run.k
					opt := Optim{LR: 1e-2, Batch: 32, Steps: run.steps}
					got, err := trainGraph(be, tu, 8, 8, loss, arch, opt, 3) // the graph, also for tabular
					if err != nil {
						t.Fatal(err)
					}
					want, err := trainReference(be, tu, 8, 8, loss, arch, opt, 3)
					if err != nil {
						t.Fatal(err)
					}
					if diff := maxPolicyDiff(got.Policy, want.Policy); diff > 1e-9 {
						t.Errorf("policies differ by %.3g", diff)
					}
					if diff := math.Abs(got.FinalLoss - want.FinalLoss); diff > 1e-9*math.Max(1, math.Abs(want.FinalLoss)) {
						t.Errorf("final loss %v, reference %v", got.FinalLoss, want.FinalLoss)
					}
				})
			}
		}
	}
}

// TrainLoss on the multi-step trainer matches its former implementation
// for a DeltaOnly loss and one that is not, on both architectures.
func TestTrainLossMultiStepMatchesReference(t *testing.T) {
	e := circle(6)
	w, _ := e.World()
	d, _ := w.Sample(analytic.Anonymous, 20_000, 2)
	tu := tuplesOf(d, wonOf)
	be, err := Backend("go")
	if err != nil {
		t.Fatal(err)
	}
	logRef := make([][]float64, 6)
	for x := range logRef {
		logRef[x] = make([]float64, 6)
		for y := range logRef[x] {
			logRef[x][y] = math.Log(float64(1+(x+y)%3) / 12)
		}
	}
	defer func(k int) { stepsPerCall = k }(stepsPerCall)
	stepsPerCall = 9
	for _, arch := range []Arch{{Kind: "tabular"}, {Kind: "mlp", Depth: 2, Width: 5, Activation: "relu"}} {
		for _, l := range []pairloss.Loss{pairloss.CDPO(1, 0.1), pairloss.NCA(1)} {
			t.Run(fmt.Sprintf("%s/%v", arch.Kind, l), func(t *testing.T) {
				opt := Optim{LR: 1e-2, Batch: 16, Steps: 121}
				got, err := TrainLoss(be, tu, logRef, 6, 6, l, arch, opt, 5)
				if err != nil {
					t.Fatal(err)
				}
				want, err := trainLossReference(be, tu, logRef, 6, 6, l, arch, opt, 5)
				if err != nil {
					t.Fatal(err)
				}
				if diff := maxPolicyDiff(got.Policy, want.Policy); diff > 1e-9 {
					t.Errorf("policies differ by %.3g", diff)
				}
				if diff := math.Abs(got.FinalLoss - want.FinalLoss); diff > 1e-9*math.Max(1, math.Abs(want.FinalLoss)) {
					t.Errorf("final loss %v, reference %v", got.FinalLoss, want.FinalLoss)
				}
			})
		}
	}
}

// DPO's written-out dℓ/dz is GoMLX's gradient of PairLoss.
func TestPairLossGradMatchesAutodiff(t *testing.T) {
	be, err := Backend("go")
	if err != nil {
		t.Fatal(err)
	}
	z := []float64{-40, -3, -0.5, 0, 0.1, 2, 35}
	p := []float64{0, 0.2, 1, 0.5, 0.9, 0.3, 1}
	for _, loss := range []Loss{{Kind: "dpo", Beta: 1, Scale: 1}, {Kind: "dpo", Beta: 0.3, Scale: 4}} {
		exec, err := NewExec(be, func(z, p *Node) []*Node {
			dz, _ := pairLossGrad(loss, z, []*Node{p})
			return []*Node{dz, Gradient(PairLoss(loss, z, []*Node{p}), z)[0]}
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(z, p)
		if err != nil {
			t.Fatal(err)
		}
		got, want := out[0].Value().([]float64), out[1].Value().([]float64)
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-15 {
				t.Errorf("%+v: dℓ/dz at z=%v, p=%v: %v, autodiff %v", loss, z[i], p[i], got[i], want[i])
			}
		}
	}
}
