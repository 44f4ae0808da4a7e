package metrics

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"

	"hetalign/envs/analytic"
)

// The social-choice view of a population (one prompt): P[a][b] =
// Pr(a ≻ b) = Σ_u w_u σ_τ(r(a;u) − r(b;u)) (Eq. 8) is the share of the
// population that prefers a to b, and the majority margin is M[a][b] =
// P[a][b] − P[b][a].

// BordaScores are the normalised Borda counts under the uniform D,
// Σ_b P[a][b]/n (Eq. 13 with uniform D; the b = a term counts ½).
func BordaScores(P [][]float64) []float64 {
	n := len(P)
	s := make([]float64, n)
	for a := range n {
		for b := range n {
			if a == b {
				s[a] += 0.5
			} else {
				s[a] += P[a][b]
			}
		}
		s[a] /= float64(n)
	}
	return s
}

// CopelandScores are each alternative's pairwise majority wins minus
// losses (a tie, |P[a][b] − ½| ≤ tieTol, counts 0).
func CopelandScores(P [][]float64) []float64 {
	n := len(P)
	s := make([]float64, n)
	for a := range n {
		for b := range n {
			switch {
			case a == b:
			case P[a][b]-0.5 > tieTol:
				s[a]++
			case 0.5-P[a][b] > tieTol:
				s[a]--
			}
		}
	}
	return s
}

// CondorcetWinner is the alternative a majority prefers to every other
// (P[a][b] > ½ for all b ≠ a), or −1 when there is none.
func CondorcetWinner(P [][]float64) int {
	for a := range P {
		ok := true
		for b := range P {
			if a != b && !(P[a][b]-0.5 > tieTol) {
				ok = false
				break
			}
		}
		if ok {
			return a
		}
	}
	return -1
}

// MaximalLottery is the maximal lottery of the majority margins (Fishburn
// 1984): the optimal mixed strategy p of the symmetric zero-sum game M,
// p ∈ Δ with Σ_a p_a M[a][b] ≥ 0 for every b (the game's value is 0). It
// solves max v s.t. Σ_a p_a M[a][b] ≥ v, Σ p = 1, p ≥ 0 with gonum's
// simplex method (v = v⁺ − v⁻, one slack per column). It is unique when
// the number of alternatives is odd and margins have no exact ties (the
// generic case); otherwise the simplex returns one optimal strategy.
func MaximalLottery(P [][]float64) ([]float64, error) {
	n := len(P)
	// Variables p_1…p_n, v⁺, v⁻, s_1…s_n.
	nv := 2*n + 2
	A := mat.NewDense(n+1, nv, nil)
	b := make([]float64, n+1)
	for col := range n {
		for a := range n {
			A.Set(col, a, P[a][col]-P[col][a])
		}
		A.Set(col, n, -1)
		A.Set(col, n+1, 1)
		A.Set(col, n+2+col, -1)
	}
	for a := range n {
		A.Set(n, a, 1)
	}
	b[n] = 1
	c := make([]float64, nv)
	c[n], c[n+1] = -1, 1 // maximise v
	_, x, err := lp.Simplex(c, A, b, 1e-12, nil)
	if err != nil {
		return nil, fmt.Errorf("maximal lottery LP: %w", err)
	}
	p := make([]float64, n)
	var s float64
	for a := range n {
		p[a] = math.Max(0, x[a])
		s += p[a]
	}
	for a := range p {
		p[a] /= s
	}
	return p, nil
}

// isMax reports whether s[i] is within tieTol of the largest score.
func isMax(s []float64, i int) bool {
	hi := math.Inf(-1)
	for _, v := range s {
		hi = math.Max(hi, v)
	}
	return hi-s[i] <= tieTol
}

// Distortion is the utilitarian distortion of π for rewards normalised
// per type to [0, 1], ũ_u = (r_u − min r_u)/(max r_u − min r_u): the best
// achievable welfare max_y Σ_u w_u ũ_u(y) over the welfare achieved,
// Σ_y π(y) Σ_u w_u ũ_u(y) (1 is optimal; +Inf when π only picks
// alternatives every type rates lowest). A type indifferent among all
// alternatives contributes 0.
func Distortion(t *analytic.Truth, pol []float64) float64 {
	n := len(t.Alternatives)
	sw := make([]float64, n)
	for u, r := range t.Rewards {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range r {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if hi-lo <= 0 {
			continue
		}
		for y, v := range r {
			sw[y] += t.Weights[u] * (v - lo) / (hi - lo)
		}
	}
	best, got := math.Inf(-1), 0.0
	for y, v := range sw {
		best = math.Max(best, v)
		got += pol[y] * v
	}
	if got <= 0 {
		return math.Inf(1)
	}
	return best / got
}
