package pairloss_test

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"hetalign/methods/neural"
	"hetalign/methods/pairloss"
)

// naive are the TRL formulas written out directly (no softplus forms),
// valid for the moderate arguments used here: the reference the package's
// values are checked against.
func naive(name string, beta, eps float64) func(rw, rl float64) float64 {
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	ls := func(x float64) float64 { return math.Log(sig(x)) }
	return func(rw, rl float64) float64 {
		sw, sl := beta*rw, beta*rl
		d := sw - sl
		switch name {
		case "dpo":
			return -ls(d)
		case "hinge":
			return math.Max(0, 1-d)
		case "robust":
			return (-(1-eps)*ls(d) + eps*ls(-d)) / (1 - 2*eps)
		case "cdpo":
			return -(1-eps)*ls(d) - eps*ls(-d)
		case "exo":
			return sig(d)*(ls(d)-math.Log(1-eps)) + sig(-d)*(ls(-d)-math.Log(eps))
		case "nca":
			return -ls(sw) - 0.5*ls(-sw) - 0.5*ls(-sl)
		case "bco":
			return -ls(sw) - ls(-sl)
		case "sppo":
			return (rw-1/(2*beta))*(rw-1/(2*beta)) + (rl+1/(2*beta))*(rl+1/(2*beta))
		case "apo-zero":
			return 1 - sig(sw) + sig(sl)
		case "apo-down":
			return sig(sw) + 1 - sig(d)
		case "discopop":
			m := sig(d / eps)
			return (1-m)*(-ls(d)) + m*math.Exp(-d)
		case "soft-copeland": // τ = eps, k = 10, λ = 0.01
			return -math.Tanh(10*(sig(d/eps)-0.5)) + 0.01/2*d*d
		case "soft-kemeny": // τ = eps
			return 1 / (1 + math.Exp(d/eps))
		}
		panic(name)
	}
}

type named struct {
	name      string
	beta, eps float64
	loss      pairloss.Loss
}

func all() []named {
	var out []named
	for _, beta := range []float64{0.5, 2} {
		out = append(out,
			named{"dpo", beta, 0, pairloss.DPO(beta)},
			named{"hinge", beta, 0, pairloss.Hinge(beta)},
			named{"robust", beta, 0.2, pairloss.Robust(beta, 0.2)},
			named{"cdpo", beta, 0.1, pairloss.CDPO(beta, 0.1)},
			named{"exo", beta, 1e-3, pairloss.EXO(beta, 1e-3)},
			named{"exo", beta, 0.3, pairloss.EXO(beta, 0.3)},
			named{"nca", beta, 0, pairloss.NCA(beta)},
			named{"bco", beta, 0, pairloss.BCO(beta)},
			named{"sppo", beta, 0, pairloss.SPPO(beta)},
			named{"apo-zero", beta, 0, pairloss.APOZero(beta)},
			named{"apo-down", beta, 0, pairloss.APODown(beta)},
			named{"discopop", beta, 0.05, pairloss.DiscoPOP(beta, 0.05)},
			named{"discopop", beta, 0.5, pairloss.DiscoPOP(beta, 0.5)},
			named{"soft-copeland", beta, 0.5, pairloss.SoftCopeland(beta, 0.5, 10, 0.01)},
			named{"soft-copeland", beta, 2, pairloss.SoftCopeland(beta, 2, 10, 0.01)},
			named{"soft-kemeny", beta, 0.5, pairloss.SoftKemeny(beta, 0.5)},
			named{"soft-kemeny", beta, 2, pairloss.SoftKemeny(beta, 2)},
		)
	}
	return out
}

var grid = []float64{-3.1, -1.2, -0.4, 0.05, 0.37, 1.3, 2.9}

func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestValuesMatchFormulas(t *testing.T) {
	for _, tc := range all() {
		f := naive(tc.name, tc.beta, tc.eps)
		for _, rw := range grid {
			for _, rl := range grid {
				v, _, _ := tc.loss.Eval(rw, rl)
				if want := f(rw, rl); !near(v, want, 1e-12) {
					t.Errorf("%s(β=%v, %v): ℓ(%v, %v) = %v, formula %v", tc.name, tc.beta, tc.eps, rw, rl, v, want)
				}
			}
		}
	}
}

