// Package games solves the preference games behind game-theoretic
// alignment: the regularised Nash equilibrium of Nash learning from human
// feedback (Munos et al. 2023) and its τ → 0 limit, the maximal lottery
// (Fishburn 1984; Swamy et al. 2024's minimax winner), on finite
// alternatives, from a pairwise preference matrix P[a][b] = Pr(a ≻ b).
package games

import (
	"fmt"
	"math"
)

// WinRates estimates P[a][b] = Pr(a ≻ b) from the shares of labels that
// prefer a over b (won[a][b]): won[a][b]/(won[a][b] + won[b][a]), ½ for a
// pair never compared and on the diagonal.
func WinRates(won [][]float64) [][]float64 {
	n := len(won)
	p := make([][]float64, n)
	for a := range p {
		p[a] = make([]float64, n)
		for b := range p[a] {
			p[a][b] = 0.5
			if t := won[a][b] + won[b][a]; a != b && t > 0 {
				p[a][b] = won[a][b] / t
			}
		}
	}
	return p
}

// beats is P(y ≻ π) = Σ_b π(b) P[y][b] for every y.
func beats(P [][]float64, pi []float64) []float64 {
	out := make([]float64, len(P))
	for y := range P {
		for b, q := range pi {
			out[y] += q * P[y][b]
		}
	}
	return out
}

// gibbs is ref·exp(v/τ) normalised, computed from the largest exponent.
func gibbs(ref, v []float64, tau float64) []float64 {
	m := math.Inf(-1)
	for y := range v {
		if ref[y] > 0 {
			m = math.Max(m, v[y]/tau)
		}
	}
	out := make([]float64, len(v))
	var z float64
	for y := range v {
		if ref[y] > 0 {
			out[y] = ref[y] * math.Exp(v[y]/tau-m)
			z += out[y]
		}
	}
	for y := range out {
		out[y] /= z
	}
	return out
}

// kl is KL(p‖q).
func kl(p, q []float64) float64 {
	var s float64
	for y := range p {
		if p[y] > 0 {
			s += p[y] * math.Log(p[y]/q[y])
		}
	}
	return s
}

// Gap is the duality gap of π in the regularised preference game
// f(π, π′) = P(π ≻ π′) − τ·KL(π‖π_ref) + τ·KL(π′‖π_ref):
//
//	max_{π′} f(π′, π) − min_{π″} f(π, π″)
//	  = τ log Σ_y ref(y) e^{P(y≻π)/τ} + τ log Σ_y ref(y) e^{−P(π≻y)/τ} + 2τ·KL(π‖ref),
//
// ≥ 0, and 0 exactly at the game's (unique) Nash equilibrium. P(π ≻ y) =
// 1 − P(y ≻ π) since P[a][b] + P[b][a] = 1.
func Gap(P [][]float64, ref, pi []float64, tau float64) float64 {
	bv := beats(P, pi)
	lse := func(sign float64) float64 {
		m := math.Inf(-1)
		for y := range bv {
			if ref[y] > 0 {
				m = math.Max(m, sign*bv[y]/tau)
			}
		}
		var s float64
		for y := range bv {
			if ref[y] > 0 {
				s += ref[y] * math.Exp(sign*bv[y]/tau-m)
			}
		}
		return tau * (m + math.Log(s))
	}
	// −P(π ≻ y)/τ = (P(y ≻ π) − 1)/τ.
	return lse(1) + lse(1) - 1 + 2*tau*kl(pi, ref)
}

// Nash finds the regularised Nash equilibrium π = argmax_π min_π′ f(π, π′)
// by Nash mirror descent (Munos et al. 2023, Nash-MD): from π_ref,
//
//	π_{t+1} ∝ π_t^{1−ητ} · π_ref^{ητ} · exp(η·P(· ≻ π_t)),
//
// until the duality gap is below tol (or maxIter steps). At the
// equilibrium π ∝ π_ref·exp(P(· ≻ π)/τ).
func Nash(P [][]float64, ref []float64, tau, eta, tol float64, maxIter int) (pi []float64, gap float64, err error) {
	if !(tau > 0) || !(eta > 0) || eta*tau > 1 {
		return nil, 0, fmt.Errorf("Nash-MD needs τ > 0 and 0 < η ≤ 1/τ, got τ = %v, η = %v", tau, eta)
	}
	pi = append([]float64(nil), ref...)
	n := len(pi)
	logv := make([]float64, n)
	for it := 0; it < maxIter; it++ {
		gap = Gap(P, ref, pi, tau)
		if gap < tol {
			return pi, gap, nil
		}
		bv := beats(P, pi)
		m := math.Inf(-1)
		for y := range pi {
			logv[y] = math.Inf(-1)
			if ref[y] > 0 {
				logv[y] = (1-eta*tau)*math.Log(pi[y]) + eta*tau*math.Log(ref[y]) + eta*bv[y]
				m = math.Max(m, logv[y])
			}
		}
		var z float64
		for y := range pi {
			pi[y] = 0
			if ref[y] > 0 {
				pi[y] = math.Exp(logv[y] - m)
				z += pi[y]
			}
		}
		for y := range pi {
			pi[y] /= z
		}
	}
	return pi, Gap(P, ref, pi, tau), fmt.Errorf("Nash-MD: the duality gap is %.3g after %d steps (want < %.3g)", gap, maxIter, tol)
}
