package autograd

import (
	"math"

	"github.com/deepframe/deepframe/tensor"
)

// Softmax normalises x into probabilities along axis (negative counts from the end). The
// kernels work on the last axis; any other axis is moved there and back with Transpose.
func Softmax(x *Variable, axis int) *Variable { return softmaxAlong("Softmax", false, x, axis) }

// LogSoftmax is log(Softmax(x, axis)), computed stably in one pass.
func LogSoftmax(x *Variable, axis int) *Variable {
	return softmaxAlong("LogSoftmax", true, x, axis)
}

func softmaxAlong(name string, logOut bool, x *Variable, axis int) *Variable {
	if err := check(name, x); err != nil {
		return Failed(err)
	}
	xs := x.value.Shape()
	a, err := tensor.Axis(axis, len(xs))
	if err != nil {
		return opErrorf(name, "axis %d out of range for shape %v", axis, xs)
	}
	last := len(xs) - 1
	if a == last {
		return softmaxLast(logOut, x)
	}
	perm := x.arena.intBuf(len(xs))
	for i := range perm {
		perm[i] = i
	}
	perm[a], perm[last] = last, a
	// Swapping two axes is its own inverse.
	return Transpose(softmaxLast(logOut, Transpose(x, perm...)), perm...)
}

func softmaxLast(logOut bool, x *Variable) *Variable {
	if x.err != nil {
		return x
	}
	xs := x.value.Shape()
	cols := xs[len(xs)-1]
	rows := 0
	if cols > 0 {
		rows = xs.Size() / cols
	}
	ar := x.arena
	y := ar.zeros(xs...)
	if rows > 0 {
		if logOut {
			Kernels().LogSoftmax(rows, cols, x.value.Float32s(), y.Float32s())
		} else {
			Kernels().Softmax(rows, cols, x.value.Float32s(), y.Float32s())
		}
	}
	v, nd := ar.record(y, softmaxGrad, x)
	if nd != nil {
		nd.out, nd.flag = y, logOut
	}
	return v
}

// softmaxGrad reads the output from out and whether it is LogSoftmax from flag.
func softmaxGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	y := nd.out
	ys := y.Shape()
	cols := ys[len(ys)-1]
	rows := 0
	if cols > 0 {
		rows = ys.Size() / cols
	}
	dx := ar.zeros(ys...)
	if rows > 0 {
		if nd.flag {
			Kernels().LogSoftmaxBackward(rows, cols, y.Float32s(), g.Float32s(), dx.Float32s())
		} else {
			Kernels().SoftmaxBackward(rows, cols, y.Float32s(), g.Float32s(), dx.Float32s())
		}
	}
	out[0] = dx
}

// SoftmaxCrossEntropy is the fused softmax and categorical cross-entropy over the last axis:
// loss[n] = -Σc target[n,c]·logsoftmax(logits)[n,c]. logits and target share a shape [N, C]
// (more generally [..., C], giving [...]); target holds probabilities. The gradient to the
// logits is softmax·Σc target - target, which is the familiar softmax - target when target
// rows sum to 1; when target requires a gradient it gets -logsoftmax.
func SoftmaxCrossEntropy(logits, target *Variable) *Variable {
	const name = "SoftmaxCrossEntropy"
	if err := check(name, logits, target); err != nil {
		return Failed(err)
	}
	ls, ts := logits.value.Shape(), target.value.Shape()
	if len(ls) < 1 {
		return opErrorf(name, "logits have shape (), want [batch, classes]")
	}
	if !ls.Equal(ts) {
		return opErrorf(name, "logits %v and target %v: want the same shape", ls, ts)
	}
	cols := ls[len(ls)-1]
	rows := ls[:len(ls)-1].Size()
	ar := arenaOf(logits, target)
	logp := ar.zeros(rows, cols)
	if rows > 0 && cols > 0 {
		Kernels().LogSoftmax(rows, cols, logits.value.Float32s(), logp.Float32s())
	}
	loss := ar.zeros(ls[:len(ls)-1]...)
	lp, tv, lv := logp.Float32s(), target.value.Float32s(), loss.Float32s()
	for r := 0; r < rows; r++ {
		var s float64
		for c := r * cols; c < (r+1)*cols; c++ {
			if tv[c] != 0 { // 0·log 0 is 0, not NaN
				s -= float64(tv[c]) * float64(lp[c])
			}
		}
		lv[r] = float32(s)
	}
	v, nd := ar.record(loss, softmaxCrossEntropyGrad, logits, target)
	if nd != nil {
		nd.saved[0], nd.vals[1] = logp, target.value
		nd.n[0], nd.n[1] = rows, cols
	}
	return v
}

