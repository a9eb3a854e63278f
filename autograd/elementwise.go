package autograd

import (
	"math"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// Scalar is a rank-0 constant, for mixing plain numbers into broadcasting ops.
func Scalar(v float32) *Variable { return Constant(tensor.Scalar(v)) }

// Add returns a+b with NumPy broadcasting.
func Add(a, b *Variable) *Variable { return binary("Add", backend.Add, a, b) }

// Sub returns a-b with NumPy broadcasting.
func Sub(a, b *Variable) *Variable { return binary("Sub", backend.Sub, a, b) }

// Mul returns a*b element-wise with NumPy broadcasting.
func Mul(a, b *Variable) *Variable { return binary("Mul", backend.Mul, a, b) }

// Div returns a/b element-wise with NumPy broadcasting.
func Div(a, b *Variable) *Variable { return binary("Div", backend.Div, a, b) }

// Maximum returns the element-wise larger of a and b. Where they are equal the gradient goes
// to a only, so the two gradients always sum to the incoming one.
func Maximum(a, b *Variable) *Variable { return binary("Maximum", backend.Maximum, a, b) }

// Minimum returns the element-wise smaller of a and b; ties send the gradient to a, as in
// Maximum.
func Minimum(a, b *Variable) *Variable { return binary("Minimum", backend.Minimum, a, b) }

// Pow returns a**b element-wise with NumPy broadcasting. The gradient with respect to b,
// y*ln(a), is taken as 0 where a <= 0: the real power is not differentiable in b there.
func Pow(a, b *Variable) *Variable { return binary("Pow", backend.Pow, a, b) }

func binary(name string, op backend.BinaryOp, a, b *Variable) *Variable {
	if err := check(name, a, b); err != nil {
		return Failed(err)
	}
	switch op {
	case backend.Add, backend.Sub, backend.Mul, backend.Div, backend.Maximum, backend.Minimum, backend.Pow:
	default:
		return opErrorf(name, "binary op %d is not differentiable", op)
	}
	as, bs := a.value.Shape(), b.value.Shape()
	var buf [6]int
	ys, ok := broadcastShape(buf[:], as, bs)
	if !ok {
		return opErrorf(name, "shapes %v and %v do not broadcast", as, bs)
	}
	ar := arenaOf(a, b)
	y := ar.zeros(ys...)
	Kernels().Binary(op, a.value.Float32s(), as, b.value.Float32s(), bs, y.Float32s(), y.Shape())
	v, nd := ar.record(y, binaryGrad, a, b)
	if nd != nil {
		nd.op = uint8(op)
		nd.vals[0], nd.vals[1] = a.value, b.value
		if op == backend.Pow && b.requiresGrad {
			// y*ln(a) needs y; a's gradient is rebuilt from the inputs.
			nd.out = y
		}
	}
	return v
}

// binaryGrad reads the operands from vals, the op from op, and (Pow) the output from out.
func binaryGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	av, bv := nd.vals[0], nd.vals[1]
	as, bs, ys := av.Shape(), bv.Shape(), g.Shape()
	need0, need1 := NeedsGrad(nd.inputs, 0), NeedsGrad(nd.inputs, 1)
	// times is the broadcast product (or quotient) of the incoming gradient with one operand
	// or a function of it.
	times := func(op backend.BinaryOp, g, t *tensor.Tensor) *tensor.Tensor {
		o := ar.zeros(ys...)
		Kernels().Binary(op, g.Float32s(), ys, t.Float32s(), t.Shape(), o.Float32s(), o.Shape())
		return o
	}
	switch op := backend.BinaryOp(nd.op); op {
	case backend.Add:
		if need0 {
			out[0] = sumTo(ar, g, as)
		}
		if need1 {
			out[1] = sumTo(ar, g, bs)
		}
	case backend.Sub:
		if need0 {
			out[0] = sumTo(ar, g, as)
		}
		if need1 {
			out[1] = scaled(ar, sumTo(ar, g, bs), -1)
		}
	case backend.Mul:
		if need0 {
			out[0] = sumTo(ar, times(backend.Mul, g, bv), as)
		}
		if need1 {
			out[1] = sumTo(ar, times(backend.Mul, g, av), bs)
		}
	case backend.Div:
		gb := times(backend.Div, g, bv) // g/b, shared by both gradients
		if need0 {
			out[0] = sumTo(ar, gb, as)
		}
		if need1 {
			// d(a/b)/db = -a/b², formed as -(g/b)*a/b.
			t := times(backend.Div, times(backend.Mul, gb, av), bv)
			out[1] = scaled(ar, sumTo(ar, t, bs), -1)
		}
	case backend.Maximum, backend.Minimum:
		// toB is 1 exactly where b strictly wins, so ties go to a.
		toB := ar.zeros(ys...)
		if op == backend.Maximum {
			Kernels().Binary(backend.Greater, bv.Float32s(), bs, av.Float32s(), as, toB.Float32s(), toB.Shape())
		} else {
			Kernels().Binary(backend.Greater, av.Float32s(), as, bv.Float32s(), bs, toB.Float32s(), toB.Shape())
		}
		gs, m := g.Float32s(), toB.Float32s()
		if need0 {
			ga := ar.zeros(ys...)
			d := ga.Float32s()
			for i, v := range gs {
				if m[i] == 0 {
					d[i] = v
				}
			}
			out[0] = sumTo(ar, ga, as)
		}
		if need1 {
			gb := ar.zeros(ys...)
			d := gb.Float32s()
			for i, v := range gs {
				if m[i] != 0 {
					d[i] = v
				}
			}
			out[1] = sumTo(ar, gb, bs)
		}
	case backend.Pow:
		if need0 {
			bm1 := ar.zeros(bs...)
			d := bm1.Float32s()
			for i, v := range bv.Float32s() {
				d[i] = v - 1
			}
			p := ar.zeros(ys...)
			Kernels().Binary(backend.Pow, av.Float32s(), as, d, bs, p.Float32s(), p.Shape())
			t := times(backend.Mul, p, bv) // b*a^(b-1)
			out[0] = sumTo(ar, times(backend.Mul, g, t), as)
		}
		if need1 {
			la := ar.zeros(as...)
			d := la.Float32s()
			for i, v := range av.Float32s() {
				if v > 0 {
					d[i] = float32(math.Log(float64(v)))
				}
			}
			t := times(backend.Mul, nd.out, la)
			out[1] = sumTo(ar, times(backend.Mul, g, t), bs)
		}
	}
}

