// Package neural trains policies by stochastic gradient descent on GoMLX,
// as the paper's Section 7.2 does: a tabular policy (one logit per prompt
// and response) or the published MLP (one-hot prompt, tanh layers, a
// softmax over responses), Adam, minibatches drawn from a sampled dataset.
//
// The losses are the tabular ones of methods/tabular, written on graphs:
// with h = β·(log π(y2|x) − log π(y1|x)) (the reference policy is uniform,
// so log π_ref cancels; Eq. 18), DPO minimises −log σ(h) for y2 ≻ y1 (Eq. 6),
// the consistent loss −log σ(|U|·h) on agreed labels (Eq. 20), IPO
// (z − 1/(2τ))² with z the signed log-ratio difference.
package neural

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // the pure-Go backend
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Arch is the policy network.
type Arch struct {
	// Kind is "tabular" (a logit per prompt and response) or "mlp".
	Kind string
	// Depth and Width of the MLP's hidden layers (the paper: 2 × 15).
	Depth, Width int
	// Activation of the hidden layers: "tanh" (the paper's), "relu" or
	// "sigmoid".
	Activation string
}

// Optim is Adam with a learning rate, a batch size and a number of steps.
type Optim struct {
	LR    float64
	Batch int
	Steps int
}

// Loss picks the objective.
type Loss struct {
	// Kind is "dpo", "ipo", "corrected", "integral" (Appendix C; Scale
	// is |U|) or "consistent-published" (the published code's consistent
	// loss, see PairLoss; Scale is |U|). The consistent loss of Eq. 20 is
	// "dpo" with Scale |U| on agreed labels.
	Kind string
	// Alpha, Clamp and Epsilon of corrected DPO (Eqs. 17–19, as published):
	// the likelihood is q = s + α·c, c = ½(1 − 2s)·V/(s(1 − s)) clamped to
	// ±Clamp, loss −[p log max(q, ε) + (1 − p) log max(1 − q, ε)], with V
	// per tuple (Tuples.V) held constant. The first WarmSteps steps train
	// plain DPO (α = 0), as the published code does.
	Alpha, Clamp, Epsilon float64
	WarmSteps             int
	// Beta is DPO's β.
	Beta float64
	// Scale multiplies h: |U| for the consistent loss, 1 for DPO.
	Scale float64
	// Tau is IPO's τ.
	Tau float64
	// Groups and Eta of "group-dpo" (group-robust DPO, Ramesh et al.
	// 2024, Algorithm 1): the number of groups and the step η of the
	// multiplicative weights α_g ← α_g·exp(η·L_g), renormalised.
	Groups int
	Eta    float64
	// Symmetric averages an oriented loss over both orientations of each
	// pair (kind "consistent-published"): tabular and MLP fits train on
	// unordered pairs from FromPairs (a < b, label the share won by b),
	// whereas the data draw y1 and y2 i.i.d., so each orientation is
	// equally likely. Losses that are symmetric under swapping y1 and y2
	// with p ↔ 1 − p (all others) ignore it.
	Symmetric bool
}

// Tuples are labelled pairs: prompt X, responses Y1 and Y2, Label the
// probability that y2 is preferred, and Weight each pair's share of the
// data. Minibatches draw pairs in proportion to Weight, so a dataset
// reduced to pair counts (a pair seen n times, won k times, as weight n and
// label k/n) gives the same expected gradient as its raw tuples.
type Tuples struct {
	X, Y1, Y2 []int32
	Label     []float64
	Weight    []float64
	// V is corrected DPO's variance term per tuple (nil otherwise).
	V []float64
	// Group is each tuple's group, 0 … Loss.Groups − 1 (group-robust DPO;
	// nil otherwise).
	Group []int32
}

// Len is the number of tuples.
func (t *Tuples) Len() int { return len(t.X) }

// Result is a trained policy: Policy[x][y] = π(y|x).
type Result struct {
	Policy [][]float64
	// FinalLoss is the mean loss over the last 100 steps.
	FinalLoss float64
}

