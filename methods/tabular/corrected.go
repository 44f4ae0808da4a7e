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
// reached from DPO's policy. The clamp makes the loss non-differentiable
// where |c| = Clamp; when L-BFGS stalls at such a kink the minimum is
// found on the kinks (kinkMinimum) or by a smoothed-clamp continuation
// (smoothedMinimum) and accepted only when every one-sided directional
// derivative tried is ≥ −1e-6; Result.GradNorm is then that
// certificate's worst slope (0 when none is negative).
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
	eval := func(theta, grad []float64) float64 { return correctedLoss(ds.Won, cfg, theta, grad, 0) }
	theta, gnorm, iters, err := minimizeLBFGS(n, start.LogRatio, 1e-6,
		func(theta, grad []float64) float64 { return eval(theta, grad) },
		func(theta, grad []float64) { eval(theta, grad) })
	if err != nil && theta != nil {
		// The clamp makes the loss continuous but not differentiable
		// where |c| = Clamp, and its minimum can sit on such a kink
		// (with α = 2 at τ = 0.5, on 92 of 600 random populations): the
		// gradient never vanishes there and L-BFGS's line search fails.
		// Each round minimises on the kinks active near where L-BFGS
		// stopped (kinkMinimum, certified by one-sided directional
		// derivatives); a kink minimum that a direction still descends
		// from is left along it and L-BFGS resumes there.
		var kerr error
		at := theta
	rounds:
		for range 10 {
			var dir []float64
			for _, near := range []float64{1e-3, 1e-2, 0.05, 0.2} {
				var th []float64
				if th, gnorm, dir, kerr = kinkMinimum(ds.Won, cfg, at, eval, near); kerr == nil {
					theta = th
					break rounds
				}
				if dir != nil {
					at = th
				}
			}
			if dir != nil {
				g := make([]float64, n)
				f0 := eval(at, g)
				try := make([]float64, n)
				for h := 1e-2; h > 1e-12; h /= 2 {
					for i := range try {
						try[i] = at[i] + h*dir[i]
					}
					if eval(try, g) < f0 {
						break
					}
				}
				at = try
			}
			th, gn, _, lerr := minimizeLBFGS(n, at, 1e-6,
				func(theta, grad []float64) float64 { return eval(theta, grad) },
				func(theta, grad []float64) { eval(theta, grad) })
			if lerr == nil {
				theta, gnorm, kerr = th, gn, nil
				break
			}
			if th == nil {
				break
			}
			at = th
		}
		if kerr != nil {
			// Last, a continuation: the clamp smoothed over a width μ
			// (smoothClamp), minimised by L-BFGS for μ = 10⁻², …, 10⁻¹⁰,
			// each from the last, approaches a minimum of the clamped
			// loss, which the directional derivatives then certify.
			th, gn, serr := smoothedMinimum(ds.Won, cfg, start.LogRatio, eval)
			if serr != nil {
				return nil, fmt.Errorf("corrected-dpo: %w; %w; %w", err, kerr, serr)
			}
			theta, gnorm, kerr = th, gn, nil
		}
		err = nil
	}
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
// gradient only the gradient (for losses whose value is costly). On
// failure it returns the point where L-BFGS stopped with the error.
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
		// θ is returned (uncentred) for a caller that can go on from it.
		return theta, gnorm, res.Stats.MajorIterations, fmt.Errorf("L-BFGS stopped at gradient %.3g (%v)", gnorm, res.Status)
	}
	for i := range theta {
		theta[i] -= mean
	}
	return theta, gnorm, res.Stats.MajorIterations, nil
}

