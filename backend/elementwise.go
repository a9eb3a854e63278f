package backend

import (
	"fmt"
	"math"

	"github.com/deepframe/deepframe/backend/internal/par"
)

// Keras's SELU constants (Klambauer et al., 2017), to float64 precision.
const (
	seluAlpha = 1.6732632423543772
	seluScale = 1.0507009873554805
)

// unaryGrain is smaller than elemGrain because most unary ops call a float64 transcendental.
const unaryGrain = 1 << 12

func (reference) Unary(op UnaryOp, alpha float32, x, y []float32) {
	n := min(len(x), len(y))
	runUnary(unaryTask{op: op, alpha: alpha, x: x, y: y}, n)
}

// unaryTask is Unary (bwd false) or UnaryBackward over elements [lo, hi).
type unaryTask struct {
	op          UnaryOp
	alpha       float32
	bwd, needsY bool
	x, y        []float32
	dy, dx      []float32
}

var unaryTasks par.Pool[unaryTask, *unaryTask]

func runUnary(t unaryTask, n int) {
	if threads, inline := split(n, unaryGrain); inline {
		t.Run(0, max(n, 0))
	} else {
		unaryTasks.For(threads, n, unaryGrain, t)
	}
}

func (t *unaryTask) Run(lo, hi int) {
	if !t.bwd {
		unaryRange(t.op, t.alpha, t.x[lo:hi], t.y[lo:hi])
		return
	}
	ys := t.y
	if t.needsY && len(t.y) < hi {
		buf := scratch32.Get(hi - lo)
		defer scratch32.Put(buf)
		unaryRange(t.op, t.alpha, t.x[lo:hi], *buf)
		ys = *buf
	} else if t.needsY {
		ys = t.y[lo:hi]
	}
	unaryBackwardRange(t.op, t.alpha, t.x[lo:hi], ys, t.dy[lo:hi], t.dx[lo:hi])
}

func unaryRange(op UnaryOp, alpha float32, x, y []float32) {
	y = y[:len(x)]
	switch op {
	case Identity:
		copy(y, x)
	case Neg:
		for i, v := range x {
			y[i] = -v
		}
	case Exp:
		for i, v := range x {
			y[i] = float32(math.Exp(float64(v)))
		}
	case Log:
		for i, v := range x {
			y[i] = float32(math.Log(float64(v)))
		}
	case Sqrt:
		for i, v := range x {
			y[i] = float32(math.Sqrt(float64(v)))
		}
	case Rsqrt:
		for i, v := range x {
			y[i] = float32(1 / math.Sqrt(float64(v)))
		}
	case Square:
		for i, v := range x {
			y[i] = v * v
		}
	case Abs:
		for i, v := range x {
			y[i] = math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
		}
	case Sign:
		for i, v := range x {
			y[i] = sign32(v)
		}
	case Reciprocal:
		for i, v := range x {
			y[i] = 1 / v
		}
	case ReLU:
		for i, v := range x {
			if v < 0 {
				v = 0
			}
			y[i] = v
		}
	case LeakyReLU:
		for i, v := range x {
			if v < 0 {
				v *= alpha
			}
			y[i] = v
		}
	case ELU:
		a := float64(alpha)
		for i, v := range x {
			if !(v > 0) {
				v = float32(a * math.Expm1(float64(v)))
			}
			y[i] = v
		}
	case SELU:
		for i, v := range x {
			if v > 0 {
				y[i] = float32(seluScale * float64(v))
			} else {
				y[i] = float32(seluScale * seluAlpha * math.Expm1(float64(v)))
			}
		}
	case GELU:
		for i, v := range x {
			t := float64(v)
			y[i] = float32(0.5 * t * (1 + math.Erf(t/math.Sqrt2)))
		}
	case Sigmoid:
		for i, v := range x {
			y[i] = sigmoid32(v)
		}
	case Tanh:
		for i, v := range x {
			y[i] = float32(math.Tanh(float64(v)))
		}
	case Softplus:
		for i, v := range x {
			y[i] = float32(softplus64(float64(v)))
		}
	case Softsign:
		for i, v := range x {
			y[i] = v / (1 + abs32(v))
		}
	case Swish:
		for i, v := range x {
			y[i] = float32(float64(v) * sigmoid64(float64(v)))
		}
	default:
		panic(fmt.Sprintf("backend: unknown unary op %v", op))
	}
}