// Backend opens a GoMLX backend by configuration. "go" (or "") is the
// pure-Go backend with its ops run in sequence: one training is a chain of
// small ops, and the runner runs steps side by side instead (GoMLX v0.26's
// parallel executor also deadlocked on transformer graphs here).
func Backend(name string) (backends.Backend, error) {
	if name == "" || name == "go" {
		name = "go:ops_sequential"
	}
	b, err := backends.NewWithConfig(name)
	if err != nil {
		return nil, fmt.Errorf("opening GoMLX backend %q: %w", name, err)
	}
	return b, nil
}

// logits are the policy's logits for prompts x: [len(x), nY]. The MLP's
// first layer acts on a one-hot prompt, so it is a row lookup of its
// weights: act(W0[x] + b0), then Depth − 1 more hidden layers and a linear
// output layer, each h·W + b.
func (a Arch) logits(ctx *context.Context, x *Node, nX, nY int) *Node {
	if a.Kind == "tabular" {
		return Gather(a.table(ctx, x.Graph(), nX, nY), InsertAxes(x, -1))
	}
	return a.mlp(ctx, x.Graph(), func(w0 *Node) *Node { return Gather(w0, InsertAxes(x, -1)) }, nX, nY)
}

// allLogits are the logits of every prompt, [nX, nY]: logits(0, …, nX − 1)
// without the gathers (the MLP's first layer is then W0 + b0 itself), the
// same values and gradients.
func (a Arch) allLogits(ctx *context.Context, g *Graph, nX, nY int) *Node {
	if a.Kind == "tabular" {
		return a.table(ctx, g, nX, nY)
	}
	return a.mlp(ctx, g, func(w0 *Node) *Node { return w0 }, nX, nY)
}

// mlp is the MLP's output layer with rows(W0) the first layer's rows for
// the prompts wanted.
func (a Arch) mlp(ctx *context.Context, g *Graph, rows func(w0 *Node) *Node, nX, nY int) *Node {
	act := func(h *Node) *Node {
		switch a.Activation {
		case "relu":
			return Max(h, ZerosLike(h))
		case "sigmoid":
			return Sigmoid(h)
		}
		return Tanh(h)
	}
	zeros := ctx.WithInitializer(func(g *Graph, s shapes.Shape) *Node { return Zeros(g, s) })
	layer := func(name string, in, out int) (w, b *Node) {
		c := ctx.In(name)
		w = c.VariableWithShape("weights", shapes.Make(dtypes.Float64, in, out)).ValueGraph(g)
		b = zeros.In(name).VariableWithShape("biases", shapes.Make(dtypes.Float64, out)).ValueGraph(g)
		return w, b
	}
	w0, b0 := layer("hidden0", nX, a.Width)
	h := act(Add(rows(w0), InsertAxes(b0, 0)))
	for l := 1; l < a.Depth; l++ {
		w, b := layer(fmt.Sprintf("hidden%d", l), a.Width, a.Width)
		h = act(Add(Dot(h, w), InsertAxes(b, 0)))
	}
	w, b := layer("out", a.Width, nY)
	return Add(Dot(h, w), InsertAxes(b, 0))
}

func (a Arch) table(ctx *context.Context, g *Graph, nX, nY int) *Node {
	v := ctx.WithInitializer(func(g *Graph, s shapes.Shape) *Node { return Zeros(g, s) }).
		VariableWithShape("logits", shapes.Make(dtypes.Float64, nX, nY))
	return v.ValueGraph(g)
}

// pick gathers the entries of the nX × nY matrix all at flat indices
// i = x·nY + y ([B, 1]): one index per entry into the flattened matrix,
// SimpleGo's cheapest gather (and scatter, for the gradient).
func pick(all, i *Node) *Node {
	return Gather(Reshape(all, all.Shape().Size()), i)
}

