package tabular

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// DPLScale is the root mean square of the fitted σ's, the convention that
// fixes DPL's scale: the mean–variance model is unchanged when μ and σ
// are multiplied by the same c > 0, so only their ratio is identified.
// With equal σ's, P(a ≻ b) = Φ((μ_a − μ_b)/(σ√2)), and σ = 2/√π makes
// that Φ(√(π/8)·Δμ), the probit with the logistic's slope ¼ at 0: μ is
// then on the scale of a Bradley–Terry reward (DPO's implicit reward).
var DPLScale = 2 / math.Sqrt(math.Pi)

// DPLResult is a fitted mean–variance model: μ (centred to mean 0) and σ
// (root mean square DPLScale) per alternative, the mean log-likelihood per
// label at the fit, the ∞-norm of its gradient in (μ, log σ), and the
// L-BFGS iterations.
type DPLResult struct {
	Mu, Sigma  []float64
	LogLik     float64
	GradNorm   float64
	Iterations int
}

// DPLLogLik is the mean log-likelihood of the mean–variance model of
// distributional preference learning (Siththaranjan et al. 2023, Sec. 4,
// "mean-and-variance DPL") on pair statistics won:
//
//	ℓ(μ, s) = (1/W) Σ_{a≠b} won[a][b]·log Φ(d_ab),
//	d_ab = (μ_a − μ_b)/√(σ_a² + σ_b²),  σ_a = e^{s_a},
//
// W = Σ_{a≠b} won[a][b]. When grad is not nil it receives ∂ℓ/∂μ (first n
// entries) and ∂ℓ/∂s (last n): with λ = φ(d)/Φ(d) and S² = σ_a² + σ_b²,
// ∂d/∂μ_a = 1/S, ∂d/∂μ_b = −1/S, ∂d/∂s_a = −d·σ_a²/S².
func DPLLogLik(won [][]float64, mu, s, grad []float64) float64 {
	return dplObjective(won, mu, s, grad, 0)
}

// dplObjective is DPLLogLik minus the prior (κ/2)·Σ_a (s_a − s̄)², s̄ the
// mean of s: a Gaussian prior on log σ that is blind to the common scale
// (and so to the normalisation), with its gradient κ(s_a − s̄) subtracted.
func dplObjective(won [][]float64, mu, s, grad []float64, kappa float64) float64 {
	n := len(mu)
	for i := range grad {
		grad[i] = 0
	}
	var f, tot float64
	for a := range n {
		for b := range n {
			w := won[a][b]
			if a == b || w == 0 {
				continue
			}
			tot += w
			va, vb := math.Exp(2*s[a]), math.Exp(2*s[b])
			S := math.Sqrt(va + vb)
			d := (mu[a] - mu[b]) / S
			lp, ratio := logPhi(d)
			f += w * lp
			if grad != nil {
				c := w * ratio
				grad[a] += c / S
				grad[b] -= c / S
				grad[n+a] -= c * d * va / (S * S)
				grad[n+b] -= c * d * vb / (S * S)
			}
		}
	}
	if tot == 0 {
		return 0
	}
	for i := range grad {
		grad[i] /= tot
	}
	f /= tot
	if kappa > 0 {
		var mean float64
		for _, v := range s {
			mean += v / float64(n)
		}
		for a, v := range s {
			f -= kappa / 2 * (v - mean) * (v - mean)
			if grad != nil {
				grad[n+a] -= kappa * (v - mean)
			}
		}
	}
	return f
}

// logPhi is log Φ(d) and the ratio φ(d)/Φ(d), the derivative of log Φ.
// Below d = −30, where Φ's complement formula loses digits, it uses the
// asymptotic Mills ratio Φ(d) ≈ φ(d)/|d|·(1 − 1/d² + 3/d⁴).
func logPhi(d float64) (float64, float64) {
	if d < -30 {
		corr := 1 - 1/(d*d) + 3/(d*d*d*d)
		lp := -d*d/2 - 0.5*math.Log(2*math.Pi) - math.Log(-d) + math.Log(corr)
		return lp, -d / corr
	}
	p := 0.5 * math.Erfc(-d/math.Sqrt2)
	phi := math.Exp(-d*d/2) / math.Sqrt(2*math.Pi)
	return math.Log(p), phi / p
}

