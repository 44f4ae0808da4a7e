package steps

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/methods/neural"
	"hetalign/methods/tabular"
	"hetalign/metrics"
)

func worldInput(inputs [][]byte) (*analytic.World, error) {
	if len(inputs) == 0 {
		return nil, fmt.Errorf("step has no truth input")
	}
	w := new(analytic.World)
	if err := json.Unmarshal(inputs[0], w); err != nil {
		return nil, fmt.Errorf("reading truth: %w", err)
	}
	if len(w.Prompts) == 0 || len(w.Prior) != len(w.Prompts) {
		return nil, fmt.Errorf("truth has %d prompts and a prior of %d", len(w.Prompts), len(w.Prior))
	}
	return w, nil
}

// train fits the method prompt by prompt (tabular policies are
// independent across prompts); references come from the truth.
func train(p TrainParams, inputs [][]byte, seed uint64, opts Options) ([]byte, error) {
	w, err := worldInput(inputs)
	if err != nil {
		return nil, err
	}
	out := metrics.Trained{}
	switch p.Kind {
	case "oracle", "nbc":
		for _, t := range w.Prompts {
			pol := t.PiStar
			if p.Kind == "nbc" {
				pol, err = envs.Normalise(t.NBC)
				if err != nil {
					return nil, err
				}
			}
			out.Policy = append(out.Policy, pol)
			out.LogRatio = append(out.LogRatio, logRatio(pol, t.Reference))
		}
		return json.Marshal(out)
	}
	if len(inputs) < 2 {
		return nil, fmt.Errorf("%s needs a dataset input", p.Kind)
	}
	d := new(analytic.Data)
	if err := json.Unmarshal(inputs[1], d); err != nil {
		return nil, fmt.Errorf("reading dataset: %w", err)
	}
	if len(d.Prompts) != len(w.Prompts) {
		return nil, fmt.Errorf("dataset has %d prompts, truth %d", len(d.Prompts), len(w.Prompts))
	}
	var joint *neural.Joint
	if p.Variance == "joint" {
		if joint, err = trainJoint(p, w, d, seed, opts); err != nil {
			return nil, err
		}
	}
	if p.Optimizer != nil {
		return trainSGD(p, w, d, joint, seed, opts)
	}
	cfg := tabular.Config{Kind: p.Kind, Types: p.Types, L2: p.L2}
	if p.Beta != nil {
		cfg.Beta = *p.Beta
	}
	if p.Tau != nil {
		cfg.Tau = *p.Tau
	}
	var used float64
	for x, ds := range d.Prompts {
		if ds == nil {
			return nil, fmt.Errorf("prompt %d has no data: draw more pairs", x)
		}
		var res *tabular.Result
		switch p.Kind {
		case "consistent-integral":
			res, err = tabular.FitIntegral(ds, w.Prompts[x].Reference, cfg.Beta, p.Types)
		case "corrected-dpo":
			v := variance(w, joint, x)
			res, err = tabular.FitCorrected(ds, w.Prompts[x].Reference, tabular.CorrectedConfig{
				Beta: cfg.Beta, Alpha: *p.Alpha, Clamp: p.Clamp, V: v, L2: p.L2})
		default:
			res, err = tabular.Fit(ds, w.Prompts[x].Reference, cfg)
		}
		if err != nil {
			if len(w.Prompts) > 1 {
				return nil, fmt.Errorf("prompt %d: %w", x, err)
			}
			return nil, err
		}
		out.Policy = append(out.Policy, res.Policy)
		out.LogRatio = append(out.LogRatio, res.LogRatio)
		used += d.Mass[x] * res.DataUsed
	}
	out.DataUsed = &used
	return json.Marshal(out)
}

// logRatio is log π/π_ref, centred.
func logRatio(pol, ref []float64) []float64 {
	out := make([]float64, len(pol))
	var mean float64
	for i := range pol {
		out[i] = math.Log(pol[i] / ref[i])
		mean += out[i] / float64(len(out))
	}
	for i := range out {
		out[i] -= mean
	}
	return out
}