// logRatioDiff is z = log π(y2|x) − log π(y1|x) = logit(x, y2) − logit(x, y1)
// for the tuples of flat indices i1 = x·nY + y1 and i2 = x·nY + y2: the
// softmax normaliser cancels, so no softmax is computed in training.
// Prompts are one-hot, so the MLP's logits for all nX prompts are computed
// once per step and gathered: the same function and gradient as running
// the network on every example, at nX rows instead of a batch's.
func (a Arch) logRatioDiff(ctx *context.Context, i1, i2 *Node, nX, nY int) *Node {
	all := a.allLogits(ctx, i1.Graph(), nX, nY)
	return Sub(pick(all, i2), pick(all, i1))
}

// Train fits a policy over nX prompts and nY responses to the tuples.
// Minibatches are drawn with replacement from the tuples by a stream
// seeded with seed, which also seeds the initial weights; on the pure-Go
// backend the result depends only on its inputs. Adam runs several steps
// per graph call (adamTrainer); each step's gradient is the minibatch
// loss's, dℓ/dz for every tuple (pairLossGrad) carried back through z. A
// tabular policy on the pure-Go backend trains on the host instead
// (trainTabular: the same arithmetic without a graph's gather and
// scatter).
func Train(backend backends.Backend, data *Tuples, nX, nY int, loss Loss, arch Arch, opt Optim, seed uint64) (*Result, error) {
	if data.Len() == 0 {
		return nil, fmt.Errorf("no tuples to train on")
	}
	if opt.Batch < 1 || opt.Steps < 1 || !(opt.LR > 0) {
		return nil, fmt.Errorf("need batch ≥ 1, steps ≥ 1 and lr > 0, got %d, %d, %v", opt.Batch, opt.Steps, opt.LR)
	}
	if loss.Kind == "corrected" && len(data.V) != data.Len() {
		return nil, fmt.Errorf("corrected DPO needs a variance per tuple")
	}
	if loss.Kind == "group-dpo" && (loss.Groups < 1 || len(data.Group) != data.Len()) {
		return nil, fmt.Errorf("group-robust DPO needs %d groups and a group per tuple (%d for %d tuples)", loss.Groups, len(data.Group), data.Len())
	}
	if hostTabular(backend, arch) && loss.Kind != "group-dpo" {
		return trainTabular(data, nX, nY, loss, opt, seed)
	}
	return trainGraph(backend, data, nX, nY, loss, arch, opt, seed)
}

// trainGraph is Train on a GoMLX graph (every architecture, every backend).
func trainGraph(backend backends.Backend, data *Tuples, nX, nY int, loss Loss, arch Arch, opt Optim, seed uint64) (*Result, error) {
	corrected := loss.Kind == "corrected"
	groups := 0
	if loss.Kind == "group-dpo" {
		groups = loss.Groups
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed >> 1)); err != nil {
		return nil, err
	}
	obj := func(ctx *context.Context, b batchNodes, withLoss bool) (grad, value *Node) {
		z := arch.logRatioDiff(ctx, b.I1, b.I2, nX, nY)
		if groups > 0 {
			l := groupDPOStep(ctx, loss, z, b.P, b.Group)
			return l, l
		}
		labels := []*Node{b.P}
		if corrected {
			labels = append(labels, b.V, b.Alpha)
		}
		dz, l := pairLossGrad(loss, z, labels)
		// A scalar whose gradient in z is dz: Σ z with z's adjoint
		// replaced by dz.
		grad = ReduceAllSum(IdentityWithCustomGradient(z, func(_, _ *Node) *Node { return dz }))
		if withLoss && l == nil {
			l = PairLoss(loss, z, labels)
		}
		return grad, l
	}
	tr := newAdamTrainer(backend, ctx, obj, opt.LR, opt.Batch, corrected)
	tr.groups = groups
	alpha := func(step int) float64 {
		if step < loss.WarmSteps {
			return 0
		}
		return loss.Alpha
	}
	mean, err := tr.fit(data, nY, opt, seed, alpha)
	if err != nil {
		return nil, err
	}
	pol, err := policy(backend, ctx, arch, nX, nY)
	if err != nil {
		return nil, err
	}
	return &Result{Policy: pol, FinalLoss: mean}, nil
}

