package bradleyterry

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Davidson fits Davidson's (1970) model of paired comparisons with ties,
//
//	P(i ≻ j) = π_i / (π_i + π_j + ν√(π_iπ_j)),
//	P(i ∼ j) = ν√(π_iπ_j) / (π_i + π_j + ν√(π_iπ_j)),
//
// by maximum likelihood on strict win counts w[i][j] (i preferred to j)
// and tie counts t[i][j] (read for i < j; a symmetric matrix also works).
// With θ = log π and φ = log ν the log-likelihood
//
//	ℓ(θ, φ) = Σ_{i≠j} w_ij θ_i + Σ_{i<j} t_ij (φ + (θ_i + θ_j)/2)
//	          − Σ_{i<j} n_ij log(e^{θ_i} + e^{θ_j} + e^{φ + (θ_i+θ_j)/2}),
//
// n_ij = w_ij + w_ji + t_ij, is concave (each log term is a log-sum-exp of
// affine functions), so Newton's method with a backtracking line search
// (θ_0 held at 0, then θ centred) finds its maximum; it stops when no
// coordinate moves by more than tol. Given a non-tie, i beats j with
// probability π_i/(π_i + π_j) = σ(θ_i − θ_j): θ is the Bradley–Terry
// reward of the strict preferences (Eq. 8 with τ = 1).
//
// The maximum exists and is unique when (a) some comparisons are ties and
// some are not (otherwise ν̂ is 0 or ∞) and (b) the directed graph with an
// edge i → j whenever w_ij > 0 or a tie joins i and j is strongly
// connected (Zermelo's condition with ties counting both ways: a set of
// items that never beats nor ties the rest could fall without bound). The
// error says which fails; DavidsonUnbeaten names the items of (b).
func Davidson(w, t [][]float64, tol float64, maxIter int) (theta []float64, nu float64, err error) {
	n := len(w)
	if n < 2 {
		return nil, 0, fmt.Errorf("Davidson's model needs at least two items")
	}
	var ties, strict float64
	for i := range n {
		for j := range n {
			if i == j {
				continue
			}
			strict += w[i][j]
			if i < j {
				ties += tieCount(t, i, j)
			}
		}
	}
	if ties <= 0 {
		return nil, 0, fmt.Errorf("Davidson's model has no maximum-likelihood fit without ties (ν̂ = 0: use Bradley–Terry)")
	}
	if strict <= 0 {
		return nil, 0, fmt.Errorf("Davidson's model has no maximum-likelihood fit when every comparison is a tie (ν̂ = ∞)")
	}
	if set := DavidsonUnbeaten(w, t); set != nil {
		return nil, 0, fmt.Errorf("no maximum-likelihood Davidson fit: items %v never beat or tie an item outside that set", set)
	}
	// Parameters v = (θ_1 … θ_{n−1}, φ); θ_0 = 0.
	m := n
	v := make([]float64, m)
	// Start at φ = log of the tie rate's odds-like ratio: with equal
	// strengths P(tie) = ν/(2 + ν).
	r := ties / (ties + strict)
	v[m-1] = math.Log(2 * r / (1 - r))
	negLL := func(v []float64) float64 {
		th := func(i int) float64 {
			if i == 0 {
				return 0
			}
			return v[i-1]
		}
		phi := v[m-1]
		var f float64
		for i := range n {
			for j := range n {
				if i != j {
					f -= w[i][j] * th(i)
				}
			}
		}
		for i := range n {
			for j := i + 1; j < n; j++ {
				tij := tieCount(t, i, j)
				nij := w[i][j] + w[j][i] + tij
				if nij == 0 {
					continue
				}
				a, b, c := th(i), th(j), phi+(th(i)+th(j))/2
				f -= tij * c
				f += nij * lse3(a, b, c)
			}
		}
		return f
	}
	g := make([]float64, m)
	h := mat.NewSymDense(m, nil)
	step := make([]float64, m)
	trial := make([]float64, m)
	f := negLL(v)
	for it := 0; it < maxIter; it++ {
		// Gradient and Hessian of −ℓ. Index of θ_i is i − 1 (none for i =
		// 0), of φ is m − 1.
		for k := range g {
			g[k] = 0
		}
		h.Zero()
		idx := func(i int) int { return i - 1 }
		th := func(i int) float64 {
			if i == 0 {
				return 0
			}
			return v[i-1]
		}
		for i := 1; i < n; i++ {
			for j := range n {
				if i != j {
					g[idx(i)] -= w[i][j]
				}
			}
		}
		for i := range n {
			for j := i + 1; j < n; j++ {
				tij := tieCount(t, i, j)
				nij := w[i][j] + w[j][i] + tij
				if nij == 0 {
					continue
				}
				a, b, c := th(i), th(j), v[m-1]+(th(i)+th(j))/2
				l := lse3(a, b, c)
				pa, pb, pc := math.Exp(a-l), math.Exp(b-l), math.Exp(c-l)
				// ∇a_c for the three terms as sparse vectors over (θ_i, θ_j, φ).
				type sp struct {
					k int
					x float64
				}
				grads := [3][]sp{}
				add := func(c int, k int, x float64) {
					if k >= 0 {
						grads[c] = append(grads[c], sp{k, x})
					}
				}
				add(0, idx(i), 1)
				add(1, idx(j), 1)
				add(2, idx(i), 0.5)
				add(2, idx(j), 0.5)
				add(2, m-1, 1)
				// −t_ij ∇(φ + (θ_i+θ_j)/2)
				for _, e := range grads[2] {
					g[e.k] -= tij * e.x
				}
				// n_ij ∇L, L = lse: Σ_c p_c ∇a_c; Hessian Σ p_c ∇a_c∇a_cᵀ − ∇L∇Lᵀ.
				ps := [3]float64{pa, pb, pc}
				mean := map[int]float64{}
				for c, gc := range grads {
					for _, e := range gc {
						mean[e.k] += ps[c] * e.x
					}
				}
				for k, x := range mean {
					g[k] += nij * x
				}
				for c, gc := range grads {
					for _, e1 := range gc {
						for _, e2 := range gc {
							if e1.k <= e2.k {
								h.SetSym(e1.k, e2.k, h.At(e1.k, e2.k)+nij*ps[c]*e1.x*e2.x)
							}
						}
					}
				}
				for k1, x1 := range mean {
					for k2, x2 := range mean {
						if k1 <= k2 {
							h.SetSym(k1, k2, h.At(k1, k2)-nij*x1*x2)
						}
					}
				}
			}
		}
		var ch mat.Cholesky
		if !ch.Factorize(h) {
			return nil, 0, fmt.Errorf("Davidson's model: the Hessian is singular at iteration %d", it)
		}
		sv := mat.NewVecDense(m, step)
		if err := ch.SolveVecTo(sv, mat.NewVecDense(m, g)); err != nil {
			return nil, 0, fmt.Errorf("Davidson's model: Newton step: %w", err)
		}
		// v ← v − s·step, halving s until −ℓ does not rise.
		s := 1.0
		var moved float64
		for {
			for k := range v {
				trial[k] = v[k] - s*step[k]
			}
			if ft := negLL(trial); ft <= f || s < 1e-12 {
				f = ft
				break
			}
			s /= 2
		}
		for k := range v {
			moved = math.Max(moved, math.Abs(trial[k]-v[k]))
		}
		copy(v, trial)
		if moved < tol {
			theta = make([]float64, n)
			var mean float64
			for i := 1; i < n; i++ {
				theta[i] = v[i-1]
			}
			for _, x := range theta {
				mean += x / float64(n)
			}
			for i := range theta {
				theta[i] -= mean
			}
			return theta, math.Exp(v[m-1]), nil
		}
	}
	return nil, 0, fmt.Errorf("Davidson's model: Newton did not converge in %d iterations", maxIter)
}

