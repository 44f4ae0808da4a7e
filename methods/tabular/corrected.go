package tabular

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

// CorrectedConfig configures first-order corrected DPO (Section 5.1,
// Eqs. 17–19) as published: the likelihood of a ≻ b is q = s + α·c with
// s = σ(β(θ(a) − θ(b))) and c = ½(1 − 2s)·V(a, b) / (s(1 − s)) clamped to
// [−Clamp, Clamp], where V(a, b) = Var_u[σ_τ(r(a;u) − r(b;u))] is the
// variance of the preference probability across types (c equals
// ½σ”(h)·Var_u[Δr] to first order). V is held constant in the gradient,
// and the loss −Σ Won·log max(q, ε) uses the stable logarithm of
// Section 5.1.
type CorrectedConfig struct {
	Beta    float64
	Alpha   float64
	Clamp   float64
	Epsilon float64
	// V[a][b] is the variance term of each pair.
	V [][]float64
	// L2 adds (L2/2)·Σ_y (θ(y) − mean θ)², as for Fit.
	L2 float64
}

// PreferenceVariance is V(a, b) = Σ_u w_u σ_u(a≻b)² − (Σ_u w_u σ_u(a≻b))²
// for every pair, computed exactly from the environment (the quantity the
// paper's joint-likelihood model J estimates from paired data, Section 5.3).
func PreferenceVariance(e *analytic.Env) [][]float64 {
	tp := e.TypePrefs()
	n := len(e.Alternatives)
	v := square(n)
	for a := range n {
		for b := range n {
			var m1, m2 float64
			for u, w := range e.Population.Weights {
				m1 += w * tp[u][a][b]
				m2 += w * tp[u][a][b] * tp[u][a][b]
			}
			v[a][b] = math.Max(0, m2-m1*m1)
		}
	}
	return v
}

// FitCorrected minimises the corrected-DPO loss on ds by L-BFGS (gonum),
// starting from DPO's solution as the published code warm-starts from
// plain DPO. The loss is not convex; the result is the local minimum
// reached from DPO's policy.
func FitCorrected(ds *analytic.Dataset, ref []float64, cfg CorrectedConfig) (*Result, error) {
	n := len(ref)
	if len(cfg.V) != n {
		return nil, fmt.Errorf("corrected-dpo: variance for %d alternatives, %d given", len(cfg.V), n)
	}
	if cfg.Clamp == 0 {
		cfg.Clamp = 0.1
	}
	if cfg.Epsilon == 0 {
		cfg.Epsilon = 1e-6
	}
	start, err := Fit(ds, ref, Config{Kind: "dpo", Beta: cfg.Beta, L2: cfg.L2})
	if err != nil {
		return nil, fmt.Errorf("corrected-dpo warm start: %w", err)
	}
	eval := func(theta, grad []float64) float64 {
		for i := range grad {
			grad[i] = 0
		}
		var f float64
		for a := range n {
			for b := range n {
				w := ds.Won[a][b]
				if a == b || w == 0 {
					continue
				}
				s := envs.Sigmoid(cfg.Beta * (theta[a] - theta[b]))
				ss := s * (1 - s)
				v := cfg.V[a][b]
				c := 0.5 * (1 - 2*s) * v / ss
				dc := 0.5 * v * (-1 + 2*s - 2*s*s) / (ss * ss)
				if c > cfg.Clamp || c < -cfg.Clamp {
					c, dc = math.Copysign(cfg.Clamp, c), 0
				}
				q := s + cfg.Alpha*c
				if q < cfg.Epsilon {
					f -= w * math.Log(cfg.Epsilon)
					continue
				}
				f -= w * math.Log(q)
				g := -w / q * (1 + cfg.Alpha*dc) * ss * cfg.Beta
				grad[a] += g
				grad[b] -= g
			}
		}
		return f + centredL2(theta, grad, cfg.L2)
	}
	theta, gnorm, iters, err := minimizeLBFGS(n, start.LogRatio, 1e-6,
		func(theta, grad []float64) float64 { return eval(theta, grad) },
		func(theta, grad []float64) { eval(theta, grad) })
	if err != nil {
		return nil, fmt.Errorf("corrected-dpo: %w", err)
	}
	return &Result{Policy: analytic.Tilt(ref, theta, 1), LogRatio: theta, DataUsed: 1, GradNorm: gnorm,
		Iterations: iters}, nil
}

// minimizeLBFGS minimises a loss of the log-ratios θ (n of them, the last
// pinned to 0) by gonum's L-BFGS from start, and returns θ centred, the
// final ∞-norm of the gradient, and the iterations; it fails when the
// gradient is still above tol. value computes the loss and gradient,
// gradient only the gradient (for losses whose value is costly).
func minimizeLBFGS(n int, start []float64, tol float64, value func(theta, grad []float64) float64,
	gradient func(theta, grad []float64)) ([]float64, float64, int, error) {
	full := func(x []float64) []float64 { return append(append(make([]float64, 0, n), x...), 0) }
	g := make([]float64, n)
	p := optimize.Problem{
		Func: func(x []float64) float64 { return value(full(x), g) },
		Grad: func(grad, x []float64) {
			gradient(full(x), g)
			copy(grad, g[:n-1])
		},
	}
	x0 := make([]float64, n-1)
	for i := range x0 {
		x0[i] = start[i] - start[n-1]
	}
	res, err := optimize.Minimize(p, x0, &optimize.Settings{GradientThreshold: tol * 1e-4, MajorIterations: 2000}, &optimize.LBFGS{})
	if err != nil && res == nil {
		return nil, 0, 0, err
	}
	theta := full(res.X)
	gradient(theta, g)
	var gnorm, mean float64
	for i, t := range theta {
		gnorm = math.Max(gnorm, math.Abs(g[i]))
		mean += t / float64(n)
	}
	if gnorm > tol || math.IsNaN(gnorm) {
		return nil, gnorm, res.Stats.MajorIterations, fmt.Errorf("L-BFGS stopped at gradient %.3g (%v)", gnorm, res.Status)
	}
	for i := range theta {
		theta[i] -= mean
	}
	return theta, gnorm, res.Stats.MajorIterations, nil
}
