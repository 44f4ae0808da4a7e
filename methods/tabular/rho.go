package tabular

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"hetalign/envs/analytic"
	"hetalign/methods/pairloss"
)

// MaxLossGap bounds the fitted log-ratios: FitLoss fails when
// β·(max_y θ(y) − min_y θ(y)) exceeds it. Beyond it σ saturates in float64
// (σ(−40) ≈ 4e-18), so a larger gap means the fit drifted towards a
// minimiser at infinity (bounded losses such as APO flatten there and their
// gradient vanishes without a finite minimum).
const MaxLossGap = 40

// FitLoss fits a tabular policy to the pair statistics of ds under any
// per-tuple preference loss of package pairloss: it minimises
//
//	F(θ) = Σ_{a≠b} W[a][b]·ℓ(ρ_a, ρ_b) + (l2/2)·Σ_y (θ(y) − mean θ)²,
//
// W = ds.Won (W[a][b] the mass of tuples in which a beat b, so soft
// orientation is the split of a pair's mass between W[a][b] and W[b][a]),
// over the logits θ of π = π_ref·e^θ/Z, with ρ(y) = log π(y)/π_ref(y) =
// θ(y) − log Σ_y' π_ref(y')e^{θ(y')}. θ is identified up to a constant
// (ρ is blind to it); the last alternative is pinned to 0 while fitting.
//
// beta is the β the loss was built with (checked against it when the loss
// reports its own, pairloss.Scaled): it scales the DPO warm start and the
// hinge margins. The solver depends on the loss:
//
//   - DeltaOnly, Convex and Smooth (DPO, cDPO, robust): ℓ is a convex
//     function of Δ = β(θ_a − θ_b), the normaliser cancels, and Newton's
//     method (as for Fit) reaches gradients near 1e-15.
//   - not Smooth (hinge, pairloss.Hinged): the linear programme
//     min Σ W[a][b]·t_ab s.t. t_ab ≥ 0, t_ab ≥ m − β(θ_a − θ_b), solved
//     exactly through its dual, a maximum-profit circulation (hingeFlow;
//     θ = (m/β)·node potentials). Its objective is ≥ 0, so it is never
//     unbounded; its minimiser need not be unique (hingeFlow returns a
//     canonical one, β·θ/m integral). l2 must be 0 (a quadratic prior would
//     make it a QP). GradNorm is reported as 0.
//   - otherwise (EXO, DiscoPOP, NCA, BCO, SPPO, APO): L-BFGS (gonum) from
//     DPO's solution at the same β and l2, with the gradient through the
//     normaliser, ∂ρ_y/∂θ_k = 1[y = k] − π(k), then a damped Newton polish
//     (Levenberg–Marquardt shift when the Hessian is not positive definite)
//     to gradients near 1e-13. The result is a stationary point reached from
//     DPO's policy (a local minimum for the non-convex losses).
//
// FitLoss returns an error when the fit does not converge (gradient above
// 1e-9) or drifts beyond MaxLossGap, which is what happens when the loss
// has no finite minimiser on the data: robust DPO when a pair's de-noised
// win rate (p − ε)/(1 − 2ε) leaves (0, 1) (the loss is then unbounded
// below), DPO-type losses when some alternative never wins or never loses,
// APO when pushing a log-ratio to −∞ keeps lowering the loss. A positive
// l2 keeps convex losses finite. Result.LogRatio is θ centred (mean 0),
// Result.Policy = Tilt(ref, θ, 1), DataUsed 1.
func FitLoss(ds *analytic.Dataset, ref []float64, loss pairloss.Loss, beta, l2 float64) (*Result, error) {
	n := len(ref)
	if err := pairloss.Validate(loss); err != nil {
		return nil, fmt.Errorf("fitting %v: %w", loss, err)
	}
	if len(ds.Won) != n {
		return nil, fmt.Errorf("fitting %v: dataset has %d alternatives, reference policy %d", loss, len(ds.Won), n)
	}
	if n < 2 {
		return nil, fmt.Errorf("fitting %v: need at least 2 alternatives, got %d", loss, n)
	}
	if !(beta > 0) || math.IsInf(beta, 0) {
		return nil, fmt.Errorf("fitting %v: beta must be positive and finite, got %v", loss, beta)
	}
	if s, ok := loss.(pairloss.Scaled); ok && math.Abs(s.Beta()-beta) > 1e-12*beta {
		return nil, fmt.Errorf("fitting %v: the loss was built with β = %v, FitLoss was given %v", loss, s.Beta(), beta)
	}
	if !(l2 >= 0) || math.IsInf(l2, 0) {
		return nil, fmt.Errorf("fitting %v: l2 must be finite and ≥ 0, got %v", loss, l2)
	}
	name := fmt.Sprint(loss)
	fail := func(e *NoMinimiserError) error {
		e.Method, e.N = name, n
		return e.suggestL2(beta, func(l2 float64) (*Result, error) { return FitLoss(ds, ref, loss, beta, l2) })
	}
	var (
		theta []float64
		iters int
		gnorm float64
		err   error
		cert  string
		// optima: the optimal set, where it may hold several points
		// (nil: unique, the loss being strictly convex in Δ).
		optima *Optima
	)
	if l2 > 0 {
		cert = CertL2
	}
	switch {
	case !loss.Smooth():
		h, ok := loss.(pairloss.Hinged)
		if !ok {
			return nil, fmt.Errorf("fitting %v: a non-smooth loss must be a hinge (pairloss.Hinged) to be solved as an LP", loss)
		}
		if l2 != 0 {
			return nil, fmt.Errorf("fitting %v: the hinge loss is fitted as an LP, which has no room for the quadratic prior l2 = %v", loss, l2)
		}
		hb, margin := h.Margin()
		var flow [][]float64
		theta, flow, err = hingeFlow(ds.Won, hb, margin)
		cert = CertLP
		if err == nil {
			optima = hingeFace(ds.Won, flow, hb, margin)
		}
	case loss.DeltaOnly() && loss.Convex():
		if cert == "" {
			up, down := slopes(loss, beta)
			nm, decided := recession(ds.Won, up, down)
			if nm != nil {
				return nil, fail(nm)
			}
			if decided {
				cert = CertRecession
			}
		}
		// ℓ depends on Δ alone: f(z) = ℓ(z, 0) with z = θ_a − θ_b.
		pl := pairLoss{w: ds.Won, scale: 1, l2: l2, f: func(z float64) (float64, float64, float64) {
			v, d, h := loss.Eval(z, 0)
			return v, d[0], h[0]
		}}
		theta, iters, gnorm, err = newton(pl, n)
		if err == nil && cert == "" {
			// more than 16 alternatives with some c_ab < 0: certify the
			// point found (a strict local minimiser of a convex loss is
			// its global minimiser).
			p := rhoProblem{w: ds.Won, ref: ref, loss: loss, l2: l2}
			if why := secondOrder(p, theta, beta); why != "" {
				if nm := driftDirection(p, theta, beta); nm != nil {
					return nil, fail(nm)
				}
				return nil, fail(&NoMinimiserError{Cause: "no minimiser could be certified: " + why})
			}
			cert = CertSecond
		}
	default:
		p := rhoProblem{w: ds.Won, ref: ref, loss: loss, l2: l2}
		theta, iters, gnorm, err = fitRho(p, beta)
		if err == nil {
			// A saddle (negative curvature) is left along its direction
			// of descent, both ways, for the lower certified minimum.
			if _, dir := secondOrderDir(p, theta, beta); dir != nil {
				if th, it, gn := escapeSaddle(p, theta, dir, beta); th != nil {
					theta, gnorm = th, gn
					iters += it
				}
			}
		}
		if err == nil && cert == "" {
			if why := secondOrder(p, theta, beta); why != "" {
				if nm := driftDirection(p, theta, beta); nm != nil {
					return nil, fail(nm)
				}
				return nil, fail(&NoMinimiserError{Cause: "no minimiser could be certified: " + why})
			}
			cert = CertSecond
		}
		if err == nil && n <= MultiStartMax {
			theta, optima = multiStart(p, theta, beta)
		}
	}
	if err != nil {
		if l2 == 0 && loss.Smooth() {
			return nil, fail(&NoMinimiserError{Cause: "the solver did not converge: " + err.Error()})
		}
		return nil, fmt.Errorf("fitting %v: %w", loss, err)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	var mean float64
	for _, t := range theta {
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("fitting %v: diverged", loss)
		}
		lo, hi = math.Min(lo, t), math.Max(hi, t)
		mean += t / float64(n)
	}
	if beta*(hi-lo) > MaxLossGap {
		// The minimiser exists (certified) but lies where σ saturates in
		// float64: its digits cannot be trusted.
		return nil, fmt.Errorf("fitting %v: the minimiser's log-ratio gap β·Δθ = %.3g exceeds %d, beyond float64's resolution of σ; a positive l2 keeps it smaller", loss, beta*(hi-lo), MaxLossGap)
	}
	for i := range theta {
		theta[i] -= mean
	}
	return &Result{Policy: analytic.Tilt(ref, theta, 1), LogRatio: theta, DataUsed: 1, GradNorm: gnorm, Iterations: iters, Certificate: cert, Optima: optima}, nil
}