// pairLossGrad is dℓ/dz for every tuple of the minibatch loss ℓ =
// PairLoss(loss, z, labels), the mean over the batch. For DPO and the
// consistent loss it is written out, (s/B)·(σ(s·z) − p) with s = Scale·β
// (the derivative of −[p log σ(h) + (1 − p) log σ(−h)] is σ(h) − p): it
// needs one exponential per tuple where the autodiff of the stable loss
// needs an exponential, a log1p and a dozen more ops; it then returns no
// loss node. Otherwise it is GoMLX's gradient of PairLoss,
// which it also returns as the loss.
func pairLossGrad(loss Loss, z *Node, labels []*Node) (dz, l *Node) {
	switch loss.Kind {
	case "consistent-published", "integral", "corrected", "ipo":
		l = PairLoss(loss, z, labels)
		return Gradient(l, z)[0], l
	}
	s := loss.Beta * loss.Scale
	n := float64(z.Shape().Size())
	// σ(s·z) as 1/(1 + e^{−s·z}), which is exact at both tails (e^{−s·z}
	// overflowing gives 0): SimpleGo's Logistic branches on the sign and
	// costs twice as much.
	sig := Reciprocal(OnePlus(Exp(MulScalar(z, -s))))
	return MulScalar(Sub(sig, labels[0]), s/n), nil
}

// policy evaluates softmax(logits(x)) for every prompt.
func policy(backend backends.Backend, ctx *context.Context, arch Arch, nX, nY int) ([][]float64, error) {
	eval, err := policyExec(backend, ctx, arch, nX, nY)
	if err != nil {
		return nil, err
	}
	return eval()
}

// policyExec compiles softmax(logits(x)) for every prompt once and returns
// a function that evaluates it at the variables' current values.
func policyExec(backend backends.Backend, ctx *context.Context, arch Arch, nX, nY int) (func() ([][]float64, error), error) {
	all := make([]int32, nX)
	for i := range all {
		all[i] = int32(i)
	}
	exec, err := context.NewExec(backend, ctx.Reuse(), func(ctx *context.Context, x *Node) *Node {
		return Softmax(arch.logits(ctx, x, nX, nY), -1)
	})
	if err != nil {
		return nil, fmt.Errorf("building the policy graph: %w", err)
	}
	return func() ([][]float64, error) {
		out, err := exec.Exec(all)
		if err != nil {
			return nil, fmt.Errorf("evaluating the policy: %w", err)
		}
		flat, err := tensors.CopyFlatData[float64](out[0])
		if err != nil {
			return nil, err
		}
		pol := make([][]float64, nX)
		for i := range pol {
			pol[i] = flat[i*nY : (i+1)*nY]
			var s float64
			for _, p := range pol[i] {
				if math.IsNaN(p) {
					return nil, fmt.Errorf("training diverged: the policy has NaNs")
				}
				s += p
			}
			if math.Abs(s-1) > 1e-6 {
				return nil, fmt.Errorf("policy of prompt %d sums to %v", i, s)
			}
		}
		return pol, nil
	}, nil
}

// FromPairs reduces per-prompt pair statistics to Tuples: for each prompt x
// with data share mass[x] and each pair a < b with w[x][a][b] + w[x][b][a] > 0,
// one tuple (x, a, b) weighted by that mass and labelled with the share of
// it won by b.
func FromPairs(w [][][]float64, mass []float64) *Tuples {
	t := &Tuples{}
	for x, m := range w {
		if m == nil {
			continue
		}
		for a := range m {
			for b := a + 1; b < len(m); b++ {
				tot := m[a][b] + m[b][a]
				if tot <= 0 {
					continue
				}
				t.X = append(t.X, int32(x))
				t.Y1 = append(t.Y1, int32(a))
				t.Y2 = append(t.Y2, int32(b))
				t.Label = append(t.Label, m[b][a]/tot)
				t.Weight = append(t.Weight, mass[x]*tot)
			}
		}
	}
	return t
}