// UnaryBackward uses y where the derivative is cheaper from the output (exp, sqrt, sigmoid,
// tanh, reciprocal, rsqrt). When y is shorter than x (the caller kept no output) those ops
// recompute it from x instead.
func (reference) UnaryBackward(op UnaryOp, alpha float32, x, y, dy, dx []float32) {
	n := min(len(x), len(dy), len(dx))
	needsY := false
	switch op {
	case Exp, Sqrt, Rsqrt, Reciprocal, Sigmoid, Tanh:
		needsY = true
	}
	runUnary(unaryTask{op: op, alpha: alpha, bwd: true, needsY: needsY, x: x, y: y, dy: dy, dx: dx}, n)
}

// unaryBackwardRange writes dx = dy*op'(x); y is op(x) over the same range when the op needs
// it (nil otherwise).
func unaryBackwardRange(op UnaryOp, alpha float32, x, y, dy, dx []float32) {
	dy = dy[:len(x)]
	dx = dx[:len(x)]
	switch op {
	case Identity:
		copy(dx, dy)
	case Neg:
		for i, g := range dy {
			dx[i] = -g
		}
	case Exp:
		for i, g := range dy {
			dx[i] = g * y[i]
		}
	case Log:
		for i, g := range dy {
			dx[i] = g / x[i]
		}
	case Sqrt:
		for i, g := range dy {
			dx[i] = 0.5 * g / y[i]
		}
	case Rsqrt: // d/dx x^(-1/2) = -x^(-3/2)/2 = -y³/2
		for i, g := range dy {
			r := y[i]
			dx[i] = -0.5 * g * r * r * r
		}
	case Square:
		for i, g := range dy {
			dx[i] = 2 * g * x[i]
		}
	case Abs:
		for i, g := range dy {
			dx[i] = g * sign32(x[i])
		}
	case Sign:
		clear(dx)
	case Reciprocal:
		for i, g := range dy {
			dx[i] = -g * y[i] * y[i]
		}
	case ReLU:
		for i, g := range dy {
			if !(x[i] > 0) {
				g = 0
			}
			dx[i] = g
		}
	case LeakyReLU:
		for i, g := range dy {
			if !(x[i] > 0) {
				g *= alpha
			}
			dx[i] = g
		}
	case ELU:
		a := float64(alpha)
		for i, g := range dy {
			if v := x[i]; !(v > 0) {
				g = float32(float64(g) * a * math.Exp(float64(v)))
			}
			dx[i] = g
		}
	case SELU:
		for i, g := range dy {
			if v := x[i]; v > 0 {
				dx[i] = float32(float64(g) * seluScale)
			} else {
				dx[i] = float32(float64(g) * seluScale * seluAlpha * math.Exp(float64(v)))
			}
		}
	case GELU: // Φ(x) + x·φ(x)
		for i, g := range dy {
			t := float64(x[i])
			cdf := 0.5 * (1 + math.Erf(t/math.Sqrt2))
			pdf := math.Exp(-0.5*t*t) / math.Sqrt(2*math.Pi)
			dx[i] = float32(float64(g) * (cdf + t*pdf))
		}
	case Sigmoid:
		for i, g := range dy {
			s := y[i]
			dx[i] = g * s * (1 - s)
		}
	case Tanh:
		for i, g := range dy {
			t := y[i]
			dx[i] = g * (1 - t*t)
		}
	case Softplus:
		for i, g := range dy {
			dx[i] = float32(float64(g) * sigmoid64(float64(x[i])))
		}
	case Softsign:
		for i, g := range dy {
			d := 1 + abs32(x[i])
			dx[i] = g / (d * d)
		}
	case Swish: // s + x·s·(1-s)
		for i, g := range dy {
			t := float64(x[i])
			s := sigmoid64(t)
			dx[i] = float32(float64(g) * (s + t*s*(1-s)))
		}
	default:
		panic(fmt.Sprintf("backend: unknown unary op %v", op))
	}
}

