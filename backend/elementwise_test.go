package backend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// unary64 holds the plain float64 definitions the kernels are checked against.
var unary64 = map[UnaryOp]func(x, alpha float64) float64{
	Identity:   func(x, _ float64) float64 { return x },
	Neg:        func(x, _ float64) float64 { return -x },
	Exp:        func(x, _ float64) float64 { return math.Exp(x) },
	Log:        func(x, _ float64) float64 { return math.Log(x) },
	Sqrt:       func(x, _ float64) float64 { return math.Sqrt(x) },
	Rsqrt:      func(x, _ float64) float64 { return 1 / math.Sqrt(x) },
	Square:     func(x, _ float64) float64 { return x * x },
	Abs:        func(x, _ float64) float64 { return math.Abs(x) },
	Reciprocal: func(x, _ float64) float64 { return 1 / x },
	Sign: func(x, _ float64) float64 {
		if x > 0 {
			return 1
		} else if x < 0 {
			return -1
		}
		return 0
	},
	ReLU: func(x, _ float64) float64 { return math.Max(x, 0) },
	LeakyReLU: func(x, a float64) float64 {
		if x > 0 {
			return x
		}
		return a * x
	},
	ELU: func(x, a float64) float64 {
		if x > 0 {
			return x
		}
		return a * (math.Exp(x) - 1)
	},
	SELU: func(x, _ float64) float64 {
		if x > 0 {
			return 1.0507009873554805 * x
		}
		return 1.0507009873554805 * 1.6732632423543772 * (math.Exp(x) - 1)
	},
	GELU:     func(x, _ float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) },
	Sigmoid:  func(x, _ float64) float64 { return 1 / (1 + math.Exp(-x)) },
	Tanh:     func(x, _ float64) float64 { return math.Tanh(x) },
	Softplus: func(x, _ float64) float64 { return math.Log(1 + math.Exp(x)) },
	Softsign: func(x, _ float64) float64 { return x / (1 + math.Abs(x)) },
	Swish:    func(x, _ float64) float64 { return x / (1 + math.Exp(-x)) },
}

// unaryInputs draws inputs inside each op's domain and away from kinks, where a central
// difference would straddle two branches.
func unaryInputs(op UnaryOp, r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch op {
		case Log, Sqrt, Rsqrt:
			x[i] = float32(0.2 + 4*r.Float64())
		default:
			v := 0.05 + 4*r.Float64()
			if r.IntN(2) == 0 {
				v = -v
			}
			x[i] = float32(v)
		}
	}
	return x
}

func TestUnary(t *testing.T) {
	if len(unary64) != len(unaryNames) {
		t.Fatalf("the test covers %d unary ops, the backend names %d", len(unary64), len(unaryNames))
	}
	for op, f := range unary64 {
		for _, alpha := range []float32{0.2, 1.5} {
			name := fmt.Sprintf("%v alpha %g", op, alpha)
			r := newRNG(uint64(op) + 40)
			// Long enough to take the parallel path.
			x := unaryInputs(op, r, 3*unaryGrain+7)
			dy := randVec(r, len(x), -1, 1)
			y := nanVec(len(x))
			ref.Unary(op, alpha, x, y)
			want := make([]float64, len(x))
			wdx := make([]float64, len(x))
			a := float64(alpha)
			for i, v := range x {
				xv := float64(v)
				want[i] = f(xv, a)
				h := 1e-6 * max(1, math.Abs(xv))
				wdx[i] = float64(dy[i]) * (f(xv+h, a) - f(xv-h, a)) / (2 * h)
			}
			assertClose(t, name+" forward", y, want, 1e-6, 1e-7)

			dx := nanVec(len(x))
			ref.UnaryBackward(op, alpha, x, y, dy, dx)
			assertClose(t, name+" backward", dx, wdx, 1e-4, 1e-6)
			// Without the forward output the kernel recomputes what it needs.
			dx = nanVec(len(x))
			ref.UnaryBackward(op, alpha, x, nil, dy, dx)
			assertClose(t, name+" backward without y", dx, wdx, 1e-4, 1e-6)

			// In place: y aliases x.
			xi := append([]float32(nil), x...)
			ref.Unary(op, alpha, xi, xi)
			assertClose(t, name+" in place", xi, want, 1e-6, 1e-7)
		}
	}
}

// TestUnaryExtremes checks that the stable forms stay finite where naive ones overflow.
func TestUnaryExtremes(t *testing.T) {
	x := []float32{-1000, -100, -20, 0, 20, 100, 1000}
	cases := []struct {
		op   UnaryOp
		want []float64
	}{
		{Sigmoid, []float64{0, 3.720076e-44, 2.0611537e-09, 0.5, 1, 1, 1}},
		{Softplus, []float64{0, 3.720076e-44, 2.0611537e-09, math.Ln2, 20, 100, 1000}},
		{Swish, []float64{-0, -3.720076e-42, -4.1223073e-08, 0, 20, 100, 1000}},
		{Tanh, []float64{-1, -1, -1, 0, 1, 1, 1}},
		{GELU, []float64{-0, -0, -0, 0, 20, 100, 1000}},
	}
	for _, c := range cases {
		y := make([]float32, len(x))
		ref.Unary(c.op, 0, x, y)
		assertClose(t, c.op.String(), y, c.want, 1e-6, 1e-45)
		dx := make([]float32, len(x))
		ref.UnaryBackward(c.op, 0, x, y, []float32{1, 1, 1, 1, 1, 1, 1}, dx)
		for i, v := range dx {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Errorf("%v backward at %g: %g", c.op, x[i], v)
			}
		}
	}
	// Sign has derivative 0 everywhere (the kink included); Abs has sign(x).
	dx := nanVec(3)
	ref.UnaryBackward(Sign, 0, []float32{-1, 0, 2}, nil, []float32{5, 5, 5}, dx)
	assertClose(t, "sign backward", dx, []float64{0, 0, 0}, 0, 0)
	ref.UnaryBackward(Abs, 0, []float32{-1, 0, 2}, nil, []float32{5, 5, 5}, dx)
	assertClose(t, "abs backward", dx, []float64{-5, 0, 5}, 0, 0)
}