// softmaxCrossEntropyGrad reads the log-probabilities from saved[0], the target from vals[1]
// and rows, cols from n.
func softmaxCrossEntropyGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	lp, tv := nd.saved[0].Float32s(), nd.vals[1].Float32s()
	rows, cols := nd.n[0], nd.n[1]
	gs := g.Float32s()
	if NeedsGrad(nd.inputs, 0) {
		dl := ar.zeros(nd.inputs[0].value.Shape()...)
		d := dl.Float32s()
		for r := 0; r < rows; r++ {
			var ts float32
			for c := r * cols; c < (r+1)*cols; c++ {
				ts += tv[c]
			}
			for c := r * cols; c < (r+1)*cols; c++ {
				d[c] = gs[r] * (float32(math.Exp(float64(lp[c])))*ts - tv[c])
			}
		}
		out[0] = dl
	}
	if NeedsGrad(nd.inputs, 1) {
		dt := ar.zeros(nd.vals[1].Shape()...)
		d := dt.Float32s()
		for r := 0; r < rows; r++ {
			for c := r * cols; c < (r+1)*cols; c++ {
				d[c] = -gs[r] * lp[c]
			}
		}
		out[1] = dt
	}
}

// labelsOf reads class labels (int64, int32, uint8, or float32 holding whole numbers) as ints,
// into a's scratch.
func labelsOf(a *Arena, name, what string, t *tensor.Tensor) ([]int64, error) {
	// A copy even of int64 labels: backward reads them later, and the caller's tensor may
	// change in between.
	out := a.int64Buf(t.Len())
	switch t.DType() {
	case tensor.Int64:
		copy(out, t.Int64s())
	case tensor.Int32:
		for i, v := range t.Int32s() {
			out[i] = int64(v)
		}
	case tensor.Uint8:
		for i, v := range t.Uint8s() {
			out[i] = int64(v)
		}
	case tensor.Float32:
		for i, v := range t.Float32s() {
			f := float64(v)
			if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return nil, opErr(name, "%s %g at position %d is not a whole number", what, v, i)
			}
			out[i] = int64(f)
		}
	default:
		return nil, opErr(name, "%ss have dtype %s, want int64, int32, uint8 or whole-number float32", what, t.DType())
	}
	return out, nil
}

