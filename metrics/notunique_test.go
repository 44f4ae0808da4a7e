package metrics

import (
	"testing"

	"hetalign/envs/analytic"
)

// A fit with several optima reports "not unique: " and what they share as
// its ranking, not the order of the optimum returned; its top is the
// alternative every optimum ranks first, or the same "not unique" text.
func TestNotUniqueRankingAndTop(t *testing.T) {
	tr := &analytic.Truth{Alternatives: []string{"short", "med", "long"}, Weights: []float64{1},
		Rewards: [][]float64{{0, 1, 0}}, Reference: []float64{1. / 3, 1. / 3, 1. / 3},
		PiStar: []float64{1. / 3, 1. / 3, 1. / 3}, AvgReward: []float64{0, 1, 0}}
	w := analytic.Single(tr)
	pol := []float64{0.2, 0.5, 0.3}
	lr := []float64{-0.3, 0.6, -0.1} // the returned optimum says long > short
	shared := "med > short, med > long; short ? long"
	for _, tc := range []struct {
		name, top, want string
		wantTop         string
	}{
		{"shared top", "med", "not unique: " + shared, "med"},
		{"no shared top", "", "not unique: " + shared, "not unique: " + shared},
	} {
		m := &Trained{Policy: [][]float64{pol}, LogRatio: [][]float64{lr}, NotUnique: []string{shared}, NotUniqueTop: []string{tc.top}}
		v, err := ComputeMethod(w, m, []string{"ranking", "top"})
		if err != nil {
			t.Fatal(err)
		}
		if v["ranking"].Text != tc.want || v["top"].Text != tc.wantTop {
			t.Errorf("%s: ranking %q, top %q; want %q, %q", tc.name, v["ranking"].Text, v["top"].Text, tc.want, tc.wantTop)
		}
	}
	// unique: the returned order
	v, _ := ComputeMethod(w, &Trained{Policy: [][]float64{pol}, LogRatio: [][]float64{lr}}, []string{"ranking"})
	if v["ranking"].Text != "med > long > short" {
		t.Errorf("unique fit ranks %q", v["ranking"].Text)
	}
}
