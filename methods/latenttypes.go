package methods

import (
	"fmt"
	"math"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/methods/latent"
	"hetalign/methods/neural"
	"hetalign/metrics"
)

// LatentTypes holds what the kinds that infer annotator types share
// (em-dpo, maxmin): K latent types fit by EM on annotated data (package
// latent), from Starts seeded starts of at most Iterations iterations,
// with Prior pseudo-labels per ordered pair and type (a MAP Bradley–Terry
// fit that always exists); HeldOut of each annotator's labels are held out
// to score the mixture (log_likelihood); β of the policies (default
// env.beta). A model or optimizer (SGDConfig) switches to SGD: each M
// step trains type k's policy network by DPO with β/τ for
// optimizer.steps Adam steps on the labels weighted by the posteriors
// (warm-started: the network, Adam's moments and step count carry over
// between iterations), θ_k = (β/τ)·log π_k centred, so that π_k ∝
// exp(τθ_k/β) is the type's policy; Iterations then counts EM rounds.
type LatentTypes struct {
	K          int      `json:"k"`
	Starts     int      `json:"starts,omitempty"`
	Iterations int      `json:"iterations,omitempty"`
	Prior      *float64 `json:"prior,omitempty"`
	HeldOut    *float64 `json:"held_out,omitempty"`
	Beta       *float64 `json:"beta,omitempty"`
	SGDConfig
}

func (p *LatentTypes) defaults(c Context) {
	if p.K == 0 {
		p.K = 2
	}
	sgd := p.SGDConfig.SGD()
	if sgd {
		// A few hundred warm-started steps per M step and round.
		if p.Optimizer == nil {
			p.Optimizer = &OptimizerConfig{}
		}
		p.Optimizer.Fill(1e-2, 256, 200)
		p.SGDConfig.defaults(false)
	}
	if p.Starts == 0 {
		p.Starts = 5
		if sgd {
			p.Starts = 1
		}
	}
	if p.Iterations == 0 {
		p.Iterations = 1000
		if sgd {
			p.Iterations = 30
		}
	}
	if p.Prior == nil {
		v := 0.01
		p.Prior = &v
	}
	if p.HeldOut == nil {
		v := 0.2
		p.HeldOut = &v
	}
	defaultBeta(&p.Beta, c)
}

func (p *LatentTypes) check(c Context) []Problem {
	var ps []Problem
	if c.World != "" && p.SGDConfig.SGD() {
		ps = append(ps, problemf("model", "method %s on the sequence env fits its latent types over the token count exactly; a transformer per latent type is not implemented: leave model and optimizer out", c.Name))
	}
	if h := *p.HeldOut; h < 0 || h >= 1 {
		ps = append(ps, problemf("held_out", "held_out must lie in [0, 1), got %v", h))
	}
	if c.World == "" && p.SGDConfig.SGD() && p.Model.Kind == "transformer" {
		ps = append(ps, problemf("model.kind", "method %s by SGD trains tabular or MLP policies on finite alternatives", c.Name))
	}
	return ps
}

// SGD reports whether the M steps (and maxmin's policy) are trained by
// SGD: the spec set a model or an optimizer.
func (p *LatentTypes) SGD() bool { return p.SGDConfig.SGD() }

// sgdTheta is EM's M step by SGD (latent.Options.FitTheta): one policy
// network per start and type, trained by DPO with β/τ on the type's
// posterior-weighted win counts for optimizer.steps steps per call; the
// type's rewards are θ_k = (β/τ)·log π_k, centred per prompt.
func (p *LatentTypes) sgdTheta(in *TabularInput, tau float64) (func(start, k int, wins [][][]float64) ([][]float64, error), error) {
	be, err := in.Backend()
	if err != nil {
		return nil, err
	}
	for x, t := range in.World.Prompts {
		for _, r := range t.Reference {
			if math.Abs(r-t.Reference[0]) > 1e-12 {
				return nil, fmt.Errorf("prompt %d: SGD fits of the latent types assume a uniform π_ref (as the published SGD fits do)", x)
			}
		}
	}
	nX, nY := len(in.World.Prompts), len(in.World.Prompts[0].Alternatives)
	betaL := *p.Beta / tau
	nets := map[[2]int]*neural.PolicyTrainer{}
	calls := uint64(0)
	ones := make([]float64, nX)
	for x := range ones {
		ones[x] = 1
	}
	return func(start, k int, wins [][][]float64) ([][]float64, error) {
		key := [2]int{start, k}
		net, ok := nets[key]
		if !ok {
			var err error
			net, err = neural.NewPolicyTrainer(be, nX, nY, betaL, p.arch(), p.Optimizer.LR, p.Optimizer.Batch, in.Seed^uint64(1+start*64+k)*0x9e3779b97f4a7c15)
			if err != nil {
				return nil, err
			}
			nets[key] = net
		}
		calls++
		if _, err := net.Train(neural.FromPairs(wins, ones), p.Optimizer.Steps, in.Seed+calls); err != nil {
			return nil, err
		}
		pol, err := net.Policy()
		if err != nil {
			return nil, err
		}
		th := make([][]float64, nX)
		for x := range pol {
			th[x] = make([]float64, nY)
			var mean float64
			for y, v := range pol[x] {
				th[x][y] = betaL * math.Log(math.Max(v, math.SmallestNonzeroFloat64))
				mean += th[x][y] / float64(nY)
			}
			for y := range th[x] {
				th[x][y] -= mean
			}
		}
		return th, nil
	}, nil
}

