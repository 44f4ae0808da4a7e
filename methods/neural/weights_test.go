package neural

import (
	"encoding/json"
	"math"
	"testing"
)

// A model given another's weights (through their JSON form, as a reference
// step passes them) scores every sequence exactly as that model does, and
// weights of another architecture are refused.
func TestWeightsRoundTrip(t *testing.T) {
	be, err := Backend("go")
	if err != nil {
		t.Fatal(err)
	}
	arch := SeqArch{Vocab: 260, Context: 10, Width: 8, Depth: 1, Heads: 2, FF: 2, Head: PolicyHead}
	s := seqsOf(10, [2][]int32{{65, 66}, {67, 68, 69}}, [2][]int32{{70}, {71, 72, 73, 74}}, [2][]int32{{75, 76, 77}, {78}})
	m, err := NewSeqModel(be, arch, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Pretrain(s, Optim{LR: 1e-2, Batch: 2, Steps: 20}, 3); err != nil {
		t.Fatal(err)
	}
	want, err := m.Score(s, 4)
	if err != nil {
		t.Fatal(err)
	}
	w, err := m.Weights()
	if err != nil {
		t.Fatal(err)
	}
	if n := 0; true {
		for _, v := range w.Vars {
			n += len(v.Data)
		}
		if n != arch.Params() {
			t.Errorf("%d weights, the architecture has %d", n, arch.Params())
		}
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	var back Weights
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	m2, err := NewSeqModel(be, arch, 99) // other initial weights, replaced
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.SetWeights(&back); err != nil {
		t.Fatal(err)
	}
	got, err := m2.Score(s, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sequence %d: score %v after loading, %v before", i, got[i], want[i])
		}
	}
	other := arch
	other.Width = 16
	m3, err := NewSeqModel(be, other, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m3.SetWeights(&back); err == nil {
		t.Error("weights of a width-8 model loaded into a width-16 model")
	}
	// The pre-training curve: 10 stretches of 2 steps; the last is the
	// last 10% of the steps, FinalLoss.
	if len(m.Curve) != CurvePoints || m.Curve[CurvePoints-1] != m.FinalLoss {
		t.Errorf("curve %v, final loss %v", m.Curve, m.FinalLoss)
	}
	// Pre-training on three sequences lowers the loss.
	if c := m.Curve; !(c[len(c)-1] < c[0]) {
		t.Errorf("pre-training curve %v does not fall", c)
	}
}

// The loss curve averages the losses of each stretch of steps.
func TestCurve(t *testing.T) {
	for _, tc := range []struct {
		name   string
		losses []float64
		want   []float64
		final  float64
	}{
		{"fewer steps than points", []float64{4, 3, 2}, []float64{4, 3, 2}, 2},
		{"two steps a point", []float64{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35, 37, 39},
			[]float64{2, 6, 10, 14, 18, 22, 26, 30, 34, 38}, 38},
		// 15 steps: stretch i holds steps with ⌊10·step/15⌋ = i; the last
		// 10% is max(1, 1) = the last step.
		{"uneven stretches", []float64{1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8, 9, 9, 10},
			[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCurve(len(tc.losses))
			for i, v := range tc.losses {
				if err := c.add(i, v); err != nil {
					t.Fatal(err)
				}
			}
			pts, final := c.points()
			if len(pts) != len(tc.want) || final != tc.final {
				t.Fatalf("curve %v final %v, want %v final %v", pts, final, tc.want, tc.final)
			}
			for i := range pts {
				if math.Abs(pts[i]-tc.want[i]) > 1e-12 {
					t.Errorf("point %d: %v, want %v", i, pts[i], tc.want[i])
				}
			}
		})
	}
	if err := newCurve(3).add(1, math.NaN()); err == nil {
		t.Error("a NaN loss is not an error")
	}
}