// kinkMinimum finds a minimum of corrected DPO's loss that lies on kinks
// of the clamp, from θ0 where L-BFGS stopped. c depends on θ only through
// s = σ(β(θ_a − θ_b)), so the kink |c| = Clamp of pair (a, b) is the
// hyperplane θ_a − θ_b = logit(s*)/β with s* the root in (0, ½) of
// Clamp·s² − (Clamp + V)s + V/2 = 0 (c = +Clamp; 1 − s* for −Clamp). The
// pairs whose |c| is within near·Clamp of Clamp at θ0 are taken as active
// (FitCorrected tries near = 1e-3, 1e-2, 0.05 and 0.2 in turn): their
// differences are fixed, which ties alternatives into groups with fixed
// offsets, and the loss, smooth on that affine subspace, is minimised by
// L-BFGS over one shift per group. The result is certified a local
// minimum when every one-sided directional derivative along ± each free
// coordinate and 4n fixed pseudo-random directions is above −1e-6. It
// returns θ centred and the most negative directional derivative's
// magnitude; when the certificate fails, also the minimiser on the kinks
// (uncentred) and the direction of steepest one-sided descent found.
func kinkMinimum(won [][]float64, cfg CorrectedConfig, theta0 []float64, eval func(theta, grad []float64) float64, near float64) ([]float64, float64, []float64, error) {
	n := len(theta0)
	group := make([]int, n)
	offset := make([]float64, n)
	for i := range group {
		group[i] = i
	}
	find := func(i int) (int, float64) {
		var off float64
		for group[i] != i {
			off += offset[i]
			i = group[i]
		}
		return i, off
	}
	active := 0
	for a := range n {
		for b := a + 1; b < n; b++ {
			v := cfg.V[a][b]
			if won[a][b]+won[b][a] == 0 || v <= 0 {
				continue
			}
			s := 1 / (1 + math.Exp(-cfg.Beta*(theta0[a]-theta0[b])))
			c := 0.5 * (1 - 2*s) * v / (s * (1 - s))
			if math.Abs(math.Abs(c)-cfg.Clamp) > near*cfg.Clamp {
				continue
			}
			C := cfg.Clamp
			star := ((C + v) - math.Sqrt((C+v)*(C+v)-2*C*v)) / (2 * C)
			if c < 0 {
				star = 1 - star
			}
			delta := math.Log(star/(1-star)) / cfg.Beta // θ_a − θ_b on the kink
			ra, oa := find(a)                           // θ_a = θ_ra + oa
			rb, ob := find(b)
			if ra == rb {
				if math.Abs(oa-ob-delta) > 1e-9 {
					return nil, 0, nil, fmt.Errorf("the kinks active at L-BFGS's stop are inconsistent")
				}
				continue
			}
			// θ_ra = θ_rb + ob + delta − oa.
			group[ra], offset[ra] = rb, ob+delta-oa
			active++
		}
	}
	if active == 0 {
		return nil, 0, nil, fmt.Errorf("no kink of the clamp is active where L-BFGS stopped")
	}
	roots := map[int]int{}
	off := make([]float64, n)
	idx := make([]int, n)
	for i := range n {
		r, o := find(i)
		off[i] = o
		if _, ok := roots[r]; !ok {
			roots[r] = len(roots)
		}
		idx[i] = roots[r]
	}
	m := len(roots)
	full := func(t []float64) []float64 {
		th := make([]float64, n)
		for i := range n {
			th[i] = t[idx[i]] + off[i]
		}
		return th
	}
	g := make([]float64, n)
	t0 := make([]float64, m)
	for i := range n {
		t0[idx[i]] = theta0[i] - off[i]
	}
	p := optimize.Problem{
		Func: func(t []float64) float64 { return eval(full(t), g) },
		Grad: func(gt, t []float64) {
			eval(full(t), g)
			for k := range gt {
				gt[k] = 0
			}
			for i := range n {
				gt[idx[i]] += g[i]
			}
		},
	}
	// The common shift of all groups is the constant θ is identified up
	// to: a flat direction, along which the gradient is 0.
	res, err := optimize.Minimize(p, t0, &optimize.Settings{GradientThreshold: 1e-12, MajorIterations: 2000}, &optimize.LBFGS{})
	if err != nil && res == nil {
		return nil, 0, nil, err
	}
	theta := full(res.X)
	worst, down := certify(eval, theta)
	if worst < -1e-6 {
		return theta, -worst, down, fmt.Errorf("minimising on the %d active kinks of the clamp: a directional derivative is %.3g, not a local minimum", active, worst)
	}
	var mean float64
	for _, t := range theta {
		mean += t / float64(n)
	}
	for i := range theta {
		theta[i] -= mean
	}
	return theta, -worst, nil, nil
}

// correctedLoss is corrected DPO's loss on won (see CorrectedConfig) and,
// when grad is not nil, its gradient (where it exists; on a kink, that
// of the side the arithmetic falls on). mu > 0 replaces the clamp by
// smoothClamp of width mu.
func correctedLoss(won [][]float64, cfg CorrectedConfig, theta, grad []float64, mu float64) float64 {
	n := len(theta)
	for i := range grad {
		grad[i] = 0
	}
	var f float64
	for a := range n {
		for b := range n {
			w := won[a][b]
			if a == b || w == 0 {
				continue
			}
			s := envs.Sigmoid(cfg.Beta * (theta[a] - theta[b]))
			ss := s * (1 - s)
			v := cfg.V[a][b]
			c := 0.5 * (1 - 2*s) * v / ss
			dc := 0.5 * v * (-1 + 2*s - 2*s*s) / (ss * ss)
			if mu > 0 {
				var dk float64
				c, dk = smoothClamp(c, cfg.Clamp, mu)
				dc *= dk
			} else if c > cfg.Clamp || c < -cfg.Clamp {
				c, dc = math.Copysign(cfg.Clamp, c), 0
			}
			q := s + cfg.Alpha*c
			if q < cfg.Epsilon {
				f -= w * math.Log(cfg.Epsilon)
				continue
			}
			f -= w * math.Log(q)
			if grad != nil {
				g := -w / q * (1 + cfg.Alpha*dc) * ss * cfg.Beta
				grad[a] += g
				grad[b] -= g
			}
		}
	}
	return f + centredL2(theta, grad, cfg.L2)
}

