package neural

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// PairBatch is a minibatch of paired preferences (Section 5.3): two
// tuples (x, a, b) and (x2, c, d) labelled by the same annotator, and
// Label the probability (or indicator) that the annotator preferred b over
// a and d over c, o·o′.
type PairBatch struct {
	X, A, B, X2, C, D []int32
	Label             []float64
}

// Joint is a fitted joint-likelihood model: a mixture of K tabular latent
// rewards, J = Σ_k w_k σ(R_k(x,b) − R_k(x,a)) σ(R_k(x2,d) − R_k(x2,c)).
type Joint struct {
	// R[k][x][y] are the latent rewards; W the mixture weights.
	R [][][]float64
	W []float64
}

// Variance is V(x, a, b) = Σ_k w_k σ_k² − (Σ_k w_k σ_k)² with σ_k =
// σ(R_k(x,b) − R_k(x,a)): the published V = J1 − (J1 + J2)² with J1 the
// model on the pair twice and J2 on the pair and its flip.
func (j *Joint) Variance(x, a, b int) float64 {
	var m1, m2 float64
	for k, w := range j.W {
		s := 1 / (1 + math.Exp(-(j.R[k][x][b] - j.R[k][x][a])))
		m1 += w * s
		m2 += w * s * s
	}
	return math.Max(0, m2-m1*m1)
}

// TrainJoint fits J by Adam on the binary cross-entropy between J and the
// labels o·o′ (Section 5.3), drawing each step's batch from next.
func TrainJoint(backend backends.Backend, next func(step int) PairBatch, nX, nY, K int, opt Optim, seed uint64) (*Joint, error) {
	if K < 1 || opt.Batch < 1 || opt.Steps < 1 || !(opt.LR > 0) {
		return nil, fmt.Errorf("joint model: need K, batch, steps ≥ 1 and lr > 0")
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed >> 1)); err != nil {
		return nil, err
	}
	rewards := func(ctx *context.Context, g *Graph) (*Node, *Node) {
		r := ctx.WithInitializer(initializers.RandomNormalFn(ctx, 0.5)).
			VariableWithShape("latent_rewards", shapes.Make(dtypes.Float64, nX, nY, K)).ValueGraph(g)
		w := ctx.WithInitializer(func(g *Graph, s shapes.Shape) *Node { return Zeros(g, s) }).
			VariableWithShape("mixture_logits", shapes.Make(dtypes.Float64, K)).ValueGraph(g)
		return r, Softmax(w, -1)
	}
	model := func(ctx *context.Context, _ any, in []*Node) []*Node {
		r, w := rewards(ctx, in[0].Graph())
		pref := func(x, a, b *Node) *Node { // σ(R_k(x,b) − R_k(x,a)) for every k: [B, K]
			ra := Gather(r, Stack([]*Node{x, a}, -1))
			rb := Gather(r, Stack([]*Node{x, b}, -1))
			return Sigmoid(Sub(rb, ra))
		}
		j := ReduceSum(Mul(Mul(pref(in[0], in[1], in[2]), pref(in[3], in[4], in[5])), InsertAxes(w, 0)), -1)
		return []*Node{j}
	}
	lossFn := func(labels, pred []*Node) *Node {
		const eps = 1e-7
		j := ClipScalar(pred[0], eps, 1-eps)
		p := labels[0]
		return Neg(ReduceAllMean(Add(Mul(p, Log(j)), Mul(OneMinus(p), Log(OneMinus(j))))))
	}
	trainer := train.NewTrainer(backend, ctx, model, lossFn, optimizers.Adam().LearningRate(opt.LR).Done(), nil, nil)
	for step := range opt.Steps {
		bt := next(step)
		n := len(bt.X)
		in := []*tensors.Tensor{
			tensors.FromFlatDataAndDimensions(bt.X, n), tensors.FromFlatDataAndDimensions(bt.A, n), tensors.FromFlatDataAndDimensions(bt.B, n),
			tensors.FromFlatDataAndDimensions(bt.X2, n), tensors.FromFlatDataAndDimensions(bt.C, n), tensors.FromFlatDataAndDimensions(bt.D, n),
		}
		if _, err := trainer.TrainStep(nil, in, []*tensors.Tensor{tensors.FromFlatDataAndDimensions(bt.Label, n)}); err != nil {
			return nil, fmt.Errorf("joint model step %d: %w", step, err)
		}
	}
	exec, err := context.NewExec(backend, ctx.Reuse(), func(ctx *context.Context, g *Graph) (*Node, *Node) {
		return rewards(ctx, g)
	})
	if err != nil {
		return nil, err
	}
	out, err := exec.Exec()
	if err != nil {
		return nil, err
	}
	flat, err := tensors.CopyFlatData[float64](out[0])
	if err != nil {
		return nil, err
	}
	w, err := tensors.CopyFlatData[float64](out[1])
	if err != nil {
		return nil, err
	}
	j := &Joint{W: w, R: make([][][]float64, K)}
	for k := range K {
		j.R[k] = make([][]float64, nX)
		for x := range nX {
			j.R[k][x] = make([]float64, nY)
			for y := range nY {
				j.R[k][x][y] = flat[(x*nY+y)*K+k]
			}
		}
	}
	return j, nil
}
