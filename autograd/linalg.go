package autograd

import (
	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// gemm runs C = op(A)·op(B) (+bias, activation) into a zeroed c. Empty products are skipped:
// c is already the right answer, and kernels need not handle zero sizes.
func gemm(p backend.GemmParams, a, b, c []float32) {
	if p.M == 0 || p.N == 0 || p.K == 0 {
		return
	}
	p.Alpha = 1
	Kernels().Gemm(p, a, b, c)
}

// MatMul multiplies matrices: [M, K]·[K, N] → [M, N]; batched [B, M, K]·[B, K, N] → [B, M, N]
// with equal batch sizes; and [B, M, K]·[K, N] → [B, M, N], one matrix applied to every batch
// entry.
func MatMul(a, b *Variable) *Variable {
	if err := check("MatMul", a, b); err != nil {
		return Failed(err)
	}
	av, bv := a.value, b.value
	as, bs := av.Shape(), bv.Shape()
	ra, rb := len(as), len(bs)
	if !((ra == 2 && rb == 2) || (ra == 3 && (rb == 3 || rb == 2))) {
		return opErrorf("MatMul", "want 2-D x 2-D, 3-D x 3-D or 3-D x 2-D operands, got %v x %v", as, bs)
	}
	if as[ra-1] != bs[rb-2] {
		return opErrorf("MatMul", "inner dimensions differ: %v x %v", as, bs)
	}
	if ra == 3 && rb == 3 && as[0] != bs[0] {
		return opErrorf("MatMul", "batch sizes differ: %v x %v", as, bs)
	}
	// batch counts the separate products; a shared right operand folds the batch into rows.
	batch, m, k, n := 1, as[ra-2], as[ra-1], bs[rb-1]
	switch {
	case rb == 3:
		batch = as[0]
	case ra == 3:
		m *= as[0]
	}
	ys := append(as[:ra-1].Clone(), n)
	y := tensor.Zeros(ys...)
	A, B, Y := av.Float32s(), bv.Float32s(), y.Float32s()
	for i := 0; i < batch; i++ {
		gemm(backend.GemmParams{M: m, N: n, K: k}, A[i*m*k:(i+1)*m*k], B[i*k*n:(i+1)*k*n], Y[i*m*n:(i+1)*m*n])
	}
	inputs := []*Variable{a, b}
	return Record(y, inputs, func(g *tensor.Tensor) []*tensor.Tensor {
		out := make([]*tensor.Tensor, 2)
		G := g.Float32s()
		if NeedsGrad(inputs, 0) {
			// dA = G·Bᵀ
			da := tensor.Zeros(as...)
			D := da.Float32s()
			for i := 0; i < batch; i++ {
				gemm(backend.GemmParams{TransB: true, M: m, N: k, K: n}, G[i*m*n:(i+1)*m*n], B[i*k*n:(i+1)*k*n], D[i*m*k:(i+1)*m*k])
			}
			out[0] = da
		}
		if NeedsGrad(inputs, 1) {
			// dB = Aᵀ·G
			db := tensor.Zeros(bs...)
			D := db.Float32s()
			for i := 0; i < batch; i++ {
				gemm(backend.GemmParams{TransA: true, M: k, N: n, K: m}, A[i*m*k:(i+1)*m*k], G[i*m*n:(i+1)*m*n], D[i*k*n:(i+1)*k*n])
			}
			out[1] = db
		}
		return out
	})
}

// Dense is the fused fully connected op act(x·kernel + bias). x is [..., in] with rank >= 2
// (leading axes are treated as rows), kernel is [in, out], bias is [out] or nil. The forward
// pass is one GEMM whose epilogue adds the bias and applies the activation; the backward pass
// recovers the activation's derivative from the saved output, so the pre-activation is never
// stored.
func Dense(x, kernel, bias *Variable, act backend.Activation) *Variable {
	inputs := []*Variable{x, kernel}
	if bias != nil {
		inputs = append(inputs, bias)
	}
	if err := check("Dense", inputs...); err != nil {
		return Failed(err)
	}
	xv, wv := x.value, kernel.value
	xs, ws := xv.Shape(), wv.Shape()
	if len(xs) < 2 {
		return opErrorf("Dense", "input %v has rank %d, want rank >= 2 ([batch, ..., features])", xs, len(xs))
	}
	if len(ws) != 2 {
		return opErrorf("Dense", "kernel %v has rank %d, want 2 ([in, out])", ws, len(ws))
	}
	in, outDim := ws[0], ws[1]
	if xs[len(xs)-1] != in {
		return opErrorf("Dense", "input %v x kernel %v: input's last axis is %d, kernel wants %d", xs, ws, xs[len(xs)-1], in)
	}
	var bs []float32
	if bias != nil {
		if b := bias.value.Shape(); len(b) != 1 || b[0] != outDim {
			return opErrorf("Dense", "bias %v for kernel %v, want (%d,)", b, ws, outDim)
		}
		bs = bias.value.Float32s()
	}
	if act > backend.ActTanh {
		return opErrorf("Dense", "unknown activation %d", act)
	}
	rows := xs[:len(xs)-1].Size()
	ys := append(xs[:len(xs)-1].Clone(), outDim)
	y := tensor.Zeros(ys...)
	if in == 0 {
		// No products: the epilogue alone (bias, activation) gives the result.
		fillEpilogue(y.Float32s(), rows, outDim, bs, act)
	} else {
		gemm(backend.GemmParams{M: rows, N: outDim, K: in, Bias: bs, Act: act}, xv.Float32s(), wv.Float32s(), y.Float32s())
	}
	// The output is read back only when the activation's derivative needs it.
	var saved *tensor.Tensor
	if act != backend.ActNone {
		saved = y
	}
	return Record(y, inputs, func(g *tensor.Tensor) []*tensor.Tensor {
		out := make([]*tensor.Tensor, len(inputs))
		dz := actBackward(act, saved, g)
		DZ := dz.Float32s()
		if NeedsGrad(inputs, 0) {
			dx := tensor.Zeros(xs...)
			gemm(backend.GemmParams{TransB: true, M: rows, N: in, K: outDim}, DZ, wv.Float32s(), dx.Float32s())
			out[0] = dx
		}
		if NeedsGrad(inputs, 1) {
			dw := tensor.Zeros(ws...)
			gemm(backend.GemmParams{TransA: true, M: in, N: outDim, K: rows}, xv.Float32s(), DZ, dw.Float32s())
			out[1] = dw
		}
		if len(inputs) == 3 && NeedsGrad(inputs, 2) {
			db := tensor.Zeros(outDim)
			if rows > 0 {
				Kernels().Reduce(backend.ReduceSum, DZ, []int{rows, outDim}, []int{0}, db.Float32s())
			}
			out[2] = db
		}
		return out
	})
}

// actBackward maps the gradient of act's output to the gradient of its input, reading the
// derivative off the output y. It returns g itself for ActNone.
func actBackward(act backend.Activation, y, g *tensor.Tensor) *tensor.Tensor {
	if act == backend.ActNone {
		return g
	}
	dz := tensor.Zeros(g.Shape()...)
	d, gs, ys := dz.Float32s(), g.Float32s(), y.Float32s()
	switch act {
	case backend.ActReLU:
		for i, v := range ys {
			if v > 0 {
				d[i] = gs[i]
			}
		}
	case backend.ActSigmoid:
		for i, v := range ys {
			d[i] = gs[i] * v * (1 - v)
		}
	case backend.ActTanh:
		for i, v := range ys {
			d[i] = gs[i] * (1 - v*v)
		}
	}
	return dz
}

// fillEpilogue writes act(bias) into every row of y, the value of a product with no terms.
func fillEpilogue(y []float32, rows, cols int, bias []float32, act backend.Activation) {
	if len(bias) == 0 {
		if act == backend.ActSigmoid {
			for i := range y {
				y[i] = 0.5
			}
		}
		return
	}
	row := make([]float32, cols)
	copy(row, bias)
	if act != backend.ActNone {
		op := map[backend.Activation]backend.UnaryOp{backend.ActReLU: backend.ReLU, backend.ActSigmoid: backend.Sigmoid, backend.ActTanh: backend.Tanh}[act]
		Kernels().Unary(op, 0, bias, row)
	}
	for r := 0; r < rows; r++ {
		copy(y[r*cols:(r+1)*cols], row)
	}
}