// Eval's derivatives against central finite differences of Eval's value.
func TestDerivativesFiniteDifferences(t *testing.T) {
	for _, tc := range all() {
		if !tc.loss.Smooth() {
			continue
		}
		l := tc.loss
		val := func(rw, rl float64) float64 { v, _, _ := l.Eval(rw, rl); return v }
		for _, rw := range grid {
			for _, rl := range grid {
				_, d, h := l.Eval(rw, rl)
				const e1 = 1e-6
				fd := [2]float64{(val(rw+e1, rl) - val(rw-e1, rl)) / (2 * e1), (val(rw, rl+e1) - val(rw, rl-e1)) / (2 * e1)}
				f0 := val(rw, rl)
				second := func(e float64) [3]float64 {
					return [3]float64{
						(val(rw+e, rl) - 2*f0 + val(rw-e, rl)) / (e * e),
						(val(rw+e, rl+e) - val(rw+e, rl-e) - val(rw-e, rl+e) + val(rw-e, rl-e)) / (4 * e * e),
						(val(rw, rl+e) - 2*f0 + val(rw, rl-e)) / (e * e),
					}
				}
				// Richardson extrapolation of the second differences
				// (steps 2e-4 and 1e-4) cancels their O(e²) error.
				coarse, fine := second(2e-4), second(1e-4)
				var fh [3]float64
				for i := range fh {
					fh[i] = (4*fine[i] - coarse[i]) / 3
				}
				scale := math.Max(1, math.Abs(f0))
				for i := range d {
					if math.Abs(d[i]-fd[i]) > 1e-6*math.Max(scale, math.Abs(d[i])) {
						t.Errorf("%s(β=%v, %v) at (%v, %v): d[%d] = %v, finite difference %v", tc.name, tc.beta, tc.eps, rw, rl, i, d[i], fd[i])
					}
				}
				for i := range h {
					if math.Abs(h[i]-fh[i]) > 1e-6*math.Max(scale, math.Abs(h[i])) {
						t.Errorf("%s(β=%v, %v) at (%v, %v): h[%d] = %v, finite difference %v", tc.name, tc.beta, tc.eps, rw, rl, i, h[i], fh[i])
					}
				}
				if tc.loss.DeltaOnly() && (d[0]+d[1] != 0 || h[0] != h[2] || h[0] != -h[1]) {
					t.Errorf("%s: DeltaOnly but d = %v, h = %v", tc.name, d, h)
				}
			}
		}
	}
}

// The hinge's subgradient: −β, β below the margin, 0 above.
func TestHingeSubgradient(t *testing.T) {
	l := pairloss.Hinge(2)
	if _, ok := l.(pairloss.Hinged); !ok || l.Smooth() || !l.Convex() || !l.DeltaOnly() {
		t.Fatalf("hinge flags wrong")
	}
	if v, d, h := l.Eval(0.1, 0); v != 0.8 || d != [2]float64{-2, 2} || h != [3]float64{} {
		t.Errorf("hinge at Δ = 0.2: %v %v %v", v, d, h)
	}
	if v, d, _ := l.Eval(1, 0); v != 0 || d != [2]float64{} {
		t.Errorf("hinge at Δ = 2: %v %v", v, d)
	}
}

// Stability: no NaN or Inf for extreme log-ratios (where the naive formulas
// overflow).
func TestExtremeArguments(t *testing.T) {
	for _, tc := range all() {
		for _, rw := range []float64{-400, -40, 0, 40, 400} {
			for _, rl := range []float64{-400, -40, 0, 40, 400} {
				v, d, h := tc.loss.Eval(rw, rl)
				for _, x := range []float64{v, d[0], d[1], h[0], h[1], h[2]} {
					if math.IsNaN(x) || math.IsInf(x, 0) {
						t.Errorf("%s(β=%v, %v) at (%v, %v): %v %v %v", tc.name, tc.beta, tc.eps, rw, rl, v, d, h)
					}
				}
			}
		}
	}
}