// AddScalar returns x+s.
func AddScalar(x *Variable, s float32) *Variable {
	if err := check("AddScalar", x); err != nil {
		return Failed(err)
	}
	xs := x.value.Shape()
	ar := x.arena
	y := ar.zeros(xs...)
	Kernels().Binary(backend.Add, x.value.Float32s(), xs, ar.scalarBuf(s), nil, y.Float32s(), y.Shape())
	v, _ := ar.record(y, identityGrad, x)
	return v
}

// MulScalar returns x*s.
func MulScalar(x *Variable, s float32) *Variable {
	if err := check("MulScalar", x); err != nil {
		return Failed(err)
	}
	xs := x.value.Shape()
	ar := x.arena
	y := ar.zeros(xs...)
	Kernels().Binary(backend.Mul, x.value.Float32s(), xs, ar.scalarBuf(s), nil, y.Float32s(), y.Shape())
	v, nd := ar.record(y, mulScalarGrad, x)
	if nd != nil {
		nd.scalar[0] = s
	}
	return v
}

func mulScalarGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	out[0] = scaled(ar, g, nd.scalar[0])
}

// Unary applies an element-wise function; alpha parameterises LeakyReLU (negative slope) and
// ELU (scale of the negative part) and is ignored by the others.
func Unary(op backend.UnaryOp, alpha float32, x *Variable) *Variable {
	return unary("Unary("+op.String()+")", op, alpha, x)
}

func unary(name string, op backend.UnaryOp, alpha float32, x *Variable) *Variable {
	if err := check(name, x); err != nil {
		return Failed(err)
	}
	if op > backend.Swish {
		return opErrorf(name, "unknown unary op %v", op)
	}
	xv := x.value
	ar := x.arena
	y := ar.zeros(xv.Shape()...)
	Kernels().Unary(op, alpha, xv.Float32s(), y.Float32s())
	v, nd := ar.record(y, unaryGrad, x)
	if nd != nil {
		// The kernel's backward may read x or y, whichever its derivative is cheaper from,
		// so both stay referenced; y is the output's own buffer, not a copy.
		nd.vals[0], nd.out = xv, y
		nd.op, nd.scalar[0] = uint8(op), alpha
	}
	return v
}

func unaryGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	xv := nd.vals[0]
	dx := ar.zeros(xv.Shape()...)
	Kernels().UnaryBackward(backend.UnaryOp(nd.op), nd.scalar[0], xv.Float32s(), nd.out.Float32s(), g.Float32s(), dx.Float32s())
	out[0] = dx
}