// FitDPL fits the mean–variance DPL model by maximum likelihood on pair
// statistics won (won[a][b] the share of labels preferring a to b, as
// analytic.Dataset.Won), by gonum's L-BFGS on (μ, log σ) from μ = 0,
// σ = 1, and returns μ centred and σ rescaled to root mean square
// DPLScale, both exact invariances of the likelihood (a shift of μ; a
// common factor on μ and σ), so the gradient at the returned point is
// that at the optimum.
//
// What the data identify: the likelihood depends on μ and σ only through
// d_ab, so a shift of μ and the common scale are never identified (fixed
// above); a pair never compared says nothing about its own d. With n
// alternatives there are n(n − 1)/2 pair probabilities for 2n − 2 free
// parameters, so σ is not identified for n ≤ 3 (a continuum of exact
// fits: the result is the one L-BFGS reaches from σ = 1) and n = 4 is
// saturated. Even for n ≥ 5 some σ's are not: probabilities generated
// with equal σ's (Thurstone's Case V), or with σ² affine in μ, are fit
// exactly by a curve of (μ, σ) on which σ² stays affine in μ (found
// numerically; TestFitDPLRecovers), so equal σ's come back only up to
// that curve; generic σ's are recovered. A finite maximiser needs Zermelo's condition (every
// alternative beats and is beaten along a cycle through all of them);
// otherwise some d_ab must diverge. FitDPL fails when the win graph breaks
// it, when L-BFGS stops at a gradient above tol, or when the σ's spread
// beyond 1e6 (the supremum is approached by a σ going to 0 or ∞, which
// it names).
//
// A prior κ > 0 (the spec's prior) maximises ℓ − (κ/2)·Σ_a (log σ_a −
// mean log σ)² instead, which has a finite maximiser whenever Zermelo's
// condition holds; LogLik is still ℓ at the result.
func FitDPL(won [][]float64, tol, kappa float64) (*DPLResult, error) {
	n := len(won)
	if n < 2 {
		return nil, fmt.Errorf("dpl: %d alternatives", n)
	}
	if err := identifiable(won, true); err != nil {
		return nil, fmt.Errorf("dpl: %w", err)
	}
	g := make([]float64, 2*n)
	p := optimize.Problem{
		Func: func(x []float64) float64 { return -dplObjective(won, x[:n], x[n:], nil, kappa) },
		Grad: func(grad, x []float64) {
			dplObjective(won, x[:n], x[n:], g, kappa)
			for i := range grad {
				grad[i] = -g[i]
			}
		},
	}
	x0 := make([]float64, 2*n)
	// The likelihood can be flat along a curve of exact fits (below), where
	// gonum's default test of function convergence would stop early.
	set := &optimize.Settings{GradientThreshold: tol * 1e-3, MajorIterations: 10_000,
		Converger: &optimize.FunctionConverge{Absolute: 1e-16, Relative: 1e-16, Iterations: 1000}}
	res, err := optimize.Minimize(p, x0, set, &optimize.LBFGS{})
	if err != nil && res == nil {
		return nil, fmt.Errorf("dpl: L-BFGS: %w", err)
	}
	// The invariances (dplNormalise) leave the gradient in (μ, log σ) at
	// the optimum.
	out, err := dplNormalise(won, append([]float64(nil), res.X[:n]...), append([]float64(nil), res.X[n:]...), kappa)
	if err != nil {
		return nil, err
	}
	if out.GradNorm > tol || math.IsNaN(out.GradNorm) {
		return nil, fmt.Errorf("dpl: L-BFGS stopped at gradient %.3g (%v)", out.GradNorm, res.Status)
	}
	out.Iterations = res.Stats.MajorIterations
	return out, nil
}
