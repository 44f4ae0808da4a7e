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
		Doc:     "distributional preference learning (Siththaranjan et al. 2023), mean–variance model: P(a ≻ b) = Φ((μ_a − μ_b)/√(σ_a² + σ_b²)) fitted by maximum likelihood (L-BFGS; μ centred, σ's root mean square 2/√π; prior: a Gaussian prior on log σ), and the policy π ∝ π_ref·exp((μ − λσ)/β) of the risk-averse reward μ − λσ",
		Regimes: []string{analytic.Anonymous, analytic.Full, analytic.Paired, analytic.Typed},
		CUE:     dplCUE, CUEFile: "hetalign/methods/dpl.cue",
		New: func() Params { return new(DPL) },
	})
}

// DPL is the dpl kind's settings: β of the policy (default env.beta), the
// risk aversion λ (default 0) and the prior κ ≥ 0 on log σ (default 0:
// maximum likelihood; see tabular.FitDPL).
type DPL struct {
	Beta   *float64 `json:"beta,omitempty"`
	Lambda float64  `json:"lambda,omitempty"`
	Prior  float64  `json:"prior,omitempty"`
}

// Defaults: β = env.beta.
func (p *DPL) Defaults(c Context) { defaultBeta(&p.Beta, c) }

// Check: nothing beyond the schema.
func (*DPL) Check(Context) []Problem { return nil }

// SGD is false: the maximum-likelihood fit is exact (L-BFGS). An SGD fit
// is not offered: the neural trainer's networks emit one score per
// response and its losses read only the difference z of two scores,
// whereas DPL needs two outputs per response (μ and log σ) in its loss.
func (*DPL) SGD() bool { return false }

// dplTol is the largest ∞-norm of the log-likelihood's gradient (per
// label) at which a fit is accepted.
const dplTol = 1e-6

// FitTabular fits the mean–variance model to each prompt's pair
// statistics (tabular.FitDPL) and tilts the reference by the risk-averse
// reward: π(y) ∝ π_ref(y)·exp((μ(y) − λσ(y))/β). Trained.Sigma keeps σ.
func (p *DPL) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	w, d := in.World, in.Data
	used := 1.0
	out := &metrics.Trained{DataUsed: &used}
	for x, ds := range d.Prompts {
		if ds == nil {
			return nil, fmt.Errorf("dpl: prompt %d has no data: draw more pairs", x)
		}
		res, err := tabular.FitDPL(ds.Won, dplTol, p.Prior)
		if err != nil {
			if len(w.Prompts) > 1 {
				return nil, fmt.Errorf("prompt %d: %w", x, err)
			}
			return nil, err
		}
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
