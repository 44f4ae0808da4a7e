package methods

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

// rankingProfile is the population as a distribution over rankings,
// computed from the types' rewards alone: a Bradley–Terry type with
// rewards r and temperature τ is the Plackett–Luce ranking model with
// scores r/τ (Pr(ranking) = Π_i e^{s(σ_i)} / Σ_{j ≥ i} e^{s(σ_j)}), whose
// pairwise marginals are the type's σ_τ(r(a) − r(b)). From the profile it
// returns the pairwise win rates P(a ≻ b) = Σ_σ Pr(σ)·[a above b in σ] and
// the first-choice shares w(y) = Σ_σ Pr(σ)·[σ_1 = y] (Kim et al.'s w^σ) —
// an independent route to what the fit reads from the dataset.
func rankingProfile(tr *analytic.Truth) (P [][]float64, first []float64) {
	n := len(tr.Alternatives)
	P = make([][]float64, n)
	for a := range P {
		P[a] = make([]float64, n)
	}
	first = make([]float64, n)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			var pr float64
			for u, r := range tr.Rewards {
				p := tr.Weights[u]
				for i := range n {
					var z float64
					for _, y := range perm[i:] {
						z += math.Exp(r[y] / tr.Temperature)
					}
					p *= math.Exp(r[perm[i]]/tr.Temperature) / z
				}
				pr += p
			}
			first[perm[0]] += pr
			for i := range n {
				for j := i + 1; j < n; j++ {
					P[perm[i]][perm[j]] += pr
				}
			}
			return
		}
		for i := k; i < n; i++ {
			perm[k], perm[i] = perm[i], perm[k]
			rec(k + 1)
			perm[k], perm[i] = perm[i], perm[k]
		}
	}
	rec(0)
	return P, first
}

// worldOf is a single-prompt World of the population, with uniform D and
// π_ref unless sampling is given.
func worldOf(t *testing.T, rewards [][]float64, weights []float64, tau float64, sampling []float64) *analytic.World {
	t.Helper()
	n := len(rewards[0])
	uni := make([]float64, n)
	for i := range uni {
		uni[i] = 1 / float64(n)
	}
	if sampling == nil {
		sampling = uni
	}
	var alts, names []string
	for y := range n {
		alts = append(alts, fmt.Sprintf("y%d", y+1))
	}
	for u := range rewards {
		names = append(names, string(rune('A'+u)))
	}
	e := &analytic.Env{Alternatives: alts, Population: envs.Population{Names: names, Weights: weights},
		Rewards: rewards, Sampling: sampling, Reference: uni, Beta: 1, Preference: envs.Preference{Temperature: tau}}
	tr, err := e.ComputeTruth()
	if err != nil {
		t.Fatal(err)
	}
	return analytic.Single(tr)
}

