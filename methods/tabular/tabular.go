// Package tabular fits a tabular policy over a finite alternative set by
// minimising a pairwise preference loss exactly (Newton's method with
// gonum's Cholesky factorisation, to gradients near 1e-15), on either the population statistics of a regime
// (the infinite-data limit) or a sampled dataset (the maximum-likelihood
// tabular policy, which SGD would converge to).
//
// The policy is parametrised by its log-ratio θ(y) = log π(y)/π_ref(y); the
// induced reward is βθ (Eq. 4) and h(y1, y2) = β(θ(y2) − θ(y1)) (Eq. 18).
package tabular

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

// Config selects the loss.
type Config struct {
	// Kind is "dpo", "ipo", "consistent" or "relabel-dpo".
	Kind string
	// Beta is DPO's β (Eq. 6), also used by the consistent loss.
	Beta float64
	// Tau is IPO's regularisation τ: the loss is (θ(y_w) − θ(y_l) − 1/(2τ))².
	Tau float64
	// Types is |U|, the temperature of the consistent loss (Eq. 20).
	Types int
	// L2 ≥ 0 adds (L2/2)·Σ_y (θ(y) − mean θ)² to the loss: a Gaussian prior
	// on the log-ratios that keeps the minimiser finite on sparse samples
	// (0, the default, is the plain maximum-likelihood policy).
	L2 float64
	// TypeWeights, for relabel-dpo, are the types' weights w_u in the
	// average reward r̄ = Σ_u w_u r_u. nil: the types' shares of the
	// annotators behind the data (Dataset.TypeShares), or, where every
	// tuple has its own annotator, of the tuples.
	TypeWeights []float64
}

// Result is a fitted tabular policy.
type Result struct {
	// Policy is π(y) = π_ref(y) e^{θ(y)} / Z.
	Policy []float64 `json:"policy"`
	// LogRatio is θ(y) = log π(y)/π_ref(y), shifted so that Σ_y θ(y) = 0.
	LogRatio []float64 `json:"log_ratio"`
	// DataUsed is the fraction of the dataset's tuples the loss looks at
	// (Eq. 20 discards tuples without unanimity).
	DataUsed float64 `json:"data_used"`
	// GradNorm is the final ∞-norm of the gradient of the loss.
	GradNorm float64 `json:"grad_norm"`
	// Iterations of Newton's method.
	Iterations int `json:"iterations"`
	// Certificate says how the fit knows its minimiser exists (CertL2,
	// CertLP, CertRecession, CertSecond); a fit without one fails with a
	// *NoMinimiserError instead.
	Certificate string `json:"certificate,omitempty"`
	// Optima, for losses that can have several optima (non-convex losses:
	// several starts; the hinge LP: its optimal face), says which pairs
	// every optimum orders alike; nil where the optimum is unique by
	// strict convexity, or was not searched (more than MultiStartMax
	// alternatives, non-convex).
	Optima *Optima `json:"optima,omitempty"`
}

// pairLoss is ℓ(z) with z = s·(θ_a − θ_b) for a tuple in which a won,
// weighted by W[a][b].
type pairLoss struct {
	w     [][]float64
	scale float64
	f     func(z float64) (v, d1, d2 float64)
	l2    float64
}

func logistic(z float64) (float64, float64, float64) {
	s := envs.Sigmoid(z)
	return -envs.LogSigmoid(z), -(1 - s), s * (1 - s)
}

