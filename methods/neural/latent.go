package neural

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// PolicyTrainer trains one policy network by DPO (Eq. 6, Train's loss
// "dpo" with Scale 1) across calls, keeping its weights and Adam's moments
// and step count between them: the warm-started M-step of EM by SGD
// (EM-DPO's per-type policies), where each call trains on the labels
// re-weighted by the latest posteriors.
type PolicyTrainer struct {
	backend backends.Backend
	ctx     *context.Context
	arch    Arch
	nX, nY  int
	tr      *adamTrainer
	batch   int
	eval    func() ([][]float64, error)
}

// NewPolicyTrainer is a fresh network (weights seeded by seed) trained by
// DPO with β = beta and Adam with learning rate lr on minibatches of
// batch tuples.
func NewPolicyTrainer(backend backends.Backend, nX, nY int, beta float64, arch Arch, lr float64, batch int, seed uint64) (*PolicyTrainer, error) {
	if batch < 1 || !(lr > 0) || !(beta > 0) {
		return nil, fmt.Errorf("need batch ≥ 1, lr > 0 and β > 0, got %d, %v, %v", batch, lr, beta)
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed >> 1)); err != nil {
		return nil, err
	}
	loss := Loss{Kind: "dpo", Scale: 1, Beta: beta}
	obj := func(ctx *context.Context, b batchNodes, withLoss bool) (grad, value *Node) {
		z := arch.logRatioDiff(ctx, b.I1, b.I2, nX, nY)
		dz, _ := pairLossGrad(loss, z, []*Node{b.P})
		grad = ReduceAllSum(IdentityWithCustomGradient(z, func(_, _ *Node) *Node { return dz }))
		if withLoss {
			value = PairLoss(loss, z, []*Node{b.P})
		}
		return grad, value
	}
	return &PolicyTrainer{backend: backend, ctx: ctx, arch: arch, nX: nX, nY: nY, batch: batch,
		tr: newAdamTrainer(backend, ctx, obj, lr, batch, false)}, nil
}

// Train runs steps more Adam steps on minibatches drawn from data in
// proportion to Weight (a stream seeded by seed) and returns the mean loss
// of the last steps (Train's FinalLoss).
func (p *PolicyTrainer) Train(data *Tuples, steps int, seed uint64) (float64, error) {
	if data.Len() == 0 {
		return 0, fmt.Errorf("no tuples to train on")
	}
	if steps < 1 {
		return 0, fmt.Errorf("need steps ≥ 1, got %d", steps)
	}
	return p.tr.fit(data, p.nY, Optim{LR: p.tr.lr, Batch: p.batch, Steps: steps}, seed, nil)
}

// Policy is the network's policy, Policy[x][y] = π(y|x).
func (p *PolicyTrainer) Policy() ([][]float64, error) {
	if p.eval == nil {
		eval, err := policyExec(p.backend, p.ctx, p.arch, p.nX, p.nY)
		if err != nil {
			return nil, err
		}
		p.eval = eval
	}
	return p.eval()
}

// MaxMinOptions are the settings of MaxMinSGD: Rounds rounds of Steps
// Adam steps each with learning rate LR, and the step Eta of the
// exponentiated-weights update of the groups' weights.
type MaxMinOptions struct {
	Rounds, Steps int
	LR, Eta       float64
}