// The fit is Kim et al.'s F^β computed independently: on 90 random
// populations (5 alternatives; 2, 3, 5 types; τ = 0.5, 1, 2) and β ∈ {0,
// 1, 10}, π(y) = u(y)e^{βu(y)}/Σ u e^{βu} with u(y) = min_{y'} P(y ≻ y')
// taken from the population's ranking profile (not from the dataset).
// And F* (β = 0) meets the α-PPA bound with α = 1/Σu ≥ 2/m: everyone
// who ranks y first ranks it above each y', so w(y) ≤ u(y) and π(y) =
// u(y)/Σu ≥ w(y)/Σu; Σ_y u(y) ≤ Σ_y (1/(m−1))Σ_{y'} P(y ≻ y') = m/2. The
// feasible set W̄ = {w ∈ Δ: w ≤ u} holds the true first-choice shares, so
// Σu ≥ Σw = 1 too. Tolerance 1e-9: the profile sums 120 rankings' float64
// products, the dataset divides 2D(a)D(b)P by itself; both agree to
// rounding (~1e-15), far inside 1e-9.
func TestProportionalIsFBeta(t *testing.T) {
	for inst := range 10 {
		for _, k := range []int{2, 3, 5} {
			for _, temp := range []float64{0.5, 1, 2} {
				w, _ := randomWorld(t, inst, k, temp, analytic.Anonymous)
				tr := w.Prompts[0]
				P, first := rankingProfile(tr)
				m := len(P)
				u := make([]float64, m)
				var sumU float64
				for y := range u {
					u[y] = 1
					for z := range u {
						if z != y {
							u[y] = math.Min(u[y], P[y][z])
						}
					}
					sumU += u[y]
					if first[y] > u[y]+1e-12 {
						t.Fatalf("instance %d: first-choice share %v of %d above its bound u = %v", inst, first[y], y, u[y])
					}
				}
				if sumU < 1-1e-12 || sumU > float64(m)/2+1e-12 {
					t.Fatalf("instance %d: Σu = %v outside [1, m/2]", inst, sumU)
				}
				for _, beta := range []float64{0, 1, 10} {
					got := fitKind(t, "proportional", fmt.Sprintf(`{"beta": %v}`, beta), w).Policy[0]
					var z float64
					for y := range u {
						z += u[y] * math.Exp(beta*u[y])
					}
					for y := range u {
						if want := u[y] * math.Exp(beta*u[y]) / z; math.Abs(got[y]-want) > 1e-9 {
							t.Fatalf("instance %d, %d types, τ %v, β %v: π(%d) = %v, F^β gives %v", inst, k, temp, beta, y, got[y], want)
						}
						if beta == 0 && (got[y] < first[y]/sumU-1e-12 || got[y] < 2*first[y]/float64(m)-1e-12) {
							t.Fatalf("instance %d: π(%d) = %v below the α-PPA bound w/Σu = %v", inst, y, got[y], first[y]/sumU)
						}
					}
				}
			}
		}
	}
}

// Two alternatives: Σu = P(a ≻ b) + P(b ≻ a) = 1, so F* is exactly
// proportional, π(a) = P(a ≻ b) = the share that ranks a first — the
// 50 + ε : 50 − ε example where RLHF and NLHF put all mass on the slim
// majority. Population: 0.51 prefer a by 40/τ, 0.49 prefer b by 40/τ
// (σ(40) = 1 − 4e-18, so P(a ≻ b) = 0.51 to rounding).
func TestProportionalTwoAlternatives(t *testing.T) {
	w := worldOf(t, [][]float64{{40, 0}, {0, 40}}, []float64{0.51, 0.49}, 1, nil)
	pol := fitKind(t, "proportional", `{}`, w).Policy[0]
	if math.Abs(pol[0]-0.51) > 1e-12 || math.Abs(pol[1]-0.49) > 1e-12 {
		t.Fatalf("π = %v, want (0.51, 0.49)", pol)
	}
}

