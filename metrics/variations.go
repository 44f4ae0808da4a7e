package metrics

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"hetalign/envs/analytic"
)

// Variations of a population, planned as steps.
//
// The axioms that vary the population read the method's fit on truths
// derived from the evaluated one. The derivations every evaluation tries
// — each alternative removed (IIA), each alternative cloned (clones,
// clone_mass), each type's reward of each alternative raised
// (monotonicity), each split of the types into two groups
// (reinforcement) — are fixed by the population's size, so the planner
// makes them steps: a variations step derives a family's truths from the
// truth step (shared by every method and seed of the cell), a refit step
// fits one method on all of them (cached like a train step), and the
// eval step reads those fits (Prefits) instead of computing them. The
// searches whose populations depend on earlier answers — D-independence's
// bisection along a segment of sampling distributions, and the witness
// shrinking after a violation — still refit inside the eval step.

// Variation is a family of populations derived from an evaluated one.
type Variation struct {
	// Name identifies the family in step parameters ("clone").
	Name string
	// Doc says what is derived.
	Doc string
	// Derive lists the family's populations derived from t, in a fixed
	// order; empty when the family does not apply to t.
	Derive func(t *analytic.Truth) []*analytic.Truth
}

var variations []Variation

// RegisterVariation adds a family of derived populations (at init).
func RegisterVariation(v Variation) {
	if _, ok := LookupVariation(v.Name); ok {
		panic("metrics.RegisterVariation: duplicate variation " + v.Name)
	}
	variations = append(variations, v)
}

// LookupVariation finds a registered family by name.
func LookupVariation(name string) (Variation, bool) {
	for _, v := range variations {
		if v.Name == name {
			return v, true
		}
	}
	return Variation{}, false
}

// VariationsFor lists, in registration order, the families whose fits the
// axiom metrics among names read (Axiom.Variations).
func VariationsFor(names []string) []string {
	need := map[string]bool{}
	for _, n := range names {
		if a, ok := axiomOf(n); ok {
			for _, v := range a.Variations {
				need[v] = true
			}
		}
	}
	var out []string
	for _, v := range variations {
		if need[v.Name] {
			out = append(out, v.Name)
		}
	}
	return out
}

// VariationKey identifies a derived population by everything an exact fit
// reads (its alternatives, weights, rewards, D, π_ref, β and τ): the
// SHA-256 of their printed values. Equal keys are equal fitting problems.
func VariationKey(t *analytic.Truth) string {
	h := sha256.Sum256([]byte(truthKey(t)))
	return hex.EncodeToString(h[:16])
}

// Derived is a variations step's output: the family's populations, each a
// one-prompt World, in the family's order.
type Derived struct {
	Variation string            `json:"variation"`
	Worlds    []*analytic.World `json:"worlds"`
}

// DeriveVariation derives family name's populations from a one-prompt
// world (none for worlds of more prompts or of real comparisons, which
// the axioms do not vary).
func DeriveVariation(name string, w *analytic.World) (*Derived, error) {
	v, ok := LookupVariation(name)
	if !ok {
		return nil, fmt.Errorf("variation %q is not registered", name)
	}
	out := &Derived{Variation: name, Worlds: []*analytic.World{}}
	if len(w.Prompts) != 1 || w.Observed != nil {
		return out, nil
	}
	for _, t := range v.Derive(w.Prompts[0]) {
		out.Worlds = append(out.Worlds, analytic.Single(t))
	}
	return out, nil
}

// Prefit is a method's exact fit on one derived population, as a refit
// step computes it: the population's VariationKey, and the fit or the
// fit's error (a loss with no finite minimiser there), which the axiom
// reads as "does not apply" (RefitError).
type Prefit struct {
	Key     string   `json:"key"`
	Trained *Trained `json:"trained,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// WithPrefits answers a Refit from fits computed beforehand (refit steps'
// outputs, each a JSON list of Prefit) and falls back to refit for any
// population they do not hold. Its errors for a prefitted failure are the
// recorded message.
func WithPrefits(refit Refit, outputs [][]byte) (Refit, error) {
	known := map[string]Prefit{}
	for i, b := range outputs {
		var ps []Prefit
		if err := json.Unmarshal(b, &ps); err != nil {
			return nil, fmt.Errorf("reading refit input %d: %w", i+1, err)
		}
		for _, p := range ps {
			known[p.Key] = p
		}
	}
	if len(known) == 0 {
		return refit, nil
	}
	return func(key string, w *analytic.World) (*Trained, error) {
		h := sha256.Sum256([]byte(key))
		if p, ok := known[hex.EncodeToString(h[:16])]; ok {
			if p.Error != "" {
				return nil, errors.New(p.Error)
			}
			return p.Trained, nil
		}
		if refit == nil {
			return nil, fmt.Errorf("no fit of this population")
		}
		return refit(key, w)
	}, nil
}

// The families the axiom checks try on every population.
func init() {
	RegisterVariation(Variation{
		Name: "remove",
		Doc:  "each alternative removed in turn (D and π_ref renormalised on the rest); none below 3 alternatives",
		Derive: func(t *analytic.Truth) []*analytic.Truth {
			if len(t.Alternatives) < 3 {
				return nil
			}
			var out []*analytic.Truth
			for y := range t.Alternatives {
				out = append(out, WithoutAlternative(t, y))
			}
			return out
		},
	})
	RegisterVariation(Variation{
		Name: "clone",
		Doc:  "each alternative given an exact copy in turn (WithClone)",
		Derive: func(t *analytic.Truth) []*analytic.Truth {
			var out []*analytic.Truth
			for y := range t.Alternatives {
				out = append(out, WithClone(t, y))
			}
			return out
		},
	})
	RegisterVariation(Variation{
		Name: "raise",
		Doc:  "each type's reward of each alternative raised by MonotonicityRaise in turn",
		Derive: func(t *analytic.Truth) []*analytic.Truth {
			var out []*analytic.Truth
			for y := range t.Alternatives {
				for u := range t.Types {
					out = append(out, WithReward(t, u, y, MonotonicityRaise))
				}
			}
			return out
		},
	})
	RegisterVariation(Variation{
		Name: "split",
		Doc:  "both groups of each split of the types in two (type 0 in the first group), for 2 to 12 types",
		Derive: func(t *analytic.Truth) []*analytic.Truth {
			var out []*analytic.Truth
			for _, s := range splits(len(t.Types)) {
				out = append(out, SubPopulation(t, s[0]), SubPopulation(t, s[1]))
			}
			return out
		},
	})
}

// maxSplitTypes bounds the reinforcement check: 2^(T−1) − 1 splits.
const maxSplitTypes = 12

// splits lists the splits S ∪ S̄ of T types with type 0 in S and S̄ non-
// empty, in the order of S's bit mask (none outside 2..maxSplitTypes).
func splits(T int) [][2][]int {
	if T < 2 || T > maxSplitTypes {
		return nil
	}
	var out [][2][]int
	for mask := 1; mask < 1<<T-1; mask += 2 {
		var s, sc []int
		for u := range T {
			if mask&(1<<u) != 0 {
				s = append(s, u)
			} else {
				sc = append(sc, u)
			}
		}
		out = append(out, [2][]int{s, sc})
	}
	return out
}
