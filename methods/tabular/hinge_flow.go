package tabular

import (
	"errors"
	"fmt"
	"math"
)

// hingeFlow minimises the population hinge loss
//
//	H(θ) = Σ_{a≠b} W[a][b]·max(0, m − β(θ_a − θ_b)),   m = margin,
//
// exactly, through the dual of its linear programme. The primal (P) is
//
//	min Σ W_ab·t_ab  s.t.  t_ab ≥ m − β(θ_a − θ_b),  t_ab ≥ 0,  θ free,
//
// and its dual (D) is a maximum-profit circulation:
//
//	max m·Σ f_ab  s.t.  0 ≤ f_ab ≤ W_ab,  Σ_b f_kb = Σ_a f_ak for every k,
//
// one arc a→b of capacity W_ab and profit m per unit for every ordered pair
// with W_ab > 0 (the diagonal, ties y1 = y2, carries no loss). maxCirculation
// solves (D) with unit profits and returns integer node potentials d with
// d_a − d_b ≥ 1 where f_ab < W_ab and d_a − d_b ≤ 1 where f_ab > 0; then
// θ = (m/β)·d satisfies complementary slackness with f:
//
//	f_ab < W_ab ⇒ β(θ_a − θ_b) ≥ m ⇒ t_ab = 0,
//	f_ab > 0    ⇒ β(θ_a − θ_b) ≤ m ⇒ t_ab = m − β(θ_a − θ_b),
//
// so H(θ) = Σ f_ab(m − β(θ_a − θ_b)) = m·Σ f − β·Σ_k θ_k·(out_k − in_k) =
// m·Σ f: the primal and dual objectives meet and both are optimal. In
// particular β·θ/m is integral at the returned optimum (the constraint
// matrix of (P) is a network matrix).
//
// The optimum in θ need not be unique; hingeFlow returns a canonical one:
// d is the largest potential with d ≤ 0 for the flow found (shortest-path
// distances from a virtual source), which is the same for every optimal
// flow. θ is identified only up to a constant on each weakly connected
// component of the support {W_ab > 0}; each component is shifted so that
// its highest-indexed alternative is 0, and alternatives in no pair with
// W > 0 stay at 0 (as hingeLP pins them). flow[a][b] is the optimal f_ab.
//
// With m ≤ 0 the loss is minimised by θ = 0 (H = 0) and f = 0 is optimal.
func hingeFlow(w [][]float64, beta, margin float64) (theta []float64, flow [][]float64, err error) {
	n := len(w)
	if !(beta > 0) || math.IsInf(beta, 0) {
		return nil, nil, fmt.Errorf("hinge flow: beta must be positive and finite, got %v", beta)
	}
	if math.IsNaN(margin) || math.IsInf(margin, 0) {
		return nil, nil, fmt.Errorf("hinge flow: margin must be finite, got %v", margin)
	}
	c, err := newCirculation(w)
	if err != nil {
		return nil, nil, fmt.Errorf("hinge flow: %w", err)
	}
	theta = make([]float64, n)
	if margin <= 0 {
		flow = make([][]float64, n)
		for a := range flow {
			flow[a] = make([]float64, n)
		}
		return theta, flow, nil
	}
	if err := c.solve(); err != nil {
		return nil, nil, fmt.Errorf("hinge flow on %d alternatives, %d arcs: %w", n, len(c.from), err)
	}
	d, err := c.potentials()
	if err != nil {
		return nil, nil, fmt.Errorf("hinge flow on %d alternatives, %d arcs: %w", n, len(c.from), err)
	}
	for y, comp := range c.components() {
		if comp >= 0 {
			theta[y] = margin / beta * float64(d[y]-d[comp])
		}
	}
	return theta, c.flow(), nil
}

// circulation is the residual network of the unit-profit circulation
// problem max Σ f_k, 0 ≤ f_k ≤ cap_k, conserving flow at every node, over
// arcs k = from_k → to_k. Residual edge 2k is arc k forward (from_k → to_k,
// capacity cap_k − f_k, cost −1), edge 2k+1 its reverse (to_k → from_k,
// capacity f_k, cost +1). An edge is residual when its capacity exceeds tol
// = 1e-13·Σ cap, which absorbs the rounding of the float64 flows.
type circulation struct {
	n        int
	from, to []int
	cap, f   []float64
	adj      [][]int // residual edges leaving each node
	tol      float64
}

