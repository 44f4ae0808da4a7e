package tabular

import (
	"fmt"
	"math"
	"math/rand/v2"

	"hetalign/envs"
)

// DPLOptim is Adam's settings for FitDPLSGD: learning rate, minibatch
// size, steps and the seed of the minibatch stream.
type DPLOptim struct {
	LR           float64
	Batch, Steps int
	Seed         uint64
}

// Adam's constants, GoMLX's defaults (as methods/neural's trainers).
const (
	adamBeta1   = 0.9
	adamBeta2   = 0.999
	adamEpsilon = 1e-7
)

// DPLTupleLoss is one labelled pair's negative log-likelihood under the
// mean–variance model of distributional preference learning
// (Siththaranjan et al. 2023, Sec. 4), with p = Pr(b ≻ a):
//
//	ℓ = −[p·log Φ(d) + (1 − p)·log Φ(−d)],  d = (μ_b − μ_a)/S,  S² = e^{2s_a} + e^{2s_b},
//
// and its gradient in (μ_a, μ_b, s_a, s_b): with λ(d) = φ(d)/Φ(d),
// ∂ℓ/∂d = −p·λ(d) + (1 − p)·λ(−d), ∂d/∂μ_b = −∂d/∂μ_a = 1/S and
// ∂d/∂s_i = −d·e^{2s_i}/S².
func DPLTupleLoss(muA, muB, sA, sB, p float64) (l float64, grad [4]float64) {
	va, vb := math.Exp(2*sA), math.Exp(2*sB)
	S := math.Sqrt(va + vb)
	d := (muB - muA) / S
	lp, rp := logPhi(d)
	lm, rm := logPhi(-d)
	l = -(p*lp + (1-p)*lm)
	dd := -p*rp + (1-p)*rm
	grad[0] = -dd / S
	grad[1] = dd / S
	grad[2] = -dd * d * va / (S * S)
	grad[3] = -dd * d * vb / (S * S)
	return l, grad
}