func newLoss(ds *analytic.Dataset, cfg Config) (pairLoss, float64, error) {
	switch cfg.Kind {
	case "dpo":
		if !(cfg.Beta > 0) {
			return pairLoss{}, 0, fmt.Errorf("dpo: beta must be positive, got %v", cfg.Beta)
		}
		return pairLoss{w: ds.Won, scale: cfg.Beta, f: logistic}, 1, nil
	case "consistent":
		if cfg.Types < 1 || !(cfg.Beta > 0) {
			return pairLoss{}, 0, fmt.Errorf("consistent: need |U| ≥ 1 and β > 0, got %d and %v", cfg.Types, cfg.Beta)
		}
		if ds.Regime == analytic.Consensus {
			// Consensus labels already condition on agreement: the
			// temperature-adjusted DPO of Eq. 20 on every tuple.
			return pairLoss{w: ds.Won, scale: float64(cfg.Types) * cfg.Beta, f: logistic}, 1, nil
		}
		if ds.Unanimous == nil {
			return pairLoss{}, 0, fmt.Errorf("consistent: dataset of regime %q has no unanimity statistics (needs %q or %q)", ds.Regime, analytic.Full, analytic.Consensus)
		}
		var used float64
		for _, row := range ds.Unanimous {
			for _, x := range row {
				used += x
			}
		}
		return pairLoss{w: ds.Unanimous, scale: float64(cfg.Types) * cfg.Beta, f: logistic}, used, nil
	case "ipo":
		if !(cfg.Tau > 0) {
			return pairLoss{}, 0, fmt.Errorf("ipo: tau must be positive, got %v", cfg.Tau)
		}
		c := 1 / (2 * cfg.Tau)
		return pairLoss{w: ds.Won, scale: 1, f: func(z float64) (float64, float64, float64) {
			return (z - c) * (z - c), 2 * (z - c), 2
		}}, 1, nil
	}
	return pairLoss{}, 0, fmt.Errorf("tabular: no loss for method kind %q", cfg.Kind)
}

// value, gradient and Hessian of F(θ) = Σ_{a≠b} W[a][b] ℓ(s(θ_a − θ_b)) in
// the full θ (length n).
func (l pairLoss) eval(theta []float64, grad []float64, hess *mat.SymDense) float64 {
	n := len(theta)
	var f float64
	for i := range grad {
		grad[i] = 0
	}
	if hess != nil {
		hess.Zero()
	}
	for a := range n {
		for b := range n {
			w := l.w[a][b]
			if a == b || w == 0 {
				continue
			}
			v, d1, d2 := l.f(l.scale * (theta[a] - theta[b]))
			f += w * v
			if grad != nil {
				g := w * l.scale * d1
				grad[a] += g
				grad[b] -= g
			}
			if hess != nil {
				h := w * l.scale * l.scale * d2
				hess.SetSym(a, a, hess.At(a, a)+h)
				hess.SetSym(b, b, hess.At(b, b)+h)
				hess.SetSym(a, b, hess.At(a, b)-h)
			}
		}
	}
	f += centredL2(theta, grad, l.l2)
	if hess != nil && l.l2 > 0 {
		// Hessian of (l2/2)·Σ(θ − mean θ)²: l2·(I − 11ᵀ/n).
		for i := range n {
			for j := i; j < n; j++ {
				h := -l.l2 / float64(n)
				if i == j {
					h += l.l2
				}
				hess.SetSym(i, j, hess.At(i, j)+h)
			}
		}
	}
	return f
}

// relabel implements relabelled DPO (end of Section 6): fit one
// Bradley–Terry reward model per type on its own labels (the exact
// tabular MLE, r̂_u = r_u/τ up to a constant in the infinite-data limit),
// average them, r̄ = Σ_u w_u r̂_u / Σ_u w_u over the types with labels, and
// label every pair again with the averaged reward's probabilities
// σ(r̄(a) − r̄(b)) (soft labels, the expectation of sampled ones). DPO then
// trains on the result.
//
// A type's weight w_u is its share of annotators (weights: the data's
// Dataset.TypeShares, as the truth's π* = π_ref·e^{r̄/β}/Z of Eq. 10
// weighs the population), not its share of the rows: an annotator's say
// in r̄ does not grow with the number of pairs they label. With every
// annotator labelling equally many pairs, as Eq. 20's consistent loss
// assumes, the two agree; weights nil takes the shares of the rows.
func relabel(ds *analytic.Dataset, l2 float64, weights []float64) (*analytic.Dataset, error) {
	if ds.ByType == nil {
		return nil, fmt.Errorf("relabel-dpo: dataset of regime %q does not record types (needs %q)", ds.Regime, analytic.Typed)
	}
	n := len(ds.Won)
	avg := make([]float64, n)
	var total float64
	for u, w := range ds.ByType {
		var share float64
		for _, row := range w {
			for _, x := range row {
				share += x
			}
		}
		if share == 0 {
			continue
		}
		bt := &analytic.Dataset{Regime: analytic.Anonymous, Won: w}
		r, err := Fit(bt, uniform(n), Config{Kind: "dpo", Beta: 1, L2: l2 / share})
		if err != nil {
			return nil, fmt.Errorf("reward model of type %d: %w", u, err)
		}
		wu := share
		if weights != nil {
			if len(weights) != len(ds.ByType) {
				return nil, fmt.Errorf("relabel-dpo: %d type weights for %d types", len(weights), len(ds.ByType))
			}
			wu = weights[u]
		}
		for y := range avg {
			avg[y] += wu * r.LogRatio[y]
		}
		total += wu
	}
	if !(total > 0) {
		return nil, fmt.Errorf("relabel-dpo: no type with labels and a positive weight")
	}
	out := &analytic.Dataset{Regime: "relabelled", Tuples: ds.Tuples, Won: square(n)}
	for a := range n {
		out.Won[a][a] = ds.Won[a][a]
		for b := range n {
			if a != b {
				out.Won[a][b] = (ds.Won[a][b] + ds.Won[b][a]) * envs.Sigmoid((avg[a]-avg[b])/total)
			}
		}
	}
	return out, nil
}

