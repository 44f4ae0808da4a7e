package metrics

import (
	"encoding/json"
	"math"
	"testing"
)

func TestTVAndKL(t *testing.T) {
	p := []float64{0.5, 0.5, 0}
	q := []float64{0.25, 0.25, 0.5}
	if got := TV(p, q); math.Abs(got-0.5) > 1e-15 {
		t.Errorf("TV = %v, want 0.5", got)
	}
	// KL(p‖q) = 2 · ½ log(½ / ¼) = log 2; the zero entry of p adds nothing.
	if got := KL(p, q); math.Abs(got-math.Log(2)) > 1e-15 {
		t.Errorf("KL = %v, want log 2", got)
	}
	if KL(q, q) != 0 || TV(q, q) != 0 {
		t.Error("distance of a distribution to itself is not 0")
	}
}

func TestAgreement(t *testing.T) {
	avg := []float64{3, 2, 1, 1}
	tests := []struct {
		name  string
		theta []float64
		want  float64
	}{
		// Five pairs have r̄(a) ≠ r̄(b) (the pair of 1s is skipped).
		{"same order", []float64{9, 5, 0, 7}, 4.0 / 5}, // (0,3) agrees, (1,3) does not
		{"identical", []float64{3, 2, 1, 1}, 1},
		{"reversed", []float64{1, 2, 3, 3}, 0},
		{"all tied", []float64{0, 0, 0, 0}, 0},
	}
	for _, tc := range tests {
		if got := Agreement(tc.theta, avg); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("%s: agreement = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := Agreement([]float64{1, 2}, []float64{5, 5}); got != 1 {
		t.Errorf("no comparable pair: %v, want 1", got)
	}
}

func TestTopAndRanking(t *testing.T) {
	names := []string{"short", "med", "long"}
	tests := []struct {
		v            []float64
		top, ranking string
	}{
		{[]float64{0.4, 0.2, 0.4}, "short = long", "short = long > med"},
		{[]float64{0.1, 0.7, 0.2}, "med", "med > long > short"},
	}
	for _, tc := range tests {
		if got := Top(names, tc.v); got != tc.top {
			t.Errorf("Top(%v) = %q, want %q", tc.v, got, tc.top)
		}
		if got := RankingString(names, tc.v); got != tc.ranking {
			t.Errorf("RankingString(%v) = %q, want %q", tc.v, got, tc.ranking)
		}
	}
}

func TestValueJSONRoundTrip(t *testing.T) {
	for _, v := range []Value{Num(0.25), Num(0), Str("y1 > y2"), Vec([]float64{1, 2.5}), NA()} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var back Value
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) || back.Shape != v.Shape || back.None != v.None {
			t.Errorf("%s round-tripped to %s", b, b2)
		}
	}
	if _, err := json.Marshal(Num(math.NaN())); err == nil {
		t.Error("NaN marshalled")
	}
}

func TestRegistry(t *testing.T) {
	for _, m := range All() {
		if _, ok := Lookup(m.Name); !ok || m.Doc == "" {
			t.Errorf("metric %s: lookup or doc missing", m.Name)
		}
	}
}

// The adjusted Rand index on hand-counted cases.
func TestARI(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []int
		want float64
	}{
		{"identical", []int{0, 0, 1, 1, 2}, []int{0, 0, 1, 1, 2}, 1},
		{"renamed", []int{0, 0, 1, 1, 2}, []int{2, 2, 0, 0, 1}, 1},
		// n_ij all 1: Σ C(n_ij,2) = 0, Σ C(a_i,2) = Σ C(b_j,2) = 2,
		// expected 2·2/C(4,2) = 2/3: (0 − 2/3)/(2 − 2/3) = −½.
		{"crossed", []int{0, 0, 1, 1}, []int{0, 1, 0, 1}, -0.5},
	} {
		if got := ARI(tc.a, tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: ARI %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The weighted ARI of an exact population: 1 for one partition up to
// renaming; 0 for independent labelings (p_ij = a_i b_j); and the limit of
// the ordinary ARI of the population replicated r times (items replicated
// by integer masses), which it approaches as r grows, with the gap O(1/r).
func TestWeightedARI(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []int
		m    []float64
		want float64
	}{
		{"identical", []int{0, 1, 2}, []int{2, 0, 1}, []float64{0.2, 0.3, 0.5}, 1},
		// Four cells with masses a_i·b_j, a = (0.3, 0.7), b = (0.6, 0.4).
		{"independent", []int{0, 0, 1, 1}, []int{0, 1, 0, 1}, []float64{0.18, 0.12, 0.42, 0.28}, 0},
	} {
		if got := WeightedARI(tc.a, tc.b, tc.m); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	a, b, m := []int{0, 0, 1, 1, 2}, []int{0, 1, 1, 1, 0}, []float64{1, 2, 3, 1, 2}
	w := WeightedARI(a, b, m)
	var prev float64
	for i, r := range []int{10, 100, 1000} {
		var ra, rb []int
		for k := range a {
			for range r * int(m[k]) {
				ra, rb = append(ra, a[k]), append(rb, b[k])
			}
		}
		gap := math.Abs(ARI(ra, rb) - w)
		if gap > 5/float64(r) || (i > 0 && gap >= prev) {
			t.Errorf("replicated %d times: ARI %v, weighted %v", r, ARI(ra, rb), w)
		}
		prev = gap
	}
}