// Neg returns -x.
func Neg(x *Variable) *Variable { return unary("Neg", backend.Neg, 0, x) }

// Exp returns e**x.
func Exp(x *Variable) *Variable { return unary("Exp", backend.Exp, 0, x) }

// Log returns the natural logarithm.
func Log(x *Variable) *Variable { return unary("Log", backend.Log, 0, x) }

// Sqrt returns the square root.
func Sqrt(x *Variable) *Variable { return unary("Sqrt", backend.Sqrt, 0, x) }

// Rsqrt returns 1/sqrt(x).
func Rsqrt(x *Variable) *Variable { return unary("Rsqrt", backend.Rsqrt, 0, x) }

// Square returns x².
func Square(x *Variable) *Variable { return unary("Square", backend.Square, 0, x) }

// Abs returns |x|.
func Abs(x *Variable) *Variable { return unary("Abs", backend.Abs, 0, x) }

// Sign returns -1, 0 or 1; its gradient is zero.
func Sign(x *Variable) *Variable { return unary("Sign", backend.Sign, 0, x) }

// Reciprocal returns 1/x.
func Reciprocal(x *Variable) *Variable { return unary("Reciprocal", backend.Reciprocal, 0, x) }

// ReLU returns max(x, 0).
func ReLU(x *Variable) *Variable { return unary("ReLU", backend.ReLU, 0, x) }

// LeakyReLU returns x where x > 0 and alpha*x elsewhere.
func LeakyReLU(x *Variable, alpha float32) *Variable {
	return unary("LeakyReLU", backend.LeakyReLU, alpha, x)
}

// ELU returns x where x > 0 and alpha*(e**x - 1) elsewhere.
func ELU(x *Variable, alpha float32) *Variable { return unary("ELU", backend.ELU, alpha, x) }

// SELU is the self-normalising ELU with its fixed scale and alpha.
func SELU(x *Variable) *Variable { return unary("SELU", backend.SELU, 0, x) }

// GELU is the exact Gaussian error linear unit, x*Φ(x).
func GELU(x *Variable) *Variable { return unary("GELU", backend.GELU, 0, x) }

// Sigmoid returns 1/(1+e**-x).
func Sigmoid(x *Variable) *Variable { return unary("Sigmoid", backend.Sigmoid, 0, x) }

// Tanh returns the hyperbolic tangent.
func Tanh(x *Variable) *Variable { return unary("Tanh", backend.Tanh, 0, x) }

// Softplus returns ln(1+e**x).
func Softplus(x *Variable) *Variable { return unary("Softplus", backend.Softplus, 0, x) }

// Softsign returns x/(1+|x|).
func Softsign(x *Variable) *Variable { return unary("Softsign", backend.Softsign, 0, x) }

// Swish returns x*sigmoid(x) (also called SiLU).
func Swish(x *Variable) *Variable { return unary("Swish", backend.Swish, 0, x) }

// Clip limits x to [lo, hi]. The gradient passes where lo <= x <= hi, so a value sitting
// exactly on a bound still learns.
func Clip(x *Variable, lo, hi float32) *Variable {
	if err := check("Clip", x); err != nil {
		return Failed(err)
	}
	if !(lo <= hi) {
		return opErrorf("Clip", "lower bound %g above upper bound %g", lo, hi)
	}
	xv := x.value
	xs := xv.Shape()
	ar := x.arena
	t := ar.zeros(xs...)
	y := ar.zeros(xs...)
	k := Kernels()
	k.Binary(backend.Maximum, xv.Float32s(), xs, ar.scalarBuf(lo), nil, t.Float32s(), t.Shape())
	k.Binary(backend.Minimum, t.Float32s(), xs, ar.scalarBuf(hi), nil, y.Float32s(), y.Shape())
	v, nd := ar.record(y, clipGrad, x)
	if nd != nil {
		nd.vals[0] = xv
		nd.scalar = [2]float32{lo, hi}
	}
	return v
}

func clipGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	xv := nd.vals[0]
	lo, hi := nd.scalar[0], nd.scalar[1]
	dx := ar.zeros(xv.Shape()...)
	d, gs := dx.Float32s(), g.Float32s()
	for i, v := range xv.Float32s() {
		if v >= lo && v <= hi {
			d[i] = gs[i]
		}
	}
	out[0] = dx
}
