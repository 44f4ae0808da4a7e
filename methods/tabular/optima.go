package tabular

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Order relations of two alternatives over a set of optima (Optima.Order).
const (
	Below   = -1 // θ_a < θ_b in every optimum
	Equal   = 0  // θ_a = θ_b in every optimum
	Above   = 1  // θ_a > θ_b in every optimum
	Differs = 2  // the optima order them differently
)

// orderTol is the gap in log-ratios under which two alternatives count as
// tied (as metrics' tieTol).
const orderTol = 1e-9

// Optima describes the optimal set of a fit whose loss can have several
// optima (a non-convex loss, a linear programme): Order[a][b] is Above,
// Below or Equal when every optimum orders a and b that way, and Differs
// when optima disagree. How says how the set was found.
type Optima struct {
	Order [][]int `json:"order"`
	How   string  `json:"how"`
}

// Unique reports whether every pair is ordered the same way by every
// optimum (the optimal set may still hold several points with the same
// ranking, e.g. an LP face along which no order changes).
func (o *Optima) Unique() bool {
	for _, row := range o.Order {
		if slices.Contains(row, Differs) {
			return false
		}
	}
	return true
}

// Shared writes what every optimum shares, with names[i] for alternative
// i: the pairs every optimum orders alike ("med > long", "a = b"), then
// those it does not ("long ? short").
func (o *Optima) Shared(names []string) string {
	name := func(i int) string {
		if i < len(names) {
			return names[i]
		}
		return fmt.Sprint(i)
	}
	var same, differ []string
	for a := range o.Order {
		for b := a + 1; b < len(o.Order); b++ {
			switch o.Order[a][b] {
			case Above:
				same = append(same, name(a)+" > "+name(b))
			case Below:
				same = append(same, name(b)+" > "+name(a))
			case Equal:
				same = append(same, name(a)+" = "+name(b))
			default:
				differ = append(differ, name(a)+" ? "+name(b))
			}
		}
	}
	s := strings.Join(same, ", ")
	if len(differ) > 0 {
		if s != "" {
			s += "; "
		}
		s += strings.Join(differ, ", ")
	}
	return s
}

// Top is the alternative every optimum ranks strictly first, with
// names[i] for alternative i, or "" when optima differ on it.
func (o *Optima) Top(names []string) string {
	for a, row := range o.Order {
		first := true
		for b, r := range row {
			if b != a && r != Above {
				first = false
				break
			}
		}
		if first && a < len(names) {
			return names[a]
		}
	}
	return ""
}

// orderOf is the relation of every pair over the points thetas.
func orderOf(thetas [][]float64) [][]int {
	n := len(thetas[0])
	out := make([][]int, n)
	for a := range n {
		out[a] = make([]int, n)
		for b := range n {
			rel := 0
			for k, th := range thetas {
				d := th[a] - th[b]
				r := Equal
				switch {
				case d > orderTol:
					r = Above
				case d < -orderTol:
					r = Below
				}
				if k == 0 {
					rel = r
				} else if r != rel {
					rel = Differs
				}
			}
			out[a][b] = rel
		}
	}
	return out
}

