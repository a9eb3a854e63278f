package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// naiveMatMul multiplies row-major [m,k]·[k,n] with triple loops in float64.
func naiveMatMul(a, b []float32, m, k, n int) []float32 {
	out := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a[i*k+p]) * float64(b[p*n+j])
			}
			out[i*n+j] = float32(s)
		}
	}
	return out
}

func TestMatMul(t *testing.T) {
	rng := tensor.NewRNG(7)
	d := randDims(rng, 4, 1, 5)
	bt, m, k, n := d[0], d[1], d[2], d[3]
	cases := []struct {
		name   string
		as, bs []int
	}{
		{"2-D", []int{m, k}, []int{k, n}},
		{"3-D batched", []int{bt, m, k}, []int{bt, k, n}},
		{"3-D x 2-D", []int{bt, m, k}, []int{k, n}},
		{"vector-like", []int{1, k}, []int{k, 1}},
	}
	for _, c := range cases {
		a, b := normal(rng, c.as...), normal(rng, c.bs...)
		y := must(t, MatMul(Constant(a), Constant(b)))
		// Reference: per batch entry, naive product.
		rows, inner, cols := c.as[len(c.as)-2], c.as[len(c.as)-1], c.bs[len(c.bs)-1]
		batches := a.Len() / (rows * inner)
		var want []float32
		for i := 0; i < batches; i++ {
			bOff := 0
			if len(c.bs) == 3 {
				bOff = i * inner * cols
			}
			want = append(want, naiveMatMul(a.Float32s()[i*rows*inner:], b.Float32s()[bOff:], rows, inner, cols)...)
		}
		ws := append(append([]int(nil), c.as[:len(c.as)-1]...), cols)
		closeTo(t, c.name+" forward", y.Value(), want, ws, 1e-5)
		checkGrad(t, c.name, func(in []*Variable) *Variable { return MatMul(in[0], in[1]) }, a, b)
	}
}

// naiveDense computes act(x·w + b) row by row.
func naiveDense(x, w, b []float32, rows, in, out int, act backend.Activation) []float32 {
	y := naiveMatMul(x, w, rows, in, out)
	for i := range y {
		v := float64(y[i])
		if b != nil {
			v += float64(b[i%out])
		}
		switch act {
		case backend.ActReLU:
			v = math.Max(v, 0)
		case backend.ActSigmoid:
			v = 1 / (1 + math.Exp(-v))
		case backend.ActTanh:
			v = math.Tanh(v)
		}
		y[i] = float32(v)
	}
	return y
}

func TestDense(t *testing.T) {
	rng := tensor.NewRNG(8)
	acts := []struct {
		name string
		act  backend.Activation
	}{{"none", backend.ActNone}, {"relu", backend.ActReLU}, {"sigmoid", backend.ActSigmoid}, {"tanh", backend.ActTanh}}
	for _, a := range acts {
		for _, withBias := range []bool{true, false} {
			for _, lead := range [][]int{{3}, {2, 3}} {
				d := randDims(rng, 2, 2, 4)
				in, out := d[0], d[1]
				xs := append(append([]int(nil), lead...), in)
				rows := tensor.Shape(lead).Size()
				var x, w, b *tensor.Tensor
				// Redraw until every pre-activation is 0.1 from ReLU's kink: GradCheck's steps
				// must not cross it.
				for tries := 0; ; tries++ {
					x, w = normal(rng, xs...), normal(rng, in, out)
					b = nil
					if withBias {
						b = normal(rng, out)
					}
					z := naiveDense(x.Float32s(), w.Float32s(), floats(b), rows, in, out, backend.ActNone)
					if a.act != backend.ActReLU || minAbs(z) > 0.1 || tries > 100 {
						break
					}
				}
				name := fmt.Sprintf("Dense/%s/bias=%v/x%v", a.name, withBias, xs)
				var bv *Variable
				if b != nil {
					bv = Constant(b)
				}
				y := must(t, Dense(Constant(x), Constant(w), bv, a.act))
				want := naiveDense(x.Float32s(), w.Float32s(), floats(b), rows, in, out, a.act)
				closeTo(t, name+" forward", y.Value(), want, append(append([]int(nil), lead...), out), 1e-5)
				inputs := []*tensor.Tensor{x, w}
				if b != nil {
					inputs = append(inputs, b)
				}
				checkGrad(t, name, func(v []*Variable) *Variable {
					var bias *Variable
					if len(v) == 3 {
						bias = v[2]
					}
					return Dense(v[0], v[1], bias, a.act)
				}, inputs...)
			}
		}
	}
}

func TestDenseFrozenKernel(t *testing.T) {
	// With the kernel frozen only x and the bias get gradients.
	rng := tensor.NewRNG(9)
	x, w, b := leaf(normal(rng, 2, 3)), Constant(normal(rng, 3, 4)), leaf(normal(rng, 4))
	if err := SumAll(Dense(x, w, b, backend.ActTanh)).Backward(); err != nil {
		t.Fatal(err)
	}
	if x.Grad() == nil || b.Grad() == nil || w.Grad() != nil {
		t.Errorf("grads x %v, kernel %v, bias %v: want x and bias only", x.Grad(), w.Grad(), b.Grad())
	}
}

func floats(t *tensor.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Float32s()
}

func minAbs(v []float32) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, math.Abs(float64(x)))
	}
	return m
}
