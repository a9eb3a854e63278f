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
	ax, err := normAxes(name, axes, len(xs), xs)
	if err != nil {
		return Failed(err)
	}
	kept := keptShape(xs, ax)
	// An output element over an empty axis has nothing to take the extreme of (a sum or mean
	// over nothing is fine: 0 and NaN, as NumPy gives).
	if (op == backend.ReduceMax || op == backend.ReduceMin) && kept.Size() > 0 {
		for _, a := range ax {
			if xs[a] == 0 {
				return opErrorf(name, "axis %d of shape %v is empty: no maximum or minimum", a, xs)
			}
		}
	}
	y := tensor.Zeros(kept...)
	if len(ax) == 0 {
		copy(y.Float32s(), xv.Float32s())
	} else {
		Kernels().Reduce(op, xv.Float32s(), xs, ax, y.Float32s())
	}
	outShape := kept
	if !keepDims {
		outShape = droppedShape(xs, ax)
	}
	out, _ := y.Reshape(outShape...)
	inputs := []*Variable{x}
	if !x.requiresGrad {
		return Record(out, inputs, nil)
	}
	count := 1
	for _, a := range ax {
		count *= xs[a]
	}
	var bw BackwardFunc
	switch op {
	case backend.ReduceSum, backend.ReduceMean:
		bw = func(g *tensor.Tensor) []*tensor.Tensor {
			gk, _ := g.Reshape(kept...)
			dx := broadcastTo(gk, xs)
			if op == backend.ReduceMean && count > 0 {
				d := dx.Float32s()
				s := 1 / float32(count)
				for i := range d {
					d[i] *= s
				}
			}
			return []*tensor.Tensor{dx}
		}
	default:
		bw = func(g *tensor.Tensor) []*tensor.Tensor {
			// Where x equals its extreme, share g by the number of such positions.
			k := Kernels()
			hit := tensor.Zeros(xs...)
			k.Binary(backend.Equal, xv.Float32s(), xs, y.Float32s(), kept, hit.Float32s(), xs)
			ties := tensor.Zeros(kept...)
			if len(ax) == 0 {
				copy(ties.Float32s(), hit.Float32s())
			} else {
				k.Reduce(backend.ReduceSum, hit.Float32s(), xs, ax, ties.Float32s())
			}
			share := tensor.Zeros(kept...)
			s, gs := share.Float32s(), g.Float32s()
			for i, n := range ties.Float32s() {
				if n > 0 {
					s[i] = gs[i] / n
				}
			}
			dx := tensor.Zeros(xs...)
			k.Binary(backend.Mul, hit.Float32s(), xs, s, kept, dx.Float32s(), xs)
			return []*tensor.Tensor{dx}
		}
	}
	return Record(out, inputs, bw)
}