// variance is corrected DPO's V for prompt x: from the joint model when
// there is one, else exact from the environment.
func variance(w *analytic.World, joint *neural.Joint, x int) [][]float64 {
	v := tabular.PreferenceVariance(w.Prompts[x].Env())
	if joint != nil {
		for a := range v {
			for b := range v[a] {
				v[a][b] = joint.Variance(x, a, b)
			}
		}
	}
	return v
}

// gomlxBackend opens the backend GoMLX steps compute on.
func gomlxBackend(opts Options) (backends.Backend, error) {
	if opts.Open != nil { // set by the runner for XLA backends: one client per run
		return opts.Open()
	}
	return neural.Backend(opts.Backend)
}

// trainJoint fits the joint-likelihood model J (Section 5.3) on the
// paired samples of d (or on exact paired probabilities for population
// data), for corrected DPO's variance term.
func trainJoint(p TrainParams, w *analytic.World, d *analytic.Data, seed uint64, opts Options) (*neural.Joint, error) {
	be, err := gomlxBackend(opts)
	if err != nil {
		return nil, err
	}
	pairSeed := d.Seed
	if d.Tuples == 0 {
		pairSeed = seed
	}
	sample := w.PairedSampler(d.Tuples, pairSeed)
	batch := p.Joint.Batch
	next := func(int) neural.PairBatch {
		x, a, b, x2, c, dd, l := sample(batch)
		return neural.PairBatch{X: x, A: a, B: b, X2: x2, C: c, D: dd, Label: l}
	}
	nY := len(w.Prompts[0].Alternatives)
	j, err := neural.TrainJoint(be, next, len(w.Prompts), nY, p.Components,
		neural.Optim{LR: p.Joint.LR, Batch: batch, Steps: p.Joint.Steps}, seed)
	if err != nil {
		return nil, fmt.Errorf("joint-likelihood model: %w", err)
	}
	return j, nil
}

// relabelSGD is relabelled DPO's first half by SGD: one reward model per
// type (the policy network trained with the BT loss, β = 1, on that type's
// labels; its logits are the rewards, the softmax normaliser cancelling in
// differences), averaged with the types' shares of the data, then every
// pair labelled again with σ(r̄(a) − r̄(b)). It returns the relabelled pair
// statistics per prompt for DPO.
func relabelSGD(p TrainParams, w *analytic.World, d *analytic.Data, seed uint64, opts Options) ([][][]float64, error) {
	be, err := gomlxBackend(opts)
	if err != nil {
		return nil, err
	}
	nX, nY := len(w.Prompts), len(w.Prompts[0].Alternatives)
	arch := neural.Arch{Kind: p.Model.Kind, Depth: p.Model.Depth, Width: p.Model.Width, Activation: p.Model.Activation}
	opt := neural.Optim{LR: p.Optimizer.LR, Batch: p.Optimizer.Batch, Steps: p.Optimizer.Steps}
	avg := make([][]float64, nX)
	for x := range avg {
		avg[x] = make([]float64, nY)
	}
	var total float64
	nTypes := len(w.Prompts[0].Types)
	for u := range nTypes {
		byType := make([][][]float64, nX)
		var share float64
		for x, ds := range d.Prompts {
			if ds == nil || ds.ByType == nil {
				return nil, fmt.Errorf("relabel-dpo: prompt %d has no per-type labels (needs regime %q)", x, analytic.Typed)
			}
			byType[x] = ds.ByType[u]
			for _, row := range ds.ByType[u] {
				for _, v := range row {
					share += d.Mass[x] * v
				}
			}
		}
		if share == 0 {
			continue
		}
		res, err := neural.Train(be, neural.FromPairs(byType, d.Mass), nX, nY, neural.Loss{Kind: "dpo", Beta: 1, Scale: 1},
			arch, opt, seed+uint64(u)+1)
		if err != nil {
			return nil, fmt.Errorf("reward model of type %s: %w", w.Prompts[0].Types[u], err)
		}
		for x := range avg {
			for y := range avg[x] {
				avg[x][y] += share * math.Log(res.Policy[x][y])
			}
		}
		total += share
	}
	out := make([][][]float64, nX)
	for x, ds := range d.Prompts {
		n := len(ds.Won)
		out[x] = make([][]float64, n)
		for a := range n {
			out[x][a] = make([]float64, n)
			for b := range n {
				if a != b {
					out[x][a][b] = (ds.Won[a][b] + ds.Won[b][a]) * envs.Sigmoid((avg[x][a]-avg[x][b])/total)
				}
			}
		}
	}
	return out, nil
}

