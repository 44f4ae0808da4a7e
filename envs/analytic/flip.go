package analytic

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"
)

// Flip is the smallest change of the sampling distribution that reverses
// the NBC order of one pair (Section 7.1, Appendix E).
type Flip struct {
	// Above and Below index the pair: NBC(Above) > NBC(Below) under the
	// uniform distribution.
	Above, Below int
	// Feasible is false when no distribution with q ≥ ε reverses the pair.
	Feasible bool
	// TV is ½‖q − uniform‖₁ at the optimum.
	TV float64
	// Q is the optimal sampling distribution.
	Q []float64
}

// FlipParams are the LP's margins, ε = δ = 1e-5 in the paper.
type FlipParams struct {
	// Epsilon is the smallest probability q may give an alternative.
	Epsilon float64
	// Delta is the margin by which NBC(Below) must exceed NBC(Above).
	Delta float64
}

// DefaultFlipParams are the paper's ε = δ = 1e-5.
var DefaultFlipParams = FlipParams{Epsilon: 1e-5, Delta: 1e-5}

// MinFlip solves the linear programme of Appendix E for the pair (i, j):
//
//	minimise ½ Σ_k s_k
//	s.t.     s ≥ q − 1/N,  s ≥ 1/N − q,  (P_i − P_j)·q ≤ −δ,  Σ q = 1,  q ≥ ε
//
// where P_i is row i of the preference matrix, so (P_i − P_j)·q is
// NBC_q(i) − NBC_q(j). It uses gonum's simplex method.
func MinFlip(pref [][]float64, i, j int, p FlipParams) (Flip, error) {
	n := len(pref)
	f := Flip{Above: i, Below: j}
	// Variables x = [q (n), s (n)]; inequalities G x ≤ h.
	nv := 2 * n
	var g []float64
	var h []float64
	row := func(coef map[int]float64, rhs float64) {
		r := make([]float64, nv)
		for k, v := range coef {
			r[k] = v
		}
		g = append(g, r...)
		h = append(h, rhs)
	}
	u := 1 / float64(n)
	for k := range n {
		row(map[int]float64{k: 1, n + k: -1}, u)   // q_k − s_k ≤ 1/N
		row(map[int]float64{k: -1, n + k: -1}, -u) // −q_k − s_k ≤ −1/N
		row(map[int]float64{k: -1}, -p.Epsilon)    // q_k ≥ ε
	}
	flip := map[int]float64{}
	for k := range n {
		flip[k] = pref[i][k] - pref[j][k]
	}
	row(flip, -p.Delta)
	c := make([]float64, nv)
	for k := range n {
		c[n+k] = 0.5
	}
	a := make([]float64, nv)
	for k := range n {
		a[k] = 1
	}
	G := mat.NewDense(len(h), nv, g)
	A := mat.NewDense(1, nv, a)
	cs, as, bs := lp.Convert(c, G, h, A, []float64{1})
	opt, x, err := lp.Simplex(cs, as, bs, 1e-10, nil)
	switch {
	case errors.Is(err, lp.ErrInfeasible):
		return f, nil
	case err != nil:
		return f, fmt.Errorf("flipping NBC(%d) > NBC(%d): %w", i, j, err)
	}
	f.Feasible = true
	f.TV = opt
	f.Q = make([]float64, n)
	for k := range n {
		f.Q[k] = x[k] - x[nv+k] // Convert splits each variable as x⁺ − x⁻
	}
	return f, nil
}

// CheckFlip verifies a flip independently of the LP: q is a distribution
// with q ≥ ε, it reverses the pair by at least δ (up to tol), and the
// reported TV is ½‖q − uniform‖₁.
func CheckFlip(pref [][]float64, f Flip, p FlipParams, tol float64) error {
	if !f.Feasible {
		return nil
	}
	n := len(pref)
	var sum, tv float64
	for _, x := range f.Q {
		if x < p.Epsilon-tol {
			return fmt.Errorf("q has an entry %v below ε = %v", x, p.Epsilon)
		}
		sum += x
		tv += math.Abs(x-1/float64(n)) / 2
	}
	if math.Abs(sum-1) > tol {
		return fmt.Errorf("q sums to %v", sum)
	}
	nbc := NBC(pref, f.Q)
	if d := nbc[f.Below] - nbc[f.Above]; d < p.Delta-tol {
		return fmt.Errorf("under q, NBC(%d) − NBC(%d) = %v < δ", f.Below, f.Above, d)
	}
	if math.Abs(tv-f.TV) > tol {
		return fmt.Errorf("½‖q − uniform‖₁ = %v but the LP reports %v", tv, f.TV)
	}
	return nil
}

// Sensitivity summarises how far D must move from uniform to change NBC.
type Sensitivity struct {
	// Pairs: one flip per NBC-ordered pair (NBC(i) > NBC(j) under uniform).
	Pairs []Flip
	// Min is the smallest feasible flip (Feasible false when none is).
	Min Flip
	// Top is the smallest feasible flip of a pair involving the top
	// alternative, i.e. the smallest change that dethrones it.
	Top Flip
}

// NBCSensitivity solves MinFlip for every pair ordered by NBC under the
// uniform distribution and checks each answer with CheckFlip.
func NBCSensitivity(pref [][]float64, p FlipParams) (*Sensitivity, error) {
	n := len(pref)
	uni := make([]float64, n)
	for k := range uni {
		uni[k] = 1 / float64(n)
	}
	nbc := NBC(pref, uni)
	top := Ranking(nbc)[0]
	s := &Sensitivity{}
	for i := range n {
		for j := range n {
			if !(nbc[i] > nbc[j]) {
				continue
			}
			f, err := MinFlip(pref, i, j, p)
			if err != nil {
				return nil, err
			}
			if err := CheckFlip(pref, f, p, 1e-8); err != nil {
				return nil, fmt.Errorf("LP answer for pair (%d, %d) fails the independent check: %w", i, j, err)
			}
			s.Pairs = append(s.Pairs, f)
			if f.Feasible && (!s.Min.Feasible || f.TV < s.Min.TV) {
				s.Min = f
			}
			if f.Feasible && i == top && (!s.Top.Feasible || f.TV < s.Top.TV) {
				s.Top = f
			}
		}
	}
	return s, nil
}
