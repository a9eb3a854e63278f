package autograd

import (
	"strconv"
	"strings"

	"github.com/deepframe/deepframe/tensor"
)

// dims prints a requested shape, which may hold -1, as (2, -1); Shape.String would print the
// -1 as None, which reads as a batch axis.
func dims(d []int) string {
	parts := make([]string, len(d))
	for i, v := range d {
		parts[i] = strconv.Itoa(v)
	}
	if len(d) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Reshape gives x a new shape with the same elements; one dimension may be -1 and is
// inferred. The result is a view: it shares x's buffer.
func Reshape(x *Variable, shape ...int) *Variable {
	return reshape("Reshape", x, shape)
}

func reshape(name string, x *Variable, shape []int) *Variable {
	if err := check(name, x); err != nil {
		return Failed(err)
	}
	xs := x.value.Shape()
	ar := x.arena
	out, err := ar.reshape(x.value, shape...)
	if err != nil {
		return opErrorf(name, "cannot reshape %v (%d elements) into %s", xs, xs.Size(), dims(shape))
	}
	v, nd := ar.record(out, reshapeGrad, x)
	if nd != nil {
		nd.vals[0] = x.value
	}
	return v
}

// reshapeGrad views g in the shape of x (vals[0]).
func reshapeGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	out[0], _ = ar.reshape(g, nd.vals[0].Shape()...)
}

// Flatten keeps axis 0 (the batch) and flattens the rest: [N, a, b, ...] becomes
// [N, a*b*...]; a rank-1 x becomes [N, 1], as Keras's Flatten does.
func Flatten(x *Variable) *Variable {
	if err := check("Flatten", x); err != nil {
		return Failed(err)
	}
	xs := x.value.Shape()
	if len(xs) == 0 {
		return opErrorf("Flatten", "cannot flatten a scalar (shape ()): want rank >= 1")
	}
	shape := [2]int{xs[0], xs[1:].Size()}
	return reshape("Flatten", x, shape[:])
}

// Transpose permutes the axes of x: the result's axis i is x's axis perm[i]. With no perm it
// reverses the axes, as NumPy does.
func Transpose(x *Variable, perm ...int) *Variable {
	if err := check("Transpose", x); err != nil {
		return Failed(err)
	}
	xv := x.value
	xs := xv.Shape()
	r := len(xs)
	ar := x.arena
	if len(perm) == 0 {
		perm = ar.intBuf(r)
		for i := range perm {
			perm[i] = r - 1 - i
		}
	}
	if len(perm) != r {
		return opErrorf("Transpose", "permutation %v has %d axes for shape %v of rank %d", perm, len(perm), xs, r)
	}
	p := ar.intBuf(r)
	seen := ar.intBuf(r)
	for i, a := range perm {
		n, err := tensor.Axis(a, r)
		if err != nil || seen[n] != 0 {
			return opErrorf("Transpose", "%v is not a permutation of the axes of shape %v", perm, xs)
		}
		seen[n] = 1
		p[i] = n
	}
	ys := ar.intBuf(r)
	inv := ar.intBuf(r)
	for i, a := range p {
		ys[i] = xs[a]
		inv[a] = i
	}
	y := ar.zeros(ys...)
	Kernels().Transpose(xv.Float32s(), xs, p, y.Float32s())
	v, nd := ar.record(y, transposeGrad, x)
	if nd != nil {
		nd.vals[0], nd.ints = xv, inv
	}
	return v
}

// transposeGrad permutes g back with the inverse permutation (ints) into x's shape (vals[0]).
func transposeGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	dx := ar.zeros(nd.vals[0].Shape()...)
	Kernels().Transpose(g.Float32s(), g.Shape(), nd.ints, dx.Float32s())
	out[0] = dx
}

// split3 views a shape as outer × axis × inner, the layout every single-axis copy walks.
func split3(s tensor.Shape, axis int) (outer, inner int) {
	return s[:axis].Size(), s[axis+1:].Size()
}

// Slice takes elements [start, end) along axis (negative axes count from the end; start and
// end must satisfy 0 <= start <= end <= the axis's size). The result is a copy.
func Slice(x *Variable, axis, start, end int) *Variable {
	if err := check("Slice", x); err != nil {
		return Failed(err)
	}
	xv := x.value
	xs := xv.Shape()
	a, err := tensor.Axis(axis, len(xs))
	if err != nil {
		return opErrorf("Slice", "axis %d out of range for shape %v", axis, xs)
	}
	if start < 0 || end > xs[a] || start > end {
		return opErrorf("Slice", "range [%d:%d] out of bounds for axis %d of shape %v (size %d)", start, end, axis, xs, xs[a])
	}
	ar := x.arena
	ys := ar.intBuf(len(xs))
	copy(ys, xs)
	ys[a] = end - start
	outer, inner := split3(xs, a)
	n := xs[a]
	m := end - start
	y := ar.zeros(ys...)
	src, dst := xv.Float32s(), y.Float32s()
	for o := 0; o < outer; o++ {
		copy(dst[o*m*inner:(o+1)*m*inner], src[(o*n+start)*inner:(o*n+end)*inner])
	}
	v, nd := ar.record(y, sliceGrad, x)
	if nd != nil {
		nd.vals[0] = xv
		nd.n = [6]int{outer, inner, n, start, end}
	}
	return v
}

