package tabular

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/integrate/quad"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

// IntegralI is Appendix C's I(s) = ∫₁^s (1/t − 1)^U dt. With w = 1/t − 1 it
// is −∫₀^{(1−s)/s} w^U/(1 + w)² dw, a smooth integrand that gonum's
// 64-point Gauss–Legendre rule integrates to machine precision for the
// ranges a fit visits.
func IntegralI(s float64, u int) float64 {
	wmax := (1 - s) / s
	f := func(w float64) float64 { return math.Pow(w, float64(u)) / ((1 + w) * (1 + w)) }
	return -quad.Fixed(f, 0, wmax, 64, nil, 0)
}

// FitIntegral minimises Appendix C's consistent loss on the unanimous
// tuples of full-information data: a tuple on which every type prefers w
// over l costs −(s + I(s)) with s = σ(β(θ(w) − θ(l))). Its minimiser, like
// Eq. 20's, has logit(s) equal to the mean reward difference, so it is
// consistent for π*. The loss is minimised by L-BFGS (gonum) from Eq. 20's
// solution, with the gradient −s(1 − s)(1 + e^{−U·h}) in h.
func FitIntegral(ds *analytic.Dataset, ref []float64, beta float64, types int) (*Result, error) {
	if ds.Unanimous == nil {
		return nil, fmt.Errorf("consistent-integral: dataset of regime %q has no unanimity statistics (needs %q)", ds.Regime, analytic.Full)
	}
	n := len(ref)
	start, err := Fit(ds, ref, Config{Kind: "consistent", Beta: beta, Types: types})
	if err != nil {
		return nil, fmt.Errorf("consistent-integral warm start: %w", err)
	}
	eval := func(theta, grad []float64, withValue bool) float64 {
		for i := range grad {
			grad[i] = 0
		}
		var f float64
		for a := range n {
			for b := range n {
				w := ds.Unanimous[a][b]
				if a == b || w == 0 {
					continue
				}
				h := beta * (theta[a] - theta[b])
				s := envs.Sigmoid(h)
				if withValue {
					f -= w * (s + IntegralI(s, types))
				}
				g := -w * s * (1 - s) * (1 + math.Exp(-float64(types)*h)) * beta
				grad[a] += g
				grad[b] -= g
			}
		}
		return f
	}
	theta, gnorm, iters, err := minimizeLBFGS(n, start.LogRatio, 1e-7,
		func(theta, grad []float64) float64 { return eval(theta, grad, true) },
		func(theta, grad []float64) { eval(theta, grad, false) })
	if err != nil {
		return nil, fmt.Errorf("consistent-integral: %w", err)
	}
	return &Result{Policy: analytic.Tilt(ref, theta, 1), LogRatio: theta, DataUsed: start.DataUsed,
		GradNorm: gnorm, Iterations: iters}, nil
}
