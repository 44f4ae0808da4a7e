package neural

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"hetalign/envs/analytic"
)

// logSig is log σ(x), written directly (the test's values are moderate).
func logSig(x float64) float64 { return math.Log(1 / (1 + math.Exp(-x))) }

// publishedLoss is the published code's consistent loss on one tuple in
// closed form: h = β·z; −log σ(U·h) weighted by p (all prefer y2) plus
// log σ(U·(1 − h)) weighted by 1 − p (all prefer y1, the bug); symmetric
// averages it with the swapped orientation (h → −h, p → 1 − p). grad is
// its derivative in z.
func publishedLoss(z, p, beta, u float64, symmetric bool) (loss, grad float64) {
	oriented := func(h, p float64) (float64, float64) {
		l := -p*logSig(u*h) + (1-p)*logSig(u*(1-h))
		// d/dh: −p·U·σ(−Uh) − (1 − p)·U·σ(−U(1 − h)), using
		// d/dx log σ(x) = σ(−x) = 1 − σ(x).
		sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
		d := -p*u*sig(-u*h) - (1-p)*u*sig(-u*(1-h))
		return l, d
	}
	h := beta * z
	l, d := oriented(h, p)
	if !symmetric {
		return l, beta * d
	}
	l2, d2 := oriented(-h, 1-p)
	return (l + l2) / 2, beta * (d - d2) / 2
}