// rhoProblem is F(θ) for a loss of the log-ratios ρ(θ) = θ − log Z(θ).
type rhoProblem struct {
	w    [][]float64
	ref  []float64
	loss pairloss.Loss
	l2   float64
}

// eval returns F(θ) and, when grad (hess) is not nil, its gradient (Hessian)
// in the full θ. With G_y = ∂F/∂ρ_y, H_yy' = ∂²F/∂ρ_y∂ρ_y', π = softmax(log
// π_ref + θ) and J = I − 1πᵀ (J_yk = ∂ρ_y/∂θ_k): ∇F = JᵀG = G − π·ΣG and
// ∇²F = JᵀHJ − (ΣG)(diag π − ππᵀ), the last term from ∂²ρ_y/∂θ_k∂θ_j =
// −(π_k 1[k = j] − π_k π_j).
func (p rhoProblem) eval(theta, grad []float64, hess *mat.SymDense) float64 {
	n := len(theta)
	m := math.Inf(-1)
	for i, t := range theta {
		m = math.Max(m, t+math.Log(p.ref[i]))
	}
	var z float64
	for i, t := range theta {
		z += math.Exp(t + math.Log(p.ref[i]) - m)
	}
	logZ := m + math.Log(z)
	pi := make([]float64, n)
	rho := make([]float64, n)
	for i, t := range theta {
		rho[i] = t - logZ
		pi[i] = p.ref[i] * math.Exp(rho[i])
	}
	g := make([]float64, n)
	var h *mat.SymDense
	if hess != nil {
		h = mat.NewSymDense(n, nil)
	}
	var f float64
	for a := range n {
		for b := range n {
			w := p.w[a][b]
			if a == b || w == 0 {
				continue
			}
			v, d, dd := p.loss.Eval(rho[a], rho[b])
			f += w * v
			g[a] += w * d[0]
			g[b] += w * d[1]
			if h != nil {
				h.SetSym(a, a, h.At(a, a)+w*dd[0])
				h.SetSym(a, b, h.At(a, b)+w*dd[1])
				h.SetSym(b, b, h.At(b, b)+w*dd[2])
			}
		}
	}
	var sg float64
	for _, x := range g {
		sg += x
	}
	if grad != nil {
		for k := range grad {
			grad[k] = g[k] - pi[k]*sg
		}
	}
	if hess != nil {
		j := mat.NewDense(n, n, nil)
		for y := range n {
			for k := range n {
				v := -pi[k]
				if y == k {
					v++
				}
				j.Set(y, k, v)
			}
		}
		var hj, jhj mat.Dense
		hj.Mul(h, j)
		jhj.Mul(j.T(), &hj)
		for k := range n {
			for l := k; l < n; l++ {
				v := jhj.At(k, l) + sg*pi[k]*pi[l]
				if k == l {
					v -= sg * pi[k]
				}
				if p.l2 > 0 {
					v -= p.l2 / float64(n)
					if k == l {
						v += p.l2
					}
				}
				hess.SetSym(k, l, v)
			}
		}
	}
	return f + centredL2(theta, grad, p.l2)
}