// PairLoss is the mean loss of a minibatch of labelled pairs given
// z = score(y2) − score(y1), the difference of the model's log-probabilities
// (policies) or rewards (reward models); labels[0] is the probability p that
// y2 is preferred and, for "corrected", labels[1] and labels[2] are V and α
// per pair. It knows nothing of the environment or the model that produced
// z, so tabular policies, MLPs and transformers share it:
//
//	dpo, consistent: −[p log σ(h) + (1 − p) log σ(−h)], h = Scale·β·z (Eqs. 6, 20)
//	ipo: p(z − 1/(2τ))² + (1 − p)(−z − 1/(2τ))²
//	corrected: −[p log max(q, ε) + (1 − p) log max(1 − q, ε)], q = σ(βz) + α·c (Eqs. 17–19)
//	integral: Appendix C's loss, through its gradient
//	consistent-published: the published code's version of Eq. 20 (below)
//
// "consistent-published" is the consistent loss as the published code
// writes it, bug included. With h = β·z and U = Scale (|U|), Eq. 20 costs a
// unanimous tuple −log σ(U·h) when every type prefers y2 and −log σ(−U·h)
// when every type prefers y1; the published code has log σ(U·(1 − h)) for
// the second, which falls as h grows, so it pushes the loser y2 up:
//
//	ℓ(h; p) = p·(−log σ(U·h)) + (1 − p)·log σ(U·(1 − h))
//	        = p·softplus(−U·h) − (1 − p)·softplus(U·(h − 1)),
//
// unbounded below in h for p < 1. With Symmetric (unordered pairs whose two
// orientations are equally likely) the loss is the orientation average
// ½[ℓ(h; p) + ℓ(−h; 1 − p)], whose infimum is finite but which is not
// convex and has a finite minimiser only where |logit p| < U.
func PairLoss(loss Loss, z *Node, labels []*Node) *Node {
	p := labels[0]
	switch loss.Kind {
	case "consistent-published":
		u := loss.Scale
		h := MulScalar(z, loss.Beta)
		oriented := func(h, p *Node) *Node {
			return Sub(Mul(p, softplus(MulScalar(h, -u))), Mul(OneMinus(p), softplus(MulScalar(AddScalar(h, -1), u))))
		}
		l := oriented(h, p)
		if loss.Symmetric {
			l = MulScalar(Add(l, oriented(Neg(h), OneMinus(p))), 0.5)
		}
		return ReduceAllMean(l)
	case "integral":
		// Appendix C: a unanimous tuple won by y2 costs −(s + I(s)),
		// s = σ(h), h = scale·β·z, whose derivative in h is
		// −s(1 − s)(1 + e^{−U·h}); with soft label p the expected
		// gradient mixes both orientations. I(s) has no closed form for
		// every U, so the graph carries this gradient directly (the
		// reported loss value is h's mean, not the loss).
		u := loss.Scale
		h := MulScalar(z, loss.Beta)
		hh := IdentityWithCustomGradient(h, func(x, v *Node) *Node {
			s := Sigmoid(x)
			ss := Mul(s, OneMinus(s))
			win := Mul(p, OnePlus(Exp(MulScalar(Neg(x), u))))
			lose := Mul(OneMinus(p), OnePlus(Exp(MulScalar(x, u))))
			return Mul(v, Neg(Mul(ss, Sub(win, lose))))
		})
		return ReduceAllMean(hh)
	case "corrected":
		v, alpha := labels[1], labels[2]
		s := Sigmoid(MulScalar(z, loss.Beta))
		ss := Mul(s, OneMinus(s))
		c := ClipScalar(Div(Mul(MulScalar(OneMinus(MulScalar(s, 2)), 0.5), v), ss), -loss.Clamp, loss.Clamp)
		q := Add(s, Mul(alpha, c))
		l := Add(Mul(p, Log(MaxScalar(q, loss.Epsilon))), Mul(OneMinus(p), Log(MaxScalar(OneMinus(q), loss.Epsilon))))
		return Neg(ReduceAllMean(l))
	case "ipo":
		c := 1 / (2 * loss.Tau)
		a, b := AddScalar(z, -c), AddScalar(Neg(z), -c)
		return ReduceAllMean(Add(Mul(p, Square(a)), Mul(OneMinus(p), Square(b))))
	default: // dpo, consistent: binary cross-entropy of σ(scale·β·z)
		h := MulScalar(z, loss.Beta*loss.Scale)
		// −[p log σ(h) + (1 − p) log σ(−h)], computed stably.
		l := Add(Sub(Max(h, ZerosLike(h)), Mul(h, p)), Log1P(Exp(Neg(Abs(h)))))
		return ReduceAllMean(l)
	}
}

