package methods

import (
	_ "embed"
	"fmt"

	"hetalign/envs/analytic"
	"hetalign/methods/neural"
	"hetalign/methods/tabular"
	"hetalign/metrics"
)

//go:embed corrected_dpo.cue
var correctedCUE string

func init() {
	Register(Kind{
		Name:    "corrected-dpo",
		Doc:     "first-order corrected DPO (Eqs. 17–19): likelihood s + α·½(1 − 2s)V/(s(1 − s)), clamped; V = Var_u[σ_u] exact from the environment or estimated by the joint-likelihood model J on paired data (Section 5.3); warm-started from DPO",
		Regimes: []string{analytic.Anonymous, analytic.Full, analytic.Paired},
		CUE:     correctedCUE, CUEFile: "hetalign/methods/corrected_dpo.cue",
		New: func() Params { return new(CorrectedDPO) },
	})
}

// CorrectedDPO is the corrected-dpo kind's settings.
type CorrectedDPO struct {
	Beta       *float64         `json:"beta,omitempty"`
	L2         float64          `json:"l2,omitempty"`
	Alpha      *float64         `json:"alpha,omitempty"`
	Clamp      float64          `json:"clamp,omitempty"`
	Variance   string           `json:"variance,omitempty"`
	Components int              `json:"components,omitempty"`
	Joint      *OptimizerConfig `json:"joint,omitempty"`
	Warm       *int             `json:"warm,omitempty"`
	SGDConfig
}

// SGD: the policy or the joint model J trains on GoMLX.
func (p *CorrectedDPO) SGD() bool { return p.SGDConfig.SGD() || p.Variance == "joint" }

// Seeded: the cell's seed enters the step when the policy trains by SGD.
// J alone (variance "joint" with the exact policy fit) draws from the
// step's own seed, shared by every seed of an exact dataset, as it always
// has.
func (p *CorrectedDPO) Seeded() bool { return p.SGDConfig.SGD() }

// Defaults: α = 1, clamp 0.1, V exact, 80% warm steps, J with |U|
// components and Adam (1e-2, 1024, 10,000).
func (p *CorrectedDPO) Defaults(c Context) {
	p.SGDConfig.defaults(false)
	if p.Alpha == nil {
		one := 1.0
		p.Alpha = &one
	}
	if p.Clamp == 0 {
		p.Clamp = 0.1
	}
	if p.Variance == "" {
		p.Variance = "exact"
	}
	if p.SGDConfig.SGD() && p.Warm == nil {
		w := p.Optimizer.Steps * 4 / 5
		p.Warm = &w
	}
	if p.Variance == "joint" {
		if p.Components == 0 {
			p.Components = c.Types
		}
		if p.Joint == nil {
			p.Joint = &OptimizerConfig{}
		}
		p.Joint.Fill(1e-2, 1024, 10_000)
	}
	defaultBeta(&p.Beta, c)
}

// Check: J trains on paired data.
func (p *CorrectedDPO) Check(c Context) []Problem {
	ps := p.SGDConfig.check(c)
	if p.Variance == "joint" && c.Regime != "" && c.Regime != analytic.Paired {
		ps = append(ps, problemf("variance", "variance \"joint\" trains J on paired data, but dataset %q has regime %q", c.Data, c.Regime))
	}
	return ps
}

// FitTabular minimises the corrected loss by L-BFGS from DPO's solution,
// or by SGD after warm DPO steps.
func (p *CorrectedDPO) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	var joint *neural.Joint
	if p.Variance == "joint" {
		var err error
		if joint, err = p.trainJoint(in); err != nil {
			return nil, err
		}
	}
	w := in.World
	if p.SGDConfig.SGD() {
		loss := neural.Loss{Kind: "corrected", Scale: 1, Beta: *p.Beta, Alpha: *p.Alpha, Clamp: p.Clamp, Epsilon: 1e-6, WarmSteps: *p.Warm}
		return sgdFit(in, &p.SGDConfig, wonPairs(in.Data), loss, 1, func(t *neural.Tuples) {
			vs := make([][][]float64, len(w.Prompts))
			for x := range w.Prompts {
				vs[x] = variance(w, joint, x)
			}
			for i := range t.X {
				t.V = append(t.V, vs[t.X[i]][t.Y1[i]][t.Y2[i]])
			}
		})
	}
	return exactFit(in, func(x int, ds *analytic.Dataset, ref []float64) (*tabular.Result, error) {
		return tabular.FitCorrected(ds, ref, tabular.CorrectedConfig{
			Beta: *p.Beta, Alpha: *p.Alpha, Clamp: p.Clamp, V: variance(w, joint, x), L2: p.L2})
	})
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

// trainJoint fits the joint-likelihood model J (Section 5.3) on the
// paired samples of the data (or on exact paired probabilities for
// population data), for the variance term.
func (p *CorrectedDPO) trainJoint(in *TabularInput) (*neural.Joint, error) {
	be, err := in.Backend()
	if err != nil {
		return nil, err
	}
	w, d := in.World, in.Data
	pairSeed := d.Seed
	if d.Tuples == 0 {
		pairSeed = in.Seed
	}
	sample := w.PairedSampler(d.Tuples, pairSeed)
	batch := p.Joint.Batch
	next := func(int) neural.PairBatch {
		x, a, b, x2, c, dd, l := sample(batch)
		return neural.PairBatch{X: x, A: a, B: b, X2: x2, C: c, D: dd, Label: l}
	}
	nY := len(w.Prompts[0].Alternatives)
	j, err := neural.TrainJoint(be, next, len(w.Prompts), nY, p.Components, p.Joint.optim(), in.Seed)
	if err != nil {
		return nil, fmt.Errorf("joint-likelihood model: %w", err)
	}
	return j, nil
}