func uniform(n int) []float64 {
	u := make([]float64, n)
	for i := range u {
		u[i] = 1 / float64(n)
	}
	return u
}

func square(n int) [][]float64 {
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
	}
	return m
}

// centredL2 is (l2/2)·Σ_y (θ(y) − mean θ)², a Gaussian prior on the
// log-ratios that is blind to the constant θ is identified up to; its
// gradient l2·(θ − mean θ) is added to grad when grad is not nil.
func centredL2(theta, grad []float64, l2 float64) float64 {
	if l2 == 0 {
		return 0
	}
	var mean, f float64
	for _, t := range theta {
		mean += t / float64(len(theta))
	}
	for i, t := range theta {
		f += l2 / 2 * (t - mean) * (t - mean)
		if grad != nil {
			grad[i] += l2 * (t - mean)
		}
	}
	return f
}

// Fit minimises the loss of cfg on ds and returns the tabular policy
// relative to ref. θ is identified up to a constant; the last alternative is
// pinned to 0, which makes the problem strictly convex once the data
// connect every alternative. Fit first checks that a finite minimiser
// exists: for the logistic losses every alternative must both beat and be
// beaten along a cycle through all alternatives (the win graph is strongly
// connected, Zermelo's condition); for IPO the pairs must connect them.
func Fit(ds *analytic.Dataset, ref []float64, cfg Config) (*Result, error) {
	n := len(ref)
	if len(ds.Won) != n {
		return nil, fmt.Errorf("dataset has %d alternatives, reference policy %d", len(ds.Won), n)
	}
	if cfg.Kind == "relabel-dpo" {
		w := cfg.TypeWeights
		if w == nil {
			w = ds.TypeShares
		}
		rd, err := relabel(ds, cfg.L2, w)
		if err != nil {
			return nil, err
		}
		ds, cfg.Kind = rd, "dpo"
	}
	loss, used, err := newLoss(ds, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.L2 < 0 {
		return nil, fmt.Errorf("fitting %s: l2 must be ≥ 0, got %v", cfg.Kind, cfg.L2)
	}
	loss.l2 = cfg.L2
	cert := CertL2
	if cfg.L2 == 0 {
		cert = CertRecession
		if err := identifiable(loss.w, cfg.Kind != "ipo"); err != nil {
			var nm *NoMinimiserError
			if errors.As(err, &nm) {
				nm.Method, nm.N = cfg.Kind, n
				return nil, nm.suggestL2(cfg.Beta, func(l2 float64) (*Result, error) {
					c := cfg
					c.L2 = l2
					return Fit(ds, ref, c)
				})
			}
			return nil, fmt.Errorf("fitting %s: %w", cfg.Kind, err)
		}
	}
	theta, iters, gnorm, err := newton(loss, n)
	if err != nil {
		return nil, fmt.Errorf("fitting %s: %w", cfg.Kind, err)
	}
	var mean float64
	for _, t := range theta {
		mean += t
	}
	mean /= float64(n)
	for i := range theta {
		theta[i] -= mean
	}
	return &Result{
		Policy:      analytic.Tilt(ref, theta, 1),
		LogRatio:    theta,
		DataUsed:    used,
		GradNorm:    gnorm,
		Iterations:  iters,
		Certificate: cert,
	}, nil
}

// identifiable checks that the loss has a finite minimiser (see Fit): the
// recession test of a convex Δ-only loss (recession) with the asymptotic
// slopes of the logistic loss (0 as it wins, −1 as it loses) when
// directed, and of a loss that grows both ways (IPO's square) otherwise.
// It returns a *NoMinimiserError naming the alternatives that run off.
func identifiable(w [][]float64, directed bool) error {
	up, down := 1.0, -1.0
	if directed {
		up = 0
	}
	nm, _ := recession(w, up, down)
	if nm == nil {
		return nil
	}
	if directed {
		nm.Cause = "in the data they are never beaten by the other alternatives, so the logistic loss falls as they rise"
	} else {
		nm.Cause = "in the data they are never compared with the other alternatives"
	}
	return nm
}

// newton minimises the convex loss over θ with θ[n−1] = 0 by Newton's
// method: the Newton direction from a Cholesky factorisation (gonum/mat),
// step halving until the loss or the gradient norm decreases. Near the
// optimum the loss stops resolving progress before the gradient does, so
// accepting steps that shrink the gradient reaches gradients of 1e-15.
func newton(loss pairLoss, n int) (theta []float64, iters int, gnorm float64, err error) {
	m := n - 1
	theta = make([]float64, n)
	g := make([]float64, n)
	h := mat.NewSymDense(n, nil)
	hr := mat.NewSymDense(m, nil)
	norm := func(v []float64) float64 {
		var x float64
		for _, e := range v[:m] {
			x = math.Max(x, math.Abs(e))
		}
		return x
	}
	f := loss.eval(theta, g, h)
	gnorm = norm(g)
	const maxIter = 200
	for iters = 0; iters < maxIter && gnorm > 1e-15; iters++ {
		for i := range m {
			for j := i; j < m; j++ {
				hr.SetSym(i, j, h.At(i, j))
			}
		}
		var chol mat.Cholesky
		if !chol.Factorize(hr) {
			return nil, iters, gnorm, fmt.Errorf("singular Hessian at iteration %d", iters)
		}
		accepted, err := newtonStep(&chol, theta, g, m, f, gnorm,
			func(th, gr []float64) float64 { return loss.eval(th, gr, nil) }, norm)
		if err != nil {
			return nil, iters, gnorm, err
		}
		if !accepted {
			break // no step improves either measure: converged to precision
		}
		f = loss.eval(theta, g, h)
		gnorm = norm(g)
	}
	for _, t := range theta {
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, iters, gnorm, fmt.Errorf("diverged")
		}
	}
	if gnorm > 1e-9 {
		return nil, iters, gnorm, fmt.Errorf("Newton stopped at gradient %.3g after %d iterations", gnorm, iters)
	}
	return theta, iters, gnorm, nil
}

// newtonStep solves the Newton system of the factorised Hessian for the
// first m coordinates of the gradient g and halves the step from 1 until
// the loss falls below f or the gradient's ∞-norm below gnorm (near the
// optimum the loss stops resolving progress before the gradient does). It
// moves theta to the accepted point and reports whether a step was taken.
func newtonStep(chol *mat.Cholesky, theta, g []float64, m int, f, gnorm float64,
	eval func(theta, grad []float64) float64, norm func([]float64) float64) (bool, error) {
	var d mat.VecDense
	if err := chol.SolveVecTo(&d, mat.NewVecDense(m, append([]float64(nil), g[:m]...))); err != nil {
		return false, fmt.Errorf("solving the Newton system: %w", err)
	}
	trial := make([]float64, len(theta))
	gt := make([]float64, len(theta))
	for t := 1.0; t > 1e-12; t /= 2 {
		for i := range m {
			trial[i] = theta[i] - t*d.AtVec(i)
		}
		ft := eval(trial, gt)
		if ft < f || norm(gt) < gnorm {
			copy(theta, trial)
			return true, nil
		}
	}
	return false, nil
}