// newCirculation builds the network of arcs a→b for W[a][b] > 0, a ≠ b,
// after checking that W is square with finite non-negative entries.
func newCirculation(w [][]float64) (*circulation, error) {
	n := len(w)
	c := &circulation{n: n, adj: make([][]int, n)}
	var total float64
	for a, row := range w {
		if len(row) != n {
			return nil, fmt.Errorf("row %d of the pair masses has %d entries, want %d", a, len(row), n)
		}
		for b, v := range row {
			if !(v >= 0) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("pair mass W[%d][%d] = %v is not finite and ≥ 0", a, b, v)
			}
			if a == b || v == 0 {
				continue
			}
			k := len(c.from)
			c.from, c.to, c.cap = append(c.from, a), append(c.to, b), append(c.cap, v)
			c.adj[a] = append(c.adj[a], 2*k)
			c.adj[b] = append(c.adj[b], 2*k+1)
			total += v
		}
	}
	c.f = make([]float64, len(c.from))
	c.tol = 1e-13 * total
	return c, nil
}

// tail and head are the ends of residual edge e.
func (c *circulation) tail(e int) int {
	if e&1 == 0 {
		return c.from[e>>1]
	}
	return c.to[e>>1]
}

func (c *circulation) head(e int) int {
	if e&1 == 0 {
		return c.to[e>>1]
	}
	return c.from[e>>1]
}

// res is the residual capacity of edge e: cap − f forward, f backward.
func (c *circulation) res(e int) float64 {
	if e&1 == 0 {
		return c.cap[e>>1] - c.f[e>>1]
	}
	return c.f[e>>1]
}

// cost of edge e: −1 forward (one unit of profit), +1 backward.
func cost(e int) int {
	if e&1 == 0 {
		return -1
	}
	return 1
}

// push sends x along residual edge e.
func (c *circulation) push(e int, x float64) {
	if e&1 == 0 {
		c.f[e>>1] += x
	} else {
		c.f[e>>1] -= x
	}
}

// solve finds a maximum circulation by the primal-dual method for min-cost
// flow. It starts from the saturated (infeasible) flow f = cap, which earns
// every unit of profit but leaves node excesses e_k = in_k − out_k
// (Σ e = 0), and whose residual network has only the reverse edges, all of
// cost +1, so the potentials π = 0 are optimal: every residual edge u→v has
// reduced cost c_uv + π_u − π_v ≥ 0. Each phase then
//
//  1. computes Dijkstra distances δ over reduced costs from the excess
//     nodes (e > tol) and the least distance L to a deficit node (e < −tol),
//  2. sets π_v += min(δ_v, L), which keeps every reduced cost ≥ 0 and makes
//     every shortest excess→deficit path admissible (reduced cost 0), and
//  3. sends a maximum flow from excesses to deficits over admissible edges
//     (Dinic), which keeps reduced costs ≥ 0 (reverses of admissible edges
//     are admissible).
//
// Excess nodes stay at π = 0 and deficit nodes share π = Λ, the sum of the
// L so far, which is the cost of a cheapest excess→deficit path in the
// original costs; it grows by at least 1 each phase (no admissible path is
// left, costs are integral) and a simple path costs at most n − 1, so there
// are at most n − 1 phases. At the end every excess is within tolerance of
// zero: f is a circulation with no negative residual cycle, an optimum of
// (D).
func (c *circulation) solve() error {
	n := c.n
	copy(c.f, c.cap)
	ex := make([]float64, n)
	var mass float64
	for k := range c.from {
		ex[c.to[k]] += c.cap[k]
		ex[c.from[k]] -= c.cap[k]
		mass += c.cap[k]
	}
	pi := make([]int, n)
	dist := make([]int, n)
	done := make([]bool, n)
	const inf = math.MaxInt / 4
	for phase := 0; ; phase++ {
		var excess, deficit float64
		for _, e := range ex {
			if e > c.tol {
				excess += e
			} else if e < -c.tol {
				deficit -= e
			}
		}
		if excess == 0 || deficit == 0 {
			// What is left is rounding: it is bounded by n·tol.
			return nil
		}
		if phase > n+1 {
			return fmt.Errorf("primal-dual circulation: %d phases (at most n − 1 = %d expected), excess %.3g left", phase, n-1, excess)
		}
		for v := range n {
			dist[v], done[v] = inf, false
			if ex[v] > c.tol {
				dist[v] = 0
			}
		}
		for {
			u := -1
			for v := range n {
				if !done[v] && dist[v] < inf && (u < 0 || dist[v] < dist[u]) {
					u = v
				}
			}
			if u < 0 {
				break
			}
			done[u] = true
			for _, e := range c.adj[u] {
				if c.res(e) <= c.tol {
					continue
				}
				v := c.head(e)
				if nd := dist[u] + cost(e) + pi[u] - pi[v]; nd < dist[v] {
					dist[v] = nd
				}
			}
		}
		l := inf
		for v := range n {
			if ex[v] < -c.tol {
				l = min(l, dist[v])
			}
		}
		if l == inf {
			if excess <= 1e-9*mass {
				return nil
			}
			return fmt.Errorf("primal-dual circulation: no residual path from an excess to a deficit in phase %d, excess %.3g of mass %.3g left", phase, excess, mass)
		}
		for v := range n {
			pi[v] += min(dist[v], l)
		}
		if err := c.maxFlow(ex, pi); err != nil {
			return fmt.Errorf("phase %d: %w", phase, err)
		}
	}
}

