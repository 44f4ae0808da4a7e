package neural

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"hetalign/envs"
)

// Adam's settings, GoMLX's defaults (optimizers.Adam): β1, β2 and the ε
// added to the square root of the debiased second moment.
const (
	adamBeta1   = 0.9
	adamBeta2   = 0.999
	adamEpsilon = 1e-7
)

// stepsPerCall is the number of Adam steps one training graph runs. On
// SimpleGo a call costs a few microseconds beyond its ops, while building
// a graph of k steps costs O(k²) (graph.Gradient walks the whole graph
// built so far at every step): measured on the tabular and MLP DPO runs of
// BenchmarkPaperDPO1000Steps and on an 8 × 8 one of batch 64, 3 to 5 steps
// a call were fastest and allocated least, 1 within 15% of them, 20 up to
// 1.9× slower.
var stepsPerCall = 4

// lossTail is the number of final steps whose losses FinalLoss averages.
const lossTail = 100

// batchNodes are one step's minibatch in a training graph: the tuples'
// flat indices i1 = x·nY + y1 and i2 = x·nY + y2 into the nX × nY logits
// ([B, 1] int32), the labels p = Pr(y2 preferred) ([B]) and, for corrected
// DPO only, V ([B]) and α (a scalar, 0 during the warm-up steps).
type batchNodes struct {
	I1, I2, P, V, Alpha *Node
	// Group is each tuple's group, one-hot ([B, groups]; group-robust
	// DPO only).
	Group *Node
}

// stepObjective builds one step's objective on the parameters' current
// values (the ValueGraph of ctx's variables): grad is a scalar whose
// gradient with respect to the trainable variables is the minibatch loss's
// (it need not equal the loss), and loss, built only when withLoss (nil
// otherwise), is the minibatch loss as reported.
type stepObjective func(ctx *context.Context, b batchNodes, withLoss bool) (grad, loss *Node)

// adamTrainer trains the variables of ctx by Adam on minibatches of
// tuples, several steps per graph call. A program of k steps takes k
// minibatches and, for step t of the run (1-based), the debias factors
// lr/(1 − β1ᵗ) and 1/(1 − β2ᵗ), and applies, for every trainable
// variable θ with minibatch gradient g, k times in sequence
//
//	m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²,
//	θ ← θ − (lr/(1 − β1ᵗ))·m / (√(v/(1 − β2ᵗ)) + ε),
//
// GoMLX's Adam (optimizers.Adam with its defaults) unrolled, each g taken
// at the θ the previous step left. m and v are variables of ctx (scope
// "multistep_adam") that persist between calls, so a run of steps is the
// same whichever way it is cut into programs.
type adamTrainer struct {
	backend backends.Backend
	ctx     *context.Context
	obj     stepObjective
	lr      float64
	batch   int
	// aux is set when the minibatches carry V and α (corrected DPO).
	aux bool
	// groups is the number of groups when the minibatches carry each
	// tuple's group as a one-hot row (group-robust DPO), else 0.
	groups int
	progs  map[progKey]*program
	ks     []int // the tuples drawn, reused
	// done counts the steps of earlier fits (warm starts): Adam's step
	// count t continues from it, as m and v do.
	done int
}

type progKey struct {
	steps    int
	withLoss bool
}

// program is a compiled training graph of some steps and its input
// tensors, refilled in place for every call (on the pure-Go backend they
// share their memory with the backend's buffers after the first call).
type program struct {
	exec *context.Exec
	args []any
	in   []stepTensors
}

// stepTensors are one step's inputs: the minibatch and the debias factors.
type stepTensors struct {
	i1, i2, p, v, alpha, group, lrc1, c2 *tensors.Tensor
}

func newAdamTrainer(backend backends.Backend, ctx *context.Context, obj stepObjective, lr float64, batch int, aux bool) *adamTrainer {
	return &adamTrainer{backend: backend, ctx: ctx, obj: obj, lr: lr, batch: batch, aux: aux, progs: map[progKey]*program{}}
}

// inputsPerStep is the number of graph inputs of one step.
func (t *adamTrainer) inputsPerStep() int {
	n := 5
	if t.aux {
		n += 2
	}
	if t.groups > 0 {
		n++
	}
	return n
}

