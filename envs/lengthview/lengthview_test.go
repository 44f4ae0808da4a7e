package lengthview

import (
	"math"
	"strings"
	"testing"

	"hetalign/envs/sequence"
)

// LengthDistribution is the distribution of x = prompt + response tokens
// that the sequence env's cut draws: compared with the lengths of a large
// cut, every length within 5 standard errors.
func TestLengthDistribution(t *testing.T) {
	const L, pMin, pMax = 24, 2, 6
	d := LengthDistribution(L, pMin, pMax)
	var sum float64
	for _, v := range d {
		sum += v
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Fatalf("D sums to %v", sum)
	}
	rise := sequence.LengthReward{Shape: "rising"}.Defaults()
	w, err := sequence.New(sequence.Config{Text: []byte(strings.Repeat("Of the refractions of light. ", 200)), L: L,
		Prompts: 40_000, Test: 0.25, PromptMin: pMin, PromptMax: pMax, Seed: 5, Names: []string{"long"},
		Weights: []float64{1}, Rewards: []sequence.LengthReward{rise}, Grid: 5})
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]float64, L+1)
	n := 0.0
	for i := range w.Items {
		for k := range 2 {
			counts[w.X(int32(i), k)]++
			n++
		}
	}
	for x := pMin + 1; x <= L; x++ {
		p := d[x-pMin-1]
		se := math.Sqrt(p * (1 - p) / n)
		if f := counts[x] / n; math.Abs(f-p) > 5*se+1e-12 {
			t.Errorf("x = %d: cut frequency %.5f, D(x) = %.5f (5 SE = %.5f)", x, f, p, 5*se)
		}
	}
}
