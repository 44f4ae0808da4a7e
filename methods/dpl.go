package methods

import (
	_ "embed"
	"fmt"
	"math"

	"hetalign/envs/analytic"
	"hetalign/methods/tabular"
	"hetalign/metrics"
)

//go:embed dpl.cue
var dplCUE string

func init() {
	Register(Kind{
		Name:    "dpl",
		Doc:     "distributional preference learning (Siththaranjan et al. 2023), mean–variance model: P(a ≻ b) = Φ((μ_a − μ_b)/√(σ_a² + σ_b²)) fitted by maximum likelihood (L-BFGS; μ centred, σ's root mean square 2/√π; prior: a Gaussian prior on log σ), and the policy π ∝ π_ref·exp((μ − λσ)/β) of the risk-averse reward μ − λσ; with model (tabular only) or optimizer, by SGD: tables of μ and log σ per prompt and response, Adam on the minibatch negative log-likelihood, then the same normalisation and policy",
		Regimes: []string{analytic.Anonymous, analytic.Full, analytic.Paired, analytic.Typed},
		CUE:     dplCUE, CUEFile: "hetalign/methods/dpl.cue",
		New: func() Params { return new(DPL) },
	})
}

// DPL is the dpl kind's settings: β of the policy (default env.beta), the
// risk aversion λ (default 0) and the prior κ ≥ 0 on log σ (default 0:
// maximum likelihood; see tabular.FitDPL).
//
// With model or optimizer (SGDConfig; model tabular only) it fits by SGD
// instead (tabular.FitDPLSGD): two tables, μ and log σ per prompt and
// response, trained by Adam on the minibatch negative log-likelihood of
// the mean–variance model, −[p·log Φ(d) + (1 − p)·log Φ(−d)] with
// d = (μ_b − μ_a)/√(σ_a² + σ_b²) and p the label's share won by b, plus
// the prior; the neural trainer's networks emit one score per response,
// whereas DPL needs two, so the tables train on the host (their gradient
// is closed form).
type DPL struct {
	Beta   *float64 `json:"beta,omitempty"`
	Lambda float64  `json:"lambda,omitempty"`
	Prior  float64  `json:"prior,omitempty"`
	SGDConfig
}

// Defaults: β = env.beta; by SGD, the SGD defaults (tabular, Adam lr
// 1e-3, batch 1024, 10,000 steps).
func (p *DPL) Defaults(c Context) {
	defaultBeta(&p.Beta, c)
	p.SGDConfig.defaults(false)
}

// Check the model: by SGD, only tabular (two tables).
func (p *DPL) Check(c Context) []Problem {
	ps := p.SGDConfig.check(c)
	if p.SGDConfig.SGD() && p.Model.Kind != "tabular" {
		ps = append(ps, problemf("model.kind", "dpl by SGD trains two tables, μ and log σ per prompt and response: model kind must be \"tabular\", not %q", p.Model.Kind))
	}
	return ps
}

// SGD reports whether the model is fit by SGD (a model or an optimizer is
// set); otherwise the maximum-likelihood fit is exact (L-BFGS).
func (p *DPL) SGD() bool { return p.SGDConfig.SGD() }

// dplTol is the largest ∞-norm of the log-likelihood's gradient (per
// label) at which a fit is accepted.
const dplTol = 1e-6

// FitTabular fits the mean–variance model to each prompt's pair
// statistics (tabular.FitDPL, or tabular.FitDPLSGD by SGD) and tilts the
// reference by the risk-averse reward: π(y) ∝ π_ref(y)·exp((μ(y) −
// λσ(y))/β). Trained.Sigma keeps σ.
func (p *DPL) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	w, d := in.World, in.Data
	for x, ds := range d.Prompts {
		if ds == nil {
			return nil, fmt.Errorf("dpl: prompt %d has no data: draw more pairs", x)
		}
	}
	fits := make([]*tabular.DPLResult, len(d.Prompts))
	if p.SGDConfig.SGD() {
		o := p.Optimizer
		var err error
		fits, err = tabular.FitDPLSGD(wonPairs(d), d.Mass, p.Prior, tabular.DPLOptim{LR: o.LR, Batch: o.Batch, Steps: o.Steps, Seed: in.Seed})
		if err != nil {
			return nil, fmt.Errorf("dpl by SGD: %w", err)
		}
	} else {
		for x, ds := range d.Prompts {
			res, err := tabular.FitDPL(ds.Won, dplTol, p.Prior)
			if err != nil {
				if len(w.Prompts) > 1 {
					return nil, fmt.Errorf("prompt %d: %w", x, err)
				}
				return nil, err
			}
			fits[x] = res
		}
	}
	used := 1.0
	out := &metrics.Trained{DataUsed: &used}
	for x, res := range fits {
		ref := w.Prompts[x].Reference
		r := make([]float64, len(ref))
		for y := range r {
			r[y] = (res.Mu[y] - p.Lambda*res.Sigma[y]) / *p.Beta
		}
		pol := analytic.Tilt(ref, r, 1)
		for _, v := range pol {
			if math.IsNaN(v) {
				return nil, fmt.Errorf("dpl: prompt %d: policy is not finite", x)
			}
		}
		out.Policy = append(out.Policy, pol)
		out.LogRatio = append(out.LogRatio, logRatio(pol, ref))
		out.Sigma = append(out.Sigma, res.Sigma)
	}
	return out, nil
}
