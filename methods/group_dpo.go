package methods

import (
	_ "embed"
	"fmt"
	"math"

	"hetalign/envs/analytic"
	"hetalign/methods/neural"
	"hetalign/methods/tabular"
	"hetalign/metrics"
)

//go:embed group_dpo.cue
var groupDPOCUE string

func init() {
	Register(Kind{
		Name:    "group-dpo",
		Doc:     "group-robust DPO (Ramesh et al. 2024): min over π of max over group weights α of Σ_g α_g·L_DPO(π; D_g) on typed data (each type a group, its loss the mean of Eq. 6 over its own labels); the exact saddle point, from the dual max_α min_π by exponentiated-gradient ascent on α with an exact DPO fit of the α-mixture inside, to a duality gap below gap; with model or optimizer, the published SGD (Algorithm 1): per-minibatch group losses L_g, α_g ← α_g·exp(η·L_g) renormalised, Adam on Σ_g α_g·L_g",
		Regimes: []string{analytic.Typed},
		CUE:     groupDPOCUE, CUEFile: "hetalign/methods/group_dpo.cue",
		New: func() Params { return new(GroupDPO) },
	})
}

// GroupDPO is the group-dpo kind's settings: β (default env.beta), the
// tolerance on the duality gap (default 1e-5: the worst group loss is
// then within 1e-5 of the saddle value) and the most outer steps
// (default 20,000).
//
// With model or optimizer it trains by SGD instead (Ramesh et al. 2024,
// Algorithm 1, through the neural trainer): each minibatch's group losses
// L_g move the weights α_g ← α_g·exp(eta·L_g) (renormalised; eta default
// 0.01), and Adam descends Σ_g α_g·L_g.
type GroupDPO struct {
	Beta  *float64 `json:"beta,omitempty"`
	Gap   float64  `json:"gap,omitempty"`
	Steps int      `json:"steps,omitempty"`
	Eta   float64  `json:"eta,omitempty"`
	SGDConfig
}

// Defaults: β = env.beta, gap 1e-5, 20,000 steps; by SGD, the SGD
// defaults and η = 0.01.
func (p *GroupDPO) Defaults(c Context) {
	defaultBeta(&p.Beta, c)
	p.SGDConfig.defaults(false)
	if p.SGDConfig.SGD() {
		if p.Eta == 0 {
			p.Eta = 0.01
		}
		return
	}
	if p.Gap == 0 {
		p.Gap = 1e-5
	}
	if p.Steps == 0 {
		p.Steps = 20_000
	}
}

// Check the model against the env; eta only by SGD.
func (p *GroupDPO) Check(c Context) []Problem {
	ps := p.SGDConfig.check(c)
	if p.Eta != 0 && !p.SGDConfig.SGD() {
		ps = append(ps, problemf("eta", "eta is the step of SGD's group weights: set model or optimizer"))
	}
	return ps
}

// groupLoss is L_g(θ) = (1/m_g) Σ_x mass_x Σ_{a,b} ByType_x[g][a][b]·
// softplus(−β(θ_x(a) − θ_x(b))): the mean DPO loss (Eq. 6) over group g's
// labels, with m_g group g's share of the data.
func groupLoss(d *analytic.Data, g int, mg, beta float64, theta [][]float64) float64 {
	var l float64
	for x, ds := range d.Prompts {
		if ds == nil {
			continue
		}
		for a, row := range ds.ByType[g] {
			for b, v := range row {
				if v > 0 {
					l += d.Mass[x] * v * softplus(-beta*(theta[x][a]-theta[x][b]))
				}
			}
		}
	}
	return l / mg
}

