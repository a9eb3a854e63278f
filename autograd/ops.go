package autograd

import (
	"fmt"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// opErrorf builds the error Variable an op returns for bad input. Every message starts with the
// op's name so that a failure deep inside a model says which op refused what.
func opErrorf(op, format string, args ...any) *Variable {
	return Failed(opErr(op, format, args...))
}

// opErr is opErrorf's error, for helpers that return one.
func opErr(op, format string, args ...any) error {
	return fmt.Errorf("autograd: "+op+": "+format, args...)
}

// check returns the error an op must return instead of computing: an input's own error,
// passed on unchanged so the first failure is the one reported, or an input the kernels
// cannot read (nil, without a value, or not float32).
func check(op string, vs ...*Variable) error {
	for i, v := range vs {
		if v == nil {
			return fmt.Errorf("autograd: %s: input %d is nil", op, i)
		}
	}
	if err := FirstErr(vs...); err != nil {
		return err
	}
	for i, v := range vs {
		if v.value == nil {
			return fmt.Errorf("autograd: %s: input %d has no value", op, i)
		}
		if v.value.DType() != tensor.Float32 {
			return fmt.Errorf("autograd: %s: input %d is %s%v, want float32", op, i, v.value.DType(), v.value.Shape())
		}
	}
	return nil
}

// anyNeedsGrad reports whether a gradient will flow to any of vs, which decides whether an
// op has to keep anything for its backward.
func anyNeedsGrad(vs ...*Variable) bool {
	for _, v := range vs {
		if v != nil && v.requiresGrad {
			return true
		}
	}
	return false
}

// normAxes turns possibly negative axes into sorted, distinct, non-negative ones (in a's
// scratch). nil means every axis.
func normAxes(a *Arena, op string, axes []int, rank int, shape tensor.Shape) ([]int, error) {
	if axes == nil {
		all := a.intBuf(rank)
		for i := range all {
			all[i] = i
		}
		return all, nil
	}
	seen := a.intBuf(rank) // 1 where an axis was named
	count := 0
	for _, ax := range axes {
		n, err := tensor.Axis(ax, rank)
		if err != nil {
			return nil, fmt.Errorf("autograd: %s: axis %d out of range for shape %v", op, ax, shape)
		}
		if seen[n] != 0 {
			return nil, fmt.Errorf("autograd: %s: axis %d given twice for shape %v (axes %v)", op, ax, shape, axes)
		}
		seen[n] = 1
		count++
	}
	out := a.intBuf(count)[:0]
	for i, s := range seen {
		if s != 0 {
			out = append(out, i)
		}
	}
	return out, nil
}

// keptShape is shape with the given axes set to 1: the shape a reduction's result has when its
// axes are kept, and the shape its gradient broadcasts from.
func keptShape(a *Arena, shape tensor.Shape, axes []int) []int {
	out := a.intBuf(len(shape))
	copy(out, shape)
	for _, ax := range axes {
		out[ax] = 1
	}
	return out
}

// droppedShape is shape with the given (sorted) axes removed.
func droppedShape(a *Arena, shape tensor.Shape, axes []int) []int {
	out := a.intBuf(len(shape) - len(axes))[:0]
	j := 0
	for i, d := range shape {
		if j < len(axes) && axes[j] == i {
			j++
			continue
		}
		out = append(out, d)
	}
	return out
}

// axis0 and spatialAxes are the reductions the gradients of biases take: over the rows of a
// matrix, and over batch, height and width of an NHWC tensor. Kernels only read their
// arguments, so shared slices spare an allocation per call.
var (
	axis0       = []int{0}
	spatialAxes = []int{0, 1, 2}
)

// sumTo reduces g (of shape from) by summation to shape to, the inverse of broadcasting to
// into from. It returns g itself when nothing was broadcast, which Backward allows.
func sumTo(a *Arena, g *tensor.Tensor, to tensor.Shape) *tensor.Tensor {
	from := g.Shape()
	if from.Equal(to) {
		return g
	}
	lead := len(from) - len(to)
	n := 0
	for i := range from {
		if j := i - lead; j < 0 || (to[j] == 1 && from[i] != 1) {
			n++
		}
	}
	out := a.zeros(to...)
	if n == 0 {
		// Only leading axes of size 1 differ: same elements, new shape.
		copy(out.Float32s(), g.Float32s())
		return out
	}
	axes := a.intBuf(n)[:0]
	for i := range from {
		if j := i - lead; j < 0 || (to[j] == 1 && from[i] != 1) {
			axes = append(axes, i)
		}
	}
	Kernels().Reduce(backend.ReduceSum, g.Float32s(), from, axes, out.Float32s())
	return out
}

// broadcastTo expands src (whose rank equals len(to), with 1 on every broadcast axis) to shape
// to. Gradients of reductions need it; it is a strided copy, so a plain loop does.
func broadcastTo(a *Arena, src *tensor.Tensor, to tensor.Shape) *tensor.Tensor {
	out := a.zeros(to...)
	s, d := src.Float32s(), out.Float32s()
	if len(d) == 0 {
		return out
	}
	if len(s) == 1 {
		for i := range d {
			d[i] = s[0]
		}
		return out
	}
	from := src.Shape()
	rank := len(to)
	// Source stride per output axis; 0 where the source is broadcast.
	stride := a.intBuf(rank)
	acc := 1
	for i := rank - 1; i >= 0; i-- {
		if from[i] != 1 {
			stride[i] = acc
		}
		acc *= from[i]
	}
	// The innermost axis is walked in the loop body; the odometer covers the others.
	inner := to[rank-1]
	innerStride := stride[rank-1]
	idx := a.intBuf(rank)
	off := 0
	for o := 0; o < len(d); o += inner {
		row := d[o : o+inner]
		if innerStride == 0 {
			v := s[off]
			for k := range row {
				row[k] = v
			}
		} else {
			copy(row, s[off:off+inner])
		}
		for ax := rank - 2; ax >= 0; ax-- {
			idx[ax]++
			off += stride[ax]
			if idx[ax] < to[ax] {
				break
			}
			off -= stride[ax] * idx[ax]
			idx[ax] = 0
		}
	}
	return out
}

// scaled returns g*s as a new tensor; backward functions never write into their incoming
// gradient because Backward may hand the same tensor to several inputs.
func scaled(a *Arena, g *tensor.Tensor, s float32) *tensor.Tensor {
	out := a.zeros(g.Shape()...)
	d := out.Float32s()
	for i, v := range g.Float32s() {
		d[i] = v * s
	}
	return out
}

// broadcastShape is the NumPy broadcast of x and y, written into dst when it fits (so a
// caller's stack array holds it); ok is false when they do not broadcast.
func broadcastShape(dst []int, x, y tensor.Shape) ([]int, bool) {
	n := max(len(x), len(y))
	out := dst[:0]
	for i := 0; i < n; i++ {
		dx, dy := 1, 1
		if j := len(x) - n + i; j >= 0 {
			dx = x[j]
		}
		if j := len(y) - n + i; j >= 0 {
			dy = y[j]
		}
		switch {
		case dx == dy || dy == 1:
			out = append(out, dx)
		case dx == 1:
			out = append(out, dy)
		default:
			return nil, false
		}
	}
	return out, true
}
