package envs

import (
	"math"
	"testing"
)

func TestSigmoid(t *testing.T) {
	for _, z := range []float64{-800, -40, -3, -0.5, 0, 0.5, 3, 40, 800} {
		s := Sigmoid(z)
		if s < 0 || s > 1 || math.IsNaN(s) {
			t.Fatalf("σ(%v) = %v outside [0,1]", z, s)
		}
		// σ(−z) = 1 − σ(z).
		if d := Sigmoid(-z) - (1 - s); math.Abs(d) > 1e-15 {
			t.Errorf("σ(−%v) − (1 − σ(%v)) = %g", z, z, d)
		}
		// log σ(z) from its definition where that is representable.
		if math.Abs(z) < 30 {
			if d := LogSigmoid(z) - math.Log(1/(1+math.Exp(-z))); math.Abs(d) > 1e-13 {
				t.Errorf("log σ(%v) off by %g", z, d)
			}
		}
		if math.IsInf(LogSigmoid(z), 0) || math.IsNaN(LogSigmoid(z)) {
			t.Errorf("log σ(%v) = %v, want finite", z, LogSigmoid(z))
		}
	}
	if got := LogSigmoid(-800); got != -800 {
		t.Errorf("log σ(−800) = %v, want −800 (log σ(z) → z)", got)
	}
}

func TestPreferenceTemperature(t *testing.T) {
	// σ_τ(z) = σ(z/τ): doubling τ and z gives the same probability.
	p1, p2 := Preference{Temperature: 1}, Preference{Temperature: 2}
	for _, z := range []float64{-3, 0.1, 2} {
		if p2.Prob(2*z) != p1.Prob(z) {
			t.Errorf("σ_2(2z) ≠ σ_1(z) at z=%v", z)
		}
	}
	for _, bad := range []float64{0, -1, math.Inf(1), math.NaN()} {
		if (Preference{Temperature: bad}).Validate() == nil {
			t.Errorf("temperature %v accepted", bad)
		}
	}
}

func TestNewPopulation(t *testing.T) {
	tests := []struct {
		name    string
		names   []string
		raw     []float64
		want    []float64
		wantErr bool
	}{
		{"equal", []string{"a", "b"}, []float64{1, 1}, []float64{0.5, 0.5}, false},
		{"scaled", []string{"a", "b"}, []float64{9, 1}, []float64{0.9, 0.1}, false},
		{"zero weight", []string{"a", "b"}, []float64{1, 0}, nil, true},
		{"negative", []string{"a"}, []float64{-1}, nil, true},
		{"empty", nil, nil, nil, true},
		{"length mismatch", []string{"a"}, []float64{1, 2}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPopulation(tc.names, tc.raw)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			for i, w := range tc.want {
				if math.Abs(p.Weights[i]-w) > 1e-15 {
					t.Errorf("weight %d = %v, want %v", i, p.Weights[i], w)
				}
			}
		})
	}
}