// latentFit is an EM fit of the mixture with its per-type policies.
type latentFit struct {
	fit      *latent.Fit
	policies [][][]float64 // [k][x][y]: π_k ∝ π_ref·exp(τθ_k/β)
	rewards  [][][]float64 // [k][x][y]: τθ_k
	heldOut  *float64
	prior    []float64
	ref      [][]float64
}

// fitTypes runs EM on the annotated labels of in (seeded by in.Seed):
// first on all but the held-out labels, to score the mixture on them,
// then on every label for the policies. On the exact population (annotator
// masses set: pairs: 0) EM maximises the expected log-likelihood of one
// annotator's record, without the prior and to a tolerance of 1e-13, and
// that expected log-likelihood is the score (nothing is held out: a new
// annotator's record has the same distribution).
func (p *LatentTypes) fitTypes(in *TabularInput, kind string) (*latentFit, error) {
	d := in.Data.Annotated
	if d == nil {
		return nil, fmt.Errorf("%s needs annotated data (regime %q)", kind, envs.Annotated)
	}
	w := in.World
	n := len(w.Prompts[0].Alternatives)
	for x, t := range w.Prompts {
		if len(t.Alternatives) != n {
			return nil, fmt.Errorf("%s: prompt %d has %d alternatives, prompt 0 has %d", kind, x, len(t.Alternatives), n)
		}
	}
	all := latent.Problem{Annotators: d.Annotators, Prompts: len(w.Prompts), N: n, Mass: d.Mass}
	train, test := all, all
	count := make([]int, d.Annotators)
	for _, l := range d.Labels {
		lab := latent.Label{Annotator: l.Annotator, X: l.X, W: l.W, L: l.L, Weight: l.Weight}
		all.Labels = append(all.Labels, lab)
		j := count[l.Annotator]
		count[l.Annotator]++
		// Label j of an annotator is held out when ⌊(j+1)h⌋ > ⌊jh⌋: a
		// share h of each annotator's labels, spread over them.
		if h := *p.HeldOut; h > 0 && math.Floor(float64(j+1)*h) > math.Floor(float64(j)*h) {
			test.Labels = append(test.Labels, lab)
		} else {
			train.Labels = append(train.Labels, lab)
		}
	}
	tau := w.Prompts[0].Temperature
	if tau == 0 {
		tau = 1
	}
	opt := latent.Options{K: p.K, Starts: p.Starts, MaxIter: p.Iterations, Tol: 1e-9, Prior: *p.Prior, Seed: in.Seed}
	if d.Mass != nil {
		// The exact population (infinitely many annotators): a fixed
		// number of pseudo-labels weighs nothing against it, and the masses
		// sum to 1, so the prior is left out.
		opt.Prior, opt.Tol = 0, 1e-13
	}
	em := func(prob latent.Problem) (*latent.Fit, error) {
		if p.SGD() {
			// Each fit gets its own networks; SGD's noise ends EM when the
			// log-likelihood stops rising.
			fit, err := p.sgdTheta(in, tau)
			if err != nil {
				return nil, err
			}
			opt.FitTheta, opt.Tol = fit, 0
		}
		return latent.EM(prob, opt)
	}
	out := &latentFit{prior: w.Prior}
	for _, t := range w.Prompts {
		out.ref = append(out.ref, t.Reference)
	}
	if len(test.Labels) > 0 && len(train.Labels) > 0 && d.Mass == nil {
		f, err := em(train)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		ll := latent.HeldOut(f, test)
		out.heldOut = &ll
	}
	f, err := em(all)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	out.fit = f
	if d.Mass != nil {
		// The exact population: nothing to hold out, and a new annotator's
		// expected log-likelihood is the fit's own, Σ_i Mass[i] log Σ_k α_k
		// Π σ(…)^weight (the record's D and prior factors left out).
		ll := f.LogLik
		out.heldOut = &ll
	}
	for k := range f.Theta {
		r := make([][]float64, len(f.Theta[k]))
		for x, th := range f.Theta[k] {
			r[x] = make([]float64, len(th))
			for y, v := range th {
				r[x][y] = tau * v
			}
		}
		out.rewards = append(out.rewards, r)
		out.policies = append(out.policies, latent.Gibbs(r, out.ref, *p.Beta))
	}
	return out, nil
}