// MaxMinSGD trains a policy network for the max-min objective of
// MaxMin-RLHF (Chakraborty et al. 2024),
//
//	max_π min_k V_k(π),  V_k(π) = Σ_x prior(x) [E_{π(·|x)}[r_k(x, ·)] − β·KL(π(·|x) ‖ π_ref(·|x))],
//
// as a game between the policy and weights λ ∈ Δ_K over the groups
// (max_π min_λ Σ_k λ_k V_k(π), whose saddle point is the max-min policy):
// each round takes Steps Adam steps on the policy's weights for the
// λ-weighted objective Σ_k λ_k V_k(π) (exact expectations over the finite
// alternatives: the Lagrangian's gradient, no sampling), then moves λ by
// exponentiated weights, λ_k ← λ_k·e^{−η V_k(π)} normalised, towards the
// worst-off groups. rewards[k][x][y] are r_k; logRef[x][y] = log
// π_ref(y|x). It returns the last policy, λ, and min_k V_k of that
// policy.
func MaxMinSGD(backend backends.Backend, rewards [][][]float64, prior []float64, logRef [][]float64, beta float64,
	arch Arch, o MaxMinOptions, seed uint64) (pol [][]float64, lambda []float64, worst float64, err error) {
	K := len(rewards)
	if K < 1 || o.Rounds < 1 || o.Steps < 1 || !(o.LR > 0) || !(o.Eta > 0) || !(beta > 0) {
		return nil, nil, 0, fmt.Errorf("max-min by SGD needs groups, rounds, steps ≥ 1 and lr, η, β > 0")
	}
	nX, nY := len(logRef), len(logRef[0])
	flatRef := make([]float64, 0, nX*nY)
	for _, row := range logRef {
		flatRef = append(flatRef, row...)
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed >> 1)); err != nil {
		return nil, nil, 0, err
	}
	// The model's one output is −Σ_x prior(x) Σ_y π(y|x)[r_λ(x,y) − β log(π(y|x)/π_ref(y|x))],
	// r_λ the input; the loss is that output.
	model := func(ctx *context.Context, _ any, in []*Node) []*Node {
		g := in[0].Graph()
		logPi := LogSoftmax(arch.allLogits(ctx, g, nX, nY))
		pi := Exp(logPi)
		ratio := Sub(logPi, Reshape(Const(g, flatRef), nX, nY))
		gain := Sub(Reshape(in[0], nX, nY), MulScalar(ratio, beta))
		perX := ReduceSum(Mul(pi, gain), -1)
		return []*Node{Neg(ReduceAllSum(Mul(perX, Const(g, prior))))}
	}
	lossFn := func(_, pred []*Node) *Node { return pred[0] }
	trainer := train.NewTrainer(backend, ctx, model, lossFn, optimizers.Adam().LearningRate(o.LR).Done(), nil, nil)
	lambda = make([]float64, K)
	for k := range lambda {
		lambda[k] = 1 / float64(K)
	}
	rl := make([]float64, nX*nY)
	var eval func() ([][]float64, error)
	values := func(pol [][]float64) []float64 {
		v := make([]float64, K)
		for k := range K {
			for x := range nX {
				for y, p := range pol[x] {
					if p > 0 {
						v[k] += prior[x] * p * (rewards[k][x][y] - beta*(math.Log(p)-logRef[x][y]))
					}
				}
			}
		}
		return v
	}
	for round := range o.Rounds {
		for i := range rl {
			rl[i] = 0
		}
		for k, l := range lambda {
			for x := range nX {
				for y := range nY {
					rl[x*nY+y] += l * rewards[k][x][y]
				}
			}
		}
		in := tensors.FromFlatDataAndDimensions(append([]float64(nil), rl...), nX*nY)
		for step := range o.Steps {
			if _, err := trainer.TrainStep(nil, []*tensors.Tensor{in}, nil); err != nil {
				return nil, nil, 0, fmt.Errorf("max-min round %d, step %d: %w", round, step, err)
			}
		}
		if eval == nil {
			if eval, err = policyExec(backend, ctx, arch, nX, nY); err != nil {
				return nil, nil, 0, err
			}
		}
		if pol, err = eval(); err != nil {
			return nil, nil, 0, err
		}
		v := values(pol)
		var s float64
		for k := range lambda {
			lambda[k] *= math.Exp(-o.Eta * v[k])
			s += lambda[k]
		}
		for k := range lambda {
			lambda[k] /= s
		}
	}
	worst = math.Inf(1)
	for _, x := range values(pol) {
		worst = math.Min(worst, x)
	}
	return pol, lambda, worst, nil
}