// sliceGrad reads x from vals[0] and outer, inner, the axis's size, start and end from n.
func sliceGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	outer, inner, n, start, end := nd.n[0], nd.n[1], nd.n[2], nd.n[3], nd.n[4]
	m := end - start
	dx := ar.zeros(nd.vals[0].Shape()...)
	d, gs := dx.Float32s(), g.Float32s()
	for o := 0; o < outer; o++ {
		copy(d[(o*n+start)*inner:(o*n+end)*inner], gs[o*m*inner:(o+1)*m*inner])
	}
	out[0] = dx
}

// Concat joins xs along axis (negative counts from the end); every other axis must match.
func Concat(axis int, xs ...*Variable) *Variable {
	if len(xs) == 0 {
		return opErrorf("Concat", "no inputs")
	}
	if err := check("Concat", xs...); err != nil {
		return Failed(err)
	}
	first := xs[0].value.Shape()
	r := len(first)
	a, err := tensor.Axis(axis, r)
	if err != nil {
		return opErrorf("Concat", "axis %d out of range for shape %v", axis, first)
	}
	ar := arenaOf(xs...)
	sizes := ar.intBuf(len(xs))
	total := 0
	for i, v := range xs {
		s := v.value.Shape()
		if len(s) != r {
			return opErrorf("Concat", "input %d has shape %v, input 0 has %v: ranks differ", i, s, first)
		}
		for j := range s {
			if j != a && s[j] != first[j] {
				return opErrorf("Concat", "input %d has shape %v, input 0 has %v: they differ outside axis %d", i, s, first, a)
			}
		}
		sizes[i] = s[a]
		total += s[a]
	}
	ys := ar.intBuf(r)
	copy(ys, first)
	ys[a] = total
	outer, inner := split3(ys, a)
	y := ar.zeros(ys...)
	dst := y.Float32s()
	off := 0 // start of input i's band along axis
	for i, v := range xs {
		src := v.value.Float32s()
		m := sizes[i]
		for o := 0; o < outer; o++ {
			copy(dst[(o*total+off)*inner:(o*total+off+m)*inner], src[o*m*inner:(o+1)*m*inner])
		}
		off += m
	}
	v, nd := ar.record(y, concatGrad, xs...)
	if nd != nil {
		nd.ints = sizes
		nd.n[0], nd.n[1], nd.n[2] = outer, inner, total
	}
	return v
}

// concatGrad reads each input's size along the axis from ints and outer, inner and the total
// size from n.
func concatGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	outer, inner, total := nd.n[0], nd.n[1], nd.n[2]
	gs := g.Float32s()
	off := 0
	for i, v := range nd.inputs {
		m := nd.ints[i]
		if NeedsGrad(nd.inputs, i) {
			dx := ar.zeros(v.value.Shape()...)
			d := dx.Float32s()
			for o := 0; o < outer; o++ {
				copy(d[o*m*inner:(o+1)*m*inner], gs[(o*total+off)*inner:(o*total+off+m)*inner])
			}
			out[i] = dx
		}
		off += m
	}
}

// Stack joins equally shaped xs along a new axis (in [-(rank+1), rank]).
func Stack(axis int, xs ...*Variable) *Variable {
	if len(xs) == 0 {
		return opErrorf("Stack", "no inputs")
	}
	if err := check("Stack", xs...); err != nil {
		return Failed(err)
	}
	first := xs[0].value.Shape()
	a, err := tensor.Axis(axis, len(first)+1)
	if err != nil {
		return opErrorf("Stack", "axis %d out of range for stacking shape %v", axis, first)
	}
	for i, v := range xs {
		if s := v.value.Shape(); !s.Equal(first) {
			return opErrorf("Stack", "input %d has shape %v, input 0 has %v: want equal shapes", i, s, first)
		}
	}
	ar := arenaOf(xs...)
	withAxis := ar.intBuf(len(first) + 1)[:0]
	withAxis = append(withAxis, first[:a]...)
	withAxis = append(withAxis, 1)
	withAxis = append(withAxis, first[a:]...)
	parts := ar.varSlice(xs...)
	for i, v := range xs {
		parts[i] = reshape("Stack", v, withAxis)
	}
	return Concat(a, parts...)
}