// program returns the compiled program of the given steps, building it on
// first use.
func (t *adamTrainer) program(steps int, withLoss bool) (*program, error) {
	key := progKey{steps, withLoss}
	if p, ok := t.progs[key]; ok {
		return p, nil
	}
	exec, err := context.NewExec(t.backend, t.ctx.Checked(false), func(ctx *context.Context, in []*Node) []*Node {
		return t.build(ctx, in, steps, withLoss)
	})
	if err != nil {
		return nil, fmt.Errorf("building a %d-step training graph: %w", steps, err)
	}
	p := &program{exec: exec}
	B := t.batch
	for range steps {
		st := stepTensors{
			i1:   tensors.FromShape(shapes.Make(dtypes.Int32, B, 1)),
			i2:   tensors.FromShape(shapes.Make(dtypes.Int32, B, 1)),
			p:    tensors.FromShape(shapes.Make(dtypes.Float64, B)),
			lrc1: tensors.FromShape(shapes.Make(dtypes.Float64)),
			c2:   tensors.FromShape(shapes.Make(dtypes.Float64)),
		}
		p.args = append(p.args, st.i1, st.i2, st.p)
		if t.aux {
			st.v = tensors.FromShape(shapes.Make(dtypes.Float64, B))
			st.alpha = tensors.FromShape(shapes.Make(dtypes.Float64))
			p.args = append(p.args, st.v, st.alpha)
		}
		if t.groups > 0 {
			st.group = tensors.FromShape(shapes.Make(dtypes.Float64, B, t.groups))
			p.args = append(p.args, st.group)
		}
		p.args = append(p.args, st.lrc1, st.c2)
		p.in = append(p.in, st)
	}
	t.progs[key] = p
	return p, nil
}

// build is the graph of a program: steps Adam steps, returning the
// stacked minibatch losses when withLoss (nothing otherwise; the updated
// variables are the graph's other outputs, by SetValueGraph).
func (t *adamTrainer) build(ctx *context.Context, in []*Node, steps int, withLoss bool) []*Node {
	g := in[0].Graph()
	b1, b2 := float64(adamBeta1), float64(adamBeta2)
	// 1 − β as GoMLX computes it (OneMinus in float64), not Go's exact
	// constant arithmetic.
	omb1, omb2 := 1-b1, 1-b2
	eps := Const(g, float64(adamEpsilon))
	moments := ctx.In("multistep_adam").Checked(false).
		WithInitializer(func(g *Graph, s shapes.Shape) *Node { return Zeros(g, s) })
	n := t.inputsPerStep()
	var losses []*Node
	for s := range steps {
		x := in[s*n : (s+1)*n]
		b := batchNodes{I1: x[0], I2: x[1], P: x[2]}
		if t.aux {
			b.V, b.Alpha = x[3], x[4]
		}
		if t.groups > 0 {
			b.Group = x[n-3]
		}
		lrc1, c2 := x[n-2], x[n-1]
		grad, loss := t.obj(ctx, b, withLoss)
		if withLoss {
			losses = append(losses, loss)
		}
		var vars []*context.Variable
		var params []*Node
		for v := range ctx.IterVariables() {
			if v.Trainable && v.InUseByGraph(g) {
				vars = append(vars, v)
				params = append(params, v.ValueGraph(g))
			}
		}
		if len(vars) == 0 {
			panic(fmt.Errorf("the training objective uses no trainable variables"))
		}
		grads := Gradient(grad, params...)
		for i, v := range vars {
			mVar := moments.VariableWithShape(fmt.Sprintf("m%d", i), v.Shape()).SetTrainable(false)
			vVar := moments.VariableWithShape(fmt.Sprintf("v%d", i), v.Shape()).SetTrainable(false)
			gr := grads[i]
			m := Add(MulScalar(mVar.ValueGraph(g), b1), MulScalar(gr, omb1))
			sq := Add(MulScalar(vVar.ValueGraph(g), b2), MulScalar(Square(gr), omb2))
			mVar.SetValueGraph(m)
			vVar.SetValueGraph(sq)
			den := Add(Sqrt(Mul(sq, c2)), eps)
			v.SetValueGraph(Sub(params[i], Div(Mul(m, lrc1), den)))
		}
	}
	if withLoss {
		return []*Node{Stack(losses, 0)}
	}
	return nil
}

