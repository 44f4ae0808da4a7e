// Package bradleyterry fits Bradley–Terry strengths to win counts: the
// θ maximising Σ_{i≠j} W_ij log σ(θ_i − θ_j) (Eq. 8 with τ = 1), by the
// MM algorithm of Hunter (2004). Environments fit their types' rewards
// with it (real comparisons) and methods their latent types (EM).
package bradleyterry

import (
	"math"
	"sort"
)

// MM runs Hunter's (2004, Eq. 3) minorise–maximise iteration on weighted
// win counts w[i][j] (i preferred to j),
//
//	π_i ← W_i / Σ_{j≠i} n_ij / (π_i + π_j),  W_i = Σ_j w_ij, n_ij = w_ij + w_ji,
//
// renormalised to geometric mean 1 after each sweep, until no log-strength
// moves by more than tol or after maxIter sweeps. It returns θ = log π
// centred to mean 0 and whether it converged. Items with no wins or no
// comparisons keep their strength (the maximum exists and is unique only
// when the win graph is strongly connected: Zermelo's condition).
func MM(w [][]float64, tol float64, maxIter int) (theta []float64, converged bool) {
	n := len(w)
	p := make([]float64, n)
	for i := range p {
		p[i] = 1
	}
	wins := make([]float64, n)
	for i := range n {
		for j := range n {
			if j != i {
				wins[i] += w[i][j]
			}
		}
	}
	next := make([]float64, n)
	for range maxIter {
		for i := range n {
			var den float64
			for j := range n {
				if nij := w[i][j] + w[j][i]; j != i && nij > 0 {
					den += nij / (p[i] + p[j])
				}
			}
			next[i] = p[i]
			if den > 0 && wins[i] > 0 {
				next[i] = wins[i] / den
			}
		}
		var lg float64
		for _, v := range next {
			lg += math.Log(v)
		}
		g := math.Exp(lg / float64(n))
		var moved float64
		for i := range next {
			next[i] /= g
			moved = math.Max(moved, math.Abs(math.Log(next[i]/p[i])))
		}
		p, next = next, p
		if moved < tol {
			converged = true
			break
		}
	}
	theta = make([]float64, n)
	var m float64
	for i := range theta {
		theta[i] = math.Log(p[i])
		m += theta[i] / float64(n)
	}
	for i := range theta {
		theta[i] -= m
	}
	return theta, converged
}

// Unbeaten returns a set of items with no win against the other items, or
// nil when the win graph is strongly connected: the items that cannot
// reach item 0 through wins, or the items item 0 cannot reach.
func Unbeaten(w [][]float64) []int {
	n := len(w)
	reach := func(forward bool) []bool {
		seen := make([]bool, n)
		seen[0] = true
		stack := []int{0}
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for j := range n {
				e := w[i][j]
				if !forward {
					e = w[j][i]
				}
				if j != i && e > 0 && !seen[j] {
					seen[j] = true
					stack = append(stack, j)
				}
			}
		}
		return seen
	}
	// With i → j when i beat j, the graph is strongly connected when
	// every item is reachable from item 0 both along and against the
	// edges. If item 0's forward reach S misses some items, S never beats
	// them; if some items cannot reach item 0, they never beat the items
	// that can.
	for _, fwd := range []bool{true, false} {
		seen := reach(fwd)
		var rest []int
		for i, s := range seen {
			if !s {
				rest = append(rest, i)
			}
		}
		if len(rest) == 0 {
			continue
		}
		if fwd {
			// 0 beats its way to `seen` only: `seen` never beats `rest`.
			var set []int
			for i, s := range seen {
				if s {
					set = append(set, i)
				}
			}
			sort.Ints(set)
			return set
		}
		// `rest` cannot beat its way to 0: `rest` never beats `seen`.
		return rest
	}
	return nil
}