// trained reports the policy pol with what the fit inferred.
func (lf *latentFit) trained(w *analytic.World, d *analytic.AnnotatedData, pol [][]float64) *metrics.Trained {
	used := 1.0
	out := &metrics.Trained{Policy: pol, DataUsed: &used}
	for x, t := range w.Prompts {
		out.LogRatio = append(out.LogRatio, logRatio(pol[x], t.Reference))
	}
	l := &metrics.Latent{Alpha: lf.fit.Alpha, True: d.Types, HeldOutLogLik: lf.heldOut, Mass: d.Mass}
	for _, a := range lf.fit.Assign() {
		l.Assign = append(l.Assign, int32(a))
	}
	for _, pk := range lf.policies {
		// The top alternative of the prior-averaged policy.
		avg := make([]float64, len(pk[0]))
		for x := range pk {
			for y, v := range pk[x] {
				avg[y] += lf.prior[x] * v
			}
		}
		l.Tops = append(l.Tops, metrics.Top(w.Prompts[0].Alternatives, avg))
	}
	out.Latent = l
	return out
}

// fitLengthTypes is EM on the sequence env's annotated data over the
// token count: the env's rewards are functions r_u(x) of the count x = 0
// … L of prompt and response (Appendix F), so each latent type's
// Bradley–Terry reward is fit as a table over x (one prompt, L + 1
// alternatives; a label of equal counts says nothing and is dropped),
// exactly as on finite alternatives. The transformers' part — a policy
// network per latent type — is not trained: the per-type policies are
// the Gibbs policies π_k(x) ∝ exp(τθ_k(x)/β) over the counts (uniform
// reference), and agg, given them and the rewards, returns the
// aggregate's distribution over counts. Each test sequence's score is the
// log-probability of its count under it.
func (p *LatentTypes) fitLengthTypes(in *SequenceInput, kind string, agg func(lf *latentFit) ([]float64, error)) (*metrics.SeqTrained, error) {
	if p.SGD() {
		return nil, fmt.Errorf("%s by SGD on the sequence env (a transformer per latent type) is not implemented: leave model and optimizer out for EM over the token count", kind)
	}
	w, d := in.World, in.Data
	if d.Regime != envs.Annotated || len(d.Annotator) != len(d.Item) {
		return nil, fmt.Errorf("%s needs annotated data (regime %q)", kind, envs.Annotated)
	}
	n := w.L + 1
	alts := make([]string, n)
	for x := range alts {
		alts[x] = fmt.Sprintf("%d tokens", x)
	}
	ref := []float64{}
	for range n {
		ref = append(ref, 1/float64(n))
	}
	var labels []analytic.AnnotatedLabel
	for k, item := range d.Item {
		x1, x2 := int32(w.X(item, 0)), int32(w.X(item, 1))
		if x1 == x2 {
			continue
		}
		win, lose := x2, x1 // response 1 (the second) preferred
		if d.Label[k] < 0.5 {
			win, lose = x1, x2
		}
		labels = append(labels, analytic.AnnotatedLabel{Annotator: d.Annotator[k], W: win, L: lose, Weight: 1})
	}
	ad := &analytic.AnnotatedData{Annotators: d.Annotators, Types: d.AnnotatorType, Labels: labels}
	tw := &analytic.World{Labels: alts, Prior: []float64{1}, Prompts: []*analytic.Truth{{Alternatives: alts, Reference: ref, Temperature: w.Temperature}}}
	lf, err := p.fitTypes(&TabularInput{World: tw, Data: &analytic.Data{Regime: envs.Annotated, Annotated: ad}, Seed: in.Seed}, kind)
	if err != nil {
		return nil, err
	}
	pol, err := agg(lf)
	if err != nil {
		return nil, err
	}
	tr := lf.trained(tw, ad, [][]float64{pol})
	test := w.Seqs(w.Test)
	scores := make([]float64, test.N())
	for k, i := range w.Test {
		for r := range 2 {
			scores[2*k+r] = math.Log(math.Max(pol[w.X(i, r)], math.SmallestNonzeroFloat64))
		}
	}
	used := 1.0
	return &metrics.SeqTrained{Scores: scores, DataUsed: &used, Latent: tr.Latent}, nil
}