// The axioms Kim et al. prove for F^β, as properties on random
// populations, each derived from u's form:
//
//   - Pareto: when every type has r(a;u) > r(b;u), each type's σ_τ(r(a) −
//     r(c)) > σ_τ(r(b) − r(c)), so P(a ≻ c) > P(b ≻ c) for every c, and
//     P(a ≻ b) > ½ > P(b ≻ a): every term of u(a)'s minimum beats the
//     matching term of u(b)'s, u(a) > u(b), and π(a) > π(b) (u·e^{βu} is
//     increasing).
//   - Monotonicity: raising a's reward for one type raises every P(a ≻ c)
//     and lowers every P(c ≻ a): u(a) rises, each u(c) falls or stays, so
//     π(a) does not fall and no alternative that was below a rises above it.
//   - D-independence: Won[a][b] = 2D(a)D(b)P(a ≻ b), so the win rates, and
//     F^β, do not depend on D (full support).
//   - Condorcet: a Condorcet winner c alone has u(c) > ½ (every other y
//     loses to c: u(y) ≤ P(y ≻ c) < ½), so c is π's unique top for every
//     β; d/dβ log π(c) = u(c) − E_π[u] ≥ 0, so π(c) grows with β, and
//     1 − π(c) ≤ Σ_{y≠c} (u(y)/u(c))e^{−β(u(c)−u(y))} ≤ ((m−1)/u(c))e^{−βg}
//     with g = u(c) − max_{y≠c} u(y): π(c) → 1 as β → ∞.
func TestProportionalAxioms(t *testing.T) {
	var pareto, condorcet int
	for inst := range 10 {
		for _, k := range []int{2, 3, 5} {
			for _, temp := range []float64{0.5, 1, 2} {
				w, _ := randomWorld(t, inst, k, temp, analytic.Anonymous)
				tr := w.Prompts[0]
				m := len(tr.Alternatives)
				for _, beta := range []float64{0, 1, 10} {
					js := fmt.Sprintf(`{"beta": %v}`, beta)
					pol := fitKind(t, "proportional", js, w).Policy[0]
					for a := range m {
						for b := range m {
							dominates := a != b
							for _, r := range tr.Rewards {
								dominates = dominates && r[a] > r[b]
							}
							if dominates {
								pareto++
								if !(pol[a] > pol[b]) {
									t.Fatalf("instance %d, β %v: every type prefers %d to %d, π = %v", inst, beta, a, b, pol)
								}
							}
						}
					}
					// Monotonicity: raise alternative a = inst mod m for type 0 by 1.
					a := inst % m
					raised := slices.Clone(tr.Rewards)
					raised[0] = slices.Clone(raised[0])
					raised[0][a]++
					pol2 := fitKind(t, "proportional", js, worldOf(t, raised, tr.Weights, temp, nil)).Policy[0]
					if pol2[a] < pol[a]-1e-12 {
						t.Fatalf("instance %d, β %v: raising %d lowers π(%d) from %v to %v", inst, beta, a, a, pol[a], pol2[a])
					}
					for c := range m {
						if pol[c] < pol[a] && pol2[c] > pol2[a] {
							t.Fatalf("instance %d, β %v: raising %d puts %d above it: %v → %v", inst, beta, a, c, pol, pol2)
						}
					}
					// D-independence.
					d := make([]float64, m)
					var sd float64
					for y := range d {
						d[y] = float64(1 + (y*7+inst)%5)
						sd += d[y]
					}
					for y := range d {
						d[y] /= sd
					}
					pol3 := fitKind(t, "proportional", js, worldOf(t, tr.Rewards, tr.Weights, temp, d)).Policy[0]
					for y := range pol3 {
						if math.Abs(pol3[y]-pol[y]) > 1e-12 {
							t.Fatalf("instance %d, β %v: D %v changes π from %v to %v", inst, beta, d, pol, pol3)
						}
					}
				}
				// Condorcet winner.
				c := -1
				for y := range m {
					wins := true
					for z := range m {
						wins = wins && (z == y || tr.Pref[y][z] > 0.5)
					}
					if wins {
						c = y
					}
				}
				if c < 0 {
					continue
				}
				condorcet++
				u := ProportionalBounds(tr.Pref) // Pref[a][b] + Pref[b][a] = 1: its own win rates
				g := math.Inf(1)
				for y := range m {
					if y != c {
						g = math.Min(g, u[c]-u[y])
					}
				}
				prev := 0.0
				for _, beta := range []float64{0, 1, 10, 100, 1000} {
					pol := fitKind(t, "proportional", fmt.Sprintf(`{"beta": %v}`, beta), w).Policy[0]
					if slices.Index(pol, slices.Max(pol)) != c {
						t.Fatalf("instance %d, β %v: Condorcet winner %d is not π's top: %v", inst, beta, c, pol)
					}
					if pol[c] < prev-1e-12 {
						t.Fatalf("instance %d: π(c) falls from %v to %v at β %v", inst, prev, pol[c], beta)
					}
					prev = pol[c]
					if bound := float64(m-1) / u[c] * math.Exp(-beta*g); 1-pol[c] > bound+1e-12 {
						t.Fatalf("instance %d, β %v: 1 − π(c) = %v above its bound %v", inst, beta, 1-pol[c], bound)
					}
				}
			}
		}
	}
	if pareto == 0 || condorcet == 0 {
		t.Fatalf("no Pareto-dominated pair (%d) or no Condorcet winner (%d) among the populations: the checks ran on nothing", pareto, condorcet)
	}
	t.Logf("%d Pareto pairs, %d Condorcet winners checked", pareto, condorcet)
}

