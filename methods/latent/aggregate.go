package latent

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"
)

// MinMaxRegret mixes K policies to minimise the worst type's regret (the
// aggregate of EM-DPO, Chidambaram et al. 2024): with M[k][j] type k's
// expected reward under policy j and best[k] = M[k][k] (what type k gets
// from its own policy), it solves the linear programme
//
//	min_{α ∈ Δ_K, t} t  s.t.  best[k] − Σ_j α_j M[k][j] ≤ t for every k
//
// with gonum's simplex method (standard form: t = t⁺ − t⁻ and one slack
// per type). It returns the weights and the optimal worst regret t.
func MinMaxRegret(M [][]float64) (alpha []float64, worst float64, err error) {
	k := len(M)
	if k == 0 {
		return nil, 0, fmt.Errorf("min-max regret needs at least one policy")
	}
	// Variables: α_1…α_K, t⁺, t⁻, s_1…s_K.
	nv := 2*k + 2
	A := mat.NewDense(k+1, nv, nil)
	b := make([]float64, k+1)
	for r := range k {
		if len(M[r]) != k {
			return nil, 0, fmt.Errorf("M must be K × K, row %d has %d entries", r, len(M[r]))
		}
		for j := range k {
			A.Set(r, j, M[r][j])
		}
		A.Set(r, k, 1)
		A.Set(r, k+1, -1)
		A.Set(r, k+2+r, -1)
		b[r] = M[r][r]
	}
	for j := range k {
		A.Set(k, j, 1)
	}
	b[k] = 1
	c := make([]float64, nv)
	c[k], c[k+1] = 1, -1
	opt, x, err := lp.Simplex(c, A, b, 1e-12, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("min-max regret LP: %w", err)
	}
	alpha = make([]float64, k)
	var sum float64
	for j := range k {
		alpha[j] = math.Max(0, x[j])
		sum += alpha[j]
	}
	for j := range alpha {
		alpha[j] /= sum
	}
	return alpha, opt, nil
}

// Regret is max_k (M[k][k] − Σ_j α_j M[k][j]), the worst regret of the
// mixture α.
func Regret(M [][]float64, alpha []float64) float64 {
	worst := math.Inf(-1)
	for k := range M {
		v := M[k][k]
		for j, a := range alpha {
			v -= a * M[k][j]
		}
		worst = math.Max(worst, v)
	}
	return worst
}

// Gibbs is the policy π(y|x) ∝ ref(y|x)·exp(r(x, y)/β) for each prompt:
// the maximiser of E_π[r] − β·KL(π‖π_ref) (Eq. 10's form).
func Gibbs(r [][]float64, ref [][]float64, beta float64) [][]float64 {
	out := make([][]float64, len(r))
	for x := range r {
		m := math.Inf(-1)
		for y := range r[x] {
			m = math.Max(m, r[x][y]/beta)
		}
		p := make([]float64, len(r[x]))
		var z float64
		for y := range p {
			p[y] = ref[x][y] * math.Exp(r[x][y]/beta-m)
			z += p[y]
		}
		for y := range p {
			p[y] /= z
		}
		out[x] = p
	}
	return out
}

// Objective is J(π) = Σ_x prior(x) (E_{π_x}[r_x] − β·KL(π_x‖ref_x)).
func Objective(pol, r, ref [][]float64, prior []float64, beta float64) float64 {
	var v float64
	for x := range pol {
		for y, p := range pol[x] {
			if p > 0 {
				v += prior[x] * p * (r[x][y] - beta*math.Log(p/ref[x][y]))
			}
		}
	}
	return v
}

// MaxMin is the MaxMin-RLHF policy (Chakraborty et al. 2024) for K reward
// tables theta[k][x][y]: max_π min_k J_k(π) with J_k as in Objective. By
// duality it is the Gibbs policy of the mixed reward Σ_k λ_k θ_k for the
// λ in the simplex minimising g(λ) = Σ_x prior(x) β log Σ_y ref(y|x)
// exp(Σ_k λ_k θ_k[x][y]/β), whose gradient is J_k's expected-reward part,
// ∂g/∂λ_k = Σ_x prior(x) E_{π_λ}[θ_k[x]]. It runs exponentiated gradient
// descent on λ until the duality gap g(λ) − min_k J_k(π_λ) is below tol
// (or maxIter steps) and returns λ, the policy and the gap.
func MaxMin(theta [][][]float64, ref [][]float64, prior []float64, beta, tol float64, maxIter int) (lambda []float64, pol [][]float64, gap float64) {
	k := len(theta)
	lambda = make([]float64, k)
	for j := range lambda {
		lambda[j] = 1 / float64(k)
	}
	mixed := func(l []float64) [][]float64 {
		r := make([][]float64, len(ref))
		for x := range r {
			r[x] = make([]float64, len(ref[x]))
			for j := range l {
				for y := range r[x] {
					r[x][y] += l[j] * theta[j][x][y]
				}
			}
		}
		return r
	}
	// Step size: the reward spread sets the gradient's scale.
	var spread float64
	for j := range theta {
		for x := range theta[j] {
			for _, v := range theta[j][x] {
				spread = math.Max(spread, math.Abs(v))
			}
		}
	}
	eta := 1 / math.Max(spread, 1e-12)
	bestGap := math.Inf(1)
	var bestL []float64
	var bestP [][]float64
	for it := 0; it < maxIter; it++ {
		r := mixed(lambda)
		p := Gibbs(r, ref, beta)
		g := Objective(p, r, ref, prior, beta) // = g(λ) at the Gibbs policy
		minJ := math.Inf(1)
		grad := make([]float64, k)
		for j := range theta {
			minJ = math.Min(minJ, Objective(p, theta[j], ref, prior, beta))
			for x := range p {
				for y, q := range p[x] {
					grad[j] += prior[x] * q * theta[j][x][y]
				}
			}
		}
		if gp := g - minJ; gp < bestGap {
			bestGap, bestL, bestP = gp, append([]float64(nil), lambda...), p
		}
		if bestGap < tol {
			break
		}
		var z float64
		for j := range lambda {
			lambda[j] *= math.Exp(-eta * grad[j])
			z += lambda[j]
		}
		for j := range lambda {
			lambda[j] /= z
		}
	}
	return bestL, bestP, bestGap
}