// smoothClamp is c − μ·softplus((c − C)/μ) + μ·softplus((−C − c)/μ), a
// smooth clamp of c to [−C, C] within about μ·log 2 of the clamp
// everywhere, and its derivative 1 − σ((c − C)/μ) − σ((−C − c)/μ).
func smoothClamp(c, C, mu float64) (float64, float64) {
	sp := func(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }
	hi, lo := (c-C)/mu, (-C-c)/mu
	return c - mu*sp(hi) + mu*sp(lo), 1 - envs.Sigmoid(hi) - envs.Sigmoid(lo)
}

// smoothedMinimum minimises corrected DPO's loss with the clamp smoothed
// (smoothClamp) over widths μ = 10⁻², …, 10⁻¹⁰ by L-BFGS, each from the
// previous minimiser (the first from start), and certifies the last one
// on the clamped loss eval by one-sided directional derivatives
// (certify), or, failing that, the minimum on the kinks active there
// (kinkMinimum). It returns θ centred and the certificate's worst slope.
func smoothedMinimum(won [][]float64, cfg CorrectedConfig, start []float64, eval func(theta, grad []float64) float64) ([]float64, float64, error) {
	n := len(start)
	theta := append([]float64(nil), start...)
	g := make([]float64, n)
	for mu := 1e-2; mu >= 1e-10; mu /= 10 {
		full := func(x []float64) []float64 { return append(append(make([]float64, 0, n), x...), 0) }
		p := optimize.Problem{
			Func: func(x []float64) float64 { return correctedLoss(won, cfg, full(x), g, mu) },
			Grad: func(grad, x []float64) {
				correctedLoss(won, cfg, full(x), g, mu)
				copy(grad, g[:n-1])
			},
		}
		x0 := make([]float64, n-1)
		for i := range x0 {
			x0[i] = theta[i] - theta[n-1]
		}
		res, err := optimize.Minimize(p, x0, &optimize.Settings{GradientThreshold: 1e-12, MajorIterations: 2000}, &optimize.LBFGS{})
		if res == nil {
			return nil, 0, fmt.Errorf("smoothed clamp, μ = %g: %w", mu, err)
		}
		theta = full(res.X)
	}
	worst, _ := certify(eval, theta)
	if worst < -1e-6 {
		// Within about μ of the kinks: minimise on those active there.
		for _, near := range []float64{1e-6, 1e-4, 1e-2} {
			if th, w, _, err := kinkMinimum(won, cfg, theta, eval, near); err == nil {
				return th, w, nil
			}
		}
		return nil, -worst, fmt.Errorf("the smoothed clamp's minimum is not a local minimum of the clamped loss: a directional derivative is %.3g", worst)
	}
	var mean float64
	for _, t := range theta {
		mean += t / float64(n)
	}
	for i := range theta {
		theta[i] -= mean
	}
	return theta, -worst, nil
}

// certify returns the most negative one-sided directional derivative
// (f(θ + εd) − f(θ))/ε, ε = 1e-7, of eval at θ (0 when none is negative)
// over ± each coordinate and 4n fixed pseudo-random directions, and the
// direction that achieves it (nil when none descends). At a minimum of a
// piecewise smooth function, kink or not, every such derivative is ≥ 0
// up to the step's error.
func certify(eval func(theta, grad []float64) float64, theta []float64) (float64, []float64) {
	n := len(theta)
	g := make([]float64, n)
	fx := eval(theta, g)
	var dirs [][]float64
	for i := range n {
		d := make([]float64, n)
		d[i] = 1
		dirs = append(dirs, d)
	}
	state := uint64(0x9e3779b97f4a7c15) // a fixed stream: the same directions every run
	next := func() float64 {
		state = state*6364136223846793005 + 1442695040888963407
		return float64(state>>11)/float64(1<<53)*2 - 1
	}
	for range 4 * n {
		d := make([]float64, n)
		for i := range d {
			d[i] = next()
		}
		dirs = append(dirs, d)
	}
	const eps = 1e-7
	worst := 0.0
	var down []float64
	try := make([]float64, n)
	for _, d := range dirs {
		for _, sg := range []float64{1, -1} {
			for i := range theta {
				try[i] = theta[i] + sg*eps*d[i]
			}
			if dd := (eval(try, g) - fx) / eps; dd < worst {
				worst = dd
				down = make([]float64, n)
				for i := range d {
					down[i] = sg * d[i]
				}
			}
		}
	}
	return worst, down
}