// DavidsonLogLik is ℓ(θ, ν) of Davidson, the log-likelihood of the
// counts under Davidson's model with strengths π = e^θ and tie parameter
// ν.
func DavidsonLogLik(w, t [][]float64, theta []float64, nu float64) float64 {
	n := len(w)
	var f float64
	for i := range n {
		for j := i + 1; j < n; j++ {
			tij := tieCount(t, i, j)
			den := math.Exp(theta[i]) + math.Exp(theta[j]) + nu*math.Exp((theta[i]+theta[j])/2)
			if w[i][j] > 0 {
				f += w[i][j] * (theta[i] - math.Log(den))
			}
			if w[j][i] > 0 {
				f += w[j][i] * (theta[j] - math.Log(den))
			}
			if tij > 0 {
				f += tij * (math.Log(nu) + (theta[i]+theta[j])/2 - math.Log(den))
			}
		}
	}
	return f
}

// DavidsonUnbeaten returns a set of items that never beat nor tie an
// item outside it (so Davidson's likelihood rises without bound as their
// strengths fall), or nil when the graph with i → j for w_ij > 0 or a tie
// between i and j is strongly connected.
func DavidsonUnbeaten(w, t [][]float64) []int {
	n := len(w)
	e := make([][]float64, n)
	for i := range e {
		e[i] = make([]float64, n)
		for j := range e[i] {
			if i != j {
				lo, hi := min(i, j), max(i, j)
				e[i][j] = w[i][j] + tieCount(t, lo, hi)
			}
		}
	}
	return Unbeaten(e)
}

// tieCount is the number of ties between i < j: t[i][j], or t[j][i] when
// only the lower triangle is filled.
func tieCount(t [][]float64, i, j int) float64 {
	if t == nil {
		return 0
	}
	if t[i][j] != 0 {
		return t[i][j]
	}
	return t[j][i]
}

// lse3 is log(e^a + e^b + e^c), computed from the largest.
func lse3(a, b, c float64) float64 {
	m := math.Max(a, math.Max(b, c))
	return m + math.Log(math.Exp(a-m)+math.Exp(b-m)+math.Exp(c-m))
}