// Proportionality is not Condorcet consistency's mirror: a Condorcet
// loser can be F*'s top. Three cyclic groups (a>b>c, b>c>a, c>a>b, a
// third each) each split 49:51 between putting L first and putting L
// last. Then P(L ≻ x) = 0.49 < ½ for every x (L loses every duel), while
// each of a, b, c loses its cycle duel 1/3:2/3, so u(a) = u(b) = u(c) =
// 1/3 < u(L) = 0.49 = L's first-choice share: π(L) = 0.49/1.49 is the
// largest mass. Rewards are ranks at τ = 0.02 (σ(50) = 1 − 2e-22: the
// rankings are deterministic to rounding).
func TestProportionalCondorcetLoserOnTop(t *testing.T) {
	cyc := [][]float64{{3, 2, 1}, {1, 3, 2}, {2, 1, 3}} // a, b, c ranks of a>b>c, b>c>a, c>a>b
	var rewards [][]float64
	var weights []float64
	for _, r := range cyc {
		rewards = append(rewards, append(slices.Clone(r), 4), append(slices.Clone(r), 0))
		weights = append(weights, 0.49/3, 0.51/3)
	}
	pol := fitKind(t, "proportional", `{}`, worldOf(t, rewards, weights, 0.02, nil)).Policy[0]
	want := []float64{1. / 3 / 1.49, 1. / 3 / 1.49, 1. / 3 / 1.49, 0.49 / 1.49}
	for y := range want {
		if math.Abs(pol[y]-want[y]) > 1e-9 {
			t.Fatalf("π = %v, want %v", pol, want)
		}
	}
}

// The kind is registered with its schema, accepts the labelled regimes,
// rejects a negative β and needs no GoMLX.
func TestProportionalKind(t *testing.T) {
	k, ok := Lookup("proportional")
	if !ok {
		t.Fatal("proportional is not registered")
	}
	if !k.Accepts(analytic.Anonymous) || !k.Runs("") || k.Runs("sequence") {
		t.Errorf("regimes %v, worlds %v", k.Regimes, k.Worlds())
	}
	p, err := Decode("proportional", []byte(`{"beta": -1}`))
	if err != nil {
		t.Fatal(err)
	}
	p.Defaults(Context{})
	if ps := p.Check(Context{}); len(ps) != 1 || ps[0].Path != "beta" {
		t.Errorf("β = −1 passes: %v", ps)
	}
	if p.SGD() {
		t.Error("proportional claims SGD")
	}
}

// The edge cases of sampled data, as the doc comment states them: a pair
// never compared constrains nothing (y3 is compared only with y1, so u(y3)
// is its one win rate 1/4; y2 and y3 never met), an alternative never
// compared has u = 1, and all-zero bounds (a cycle of unanimous defeats:
// y1 always beats y2, y2 y3, y3 y1) give the uniform policy.
func TestProportionalBoundsSparse(t *testing.T) {
	for _, tc := range []struct {
		won  [][]float64
		u    []float64
		pol0 []float64 // F* (β = 0)
	}{
		{[][]float64{{0, 2, 3, 0}, {2, 0, 0, 0}, {1, 0, 0, 0}, {0, 0, 0, 0}}, []float64{0.5, 0.5, 0.25, 1},
			[]float64{0.5 / 2.25, 0.5 / 2.25, 0.25 / 2.25, 1 / 2.25}},
		{[][]float64{{0, 1, 0}, {0, 0, 1}, {1, 0, 0}}, []float64{0, 0, 0}, []float64{1. / 3, 1. / 3, 1. / 3}},
	} {
		u := ProportionalBounds(tc.won)
		pol := ProportionalPolicy(u, 0)
		for y := range u {
			if math.Abs(u[y]-tc.u[y]) > 1e-15 || math.Abs(pol[y]-tc.pol0[y]) > 1e-15 {
				t.Errorf("won %v: u %v, π %v; want %v, %v", tc.won, u, pol, tc.u, tc.pol0)
				break
			}
		}
	}
	// F^β at a large β does not overflow: e^{β(u − max u)} ≤ 1.
	if pol := ProportionalPolicy([]float64{0.6, 0.3, 0.1}, 1e4); pol[0] != 1 || math.IsNaN(pol[1]) {
		t.Errorf("β = 1e4: π = %v, want a point mass on y1", pol)
	}
}