// FitDPLSGD fits the mean–variance DPL model by stochastic gradient
// descent: two tables, μ and s = log σ per prompt and response (from 0),
// trained by Adam (GoMLX's constants) on the minibatch mean of
// DPLTupleLoss over labelled pairs drawn with replacement, one tuple per
// prompt x and pair a < b with won[x][a][b] + won[x][b][a] > 0, drawn in
// proportion to mass[x]·(won[x][a][b] + won[x][b][a]) and labelled with
// the share of it won by b. A prior κ > 0 adds, every step and in full,
// Σ_x ω_x·(κ/2)·Σ_a (s_xa − mean_a s_xa)², ω_x prompt x's share of the
// draws, so each prompt's objective is FitDPL's (up to the factor ω_x)
// and its optimum the same. Each prompt's fit is then normalised as
// FitDPL's is (μ centred, σ's root mean square DPLScale); LogLik and
// GradNorm are computed there as FitDPL's, Iterations is the steps.
// Prompts without data (won[x] nil) get nil. FitDPLSGD fails when a
// prompt's σ's spread beyond 1e6, as FitDPL does.
func FitDPLSGD(won [][][]float64, mass []float64, kappa float64, opt DPLOptim) ([]*DPLResult, error) {
	if opt.Batch < 1 || opt.Steps < 1 || !(opt.LR > 0) {
		return nil, fmt.Errorf("dpl by SGD: need batch ≥ 1, steps ≥ 1 and lr > 0, got %d, %d, %v", opt.Batch, opt.Steps, opt.LR)
	}
	nX := len(won)
	if len(mass) != nX {
		return nil, fmt.Errorf("dpl by SGD: %d masses for %d prompts", len(mass), nX)
	}
	nY := 0
	var tx, ta, tb []int
	var label, weight []float64
	promptW := make([]float64, nX)
	for x, w := range won {
		if w == nil {
			continue
		}
		if nY == 0 {
			nY = len(w)
		}
		if len(w) != nY || nY < 2 {
			return nil, fmt.Errorf("dpl by SGD: prompt %d has %d alternatives, want %d (at least 2)", x, len(w), nY)
		}
		for a := range nY {
			for b := a + 1; b < nY; b++ {
				tot := w[a][b] + w[b][a]
				if tot <= 0 {
					continue
				}
				tx, ta, tb = append(tx, x), append(ta, a), append(tb, b)
				label = append(label, w[b][a]/tot)
				weight = append(weight, mass[x]*tot)
				promptW[x] += mass[x] * tot
			}
		}
	}
	pick, err := envs.NewCategorical(weight)
	if err != nil {
		return nil, fmt.Errorf("dpl by SGD: labelled pairs: %w", err)
	}
	var total float64
	for _, v := range promptW {
		total += v
	}
	n := nX * nY
	theta := make([]float64, 2*n) // μ[x·nY + y], then s[x·nY + y]
	m := make([]float64, 2*n)
	v := make([]float64, 2*n)
	g := make([]float64, 2*n)
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	inv := 1 / float64(opt.Batch)
	for step := range opt.Steps {
		clear(g)
		for range opt.Batch {
			k := pick.Draw(rng.Float64())
			ia, ib := tx[k]*nY+ta[k], tx[k]*nY+tb[k]
			_, gr := DPLTupleLoss(theta[ia], theta[ib], theta[n+ia], theta[n+ib], label[k])
			g[ia] += gr[0] * inv
			g[ib] += gr[1] * inv
			g[n+ia] += gr[2] * inv
			g[n+ib] += gr[3] * inv
		}
		if kappa > 0 {
			for x := range nX {
				if promptW[x] == 0 {
					continue
				}
				s := theta[n+x*nY : n+(x+1)*nY]
				var mean float64
				for _, sv := range s {
					mean += sv / float64(nY)
				}
				for y, sv := range s {
					g[n+x*nY+y] += promptW[x] / total * kappa * (sv - mean)
				}
			}
		}
		t := float64(step + 1)
		lrc1 := opt.LR / (1 - math.Pow(adamBeta1, t))
		c2 := 1 / (1 - math.Pow(adamBeta2, t))
		for i, gi := range g {
			m[i] = adamBeta1*m[i] + (1-adamBeta1)*gi
			v[i] = adamBeta2*v[i] + (1-adamBeta2)*gi*gi
			theta[i] -= lrc1 * m[i] / (math.Sqrt(v[i]*c2) + adamEpsilon)
		}
	}
	out := make([]*DPLResult, nX)
	for x := range nX {
		if won[x] == nil {
			continue
		}
		mu := append([]float64(nil), theta[x*nY:(x+1)*nY]...)
		s := append([]float64(nil), theta[n+x*nY:n+(x+1)*nY]...)
		res, err := dplNormalise(won[x], mu, s, kappa)
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %w", x, err)
		}
		res.Iterations = opt.Steps
		out[x] = res
	}
	return out, nil
}

// dplNormalise applies the invariances of the mean–variance model to a
// fit (μ, s = log σ): μ − mean μ, and (μ, σ) → c·(μ, σ) with c making the
// root mean square of σ equal DPLScale; it returns the result with ℓ and
// the ∞-norm of the objective's gradient (prior κ) there, and fails when
// the σ's spread beyond 1e6.
func dplNormalise(won [][]float64, mu, s []float64, kappa float64) (*DPLResult, error) {
	n := len(mu)
	var mean, ms float64
	lo, hi := 0, 0
	for a := range n {
		mean += mu[a] / float64(n)
		ms += math.Exp(2*s[a]) / float64(n)
		if s[a] < s[lo] {
			lo = a
		}
		if s[a] > s[hi] {
			hi = a
		}
	}
	if s[hi]-s[lo] > math.Log(1e6) {
		return nil, fmt.Errorf("dpl: no finite maximum likelihood: σ of alternative %d is %.3g times that of %d (the likelihood rises as the ratio diverges; a prior keeps it finite)",
			hi+1, math.Exp(s[hi]-s[lo]), lo+1)
	}
	c := DPLScale / math.Sqrt(ms)
	sigma := make([]float64, n)
	for a := range n {
		mu[a] = (mu[a] - mean) * c
		s[a] += math.Log(c)
		sigma[a] = math.Exp(s[a])
	}
	g := make([]float64, 2*n)
	dplObjective(won, mu, s, g, kappa)
	var gnorm float64
	for _, v := range g {
		gnorm = math.Max(gnorm, math.Abs(v))
	}
	return &DPLResult{Mu: mu, Sigma: sigma, LogLik: DPLLogLik(won, mu, s, nil), GradNorm: gnorm}, nil
}