// fitRho minimises a general smooth loss: L-BFGS from DPO's solution, then
// a damped Newton polish (from DPO's solution when L-BFGS fails).
func fitRho(p rhoProblem, beta float64) ([]float64, int, float64, error) {
	n := len(p.ref)
	start := make([]float64, n)
	ds := &analytic.Dataset{Regime: "pairloss", Won: p.w}
	if r, err := Fit(ds, p.ref, Config{Kind: "dpo", Beta: beta, L2: p.l2}); err == nil {
		start = r.LogRatio
	}
	return fitRhoFrom(p, start)
}

// fitRhoFrom is fitRho from a given start: L-BFGS, then the Newton
// polish (from start when L-BFGS fails).
func fitRhoFrom(p rhoProblem, start []float64) ([]float64, int, float64, error) {
	n := len(start)
	theta, _, iters, err := minimizeLBFGS(n, start, 1e-6,
		func(theta, grad []float64) float64 { return p.eval(theta, grad, nil) },
		func(theta, grad []float64) { p.eval(theta, grad, nil) })
	if err != nil {
		theta = start
	}
	th, it, gnorm, perr := polish(p, theta)
	if perr != nil {
		if err != nil {
			return nil, iters + it, gnorm, fmt.Errorf("L-BFGS: %v; Newton from DPO's solution: %w", err, perr)
		}
		return nil, iters + it, gnorm, perr
	}
	return th, iters + it, gnorm, nil
}

