package tabular

import (
	"math"
	"testing"

	"hetalign/envs/analytic"
	"hetalign/methods/pairloss"
)

// formula is each loss written out from TRL's definitions, independently
// of package pairloss, in log-ratios ρ and β: the expected-loss checks
// below use only these.
func formula(name string, beta, eps float64) func(rw, rl float64) float64 {
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	ls := func(x float64) float64 { return math.Log(sig(x)) }
	return func(rw, rl float64) float64 {
		sw, sl := beta*rw, beta*rl
		d := sw - sl
		switch name {
		case "dpo":
			return -ls(d)
		case "hinge":
			return math.Max(0, 1-d)
		case "robust":
			return (-(1-eps)*ls(d) + eps*ls(-d)) / (1 - 2*eps)
		case "cdpo":
			return -(1-eps)*ls(d) - eps*ls(-d)
		case "exo":
			return sig(d)*(ls(d)-math.Log(1-eps)) + sig(-d)*(ls(-d)-math.Log(eps))
		case "nca":
			return -ls(sw) - 0.5*ls(-sw) - 0.5*ls(-sl)
		case "bco":
			return -ls(sw) - ls(-sl)
		case "sppo":
			return (rw-1/(2*beta))*(rw-1/(2*beta)) + (rl+1/(2*beta))*(rl+1/(2*beta))
		case "apo-zero":
			return 1 - sig(sw) + sig(sl)
		case "apo-down":
			return sig(sw) + 1 - sig(d)
		case "discopop":
			m := sig(d / eps)
			return (1-m)*(-ls(d)) + m*math.Exp(-d)
		}
		panic(name)
	}
}

// expectedLoss is Σ_{a≠b} W[a][b]·ℓ(ρ_a, ρ_b) + (l2/2)Σ(θ − mean θ)² with
// π = π_ref e^θ / Σ π_ref e^θ computed directly and ρ = log π − log π_ref.
func expectedLoss(w [][]float64, ref, theta []float64, l2 float64, l func(rw, rl float64) float64) float64 {
	n := len(theta)
	pi := make([]float64, n)
	var z float64
	for i := range pi {
		pi[i] = ref[i] * math.Exp(theta[i])
		z += pi[i]
	}
	rho := make([]float64, n)
	var mean float64
	for i := range rho {
		rho[i] = math.Log(pi[i]/z) - math.Log(ref[i])
		mean += theta[i] / float64(n)
	}
	var f float64
	for a := range n {
		f += l2 / 2 * (theta[a] - mean) * (theta[a] - mean)
		for b := range n {
			if a != b && w[a][b] != 0 {
				f += w[a][b] * l(rho[a], rho[b])
			}
		}
	}
	return f
}

// stationarity is the ∞-norm of the central finite-difference gradient of
// the expected loss in θ.
func stationarity(w [][]float64, ref, theta []float64, l2 float64, l func(rw, rl float64) float64) float64 {
	const h = 1e-6
	var worst float64
	x := append([]float64(nil), theta...)
	for k := range x {
		x[k] = theta[k] + h
		up := expectedLoss(w, ref, x, l2, l)
		x[k] = theta[k] - h
		down := expectedLoss(w, ref, x, l2, l)
		x[k] = theta[k]
		worst = math.Max(worst, math.Abs(up-down)/(2*h))
	}
	return worst
}

type lossCase struct {
	name      string
	beta, eps float64
}