// hingeFace is the optimal face of the hinge LP, from an optimal flow f
// of its dual (see hingeFlow): by complementary slackness a θ is optimal
// iff β(θ_a − θ_b) ≥ m wherever f_ab < W_ab and β(θ_a − θ_b) ≤ m wherever
// f_ab > 0 (W_ab > 0). These are difference constraints, so the range of
// θ_a − θ_b over the face is [−dist(a→b), dist(b→a)] with shortest paths
// (Floyd–Warshall) in the graph with an edge v→u of weight c for each
// θ_u − θ_v ≤ c; an unreachable pair (another component) is unbounded.
func hingeFace(w, flow [][]float64, beta, margin float64) *Optima {
	n := len(w)
	mp := margin / beta
	inf := math.Inf(1)
	dist := make([][]float64, n)
	var wmax float64
	for a := range n {
		dist[a] = make([]float64, n)
		for b := range n {
			if a != b {
				dist[a][b] = inf
			}
			wmax = math.Max(wmax, w[a][b])
		}
	}
	tol := 1e-12 * wmax
	for a := range n {
		for b := range n {
			if a == b || w[a][b] <= 0 {
				continue
			}
			if flow[a][b] < w[a][b]-tol { // θ_b − θ_a ≤ −m′: edge a→b
				dist[a][b] = math.Min(dist[a][b], -mp)
			}
			if flow[a][b] > tol { // θ_a − θ_b ≤ m′: edge b→a
				dist[b][a] = math.Min(dist[b][a], mp)
			}
		}
	}
	for k := range n {
		for i := range n {
			for j := range n {
				if d := dist[i][k] + dist[k][j]; d < dist[i][j] {
					dist[i][j] = d
				}
			}
		}
	}
	order := make([][]int, n)
	for a := range n {
		order[a] = make([]int, n)
		for b := range n {
			hi, lo := dist[b][a], -dist[a][b] // max and min of θ_a − θ_b
			switch {
			case a == b:
				order[a][b] = Equal
			case lo > orderTol:
				order[a][b] = Above
			case hi < -orderTol:
				order[a][b] = Below
			case lo >= -orderTol && hi <= orderTol:
				order[a][b] = Equal
			default:
				order[a][b] = Differs
			}
		}
	}
	return &Optima{Order: order, How: "the LP's optimal face (complementary slackness with the optimal flow)"}
}

// MultiStartMax is the largest number of alternatives for which a
// non-convex fit searches for other optima (multiStart).
const MultiStartMax = 12

// multiStart looks for other optima of a non-convex loss by symmetry: it
// swaps each pair of alternatives in the fit θ̂ and, where the swapped
// point's loss is within 1e-3 (relative) of the fit's (a mirror image,
// exactly equal when the data are symmetric in the pair), refits from
// it, keeping the certified local minima; when one is lower it starts
// again from it (at most 3 rounds). Every start is built from the data
// alone, the same way whatever the order of the alternatives, so the
// search permutes with them. It returns the minimum of lowest loss, with
// the Optima of those within 1e-10 (relative) of it: several global
// minima (mirror images, as discopop's on the mediocrity example) make
// the order not unique.
func multiStart(p rhoProblem, theta []float64, beta float64) ([]float64, *Optima) {
	n := len(theta)
	type opt struct {
		th []float64
		f  float64
	}
	opts := []opt{{theta, p.eval(theta, nil, nil)}}
	tries := 0
	try := func(s []float64) {
		tries++
		th, _, _, err := fitRhoFrom(p, s)
		if err != nil || secondOrder(p, th, beta) != "" {
			return
		}
		opts = append(opts, opt{th, p.eval(th, nil, nil)})
	}
	lowest := func() int {
		best := 0
		for i, o := range opts {
			if o.f < opts[best].f-1e-12*math.Max(1, math.Abs(opts[best].f)) {
				best = i
			}
		}
		return best
	}
	best := lowest()
	for range 3 {
		top := slices.Clone(opts[best].th)
		f0 := opts[best].f
		for a := range n {
			for b := a + 1; b < n; b++ {
				s := slices.Clone(top)
				s[a], s[b] = s[b], s[a]
				if p.eval(s, nil, nil) <= f0+1e-3*math.Max(1, math.Abs(f0)) {
					try(s)
				}
			}
		}
		next := lowest()
		if next == best || !(opts[next].f < opts[best].f-1e-12*math.Max(1, math.Abs(opts[best].f))) {
			break
		}
		best = next
	}
	var glob [][]float64
	for _, o := range opts {
		if math.Abs(o.f-opts[best].f) <= 1e-10*math.Max(1, math.Abs(opts[best].f)) {
			c := slices.Clone(o.th)
			for i := range c {
				c[i] -= o.th[n-1]
			}
			glob = append(glob, c)
		}
	}
	return opts[best].th, &Optima{Order: orderOf(glob), How: fmt.Sprintf("%d starts: DPO's solution and %d swaps of two alternatives in the best point", tries+1, tries)}
}