// SparseSoftmaxCrossEntropy is SoftmaxCrossEntropy with the target given as class indices:
// logits [N, C], labels [N] or [N, 1] (int64, int32, or float32 holding whole numbers).
// It returns per-sample losses [N].
func SparseSoftmaxCrossEntropy(logits *Variable, labels *tensor.Tensor) *Variable {
	const name = "SparseSoftmaxCrossEntropy"
	if err := check(name, logits); err != nil {
		return Failed(err)
	}
	if labels == nil {
		return opErrorf(name, "labels are nil")
	}
	ls, lbs := logits.value.Shape(), labels.Shape()
	if len(ls) != 2 {
		return opErrorf(name, "logits have shape %v, want [batch, classes]", ls)
	}
	rows, cols := ls[0], ls[1]
	if !((len(lbs) == 1 && lbs[0] == rows) || (len(lbs) == 2 && lbs[0] == rows && lbs[1] == 1)) {
		return opErrorf(name, "labels have shape %v for logits %v, want (%d,) or (%d, 1)", lbs, ls, rows, rows)
	}
	ar := logits.arena
	idx, err := labelsOf(ar, name, "label", labels)
	if err != nil {
		return Failed(err)
	}
	for r, c := range idx {
		if c < 0 || c >= int64(cols) {
			return opErrorf(name, "label %d in row %d is out of range for %d classes", c, r, cols)
		}
	}
	logp := ar.zeros(rows, cols)
	if rows > 0 {
		Kernels().LogSoftmax(rows, cols, logits.value.Float32s(), logp.Float32s())
	}
	loss := ar.zeros(rows)
	lp, lv := logp.Float32s(), loss.Float32s()
	for r, c := range idx {
		lv[r] = -lp[r*cols+int(c)]
	}
	v, nd := ar.record(loss, sparseSoftmaxCrossEntropyGrad, logits)
	if nd != nil {
		nd.saved[0], nd.idx = logp, idx
	}
	return v
}

// sparseSoftmaxCrossEntropyGrad reads the log-probabilities from saved[0] and the labels from
// idx.
func sparseSoftmaxCrossEntropyGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	logp := nd.saved[0]
	cols := logp.Shape()[1]
	lp := logp.Float32s()
	dl := ar.zeros(logp.Shape()...)
	d, gs := dl.Float32s(), g.Float32s()
	for r, c := range nd.idx {
		row := d[r*cols : (r+1)*cols]
		for j := range row {
			row[j] = gs[r] * float32(math.Exp(float64(lp[r*cols+j])))
		}
		row[c] -= gs[r]
	}
	out[0] = dl
}

// SigmoidCrossEntropy is the element-wise binary cross-entropy of sigmoid(logits) against
// target, in the stable form max(x,0) - x·t + log(1+e^-|x|). It returns a loss per element
// (the logits' shape); Keras's per-sample value is its mean over the last axis. The gradient
// is sigmoid(x) - t for the logits and -x for the target.
func SigmoidCrossEntropy(logits, target *Variable) *Variable {
	const name = "SigmoidCrossEntropy"
	if err := check(name, logits, target); err != nil {
		return Failed(err)
	}
	ls, ts := logits.value.Shape(), target.value.Shape()
	if !ls.Equal(ts) {
		return opErrorf(name, "logits %v and target %v: want the same shape", ls, ts)
	}
	xv, tv := logits.value.Float32s(), target.value.Float32s()
	ar := arenaOf(logits, target)
	loss := ar.zeros(ls...)
	lv := loss.Float32s()
	for i, x := range xv {
		xf, t := float64(x), float64(tv[i])
		lv[i] = float32(math.Max(xf, 0) - xf*t + math.Log1p(math.Exp(-math.Abs(xf))))
	}
	v, nd := ar.record(loss, sigmoidCrossEntropyGrad, logits, target)
	if nd != nil {
		nd.vals[0], nd.vals[1] = logits.value, target.value
	}
	return v
}

// sigmoidCrossEntropyGrad reads the logits and the target from vals.
func sigmoidCrossEntropyGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	xv, tv := nd.vals[0].Float32s(), nd.vals[1].Float32s()
	gs := g.Float32s()
	if NeedsGrad(nd.inputs, 0) {
		dx := ar.zeros(nd.vals[0].Shape()...)
		d := dx.Float32s()
		for i, x := range xv {
			d[i] = gs[i] * (float32(sigmoid(float64(x))) - tv[i])
		}
		out[0] = dx
	}
	if NeedsGrad(nd.inputs, 1) {
		dt := ar.zeros(nd.vals[1].Shape()...)
		d := dt.Float32s()
		for i, x := range xv {
			d[i] = -gs[i] * x
		}
		out[1] = dt
	}
}

// sigmoid never evaluates e**x for large positive x, which would overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
