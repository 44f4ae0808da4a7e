package neural

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"hetalign/envs"
	"hetalign/methods/pairloss"
)

// This file keeps the trainers as they were before adamTrainer — one
// GoMLX train.Trainer step per Adam step, the logits gathered at (x, y)
// pairs — as the reference the multi-step trainer is checked against.

// refAllLogits are the logits of every prompt through logits(Iota).
func refAllLogits(ctx *context.Context, a Arch, g *Graph, nX, nY int) *Node {
	if a.Kind == "tabular" {
		return a.table(ctx, g, nX, nY)
	}
	return a.logits(ctx, Iota(g, shapes.Make(dtypes.Int32, nX), 0), nX, nY)
}

func refPick(all, x, y *Node) *Node { return Gather(all, Stack([]*Node{x, y}, -1)) }

// trainReference is Train as it was.
func trainReference(backend backends.Backend, data *Tuples, nX, nY int, loss Loss, arch Arch, opt Optim, seed uint64) (*Result, error) {
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed >> 1)); err != nil {
		return nil, err
	}
	model := func(ctx *context.Context, _ any, in []*Node) []*Node {
		all := refAllLogits(ctx, arch, in[0].Graph(), nX, nY)
		return []*Node{Sub(refPick(all, in[0], in[2]), refPick(all, in[0], in[1]))}
	}
	lossFn := func(labels, pred []*Node) *Node { return PairLoss(loss, pred[0], labels) }
	trainer := train.NewTrainer(backend, ctx, model, lossFn, optimizers.Adam().LearningRate(opt.LR).Done(), nil, nil)
	var extra func(step int, ks []int) []*tensors.Tensor
	if loss.Kind == "corrected" {
		vs := make([]float64, opt.Batch)
		alphas := make([]float64, opt.Batch)
		extra = func(step int, ks []int) []*tensors.Tensor {
			for i, k := range ks {
				vs[i] = data.V[k]
				alphas[i] = loss.Alpha
				if step < loss.WarmSteps {
					alphas[i] = 0
				}
			}
			return []*tensors.Tensor{tensors.FromFlatDataAndDimensions(vs, opt.Batch), tensors.FromFlatDataAndDimensions(alphas, opt.Batch)}
		}
	}
	mean, err := refFitTuples(trainer, data, opt, seed, extra)
	if err != nil {
		return nil, err
	}
	pol, err := policy(backend, ctx, arch, nX, nY)
	if err != nil {
		return nil, err
	}
	return &Result{Policy: pol, FinalLoss: mean}, nil
}

// trainLossReference is TrainLoss as it was.
func trainLossReference(backend backends.Backend, data *Tuples, logRef [][]float64, nX, nY int, loss pairloss.Loss, arch Arch, opt Optim, seed uint64) (*Result, error) {
	var flatRef []float64
	for _, row := range logRef {
		flatRef = append(flatRef, row...)
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed >> 1)); err != nil {
		return nil, err
	}
	model := func(ctx *context.Context, _ any, in []*Node) []*Node {
		g := in[0].Graph()
		all := refAllLogits(ctx, arch, g, nX, nY)
		rho := Sub(LogSoftmax(all), Reshape(Const(g, flatRef), nX, nY))
		return []*Node{refPick(rho, in[0], in[1]), refPick(rho, in[0], in[2])}
	}
	lossFn := func(labels, pred []*Node) *Node { return softLoss(loss, pred[0], pred[1], labels[0]) }
	trainer := train.NewTrainer(backend, ctx, model, lossFn, optimizers.Adam().LearningRate(opt.LR).Done(), nil, nil)
	mean, err := refFitTuples(trainer, data, opt, seed, nil)
	if err != nil {
		return nil, err
	}
	pol, err := policy(backend, ctx, arch, nX, nY)
	if err != nil {
		return nil, err
	}
	return &Result{Policy: pol, FinalLoss: mean}, nil
}

// refFitTuples is fitTuples as it was: one TrainStep per Adam step.
func refFitTuples(trainer *train.Trainer, data *Tuples, opt Optim, seed uint64, extra func(step int, ks []int) []*tensors.Tensor) (float64, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0xda942042e4dd58b5))
	pick, err := envs.NewCategorical(data.Weight)
	if err != nil {
		return 0, fmt.Errorf("tuples: %w", err)
	}
	x := make([]int32, opt.Batch)
	y1 := make([]int32, opt.Batch)
	y2 := make([]int32, opt.Batch)
	lab := make([]float64, opt.Batch)
	ks := make([]int, opt.Batch)
	var tail []float64
	for step := range opt.Steps {
		for i := range opt.Batch {
			k := pick.Draw(rng.Float64())
			ks[i] = k
			x[i], y1[i], y2[i], lab[i] = data.X[k], data.Y1[k], data.Y2[k], data.Label[k]
		}
		in := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, opt.Batch),
			tensors.FromFlatDataAndDimensions(y1, opt.Batch), tensors.FromFlatDataAndDimensions(y2, opt.Batch)}
		labels := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(lab, opt.Batch)}
		if extra != nil {
			labels = append(labels, extra(step, ks)...)
		}
		ms, err := trainer.TrainStep(nil, in, labels)
		if err != nil {
			return 0, fmt.Errorf("training step %d: %w", step, err)
		}
		if step >= opt.Steps-100 && len(ms) > 0 {
			if v, ok := ms[0].Value().(float64); ok {
				tail = append(tail, v)
			}
		}
	}
	var mean float64
	for _, v := range tail {
		mean += v / float64(len(tail))
	}
	return mean, nil
}

// maxPolicyDiff is the largest |π − π'| over prompts and responses.
func maxPolicyDiff(a, b [][]float64) float64 {
	var worst float64
	for x := range a {
		for y := range a[x] {
			worst = math.Max(worst, math.Abs(a[x][y]-b[x][y]))
		}
	}
	return worst
}