// trainSGD fits the method with Adam on GoMLX over all prompts at once.
func trainSGD(p TrainParams, w *analytic.World, d *analytic.Data, joint *neural.Joint, seed uint64, opts Options) ([]byte, error) {
	loss := neural.Loss{Kind: p.Kind, Scale: 1}
	if p.Beta != nil {
		loss.Beta = *p.Beta
	}
	if p.Tau != nil {
		loss.Tau = *p.Tau
	}
	pairs := make([][][]float64, len(d.Prompts))
	used := 1.0
	switch p.Kind {
	case "dpo", "ipo", "corrected-dpo":
		for x, ds := range d.Prompts {
			if ds != nil {
				pairs[x] = ds.Won
			}
		}
		if p.Kind == "corrected-dpo" {
			loss.Kind, loss.Alpha, loss.Clamp, loss.Epsilon, loss.WarmSteps = "corrected", *p.Alpha, p.Clamp, 1e-6, *p.Warm
		}
	case "consistent", "consistent-integral":
		loss.Scale = float64(p.Types)
		used = 0
		for x, ds := range d.Prompts {
			switch {
			case ds == nil:
			case ds.Regime == analytic.Consensus && p.Kind == "consistent":
				pairs[x], used = ds.Won, 1
			case ds.Unanimous != nil:
				pairs[x] = ds.Unanimous
				for _, row := range ds.Unanimous {
					for _, v := range row {
						used += d.Mass[x] * v
					}
				}
			default:
				return nil, fmt.Errorf("consistent: prompt %d has no unanimity statistics", x)
			}
		}
		loss.Kind = "dpo"
		if p.Kind == "consistent-integral" {
			loss.Kind = "integral"
		}
	case "relabel-dpo":
		rel, err := relabelSGD(p, w, d, seed, opts)
		if err != nil {
			return nil, err
		}
		pairs = rel
	default:
		return nil, fmt.Errorf("method kind %s cannot be fit by SGD", p.Kind)
	}
	be, err := gomlxBackend(opts)
	if err != nil {
		return nil, err
	}
	nY := len(w.Prompts[0].Alternatives)
	arch := neural.Arch{Kind: p.Model.Kind, Depth: p.Model.Depth, Width: p.Model.Width, Activation: p.Model.Activation}
	opt := neural.Optim{LR: p.Optimizer.LR, Batch: p.Optimizer.Batch, Steps: p.Optimizer.Steps}
	tuples := neural.FromPairs(pairs, d.Mass)
	if p.Kind == "corrected-dpo" {
		vs := make([][][]float64, len(w.Prompts))
		for x := range w.Prompts {
			vs[x] = variance(w, joint, x)
		}
		for i := range tuples.X {
			tuples.V = append(tuples.V, vs[tuples.X[i]][tuples.Y1[i]][tuples.Y2[i]])
		}
	}
	res, err := neural.Train(be, tuples, len(w.Prompts), nY, loss, arch, opt, seed)
	if err != nil {
		return nil, err
	}
	out := metrics.Trained{Policy: res.Policy, DataUsed: &used}
	for x, t := range w.Prompts {
		out.LogRatio = append(out.LogRatio, logRatio(res.Policy[x], t.Reference))
	}
	return json.Marshal(out)
}
