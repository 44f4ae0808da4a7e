package neural

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"hetalign/envs"
)

// NashGame is the preference game of Nash learning from human feedback
// (Munos et al. 2023) on finite alternatives, one per prompt: P[x][a][b] =
// Pr(a ≻ b | x) (nil for a prompt without data, which the loss skips),
// LogRef[x][y] = log π_ref(y|x), Mass[x] each prompt's share of the
// objective, Tau the KL regularisation τ > 0, Eta the mirror-descent step
// η (ητ ≤ 1) and Refresh the Adam steps per round (≥ 1).
type NashGame struct {
	P       [][][]float64
	LogRef  [][]float64
	Mass    []float64
	Tau     float64
	Eta     float64
	Refresh int
}

// NashTarget is one step of Nash mirror descent (Munos et al. 2023,
// Nash-MD, in games.Nash's form) from π on one prompt:
//
//	π_mix ∝ π^{1−ητ}·π_ref^{ητ},   T ∝ π_mix·exp(η·P(· ≻ π)),
//
// P(y ≻ π) = Σ_{y′} π(y′)·P[y][y′]: the geometric mixture with the
// reference, tilted by each response's win rate against π. Its fixed
// points T = π are exactly the regularised Nash equilibrium
// π ∝ π_ref·exp(P(· ≻ π)/τ).
func NashTarget(P [][]float64, logRef, pi []float64, tau, eta float64) []float64 {
	n := len(pi)
	t := make([]float64, n)
	m := math.Inf(-1)
	for y := range n {
		var b float64
		for y2, q := range pi {
			b += q * P[y][y2]
		}
		t[y] = (1-eta*tau)*math.Log(pi[y]) + eta*tau*logRef[y] + eta*b
		m = math.Max(m, t[y])
	}
	var z float64
	for y := range t {
		t[y] = math.Exp(t[y] - m)
		z += t[y]
	}
	for y := range t {
		t[y] /= z
	}
	return t
}