// softplus is log(1 + eˣ) = max(x, 0) + log1p(e^{−|x|}), stable for any x:
// −log σ(x) = softplus(−x) and log σ(x) = −softplus(−x).
func softplus(x *Node) *Node {
	return Add(Max(x, ZerosLike(x)), Log1P(Exp(Neg(Abs(x)))))
}

// groupDPOStep is one step of group-robust DPO (Ramesh et al. 2024,
// Algorithm 1) on a minibatch: each group's mean DPO loss (Eq. 6) over
// its tuples in the batch, L_g = Σ_{i∈g} ℓ_i / max(n_g, 1); the group
// weights, a non-trainable variable α (uniform at first), move to
// α_g·exp(η·L_g)/Σ_h α_h·exp(η·L_h); and the objective the parameters
// descend is Σ_g α_g·L_g with the new α held constant.
func groupDPOStep(ctx *context.Context, loss Loss, z, p, onehot *Node) *Node {
	g := z.Graph()
	G := loss.Groups
	h := MulScalar(z, loss.Beta)
	// −[p log σ(h) + (1 − p) log σ(−h)], computed stably.
	l := Add(Sub(Max(h, ZerosLike(h)), Mul(h, p)), Log1P(Exp(Neg(Abs(h)))))
	cnt := ReduceSum(onehot, 0)
	lg := Div(ReduceSum(Mul(InsertAxes(l, -1), onehot), 0), MaxScalar(cnt, 1))
	v := ctx.In("group_dpo").Checked(false).
		WithInitializer(func(g *Graph, s shapes.Shape) *Node { return AddScalar(Zeros(g, s), 1/float64(G)) }).
		VariableWithShape("alpha", shapes.Make(dtypes.Float64, G)).SetTrainable(false)
	a := Mul(v.ValueGraph(g), Exp(MulScalar(StopGradient(lg), loss.Eta)))
	a = Div(a, ReduceAllSum(a))
	v.SetValueGraph(a)
	return ReduceAllSum(Mul(StopGradient(a), lg))
}

// FromGroupPairs reduces per-group pair statistics to Tuples as FromPairs
// does, one tuple per prompt, group and pair, tagged with its group:
// w[g][x][a][b] is the share of the data that is group g's label a ≻ b
// for prompt x (nil for a prompt without data).
func FromGroupPairs(w [][][][]float64, mass []float64) *Tuples {
	out := &Tuples{}
	for g, wg := range w {
		t := FromPairs(wg, mass)
		out.X = append(out.X, t.X...)
		out.Y1 = append(out.Y1, t.Y1...)
		out.Y2 = append(out.Y2, t.Y2...)
		out.Label = append(out.Label, t.Label...)
		out.Weight = append(out.Weight, t.Weight...)
		for range t.X {
			out.Group = append(out.Group, int32(g))
		}
	}
	return out
}