// maxFlow sends a maximum flow from the excess nodes (e > tol, supplying
// e) to the deficit nodes (e < −tol, absorbing −e) over the admissible
// residual edges (residual capacity > tol and reduced cost
// c_uv + π_u − π_v = 0) by Dinic's method: breadth-first levels from the
// excesses, then a blocking flow along level-increasing edges into the
// deficits of the least level. The least deficit level grows each round,
// so there are at most n rounds.
func (c *circulation) maxFlow(ex []float64, pi []int) error {
	n := c.n
	level := make([]int, n)
	next := make([]int, n)
	queue := make([]int, 0, n)
	admissible := func(e int) bool {
		return c.res(e) > c.tol && cost(e)+pi[c.tail(e)]-pi[c.head(e)] == 0
	}
	// last is the level of the deficits that absorb flow this round.
	var last int
	var dfs func(v int, lim float64) float64
	dfs = func(v int, lim float64) float64 {
		if level[v] == last {
			if ex[v] < -c.tol {
				x := math.Min(lim, -ex[v])
				ex[v] += x
				return x
			}
			return 0
		}
		for ; next[v] < len(c.adj[v]); next[v]++ {
			e := c.adj[v][next[v]]
			u := c.head(e)
			if level[u] != level[v]+1 || !admissible(e) {
				continue
			}
			if x := dfs(u, math.Min(lim, c.res(e))); x > 0 {
				c.push(e, x)
				return x
			}
		}
		return 0
	}
	for round := 0; ; round++ {
		if round > n {
			return fmt.Errorf("max flow: %d Dinic rounds (at most n = %d expected)", round, n)
		}
		queue = queue[:0]
		for v := range n {
			level[v], next[v] = -1, 0
			if ex[v] > c.tol {
				level[v] = 0
				queue = append(queue, v)
			}
		}
		last = -1
		for i := 0; i < len(queue); i++ {
			u := queue[i]
			if last >= 0 && level[u] >= last {
				break
			}
			if ex[u] < -c.tol {
				last = level[u]
				continue
			}
			for _, e := range c.adj[u] {
				if v := c.head(e); level[v] < 0 && admissible(e) {
					level[v] = level[u] + 1
					queue = append(queue, v)
				}
			}
		}
		if last < 0 {
			return nil
		}
		for s := range n {
			for level[s] == 0 && ex[s] > c.tol {
				x := dfs(s, ex[s])
				if x == 0 {
					break
				}
				ex[s] -= x
			}
		}
	}
}

// potentials returns shortest-path distances d from a virtual source joined
// to every node by a cost-0 edge, over the residual edges (Bellman–Ford on
// the integer costs ±1): d_v ≤ d_u + c_uv on every residual edge, i.e.
// d_a − d_b ≥ 1 where f_ab < cap_ab and d_a − d_b ≤ 1 where f_ab > 0, and d
// is the largest such vector with d ≤ 0. Such d exists exactly when the
// residual network has no negative cycle, i.e. when f is optimal; otherwise
// potentials fails (relaxation still running after n rounds).
func (c *circulation) potentials() ([]int, error) {
	d := make([]int, c.n)
	for round := 0; round <= c.n; round++ {
		changed := false
		for e := range 2 * len(c.from) {
			if c.res(e) <= c.tol {
				continue
			}
			u, v := c.tail(e), c.head(e)
			if nd := d[u] + cost(e); nd < d[v] {
				d[v], changed = nd, true
			}
		}
		if !changed {
			return d, nil
		}
	}
	return nil, errors.New("the residual network keeps a negative cycle: the circulation is not optimal")
}

// components labels every node with the highest-indexed node of its weakly
// connected component in the support graph (the arcs), or −1 for a node on
// no arc.
func (c *circulation) components() []int {
	parent := make([]int, c.n)
	for v := range parent {
		parent[v] = v
	}
	var find func(v int) int
	find = func(v int) int {
		for parent[v] != v {
			parent[v] = parent[parent[v]]
			v = parent[v]
		}
		return v
	}
	for k := range c.from {
		a, b := find(c.from[k]), find(c.to[k])
		if a < b {
			a, b = b, a
		}
		parent[b] = a // the root is the largest index of its component
	}
	out := make([]int, c.n)
	for v := range out {
		out[v] = find(v)
		if len(c.adj[v]) == 0 {
			out[v] = -1
		}
	}
	return out
}

// flow returns f as an n×n matrix, flow[a][b] = f on arc a→b.
func (c *circulation) flow() [][]float64 {
	out := make([][]float64, c.n)
	for a := range out {
		out[a] = make([]float64, c.n)
	}
	for k := range c.from {
		out[c.from[k]][c.to[k]] = c.f[k]
	}
	return out
}