func softplus(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

// FitTabular solves max_α min_θ Σ_g α_g L_g(θ). For fixed α the inner
// problem is DPO on each prompt's mixture Won^α = Σ_g α_g ByType[g]/m_g
// (Newton, exact); h(α) = Σ_g α_g L_g(θ*(α)) is concave with gradient
// (L_g(θ*(α)))_g (Danskin), so α ← α·exp(η·L_g) climbs it. The duality
// gap max_g L_g(θ*(α)) − h(α) ≥ 0 bounds the distance to the saddle
// value; it stops below Gap.
func (p *GroupDPO) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	w, d := in.World, in.Data
	G := len(w.Prompts[0].Types)
	if p.SGDConfig.SGD() {
		return p.fitSGD(in, G)
	}
	mass := make([]float64, G)
	for x, ds := range d.Prompts {
		if ds == nil {
			continue
		}
		if len(ds.ByType) != G {
			return nil, fmt.Errorf("group-dpo: prompt %d has no typed statistics", x)
		}
		for g := range G {
			for _, row := range ds.ByType[g] {
				for _, v := range row {
					mass[g] += d.Mass[x] * v
				}
			}
		}
	}
	var groups []int // groups with data
	for g, m := range mass {
		if m > 0 {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("group-dpo: no labelled data")
	}
	alpha := make([]float64, G)
	for _, g := range groups {
		alpha[g] = 1 / float64(len(groups))
	}
	cfg := tabular.Config{Kind: "dpo", Beta: *p.Beta}
	inner := func(alpha []float64) ([][]float64, [][]float64, error) {
		theta := make([][]float64, len(d.Prompts))
		pol := make([][]float64, len(d.Prompts))
		for x, ds := range d.Prompts {
			ref := w.Prompts[x].Reference
			if ds == nil {
				pol[x], theta[x] = append([]float64(nil), ref...), make([]float64, len(ref))
				continue
			}
			n := len(ds.Won)
			mix := &analytic.Dataset{Regime: analytic.Anonymous, Won: make([][]float64, n)}
			var tot float64
			for a := range n {
				mix.Won[a] = make([]float64, n)
				for b := range n {
					for _, g := range groups {
						mix.Won[a][b] += alpha[g] * ds.ByType[g][a][b] / mass[g]
					}
					tot += mix.Won[a][b]
				}
			}
			if tot == 0 {
				pol[x], theta[x] = append([]float64(nil), ref...), make([]float64, len(ref))
				continue
			}
			for a := range n {
				for b := range n {
					mix.Won[a][b] /= tot
				}
			}
			res, err := tabular.Fit(mix, ref, cfg)
			if err != nil {
				return nil, nil, fmt.Errorf("group-dpo, prompt %d: %w", x, err)
			}
			pol[x], theta[x] = res.Policy, res.LogRatio
		}
		return pol, theta, nil
	}
	// Exponentiated-gradient ascent on h with an adaptive step: a step
	// that succeeds (below) is taken and the next one is longer; one that
	// does not is retried shorter.
	eval := func(alpha []float64) (pol [][]float64, losses []float64, h, worst float64, err error) {
		var theta [][]float64
		if pol, theta, err = inner(alpha); err != nil {
			return nil, nil, 0, 0, err
		}
		losses = make([]float64, G)
		worst = math.Inf(-1)
		for _, g := range groups {
			losses[g] = groupLoss(d, g, mass[g], *p.Beta, theta)
			h += alpha[g] * losses[g]
			worst = math.Max(worst, losses[g])
		}
		return pol, losses, h, worst, nil
	}
	pol, losses, h, worst, err := eval(alpha)
	if err != nil {
		return nil, err
	}
	best, bestPol := worst-h, pol
	eta := 1.0
	next := make([]float64, G)
	for step := 0; step < p.Steps && best >= p.Gap; step++ {
		var z float64
		for _, g := range groups {
			next[g] = alpha[g] * math.Exp(eta*(losses[g]-worst)) // shifted: the same after normalising
			z += next[g]
		}
		for _, g := range groups {
			next[g] /= z
		}
		npol, nl, nh, nw, err := eval(next)
		if err != nil {
			return nil, err
		}
		// A step is taken when it raises h, or, near the saddle where h is
		// flat (it changes quadratically in α, below rounding) while the
		// gap still falls linearly, when it lowers the gap; otherwise it is
		// retried shorter.
		if !(nh > h+1e-14*math.Abs(h)) && nw-nh >= worst-h {
			eta /= 2
			continue
		}
		copy(alpha, next)
		pol, losses, h, worst = npol, nl, nh, nw
		eta *= 1.5
		if gap := worst - h; gap < best {
			best, bestPol = gap, pol
		}
	}
	if best >= p.Gap {
		return nil, fmt.Errorf("group-dpo: the duality gap is still %.3g after %d steps (want < %.3g)", best, p.Steps, p.Gap)
	}
	used := 1.0
	out := &metrics.Trained{DataUsed: &used}
	for x, t := range w.Prompts {
		out.Policy = append(out.Policy, bestPol[x])
		out.LogRatio = append(out.LogRatio, logRatio(bestPol[x], t.Reference))
	}
	return out, nil
}

// fitSGD trains group-robust DPO by Algorithm 1 of Ramesh et al. (2024)
// on the neural trainer: tuples per prompt, group (type) and pair, drawn
// in proportion to their share of the data.
func (p *GroupDPO) fitSGD(in *TabularInput, G int) (*metrics.Trained, error) {
	d := in.Data
	byGroup := make([][][][]float64, G)
	for g := range G {
		byGroup[g] = make([][][]float64, len(d.Prompts))
		for x, ds := range d.Prompts {
			if ds == nil {
				continue
			}
			if len(ds.ByType) != G {
				return nil, fmt.Errorf("group-dpo: prompt %d has no typed statistics", x)
			}
			byGroup[g][x] = ds.ByType[g]
		}
	}
	t := neural.FromGroupPairs(byGroup, d.Mass)
	loss := neural.Loss{Kind: "group-dpo", Beta: *p.Beta, Scale: 1, Groups: G, Eta: p.Eta}
	out, err := sgdTrain(in, &p.SGDConfig, t, loss, 1)
	if err != nil {
		return nil, fmt.Errorf("group-dpo by SGD: %w", err)
	}
	return out, nil
}
