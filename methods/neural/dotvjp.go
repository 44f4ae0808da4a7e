package neural

import (
	"fmt"
	"reflect"
	"slices"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// GoMLX v0.26's gradient of DotGeneral multiplies the output's adjoint by
// the other operand broadcast over every axis and sums the result: it
// materialises a [batch, lhs-cross, rhs-cross, contracted] tensor for each
// operand. XLA fuses that away; the pure-Go backend executes it literally,
// element by element, and a transformer's matrix products then cost ~20×
// their forward pass in the backward one (measured: BenchmarkDotGrad).
// dotGeneralVJP computes the same adjoints as two DotGenerals,
//
//	∂lhs = DotGeneral(v, rhs) contracting v's rhs-cross axes with rhs's cross axes,
//	∂rhs = DotGeneral(v, lhs) contracting v's lhs-cross axes with lhs's cross axes,
//
// batched over the batch axes, each transposed back to its operand's axis
// order. It is installed in GoMLX's gradient table when this package is
// loaded (the table is GoMLX's own extension point for gradients); the
// original stays in genericDotGeneralVJP for the test that compares them.
var (
	genericDotGeneralVJP = VJPRegistration[NodeTypeDotGeneral]
	genericDotVJP        = VJPRegistration[NodeTypeDot]
)

// The same holds for Dot (matrix products of rank ≤ 2), whose gradient
// GoMLX builds as a broadcast [i, j, k] product: dotVJP uses
// ∂A = v·Bᵀ and ∂B = Aᵀ·v instead. VJPRegistration is documented as
// replaceable ("for experimentation, one can dynamically change this").
func init() {
	VJPRegistration[NodeTypeDotGeneral] = dotGeneralVJP
	VJPRegistration[NodeTypeDot] = dotVJP
}

// dotVJP is the adjoint of Dot(a, b) for a matrix a and a matrix or
// vector b (two vectors keep GoMLX's own, which is cheap).
func dotVJP(node *Node, vjps []*Node, s shapes.Shape) []*Node {
	v := vjps[0]
	a, b := node.Inputs()[0], node.Inputs()[1]
	switch {
	case a.Rank() == 2 && b.Rank() == 2: // [i, j]·[j, k]
		return []*Node{DotGeneral(v, []int{1}, nil, b, []int{1}, nil), DotGeneral(a, []int{0}, nil, v, []int{0}, nil)}
	case a.Rank() == 2 && b.Rank() == 1: // [i, j]·[j]
		return []*Node{DotGeneral(v, nil, nil, b, nil, nil), DotGeneral(a, []int{0}, nil, v, []int{0}, nil)}
	}
	return genericDotVJP(node, vjps, s)
}

// dotAxes reads a DotGeneral node's static parameters, which GoMLX keeps in
// an unexported struct (version pinned in go.mod; a change of layout fails
// loudly here and in the test).
func dotAxes(node *Node) (lc, lb, rc, rb []int) {
	v := reflect.ValueOf(node).Elem().FieldByName("inputs")
	if !v.IsValid() || v.IsNil() {
		panic(fmt.Sprintf("DotGeneral node %s: no inputs field", node))
	}
	v = v.Elem()
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	read := func(name string) []int {
		f := v.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Slice {
			panic(fmt.Sprintf("DotGeneral node %s: no field %s", node, name))
		}
		out := make([]int, f.Len())
		for i := range out {
			out[i] = int(f.Index(i).Int())
		}
		return out
	}
	return read("lhsContractingAxes"), read("lhsBatchAxes"), read("rhsContractingAxes"), read("rhsBatchAxes")
}

// crossAxes are the axes of a rank-r operand that are neither contracted
// nor batch axes, in order.
func crossAxes(rank int, contracting, batch []int) []int {
	used := make([]bool, rank)
	for _, a := range contracting {
		used[a] = true
	}
	for _, a := range batch {
		used[a] = true
	}
	var out []int
	for a := range rank {
		if !used[a] {
			out = append(out, a)
		}
	}
	return out
}

func iota(from, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i
	}
	return out
}

// dotGeneralVJP is the adjoint of y = DotGeneral(lhs, rhs), whose axes are
// [batch…, lhs cross…, rhs cross…].
func dotGeneralVJP(node *Node, vjps []*Node, _ shapes.Shape) []*Node {
	v := vjps[0]
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	lc, lb, rc, rb := dotAxes(node)
	lx := crossAxes(lhs.Rank(), lc, lb)
	rx := crossAxes(rhs.Rank(), rc, rb)
	nb := len(lb)
	// grad maps the product's axes [batch…, this cross…, the other
	// operand's contracted axes in ascending order] back onto the
	// operand's axis order: the other's contracted axis otherC[i] pairs
	// with this operand's thisC[i].
	grad := func(prod *Node, batch, cross, thisC, otherC []int) *Node {
		perm := make([]int, prod.Rank())
		for i, a := range batch {
			perm[a] = i
		}
		for i, a := range cross {
			perm[a] = nb + i
		}
		j := nb + len(cross)
		for a := range slices.Max(append([]int{-1}, otherC...)) + 1 {
			if i := slices.Index(otherC, a); i >= 0 {
				perm[thisC[i]] = j
				j++
			}
		}
		return TransposeAllAxes(prod, perm...)
	}
	dl := DotGeneral(v, iota(nb+len(lx), len(rx)), iota(0, nb), rhs, rx, rb)
	dr := DotGeneral(v, iota(nb, len(lx)), iota(0, nb), lhs, lx, lb)
	return []*Node{grad(dl, lb, lx, lc, rc), grad(dr, rb, rx, rc, lc)}
}