// fit runs opt.Steps Adam steps, each on a minibatch of opt.Batch tuples
// drawn with replacement in proportion to Weight by a stream seeded with
// seed (the draws of the former one-step-per-call trainer, in the same
// order), for the nX × nY logits of the tuples' flat indices x·nY + y;
// alpha, when the trainer has aux inputs, is α at a step (0-based). It
// returns the mean loss over the last lossTail steps (all, if fewer).
//
// Steps are run stepsPerCall to a call; those before the last lossTail
// (rounded down to whole calls) by a program that computes no loss, the
// rest by one that returns its losses, the steps left over one at a time.
func (t *adamTrainer) fit(data *Tuples, nY int, opt Optim, seed uint64, alpha func(step int) float64) (float64, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0xda942042e4dd58b5))
	pick, err := envs.NewCategorical(data.Weight)
	if err != nil {
		return 0, fmt.Errorf("tuples: %w", err)
	}
	if t.aux && len(data.V) != data.Len() {
		return 0, fmt.Errorf("corrected DPO needs a variance per tuple")
	}
	K := max(stepsPerCall, 1)
	S := opt.Steps
	tailStart := S - min(lossTail, S)
	quiet := tailStart / K * K // steps run without losses
	b1, b2 := float64(adamBeta1), float64(adamBeta2)
	i1 := make([]int32, data.Len())
	i2 := make([]int32, data.Len())
	for k, x := range data.X {
		i1[k], i2[k] = x*int32(nY)+data.Y1[k], x*int32(nY)+data.Y2[k]
	}
	var tail []float64
	step := 0
	for step < S {
		k, withLoss := K, step >= quiet
		if withLoss && S-step < K {
			k = 1
		}
		p, err := t.program(k, withLoss)
		if err != nil {
			return 0, err
		}
		for s := range k {
			st := p.in[s]
			if err := t.fill(st, data, i1, i2, pick, rng); err != nil {
				return 0, err
			}
			n := float64(t.done + step + s + 1)
			lrc1 := t.lr * (1 / (1 - math.Pow(b1, n)))
			c2 := 1 / (1 - math.Pow(b2, n))
			if err := setScalar(st.lrc1, lrc1); err != nil {
				return 0, err
			}
			if err := setScalar(st.c2, c2); err != nil {
				return 0, err
			}
			if t.aux {
				if err := setScalar(st.alpha, alpha(step+s)); err != nil {
					return 0, err
				}
			}
		}
		out, err := p.exec.Exec(p.args...)
		if err != nil {
			return 0, fmt.Errorf("training steps %d–%d: %w", step, step+k-1, err)
		}
		if withLoss {
			ls, err := tensors.CopyFlatData[float64](out[0])
			if err != nil {
				return 0, fmt.Errorf("reading the losses of steps %d–%d: %w", step, step+k-1, err)
			}
			for s, l := range ls {
				if step+s >= tailStart {
					tail = append(tail, l)
				}
			}
		}
		for _, o := range out {
			if err := o.FinalizeAll(); err != nil {
				return 0, fmt.Errorf("releasing the losses of steps %d–%d: %w", step, step+k-1, err)
			}
		}
		step += k
	}
	t.done += S
	var mean float64
	for _, v := range tail {
		mean += v / float64(len(tail))
	}
	return mean, nil
}

// fill draws one minibatch into st: tuple k has flat indices i1[k] and
// i2[k].
func (t *adamTrainer) fill(st stepTensors, data *Tuples, i1, i2 []int32, pick *envs.Categorical, rng *rand.Rand) error {
	var err1, err2, err3 error
	ks := t.ks[:0]
	err1 = tensors.MutableFlatData(st.i1, func(a []int32) {
		err2 = tensors.MutableFlatData(st.i2, func(b []int32) {
			err3 = tensors.MutableFlatData(st.p, func(p []float64) {
				for i := range a {
					k := pick.Draw(rng.Float64())
					a[i], b[i], p[i] = i1[k], i2[k], data.Label[k]
					if t.aux || t.groups > 0 {
						ks = append(ks, k)
					}
				}
			})
		})
	})
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("filling a minibatch: %w", err)
	}
	t.ks = ks
	if t.groups > 0 {
		err := tensors.MutableFlatData(st.group, func(g []float64) {
			clear(g)
			for i, k := range ks {
				g[i*t.groups+int(data.Group[k])] = 1
			}
		})
		if err != nil {
			return fmt.Errorf("filling a minibatch's groups: %w", err)
		}
	}
	if !t.aux {
		return nil
	}
	return tensors.MutableFlatData(st.v, func(v []float64) {
		for i, k := range ks {
			v[i] = data.V[k]
		}
	})
}

// setScalar sets the value of a float64 scalar tensor in place.
func setScalar(t *tensors.Tensor, v float64) error {
	return tensors.MutableFlatData(t, func(f []float64) { f[0] = v })
}