// lossAndGrad evaluates PairLoss and its gradient in z on a batch of one
// tuple on GoMLX.
func lossAndGrad(t *testing.T, loss Loss, z, p float64) (float64, float64) {
	t.Helper()
	be, err := Backend("go")
	if err != nil {
		t.Fatal(err)
	}
	exec, err := NewExec(be, func(z, p *Node) (*Node, *Node) {
		l := PairLoss(loss, z, []*Node{p})
		return l, Gradient(l, z)[0]
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions([]float64{z}, 1), tensors.FromFlatDataAndDimensions([]float64{p}, 1))
	if err != nil {
		t.Fatal(err)
	}
	l := out[0].Value().(float64)
	g, err := tensors.CopyFlatData[float64](out[1])
	if err != nil {
		t.Fatal(err)
	}
	return l, g[0]
}

// The graph's published consistent loss (softplus forms) and its gradient
// equal the closed form, oriented and averaged over orientations.
func TestPublishedConsistentLossValue(t *testing.T) {
	tests := []struct {
		z, p, beta, u float64
		symmetric     bool
	}{
		{0, 1, 1, 3, false},
		{0.4, 1, 1, 3, false},
		{-1.2, 0, 1, 3, false},
		{2.5, 0.3, 0.5, 3, false},
		{-0.7, 0.8, 1, 2, false},
		{0, 0.5, 1, 3, true},
		{1.3, 0, 1, 3, true},
		{-2, 1, 1, 3, true},
		{0.6, 0.25, 2, 3, true},
	}
	for _, tc := range tests {
		loss := Loss{Kind: "consistent-published", Beta: tc.beta, Scale: tc.u, Symmetric: tc.symmetric}
		gotL, gotG := lossAndGrad(t, loss, tc.z, tc.p)
		wantL, wantG := publishedLoss(tc.z, tc.p, tc.beta, tc.u, tc.symmetric)
		if math.Abs(gotL-wantL) > 1e-12 || math.Abs(gotG-wantG) > 1e-12 {
			t.Errorf("%+v: loss %.15g, gradient %.15g; closed form %.15g, %.15g", tc, gotL, gotG, wantL, wantG)
		}
	}
	// At z = 0 and p = 1 both variants cost −log σ(0) = log 2.
	if l, _ := lossAndGrad(t, Loss{Kind: "consistent-published", Beta: 1, Scale: 3}, 0, 1); math.Abs(l-math.Ln2) > 1e-15 {
		t.Errorf("published loss at z = 0, p = 1: %v, want log 2", l)
	}
	// Far out, the softplus forms stay finite where the direct formula
	// would overflow: at p = 0 the oriented loss is −softplus(U(h − 1)) ≈
	// −U(h − 1).
	if l, _ := lossAndGrad(t, Loss{Kind: "consistent-published", Beta: 1, Scale: 3}, 400, 0); math.Abs(l-(-3*399)) > 1e-9 {
		t.Errorf("published loss at z = 400, p = 0: %v, want %v", l, -3*399.)
	}
}

// On a unanimous tuple won by y2 (p = 1) the published loss, like Eq. 20,
// lowers as z = score(y2) − score(y1) rises: the gradient pushes the winner
// up. On one won by y1 (p = 0) Eq. 20 pushes y1 up, while the oriented
// published loss pushes y2 (the loser) up: the published bug. Averaged over
// both orientations the published loss pushes the winner up again.
func TestPublishedConsistentGradientSign(t *testing.T) {
	eq20 := Loss{Kind: "dpo", Beta: 1, Scale: 3}
	oriented := Loss{Kind: "consistent-published", Beta: 1, Scale: 3}
	symmetric := Loss{Kind: "consistent-published", Beta: 1, Scale: 3, Symmetric: true}
	tests := []struct {
		name     string
		loss     Loss
		p        float64
		winnerUp bool // dℓ/dz < 0 when y2 won (p = 1), > 0 when y1 won
	}{
		{"eq20, y2 won", eq20, 1, true},
		{"eq20, y1 won", eq20, 0, true},
		{"published, y2 won", oriented, 1, true},
		{"published, y1 won (the bug)", oriented, 0, false},
		{"published symmetric, y2 won", symmetric, 1, true},
		{"published symmetric, y1 won", symmetric, 0, true},
	}
	for _, tc := range tests {
		for _, z := range []float64{-1.5, -0.2, 0, 0.3, 2} {
			_, g := lossAndGrad(t, tc.loss, z, tc.p)
			// Gradient descent moves z by −g: the winner goes up when
			// −g has the sign of (2p − 1).
			up := -g*(2*tc.p-1) > 0
			if up != tc.winnerUp {
				t.Errorf("%s at z = %v: dℓ/dz = %v (winner up: %v, want %v)", tc.name, z, g, up, tc.winnerUp)
			}
		}
	}
}

// On a small circle's population full data, Adam on the published variant
// lands on a different tabular policy than on Eq. 20 (which reaches π*).
func TestPublishedConsistentChangesPolicy(t *testing.T) {
	e := circle(8)
	w, err := e.World()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := w.PopulationData(analytic.Full)
	be, _ := Backend("go")
	tu := tuplesOf(d, func(ds *analytic.Dataset) [][]float64 { return ds.Unanimous })
	opt := Optim{LR: 0.02, Batch: 1024, Steps: 1500}
	fit := func(l Loss) *Result {
		res, err := Train(be, tu, 8, 8, l, Arch{Kind: "tabular"}, opt, 1)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	eq20 := fit(Loss{Kind: "dpo", Beta: 1, Scale: 3})
	pub := fit(Loss{Kind: "consistent-published", Beta: 1, Scale: 3, Symmetric: true})
	var between, eq20Off, pubOff float64
	for x := range w.Prompts {
		star := w.Prompts[x].PiStar
		for y := range star {
			between += math.Abs(eq20.Policy[x][y]-pub.Policy[x][y]) / 2 / 8
			eq20Off += math.Abs(eq20.Policy[x][y]-star[y]) / 2 / 8
			pubOff += math.Abs(pub.Policy[x][y]-star[y]) / 2 / 8
		}
	}
	if eq20Off > 0.01 {
		t.Errorf("Eq. 20 by SGD is %.4f (mean TV) from π*", eq20Off)
	}
	if between < 0.005 || pubOff < 0.005 {
		t.Errorf("the published variant's policy is %.4f (mean TV) from Eq. 20's and %.4f from π* (Eq. 20: %.4f)", between, pubOff, eq20Off)
	}
	t.Logf("mean TV: published vs Eq. 20 %.4f; to π*: Eq. 20 %.4f, published %.4f", between, eq20Off, pubOff)
}