// TrainNash trains a policy network (arch: tabular or MLP) by Nash mirror
// descent with function approximation (Munos et al. 2023) with Adam. Each
// round computes, exactly on the finite alternatives, the Nash-MD target
// T_x = NashTarget(P[x], π_θ(·|x)) from the network's current policy and
// holds it for Refresh Adam steps, each on a minibatch of prompts drawn in
// proportion to Mass, descending the mean of
//
//	L_x(θ) = KL(T_x ‖ π_θ(·|x)) = Σ_y T_x(y)·log(T_x(y)/π_θ(y|x)),
//
// whose gradient in the logits is π_θ − T_x: a regression of the network
// onto one mirror-descent step, in exact expectation over the responses
// (no sampled pairs; the only noise is the minibatch of prompts). Within
// a round this is a minimisation (Adam converges on it), and across
// rounds the exact Nash-MD map contracts (games.Nash), so the network's
// fixed point is the regularised Nash equilibrium itself, π ∝
// π_ref·exp(P(· ≻ π)/τ). (Descending the game's own gradient,
// −E_{y∼π, y′∼π_mix}[P(y ≻ y′)] + τ·KL(π‖π_ref) with the opponent held
// constant, rotates about the equilibrium; Adam's step, which grows as the
// gradient shrinks, then spirals out of it.) Minibatches and the initial
// weights come from seed; FinalLoss is the mean KL over the last 100
// steps.
func TrainNash(backend backends.Backend, game *NashGame, nX, nY int, arch Arch, opt Optim, seed uint64) (*Result, error) {
	if opt.Batch < 1 || opt.Steps < 1 || !(opt.LR > 0) {
		return nil, fmt.Errorf("need batch ≥ 1, steps ≥ 1 and lr > 0, got %d, %d, %v", opt.Batch, opt.Steps, opt.LR)
	}
	if !(game.Tau > 0) || !(game.Eta > 0) || game.Eta*game.Tau > 1 || game.Refresh < 1 {
		return nil, fmt.Errorf("Nash-MD needs τ > 0, 0 < η ≤ 1/τ and refresh ≥ 1, got τ = %v, η = %v, refresh %d", game.Tau, game.Eta, game.Refresh)
	}
	if len(game.P) != nX || len(game.LogRef) != nX || len(game.Mass) != nX {
		return nil, fmt.Errorf("the game has %d preference matrices, %d references and %d masses for %d prompts", len(game.P), len(game.LogRef), len(game.Mass), nX)
	}
	weight := make([]float64, nX)
	for x := range nX {
		if len(game.LogRef[x]) != nY {
			return nil, fmt.Errorf("prompt %d: %d reference log-probabilities, want %d", x, len(game.LogRef[x]), nY)
		}
		for y, v := range game.LogRef[x] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("prompt %d: reference log-probability of response %d is %v", x, y, v)
			}
		}
		if game.P[x] == nil {
			continue
		}
		if len(game.P[x]) != nY {
			return nil, fmt.Errorf("prompt %d: a %d × %d preference matrix, want %d × %d", x, len(game.P[x]), len(game.P[x]), nY, nY)
		}
		weight[x] = game.Mass[x]
	}
	pick, err := envs.NewCategorical(weight)
	if err != nil {
		return nil, fmt.Errorf("prompts with a preference matrix: %w", err)
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed >> 1)); err != nil {
		return nil, err
	}
	// The model's inputs are the minibatch's share of each prompt ([nX])
	// and the targets ([nX, nY]); its one output is the minibatch loss
	// Σ_x share_x·KL(T_x ‖ π_θ(·|x)).
	model := func(ctx *context.Context, _ any, in []*Node) []*Node {
		g := in[0].Graph()
		logPi := LogSoftmax(arch.allLogits(ctx, g, nX, nY))
		t := in[1]
		logT := Log(MaxScalar(t, math.SmallestNonzeroFloat64))
		lx := ReduceSum(Mul(t, Sub(logT, logPi)), -1)
		return []*Node{ReduceAllSum(Mul(lx, in[0]))}
	}
	lossFn := func(_, pred []*Node) *Node { return pred[0] }
	// The variables are created (initialised from the seed) by the policy
	// graph, before the first round needs the policy; the trainer then
	// finds them.
	ctx = ctx.Checked(false)
	polExec, err := context.NewExec(backend, ctx, func(ctx *context.Context, g *Graph) *Node {
		return Softmax(arch.allLogits(ctx, g, nX, nY), -1)
	})
	if err != nil {
		return nil, fmt.Errorf("building the policy graph: %w", err)
	}
	trainer := train.NewTrainer(backend, ctx, model, lossFn, optimizers.Adam().LearningRate(opt.LR).Done(), nil, nil)
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e9955bd1e995))
	share := make([]float64, nX)
	target := make([]float64, nX*nY)
	tailStart := opt.Steps - min(lossTail, opt.Steps)
	var tail float64
	for step := range opt.Steps {
		if step%game.Refresh == 0 {
			out, err := polExec.Exec()
			if err != nil {
				return nil, fmt.Errorf("Nash-MD round at step %d: evaluating the policy: %w", step, err)
			}
			flat, err := tensors.CopyFlatData[float64](out[0])
			if err != nil {
				return nil, err
			}
			for x := range nX {
				pol := flat[x*nY : (x+1)*nY]
				if game.P[x] != nil {
					pol = NashTarget(game.P[x], game.LogRef[x], pol, game.Tau, game.Eta)
				}
				copy(target[x*nY:], pol)
			}
		}
		clear(share)
		for range opt.Batch {
			share[pick.Draw(rng.Float64())] += 1 / float64(opt.Batch)
		}
		out, err := trainer.TrainStep(nil, []*tensors.Tensor{tensors.FromFlatDataAndDimensions(share, nX),
			tensors.FromFlatDataAndDimensions(target, nX, nY)}, nil)
		if err != nil {
			return nil, fmt.Errorf("Nash-MD step %d: %w", step, err)
		}
		if step >= tailStart {
			l, err := tensors.CopyFlatData[float64](out[0])
			if err != nil {
				return nil, err
			}
			tail += l[0] / float64(opt.Steps-tailStart)
		}
	}
	pol, err := policy(backend, ctx, arch, nX, nY)
	if err != nil {
		return nil, err
	}
	return &Result{Policy: pol, FinalLoss: tail}, nil
}