func sign32(v float32) float32 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return v // ±0 and NaN map to themselves
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// softplus64 is log(1+eˣ) written so that eˣ never overflows and small results keep their
// precision.
func softplus64(x float64) float64 {
	return max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
}

func (reference) Binary(op BinaryOp, a []float32, aShape []int, b []float32, bShape []int, y []float32, yShape []int) {
	total := 1
	for _, d := range yShape {
		total *= d
	}
	if total == 0 {
		return
	}
	var bufs [5][maxRank]int
	as := broadcastStrides(aShape, yShape, bufs[0][:0])
	bs := broadcastStrides(bShape, yShape, bufs[1][:0])
	t := binaryTask{op: op, a: a, b: b, y: y}
	t.dims, t.as, t.bs = collapseBroadcast(yShape, as, bs, bufs[2][:0], bufs[3][:0], bufs[4][:0])
	grain := elemGrain
	if op == Pow {
		grain = unaryGrain
	}
	threads, inline := split(total, grain)
	if inline {
		t.Run(0, total)
		return
	}
	// The pooled copy must not point into this stack frame (escape analysis would then move
	// bufs to the heap on every call), so its axes are copied into its own arrays.
	pt := binaryTasks.Get()
	pt.op, pt.a, pt.b, pt.y = op, a, b, y
	pt.dims = append(pt.dimsBuf[:0], t.dims...)
	pt.as = append(pt.asBuf[:0], t.as...)
	pt.bs = append(pt.bsBuf[:0], t.bs...)
	par.For(threads, total, grain, pt)
	binaryTasks.Put(pt)
}

// binaryTask is Binary over the flat output range [lo, hi), walking the collapsed axes dims
// with a's and b's strides as and bs.
type binaryTask struct {
	op                    BinaryOp
	a, b, y               []float32
	dims, as, bs          []int
	dimsBuf, asBuf, bsBuf [maxRank]int
}

var binaryTasks par.Pool[binaryTask, *binaryTask]

func (t *binaryTask) Run(lo, hi int) {
	dims, as, bs := t.dims, t.as, t.bs
	r := len(dims)
	inner, ai, bi := dims[r-1], as[r-1], bs[r-1]
	// Start mid-row at lo: find its multi-index over the outer axes and its offsets.
	var idxBuf [maxRank]int
	idx := idxBuf[:0]
	for range r {
		idx = append(idx, 0)
	}
	row, col := lo/inner, lo%inner
	aOff, bOff := 0, 0
	for i := r - 2; i >= 0; i-- {
		idx[i] = row % dims[i]
		row /= dims[i]
		aOff += idx[i] * as[i]
		bOff += idx[i] * bs[i]
	}
	for pos := lo; pos < hi; {
		cnt := min(inner-col, hi-pos)
		binaryVec(t.op, t.a[aOff+col*ai:], ai, t.b[bOff+col*bi:], bi, t.y[pos:pos+cnt])
		pos += cnt
		col = 0
		for i := r - 2; i >= 0; i-- {
			idx[i]++
			aOff += as[i]
			bOff += bs[i]
			if idx[i] < dims[i] {
				break
			}
			aOff -= idx[i] * as[i]
			bOff -= idx[i] * bs[i]
			idx[i] = 0
		}
	}
}

// broadcastStrides appends to st, for each axis of yShape, the step in the operand's buffer:
// its own row-major stride, or 0 along axes where it is broadcast (missing or of size 1).
func broadcastStrides(shape, yShape []int, st []int) []int {
	r := len(yShape)
	for range r {
		st = append(st, 0)
	}
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		j := i + r - len(shape)
		if j >= 0 && shape[i] != 1 {
			st[j] = s
		}
		s *= shape[i]
	}
	return st
}