func (c lossCase) build(t testing.TB) pairloss.Loss {
	t.Helper()
	if c.name == "dpo" {
		return pairloss.DPO(c.beta)
	}
	l, err := pairloss.New(c.name, c.beta, c.eps)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The population examples: Section 4.3 (r_A = (6, 1, 4), r_B = (3, 9, 4),
// equal weights, τ = 1 and τ = 2, uniform D), the mediocrity example with
// non-uniform D, and a 5-alternative random population, each fitted against
// a non-uniform reference (which matters to the losses that are not
// DeltaOnly).
func examples(t testing.TB) []struct {
	name string
	ds   *analytic.Dataset
	ref  []float64
} {
	mk := func(e *analytic.Env) *analytic.Dataset {
		ds, err := e.PopulationDataset(analytic.Anonymous)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	e5 := env(t, [][]float64{{1, -2, 0.5, 3, 0}, {-1, 2, 1, -0.5, 0.3}}, []float64{0.3, 0.7}, []float64{0.1, 0.3, 0.2, 0.25, 0.15}, 1)
	return []struct {
		name string
		ds   *analytic.Dataset
		ref  []float64
	}{
		{"sec4.3 τ=1", mk(env(t, twoTypes, []float64{1, 1}, nil, 1)), []float64{0.2, 0.5, 0.3}},
		{"sec4.3 τ=2", mk(env(t, twoTypes, []float64{1, 1}, nil, 2)), []float64{1. / 3, 1. / 3, 1. / 3}},
		{"mediocrity", mk(env(t, [][]float64{{0, 1, 4}, {4, 1, 0}, {0, 1, 0}}, []float64{1, 1, 1}, []float64{0.5, 0.2, 0.3}, 1)), []float64{0.6, 0.3, 0.1}},
		{"random5", mk(e5), []float64{0.1, 0.2, 0.3, 0.15, 0.25}},
	}
}

var smoothCases = []lossCase{
	{"dpo", 1, 0}, {"robust", 1, 0.1}, {"cdpo", 0.5, 0.2}, {"exo", 1, 1e-3}, {"exo", 2, 0.2},
	{"nca", 1, 0}, {"bco", 0.5, 0}, {"sppo", 1, 0}, {"apo-zero", 1, 0}, {"apo-down", 1, 0},
	{"discopop", 1, 0.05}, {"discopop", 0.5, 0.5},
}

// Every smooth loss's fit is a stationary point of the expected loss, by
// finite differences of an independently written objective. Losses without
// a finite minimiser on an example must fail with an error, never return a
// non-stationary policy.
func TestFitLossStationary(t *testing.T) {
	for _, ex := range examples(t) {
		for _, c := range smoothCases {
			l := c.build(t)
			r, err := FitLoss(ex.ds, ex.ref, l, c.beta, 0)
			if err != nil {
				t.Logf("%s, %s(β=%v, %v): %v", ex.name, c.name, c.beta, c.eps, err)
				if c.name != "apo-zero" && c.name != "apo-down" {
					t.Errorf("%s, %s: unexpected failure: %v", ex.name, c.name, err)
				}
				continue
			}
			g := stationarity(ex.ds.Won, ex.ref, r.LogRatio, 0, formula(c.name, c.beta, c.eps))
			if g > 1e-7 {
				t.Errorf("%s, %s(β=%v, %v): finite-difference gradient %.3g at the fit %v", ex.name, c.name, c.beta, c.eps, g, r.LogRatio)
			}
			var mean float64
			for _, x := range r.LogRatio {
				mean += x
			}
			if math.Abs(mean) > 1e-12 {
				t.Errorf("%s, %s: log-ratios not centred (mean %v)", ex.name, c.name, mean)
			}
		}
	}
}

// With an L2 prior the fit is stationary for the prior-augmented objective.
func TestFitLossStationaryL2(t *testing.T) {
	ex := examples(t)[3]
	for _, c := range []lossCase{{"cdpo", 1, 0.1}, {"nca", 1, 0}, {"exo", 1, 0.1}} {
		r, err := FitLoss(ex.ds, ex.ref, c.build(t), c.beta, 0.05)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if g := stationarity(ex.ds.Won, ex.ref, r.LogRatio, 0.05, formula(c.name, c.beta, c.eps)); g > 1e-7 {
			t.Errorf("%s with l2: finite-difference gradient %.3g", c.name, g)
		}
	}
}

// wrongSign is cDPO with the sign of the ε·σ(Δ) term of its derivative
// flipped (ℓ' = −(1−ε)σ(−Δ) − εσ(Δ) instead of + εσ(Δ)), the rest intact.
type wrongSign struct {
	pairloss.Loss
	beta, eps float64
}

func (w wrongSign) Eval(rw, rl float64) (float64, [2]float64, [3]float64) {
	v, d, h := w.Loss.Eval(rw, rl)
	s := 1 / (1 + math.Exp(-w.beta*(rw-rl)))
	g := 2 * w.beta * w.eps * s
	return v, [2]float64{d[0] - g, d[1] + g}, h
}

// flipL is NCA with the sign of ∂ℓ/∂ρ_l flipped.
type flipL struct{ pairloss.Loss }

func (f flipL) Eval(rw, rl float64) (float64, [2]float64, [3]float64) {
	v, d, h := f.Loss.Eval(rw, rl)
	return v, [2]float64{d[0], -d[1]}, h
}

// The stationarity check can fail: fits of losses with a deliberately
// wrong derivative are rejected by it.
func TestStationarityRejectsWrongDerivative(t *testing.T) {
	ex := examples(t)[0]
	c := lossCase{"cdpo", 1, 0.2}
	r, err := FitLoss(ex.ds, ex.ref, wrongSign{c.build(t), c.beta, c.eps}, c.beta, 0)
	if err != nil {
		t.Fatalf("the mutated loss should still fit (to the wrong point): %v", err)
	}
	if g := stationarity(ex.ds.Won, ex.ref, r.LogRatio, 0, formula(c.name, c.beta, c.eps)); g <= 1e-7 {
		t.Errorf("stationarity check accepted the fit of a wrong derivative (gradient %.3g)", g)
	}
	n := lossCase{"nca", 1, 0}
	r, err = FitLoss(ex.ds, ex.ref, flipL{n.build(t)}, n.beta, 0)
	if err != nil {
		t.Logf("NCA with a flipped derivative fails to fit: %v", err)
		return
	}
	if g := stationarity(ex.ds.Won, ex.ref, r.LogRatio, 0, formula(n.name, n.beta, n.eps)); g <= 1e-7 {
		t.Errorf("stationarity check accepted NCA with a flipped ∂ℓ/∂ρ_l (gradient %.3g)", g)
	}
}

// hingeObjective is Σ W[a][b]·max(0, 1 − β(θ_a − θ_b)).
func hingeObjective(w [][]float64, theta []float64, beta float64) float64 {
	var f float64
	for a := range w {
		for b := range w {
			if a != b {
				f += w[a][b] * math.Max(0, 1-beta*(theta[a]-theta[b]))
			}
		}
	}
	return f
}

// The hinge LP's optimum equals the minimum over the vertices of the
// arrangement of the hyperplanes β(θ_a − θ_b) = 1 (θ_last = 0), where a
// piecewise-linear convex function attains its minimum; enumerated here by
// brute force. The solution also survives coordinate and random
// perturbations.
func TestHingeLPOptimal(t *testing.T) {
	for _, ex := range examples(t) {
		for _, beta := range []float64{0.5, 2} {
			r, err := FitLoss(ex.ds, ex.ref, pairloss.Hinge(beta), beta, 0)
			if err != nil {
				t.Fatalf("%s: %v", ex.name, err)
			}
			w := ex.ds.Won
			n := len(w)
			got := hingeObjective(w, r.LogRatio, beta)
			best := bruteHinge(w, beta)
			if math.Abs(got-best) > 1e-9 {
				t.Errorf("%s, β=%v: LP objective %v, brute-force vertex minimum %v", ex.name, beta, got, best)
			}
			x := append([]float64(nil), r.LogRatio...)
			for k := range n {
				for _, s := range []float64{-1e-3, 1e-3, -0.3, 0.3} {
					x[k] = r.LogRatio[k] + s
					if f := hingeObjective(w, x, beta); f < got-1e-12 {
						t.Errorf("%s: step %v on θ[%d] lowers the hinge objective to %v < %v", ex.name, s, k, f, got)
					}
					x[k] = r.LogRatio[k]
				}
			}
			for i := range 200 {
				for k := range x {
					x[k] = r.LogRatio[k] + 0.2*math.Sin(float64(7*i+13*k+1))
				}
				if f := hingeObjective(w, x, beta); f < got-1e-12 {
					t.Errorf("%s: random perturbation lowers the hinge objective to %v < %v", ex.name, f, got)
				}
			}
			t.Logf("%s, β=%v: hinge θ = %.4f, objective %.6f", ex.name, beta, r.LogRatio, got)
		}
	}
}

// bruteHinge enumerates every choice of n−1 hyperplanes θ_a − θ_b = 1/β
// (ordered pairs), solves for θ with θ_last = 0, and returns the least
// objective among the solvable choices.
func bruteHinge(w [][]float64, beta float64) float64 {
	n := len(w)
	type hp struct{ a, b int }
	var hps []hp
	for a := range n {
		for b := range n {
			if a != b {
				hps = append(hps, hp{a, b})
			}
		}
	}
	best := math.Inf(1)
	m := n - 1
	var rec func(start int, chosen []hp)
	rec = func(start int, chosen []hp) {
		if len(chosen) == m {
			// Gaussian elimination on the m×m system.
			a := make([][]float64, m)
			for i, h := range chosen {
				a[i] = make([]float64, m+1)
				if h.a < m {
					a[i][h.a] = 1
				}
				if h.b < m {
					a[i][h.b] = -1
				}
				a[i][m] = 1 / beta
			}
			for col := range m {
				piv := -1
				for r := col; r < m; r++ {
					if math.Abs(a[r][col]) > 1e-12 && (piv < 0 || math.Abs(a[r][col]) > math.Abs(a[piv][col])) {
						piv = r
					}
				}
				if piv < 0 {
					return
				}
				a[col], a[piv] = a[piv], a[col]
				for r := range m {
					if r != col {
						f := a[r][col] / a[col][col]
						for c := col; c <= m; c++ {
							a[r][c] -= f * a[col][c]
						}
					}
				}
			}
			theta := make([]float64, n)
			for i := range m {
				theta[i] = a[i][m] / a[i][i]
			}
			best = math.Min(best, hingeObjective(w, theta, beta))
			return
		}
		for i := start; i < len(hps); i++ {
			rec(i+1, append(chosen, hps[i]))
		}
	}
	rec(0, nil)
	return best
}

// Closed forms: on each pair cDPO's population optimum is DPO's on the
// smoothed rates (1 − 2ε)p + ε, robust DPO's is DPO's on the de-noised
// rates (p − ε)/(1 − 2ε), and both are DPO at ε = 0.
func TestSmoothedClosedForms(t *testing.T) {
	for _, ex := range examples(t) {
		w := ex.ds.Won
		n := len(w)
		transformed := func(rate func(p float64) float64) *analytic.Dataset {
			out := &analytic.Dataset{Won: make([][]float64, n)}
			for a := range n {
				out.Won[a] = make([]float64, n)
				for b := range n {
					if a != b && w[a][b]+w[b][a] > 0 {
						tot := w[a][b] + w[b][a]
						out.Won[a][b] = tot * rate(w[a][b]/tot)
					}
				}
			}
			return out
		}
		for _, beta := range []float64{0.5, 1.5} {
			dpo := func(ds *analytic.Dataset) []float64 {
				r, err := Fit(ds, ex.ref, Config{Kind: "dpo", Beta: beta})
				if err != nil {
					t.Fatal(err)
				}
				return r.LogRatio
			}
			cmp := func(what string, got, want []float64) {
				for i := range got {
					if math.Abs(got[i]-want[i]) > 1e-8 {
						t.Errorf("%s, β=%v, %s: θ = %v, want %v", ex.name, beta, what, got, want)
						return
					}
				}
			}
			fit := func(l pairloss.Loss) []float64 {
				r, err := FitLoss(ex.ds, ex.ref, l, beta, 0)
				if err != nil {
					t.Fatalf("%s, %v: %v", ex.name, l, err)
				}
				return r.LogRatio
			}
			plain := dpo(ex.ds)
			cmp("cdpo ε=0", fit(pairloss.CDPO(beta, 0)), plain)
			cmp("robust ε=0", fit(pairloss.Robust(beta, 0)), plain)
			cmp("dpo", fit(pairloss.DPO(beta)), plain)
			for _, eps := range []float64{0.05, 0.2} {
				cmp("cdpo", fit(pairloss.CDPO(beta, eps)), dpo(transformed(func(p float64) float64 { return (1-2*eps)*p + eps })))
				ok := true
				for a := range n {
					for b := range n {
						if p := w[a][b] / (w[a][b] + w[b][a]); a != b && !(p > eps && p < 1-eps) {
							ok = false
						}
					}
				}
				if !ok {
					if _, err := FitLoss(ex.ds, ex.ref, pairloss.Robust(beta, eps), beta, 0); err == nil {
						t.Logf("%s: robust ε=%v fitted although a de-noised rate leaves (0, 1)", ex.name, eps)
					}
					continue
				}
				cmp("robust", fit(pairloss.Robust(beta, eps)), dpo(transformed(func(p float64) float64 { return (p - eps) / (1 - 2*eps) })))
			}
		}
	}
}

// Robust DPO on a pair whose win rate is below ε has no finite minimiser
// (the loss is unbounded below): FitLoss says so; an L2 prior fixes it.
func TestRobustUnbounded(t *testing.T) {
	ds := &analytic.Dataset{Won: [][]float64{{0, 0.97}, {0.03, 0}}}
	ref := []float64{0.5, 0.5}
	if r, err := FitLoss(ds, ref, pairloss.Robust(1, 0.1), 1, 0); err == nil {
		t.Errorf("robust with p = 0.97 > 1 − ε fitted: %v", r.LogRatio)
	} else {
		t.Log(err)
	}
	if _, err := FitLoss(ds, ref, pairloss.Robust(1, 0.1), 1, 0.1); err != nil {
		t.Errorf("with l2: %v", err)
	}
}

func TestFitLossErrors(t *testing.T) {
	ds := &analytic.Dataset{Won: [][]float64{{0, 0.6}, {0.4, 0}}}
	ref := []float64{0.5, 0.5}
	for name, run := range map[string]func() error{
		"beta mismatch":   func() error { _, err := FitLoss(ds, ref, pairloss.DPO(1), 2, 0); return err },
		"invalid loss":    func() error { _, err := FitLoss(ds, ref, pairloss.Robust(1, 0.6), 1, 0); return err },
		"hinge with l2":   func() error { _, err := FitLoss(ds, ref, pairloss.Hinge(1), 1, 0.1); return err },
		"negative l2":     func() error { _, err := FitLoss(ds, ref, pairloss.DPO(1), 1, -1); return err },
		"size mismatch":   func() error { _, err := FitLoss(ds, []float64{1}, pairloss.DPO(1), 1, 0); return err },
		"nonsmooth alien": func() error { _, err := FitLoss(ds, ref, alien{pairloss.DPO(1)}, 1, 0); return err },
	} {
		if run() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// alien is a non-smooth loss that is not a hinge.
type alien struct{ pairloss.Loss }

func (alien) Smooth() bool { return false }
