package autograd

import (
	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// Axes for the reductions below may be negative (counted from the end). nil means every axis;
// an empty, non-nil slice means none (NumPy's axis=()), which returns a copy of x. keepDims
// keeps each reduced axis with size 1 so the result broadcasts against x.

// Sum adds x over axes.
func Sum(x *Variable, axes []int, keepDims bool) *Variable {
	return reduce("Sum", backend.ReduceSum, x, axes, keepDims)
}

// Mean averages x over axes.
func Mean(x *Variable, axes []int, keepDims bool) *Variable {
	return reduce("Mean", backend.ReduceMean, x, axes, keepDims)
}

// Max takes the largest element over axes. Where several elements tie for the maximum the
// gradient is split evenly among them (as TensorFlow does), so it stays a valid subgradient
// and sums to the incoming gradient.
func Max(x *Variable, axes []int, keepDims bool) *Variable {
	return reduce("Max", backend.ReduceMax, x, axes, keepDims)
}

// Min takes the smallest element over axes; ties split the gradient as in Max.
func Min(x *Variable, axes []int, keepDims bool) *Variable {
	return reduce("Min", backend.ReduceMin, x, axes, keepDims)
}

// SumAll adds every element into a scalar (shape ()).
func SumAll(x *Variable) *Variable { return reduce("SumAll", backend.ReduceSum, x, nil, false) }

// MeanAll averages every element into a scalar (shape ()).
func MeanAll(x *Variable) *Variable { return reduce("MeanAll", backend.ReduceMean, x, nil, false) }

func reduce(name string, op backend.ReduceOp, x *Variable, axes []int, keepDims bool) *Variable {
	if err := check(name, x); err != nil {
		return Failed(err)
	}
	xv := x.value
	xs := xv.Shape()
	ar := x.arena
	ax, err := normAxes(ar, name, axes, len(xs), xs)
	if err != nil {
		return Failed(err)
	}
	kept := keptShape(ar, xs, ax)
	// An output element over an empty axis has nothing to take the extreme of (a sum or mean
	// over nothing is fine: 0 and NaN, as NumPy gives).
	if (op == backend.ReduceMax || op == backend.ReduceMin) && tensor.Shape(kept).Size() > 0 {
		for _, a := range ax {
			if xs[a] == 0 {
				return opErrorf(name, "axis %d of shape %v is empty: no maximum or minimum", a, xs)
			}
		}
	}
	y := ar.zeros(kept...)
	if len(ax) == 0 {
		copy(y.Float32s(), xv.Float32s())
	} else {
		Kernels().Reduce(op, xv.Float32s(), xs, ax, y.Float32s())
	}
	out := y
	if !keepDims {
		out, _ = ar.reshape(y, droppedShape(ar, xs, ax)...)
	}
	v, nd := ar.record(out, reduceGrad, x)
	if nd != nil {
		count := 1
		for _, a := range ax {
			count *= xs[a]
		}
		// y has the kept shape, which the gradient is viewed in to broadcast back.
		nd.op, nd.vals[0], nd.saved[0], nd.ints, nd.n[0] = uint8(op), xv, y, ax, count
	}
	return v
}

// reduceGrad reads the op from op, x from vals[0], the result in its kept shape from saved[0],
// the reduced axes from ints and how many elements each result summarises from n[0].
func reduceGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	xv, y := nd.vals[0], nd.saved[0]
	xs, kept := xv.Shape(), y.Shape()
	switch op := backend.ReduceOp(nd.op); op {
	case backend.ReduceSum, backend.ReduceMean:
		gk, _ := ar.reshape(g, kept...)
		dx := broadcastTo(ar, gk, xs)
		if count := nd.n[0]; op == backend.ReduceMean && count > 0 {
			d := dx.Float32s()
			s := 1 / float32(count)
			for i := range d {
				d[i] *= s
			}
		}
		out[0] = dx
	default:
		// Where x equals its extreme, share g by the number of such positions.
		k := Kernels()
		hit := ar.zeros(xs...)
		k.Binary(backend.Equal, xv.Float32s(), xs, y.Float32s(), kept, hit.Float32s(), hit.Shape())
		ties := ar.zeros(kept...)
		if len(nd.ints) == 0 {
			copy(ties.Float32s(), hit.Float32s())
		} else {
			k.Reduce(backend.ReduceSum, hit.Float32s(), xs, nd.ints, ties.Float32s())
		}
		share := ar.zeros(kept...)
		s, gs := share.Float32s(), g.Float32s()
		for i, n := range ties.Float32s() {
			if n > 0 {
				s[i] = gs[i] / n
			}
		}
		dx := ar.zeros(xs...)
		k.Binary(backend.Mul, hit.Float32s(), xs, s, kept, dx.Float32s(), dx.Shape())
		out[0] = dx
	}
}
