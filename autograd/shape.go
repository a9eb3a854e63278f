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
	out, err := x.value.Reshape(shape...)
	if err != nil {
		return opErrorf(name, "cannot reshape %v (%d elements) into %s", xs, xs.Size(), dims(shape))
	}
	return Record(out, []*Variable{x}, func(g *tensor.Tensor) []*tensor.Tensor {
		dx, _ := g.Reshape(xs...)
		return []*tensor.Tensor{dx}
	})
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
	return reshape("Flatten", x, []int{xs[0], xs[1:].Size()})
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
	if len(perm) == 0 {
		perm = make([]int, r)
		for i := range perm {
			perm[i] = r - 1 - i
		}
	}
	if len(perm) != r {
		return opErrorf("Transpose", "permutation %v has %d axes for shape %v of rank %d", perm, len(perm), xs, r)
	}
	p := make([]int, r)
	seen := make([]bool, r)
	for i, a := range perm {
		n, err := tensor.Axis(a, r)
		if err != nil || seen[n] {
			return opErrorf("Transpose", "%v is not a permutation of the axes of shape %v", perm, xs)
		}
		seen[n] = true
		p[i] = n
	}
	ys := make(tensor.Shape, r)
	inv := make([]int, r)
	for i, a := range p {
		ys[i] = xs[a]
		inv[a] = i
	}
	y := tensor.Zeros(ys...)
	Kernels().Transpose(xv.Float32s(), xs, p, y.Float32s())
	return Record(y, []*Variable{x}, func(g *tensor.Tensor) []*tensor.Tensor {
		dx := tensor.Zeros(xs...)
		Kernels().Transpose(g.Float32s(), ys, inv, dx.Float32s())
		return []*tensor.Tensor{dx}
	})
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
	ys := xs.Clone()
	ys[a] = end - start
	outer, inner := split3(xs, a)
	n := xs[a]
	m := end - start
	y := tensor.Zeros(ys...)
	src, dst := xv.Float32s(), y.Float32s()
	for o := 0; o < outer; o++ {
		copy(dst[o*m*inner:(o+1)*m*inner], src[(o*n+start)*inner:(o*n+end)*inner])
	}
	return Record(y, []*Variable{x}, func(g *tensor.Tensor) []*tensor.Tensor {
		dx := tensor.Zeros(xs...)
		d, gs := dx.Float32s(), g.Float32s()
		for o := 0; o < outer; o++ {
			copy(d[(o*n+start)*inner:(o*n+end)*inner], gs[o*m*inner:(o+1)*m*inner])
		}
		return []*tensor.Tensor{dx}
	})
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
	sizes := make([]int, len(xs))
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
	ys := first.Clone()
	ys[a] = total
	outer, inner := split3(ys, a)
	y := tensor.Zeros(ys...)
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
	inputs := append([]*Variable(nil), xs...)
	return Record(y, inputs, func(g *tensor.Tensor) []*tensor.Tensor {
		out := make([]*tensor.Tensor, len(inputs))
		gs := g.Float32s()
		off := 0
		for i, v := range inputs {
			m := sizes[i]
			if NeedsGrad(inputs, i) {
				dx := tensor.Zeros(v.value.Shape()...)
				d := dx.Float32s()
				for o := 0; o < outer; o++ {
					copy(d[o*m*inner:(o+1)*m*inner], gs[(o*total+off)*inner:(o*total+off+m)*inner])
				}
				out[i] = dx
			}
			off += m
		}
		return out
	})
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
	withAxis := make([]int, 0, len(first)+1)
	withAxis = append(withAxis, first[:a]...)
	withAxis = append(withAxis, 1)
	withAxis = append(withAxis, first[a:]...)
	parts := make([]*Variable, len(xs))
	for i, v := range xs {
		parts[i] = reshape("Stack", v, withAxis)
	}
	return Concat(a, parts...)
}