// collapseBroadcast drops unit axes and fuses neighbouring axes along which both operands
// advance contiguously (or both stay put), so a same-shape op becomes one flat loop, a bias add
// becomes rows×cols with b's row stride 0, and the strided walk only runs where it must. The
// results are appended to dims, ao and bo.
func collapseBroadcast(yShape, as, bs []int, dims, ao, bo []int) ([]int, []int, []int) {
	for i, d := range yShape {
		if d == 1 {
			continue
		}
		if n := len(dims); n > 0 && ao[n-1] == as[i]*d && bo[n-1] == bs[i]*d {
			dims[n-1] *= d
			ao[n-1], bo[n-1] = as[i], bs[i]
			continue
		}
		dims = append(dims, d)
		ao = append(ao, as[i])
		bo = append(bo, bs[i])
	}
	if len(dims) == 0 {
		return append(dims, 1), append(ao, 0), append(bo, 0)
	}
	return dims, ao, bo
}

// binaryVec writes y[j] = op(a[j*ai], b[j*bi]) with ai, bi ∈ {0, 1}. The arithmetic ops get
// their own loops (they are the hot ones: residual adds, bias adds, scaling); the rest go
// through binaryScalar.
func binaryVec(op BinaryOp, a []float32, ai int, b []float32, bi int, y []float32) {
	n := len(y)
	switch {
	case ai == 1 && bi == 1:
		a, b := a[:n], b[:n]
		switch op {
		case Add:
			for j := range y {
				y[j] = a[j] + b[j]
			}
			return
		case Sub:
			for j := range y {
				y[j] = a[j] - b[j]
			}
			return
		case Mul:
			for j := range y {
				y[j] = a[j] * b[j]
			}
			return
		case Div:
			for j := range y {
				y[j] = a[j] / b[j]
			}
			return
		}
		for j := range y {
			y[j] = binaryScalar(op, a[j], b[j])
		}
	case ai == 1:
		a, s := a[:n], b[0]
		switch op {
		case Add:
			for j := range y {
				y[j] = a[j] + s
			}
			return
		case Sub:
			for j := range y {
				y[j] = a[j] - s
			}
			return
		case Mul:
			for j := range y {
				y[j] = a[j] * s
			}
			return
		case Div:
			for j := range y {
				y[j] = a[j] / s
			}
			return
		}
		for j := range y {
			y[j] = binaryScalar(op, a[j], s)
		}
	case bi == 1:
		s, b := a[0], b[:n]
		switch op {
		case Add:
			for j := range y {
				y[j] = s + b[j]
			}
			return
		case Sub:
			for j := range y {
				y[j] = s - b[j]
			}
			return
		case Mul:
			for j := range y {
				y[j] = s * b[j]
			}
			return
		case Div:
			for j := range y {
				y[j] = s / b[j]
			}
			return
		}
		for j := range y {
			y[j] = binaryScalar(op, s, b[j])
		}
	default:
		v := binaryScalar(op, a[0], b[0])
		for j := range y {
			y[j] = v
		}
	}
}

func binaryScalar(op BinaryOp, a, b float32) float32 {
	switch op {
	case Add:
		return a + b
	case Sub:
		return a - b
	case Mul:
		return a * b
	case Div:
		return a / b
	case Maximum: // NaN in either operand propagates
		if a > b || a != a {
			return a
		}
		return b
	case Minimum:
		if a < b || a != a {
			return a
		}
		return b
	case Pow:
		return float32(math.Pow(float64(a), float64(b)))
	case Greater:
		if a > b {
			return 1
		}
		return 0
	case Equal:
		if a == b {
			return 1
		}
		return 0
	}
	panic(fmt.Sprintf("backend: unknown binary op %d", op))
}