var binary64 = map[BinaryOp]func(a, b float64) float64{
	Add:     func(a, b float64) float64 { return a + b },
	Sub:     func(a, b float64) float64 { return a - b },
	Mul:     func(a, b float64) float64 { return a * b },
	Div:     func(a, b float64) float64 { return a / b },
	Maximum: math.Max,
	Minimum: math.Min,
	Pow:     math.Pow,
	Greater: func(a, b float64) float64 {
		if a > b {
			return 1
		}
		return 0
	},
	Equal: func(a, b float64) float64 {
		if a == b {
			return 1
		}
		return 0
	},
}

// naiveBroadcast evaluates f at every index of the broadcast shape by NumPy's rule: align the
// shapes on the right and read index 0 along an operand's size-1 or missing axes.
func naiveBroadcast(f func(a, b float64) float64, a []float32, aShape []int, b []float32, bShape []int, yShape []int) []float64 {
	total := 1
	for _, d := range yShape {
		total *= d
	}
	offset := func(shape, idx []int) int {
		off := 0
		for i, d := range shape {
			j := idx[len(idx)-len(shape)+i]
			if d == 1 {
				j = 0
			}
			off = off*d + j
		}
		return off
	}
	out := make([]float64, total)
	idx := make([]int, len(yShape))
	for flat := 0; flat < total; flat++ {
		rem := flat
		for i := len(yShape) - 1; i >= 0; i-- {
			idx[i] = rem % yShape[i]
			rem /= yShape[i]
		}
		out[flat] = f(float64(a[offset(aShape, idx)]), float64(b[offset(bShape, idx)]))
	}
	return out
}

func broadcastShape(a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range out {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		out[i] = max(da, db)
		if da == 0 || db == 0 {
			out[i] = 0
		}
	}
	return out
}

func size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func TestBinary(t *testing.T) {
	pairs := [][2][]int{
		{{2, 3}, {2, 3}},             // same shape
		{{}, {}},                     // two scalars
		{{2, 3}, {}},                 // b scalar (rank 0)
		{{2, 3}, {1}},                // b scalar (rank 1)
		{{1}, {2, 2}},                // a scalar
		{{4, 5}, {5}},                // bias add along the last axis
		{{5}, {4, 5}},                // a is the row
		{{3, 1}, {1, 4}},             // outer product shape
		{{2, 1, 4}, {3, 1}},          // both broadcast, different ranks
		{{2, 3, 4, 5}, {3, 1, 5}},    // middle axis broadcast
		{{2, 3, 4, 5}, {2, 1, 1, 5}}, // non-adjacent broadcast axes
		{{1, 3, 1}, {2, 1, 4}},
		{{2, 0, 3}, {3}},          // empty
		{{130, 300}, {300}},       // parallel row-vector path
		{{3, 100, 130}, {100, 1}}, // parallel general path
		{{70000}, {70000}},        // parallel flat path, split mid-range
	}
	for pi, pr := range pairs {
		aShape, bShape := pr[0], pr[1]
		yShape := broadcastShape(aShape, bShape)
		for op, f := range binary64 {
			name := fmt.Sprintf("%v %v op %d", aShape, bShape, op)
			r := newRNG(uint64(50 + pi))
			var a, b []float32
			if pi%2 == 0 {
				// Small integers make ties, so Equal, Greater, Maximum and Minimum see them.
				a, b = make([]float32, size(aShape)), make([]float32, size(bShape))
				for i := range a {
					a[i] = float32(r.IntN(5) - 2)
				}
				for i := range b {
					b[i] = float32(r.IntN(5) - 2)
				}
			} else {
				a, b = randVec(r, size(aShape), -2, 2), randVec(r, size(bShape), -2, 2)
			}
			if op == Pow {
				for i := range a {
					a[i] = float32(math.Abs(float64(a[i])) + 0.5)
				}
			}
			if op == Div {
				for i := range b {
					if b[i] == 0 {
						b[i] = 0.5
					}
				}
			}
			want := naiveBroadcast(f, a, aShape, b, bShape, yShape)
			y := nanVec(size(yShape))
			ref.Binary(op, a, aShape, b, bShape, y, yShape)
			assertClose(t, name, y, want, 1e-6, 1e-7)
		}
	}
}

func TestBinaryNaN(t *testing.T) {
	nan := float32(math.NaN())
	y := make([]float32, 2)
	ref.Binary(Maximum, []float32{nan, 1}, []int{2}, []float32{1, nan}, []int{2}, y, []int{2})
	if !math.IsNaN(float64(y[0])) || !math.IsNaN(float64(y[1])) {
		t.Errorf("Maximum with NaN operands = %v, want NaN in both", y)
	}
}
