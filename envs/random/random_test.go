package random

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"hetalign/envs"
)

// Mallows' model by repeated insertion: with φ = 1 every ranking of three
// items is equally likely; with φ = 0.3 the identity has probability 1/Z,
// Z = Π_{i<n} Σ_{j≤i} φ^j (the model's normaliser).
func TestMallows(t *testing.T) {
	const draws = 120_000
	for _, phi := range []float64{1, 0.3} {
		rng := rand.New(rand.NewPCG(1, 2))
		count := map[[3]int]int{}
		for range draws {
			r := mallows(rng, 3, phi)
			count[[3]int{r[0], r[1], r[2]}]++
		}
		if len(count) != 6 {
			t.Fatalf("φ = %v: %d distinct rankings of 3", phi, len(count))
		}
		z := 1.0
		for i := range 3 {
			var s float64
			for j := 0; j <= i; j++ {
				s += math.Pow(phi, float64(j))
			}
			z *= s
		}
		got := float64(count[[3]int{0, 1, 2}]) / draws
		want := 1 / z
		if se := math.Sqrt(want * (1 - want) / draws); math.Abs(got-want) > 5*se {
			t.Errorf("φ = %v: identity drawn %.4f of the time, want %.4f", phi, got, want)
		}
	}
}

// Gamma(a, 1) has mean a and variance a.
func TestGamma(t *testing.T) {
	for _, a := range []float64{0.5, 1, 3} {
		rng := rand.New(rand.NewPCG(3, 4))
		const n = 200_000
		var s, s2 float64
		for range n {
			x := gamma(rng, a)
			s += x
			s2 += x * x
		}
		m := s / n
		v := s2/n - m*m
		if math.Abs(m-a) > 5*math.Sqrt(a/n) || math.Abs(v-a)/a > 0.05 {
			t.Errorf("Gamma(%v): mean %v, variance %v", a, m, v)
		}
	}
}

// An instance's population is a function of the instance alone.
func TestInstances(t *testing.T) {
	s := envs.Setting{Types: []envs.Type{{Name: "A", Weight: 1}, {Name: "B", Weight: 1}, {Name: "C", Weight: 1}}, Model: "bt", Temperature: 1}
	draw := func(law, weights string, instance int) string {
		c := &Config{Kind: "random", N: 5, Instance: instance, Rewards: &RewardConfig{Law: law}, Weights: weights}
		c.Defaults(s)
		tp, err := c.Truth(s)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(tp)
		return string(b)
	}
	for _, law := range []string{"normal", "uniform", "mallows"} {
		for _, wl := range []string{"equal", "dirichlet"} {
			if draw(law, wl, 3) != draw(law, wl, 3) {
				t.Errorf("%s/%s: instance 3 drawn twice differs", law, wl)
			}
			if draw(law, wl, 3) == draw(law, wl, 4) {
				t.Errorf("%s/%s: instances 3 and 4 are the same population", law, wl)
			}
		}
	}
}