// polish runs damped Newton on F over θ with θ[n−1] = 0: the direction
// solves (H + μI)d = g with the smallest μ ≥ 0 (0, then 1e-10·scale
// growing tenfold) that makes the reduced Hessian positive definite, and
// steps are halved until F or the gradient norm decreases (as newton does).
func polish(p rhoProblem, start []float64) ([]float64, int, float64, error) {
	n := len(start)
	m := n - 1
	theta := make([]float64, n)
	for i := range theta {
		theta[i] = start[i] - start[n-1]
	}
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
	f := p.eval(theta, g, h)
	gnorm := norm(g)
	iters := 0
	for ; iters < 200 && gnorm > 1e-13; iters++ {
		var scale float64
		for i := range m {
			scale = math.Max(scale, math.Abs(h.At(i, i)))
		}
		scale = math.Max(scale, 1e-300)
		var chol mat.Cholesky
		ok := false
		for mu := 0.0; mu < 1e12*scale; mu = math.Max(10*mu, 1e-10*scale) {
			for i := range m {
				for j := i; j < m; j++ {
					v := h.At(i, j)
					if i == j {
						v += mu
					}
					hr.SetSym(i, j, v)
				}
			}
			if chol.Factorize(hr) {
				ok = true
				break
			}
		}
		if !ok {
			return nil, iters, gnorm, errors.New("no positive-definite shift of the Hessian")
		}
		accepted, err := newtonStep(&chol, theta, g, m, f, gnorm,
			func(th, gr []float64) float64 { return p.eval(th, gr, nil) }, norm)
		if err != nil {
			return nil, iters, gnorm, err
		}
		if !accepted {
			break
		}
		f = p.eval(theta, g, h)
		gnorm = norm(g)
	}
	if math.IsNaN(gnorm) || gnorm > 1e-9 {
		return nil, iters, gnorm, fmt.Errorf("Newton polish stopped at gradient %.3g after %d iterations", gnorm, iters)
	}
	return theta, iters, gnorm, nil
}
