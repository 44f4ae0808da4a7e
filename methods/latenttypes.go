package methods

import (
	"fmt"
	"math"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/methods/latent"
	"hetalign/metrics"
)

// LatentTypes holds what the kinds that infer annotator types share
// (em-dpo, maxmin): K latent types fit by EM on annotated data (package
// latent), from Starts seeded starts of at most Iterations iterations,
// with Prior pseudo-labels per ordered pair and type (a MAP Bradley–Terry
// fit that always exists); HeldOut of each annotator's labels are held out
// to score the mixture (log_likelihood); β of the policies (default
// env.beta).
type LatentTypes struct {
	K          int      `json:"k"`
	Starts     int      `json:"starts,omitempty"`
	Iterations int      `json:"iterations,omitempty"`
	Prior      *float64 `json:"prior,omitempty"`
	HeldOut    *float64 `json:"held_out,omitempty"`
	Beta       *float64 `json:"beta,omitempty"`
}

func (p *LatentTypes) defaults(c Context) {
	if p.K == 0 {
		p.K = 2
	}
	if p.Starts == 0 {
		p.Starts = 5
	}
	if p.Iterations == 0 {
		p.Iterations = 1000
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
	if c.World != "" {
		ps = append(ps, problemf("", "method %s infers types on finite alternatives; the sequence env has no annotated regime yet", c.Name))
	}
	if h := *p.HeldOut; h < 0 || h >= 1 {
		ps = append(ps, problemf("held_out", "held_out must lie in [0, 1), got %v", h))
	}
	return ps
}

// SGD is false: the fit is exact on finite alternatives.
func (p *LatentTypes) SGD() bool { return false }

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
// annotator's record, without the prior and to a tolerance of 1e-13.
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
	opt := latent.Options{K: p.K, Starts: p.Starts, MaxIter: p.Iterations, Tol: 1e-9, Prior: *p.Prior, Seed: in.Seed}
	if d.Mass != nil {
		// The exact population (infinitely many annotators): a fixed
		// number of pseudo-labels weighs nothing against it, and the masses
		// sum to 1, so the prior is left out.
		opt.Prior, opt.Tol = 0, 1e-13
	}
	out := &latentFit{prior: w.Prior}
	for _, t := range w.Prompts {
		out.ref = append(out.ref, t.Reference)
	}
	if len(test.Labels) > 0 && len(train.Labels) > 0 {
		f, err := latent.EM(train, opt)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		ll := latent.HeldOut(f, test)
		out.heldOut = &ll
	}
	f, err := latent.EM(all, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	out.fit = f
	tau := w.Prompts[0].Temperature
	if tau == 0 {
		tau = 1
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