func TestFlags(t *testing.T) {
	want := map[string][3]bool{ // DeltaOnly, Convex, Smooth
		"dpo": {true, true, true}, "hinge": {true, true, false}, "robust": {true, true, true},
		"cdpo": {true, true, true}, "exo": {true, false, true}, "discopop": {true, false, true},
		"nca": {false, true, true}, "bco": {false, true, true}, "sppo": {false, true, true},
		"apo-zero": {false, false, true}, "apo-down": {false, false, true},
		"soft-copeland": {true, false, true}, "soft-kemeny": {true, false, true},
	}
	for _, tc := range all() {
		got := [3]bool{tc.loss.DeltaOnly(), tc.loss.Convex(), tc.loss.Smooth()}
		if got != want[tc.name] {
			t.Errorf("%s: flags %v, want %v", tc.name, got, want[tc.name])
		}
	}
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		name        string
		beta, param float64
		ok          bool
	}{
		{"dpo", 0.1, 0, true}, {"dpo", 0, 0, false}, {"dpo", math.NaN(), 0, false},
		{"robust", 1, 0.49, true}, {"robust", 1, 0.5, false}, {"robust", 1, -0.1, false},
		{"cdpo", 1, 0.5, true}, {"cdpo", 1, 0.6, false}, {"sigmoid", 1, 0.1, true},
		{"exo", 1, 1e-3, true}, {"exo", 1, 0, false}, {"exo_pair", 1, 1, false},
		{"discopop", 1, 0.05, true}, {"discopop", 1, 0, false},
		{"sppo_hard", 1, 0, true}, {"apo_zero", -1, 0, false}, {"nope", 1, 0, false},
	} {
		err := pairloss.Check(tc.name, tc.beta, tc.param)
		if (err == nil) != tc.ok {
			t.Errorf("Check(%q, %v, %v) = %v, want ok %v", tc.name, tc.beta, tc.param, err, tc.ok)
		}
	}
	if err := pairloss.Validate(pairloss.Robust(1, 0.7)); err == nil {
		t.Errorf("Validate accepted robust with ε = 0.7")
	}
	for _, n := range pairloss.Names() {
		if _, err := pairloss.New(n, 1, 0.1); err != nil {
			t.Errorf("New(%q): %v", n, err)
		}
	}
}

// Graph evaluates the same function as Eval on the pure-Go backend: to
// 1e-9 in float64, to float32 precision in float32.
func TestGraphMatchesEval(t *testing.T) {
	be, err := neural.Backend("go")
	if err != nil {
		t.Fatal(err)
	}
	var rw, rl []float64
	for _, a := range grid {
		for _, b := range grid {
			rw, rl = append(rw, a), append(rl, b)
		}
	}
	losses := all()
	exec := MustNewExec(be, func(a, b *Node) []*Node {
		out := make([]*Node, 0, 2*len(losses))
		a32, b32 := ConvertDType(a, dtypes.Float32), ConvertDType(b, dtypes.Float32)
		for _, tc := range losses {
			out = append(out, tc.loss.Graph(a, b), tc.loss.Graph(a32, b32))
		}
		return out
	})
	res := exec.MustExec(tensors.FromFlatDataAndDimensions(rw, len(rw)), tensors.FromFlatDataAndDimensions(rl, len(rl)))
	for k, tc := range losses {
		g64 := tensors.MustCopyFlatData[float64](res[2*k])
		g32 := tensors.MustCopyFlatData[float32](res[2*k+1])
		for i := range rw {
			v, _, _ := tc.loss.Eval(rw[i], rl[i])
			if math.Abs(g64[i]-v) > 1e-9*math.Max(1, math.Abs(v)) {
				t.Errorf("%s(β=%v, %v) at (%v, %v): graph %v, Eval %v", tc.name, tc.beta, tc.eps, rw[i], rl[i], g64[i], v)
			}
			if math.Abs(float64(g32[i])-v) > 1e-5*math.Max(1, math.Abs(v)) {
				t.Errorf("%s(β=%v, %v) at (%v, %v): float32 graph %v, Eval %v", tc.name, tc.beta, tc.eps, rw[i], rl[i], g32[i], v)
			}
		}
	}
}
