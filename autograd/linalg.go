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
	batch, m, k, n := matmulDims(as, bs)
	var buf [3]int
	ys := append(append(buf[:0], as[:ra-1]...), n)
	ar := arenaOf(a, b)
	y := ar.zeros(ys...)
	A, B, Y := av.Float32s(), bv.Float32s(), y.Float32s()
	for i := 0; i < batch; i++ {
		gemm(backend.GemmParams{M: m, N: n, K: k}, A[i*m*k:(i+1)*m*k], B[i*k*n:(i+1)*k*n], Y[i*m*n:(i+1)*m*n])
	}
	v, nd := ar.record(y, matmulGrad, a, b)
	if nd != nil {
		nd.vals[0], nd.vals[1] = av, bv
	}
	return v
}

// matmulDims counts the separate products of a MatMul and their sizes; a shared right
// operand folds the batch into rows.
func matmulDims(as, bs tensor.Shape) (batch, m, k, n int) {
	ra, rb := len(as), len(bs)
	batch, m, k, n = 1, as[ra-2], as[ra-1], bs[rb-1]
	switch {
	case rb == 3:
		batch = as[0]
	case ra == 3:
		m *= as[0]
	}
	return
}

// matmulGrad reads the operands from vals[0] and vals[1].
func matmulGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	av, bv := nd.vals[0], nd.vals[1]
	batch, m, k, n := matmulDims(av.Shape(), bv.Shape())
	A, B, G := av.Float32s(), bv.Float32s(), g.Float32s()
	if NeedsGrad(nd.inputs, 0) {
		// dA = G·Bᵀ
		da := ar.zeros(av.Shape()...)
		D := da.Float32s()
		for i := 0; i < batch; i++ {
			gemm(backend.GemmParams{TransB: true, M: m, N: k, K: n}, G[i*m*n:(i+1)*m*n], B[i*k*n:(i+1)*k*n], D[i*m*k:(i+1)*m*k])
		}
		out[0] = da
	}
	if NeedsGrad(nd.inputs, 1) {
		// dB = Aᵀ·G
		db := ar.zeros(bv.Shape()...)
		D := db.Float32s()
		for i := 0; i < batch; i++ {
			gemm(backend.GemmParams{TransA: true, M: k, N: n, K: m}, A[i*m*k:(i+1)*m*k], G[i*m*n:(i+1)*m*n], D[i*k*n:(i+1)*k*n])
		}
		out[1] = db
	}
}

// Dense is the fused fully connected op act(x·kernel + bias). x is [..., in] with rank >= 2
// (leading axes are treated as rows), kernel is [in, out], bias is [out] or nil. The forward
// pass is one GEMM whose epilogue adds the bias and applies the activation; the backward pass
// recovers the activation's derivative from the saved output, so the pre-activation is never
// stored.
func Dense(x, kernel, bias *Variable, act backend.Activation) *Variable {
	var err error
	if bias != nil {
		err = check("Dense", x, kernel, bias)
	} else {
		err = check("Dense", x, kernel)
	}
	if err != nil {
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
	ar := arenaOf(x, kernel, bias)
	var buf [4]int
	ys := append(append(buf[:0], xs[:len(xs)-1]...), outDim)
	y := ar.zeros(ys...)
	if in == 0 {
		// No products: the epilogue alone (bias, activation) gives the result.
		fillEpilogue(y.Float32s(), rows, outDim, bs, act)
	} else {
		gemm(backend.GemmParams{M: rows, N: outDim, K: in, Bias: bs, Act: act}, xv.Float32s(), wv.Float32s(), y.Float32s())
	}
	var v *Variable
	var nd *node
	if bias != nil {
		v, nd = ar.record(y, denseGrad, x, kernel, bias)
	} else {
		v, nd = ar.record(y, denseGrad, x, kernel)
	}
	if nd != nil {
		nd.vals[0], nd.vals[1] = xv, wv
		nd.op = uint8(act)
		// The output is read back only when the activation's derivative needs it.
		if act != backend.ActNone {
			nd.out = y
		}
	}
	return v
}

// denseGrad reads x and the kernel from vals, the activation from op and the activated
// output from out.
func denseGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	xv, wv := nd.vals[0], nd.vals[1]
	xs, ws := xv.Shape(), wv.Shape()
	in, outDim := ws[0], ws[1]
	rows := xs[:len(xs)-1].Size()
	dz := actBackward(ar, backend.Activation(nd.op), nd.out, g)
	DZ := dz.Float32s()
	if NeedsGrad(nd.inputs, 0) {
		dx := ar.zeros(xs...)
		gemm(backend.GemmParams{TransB: true, M: rows, N: in, K: outDim}, DZ, wv.Float32s(), dx.Float32s())
		out[0] = dx
	}
	if NeedsGrad(nd.inputs, 1) {
		dw := ar.zeros(ws...)
		gemm(backend.GemmParams{TransA: true, M: in, N: outDim, K: rows}, xv.Float32s(), DZ, dw.Float32s())
		out[1] = dw
	}
	if len(nd.inputs) == 3 && NeedsGrad(nd.inputs, 2) {
		db := ar.zeros(outDim)
		if rows > 0 {
			dzs := dz.Shape()
			if len(dzs) != 2 {
				rc := ar.intBuf(2)
				rc[0], rc[1] = rows, outDim
				dzs = rc
			}
			Kernels().Reduce(backend.ReduceSum, DZ, dzs, axis0, db.Float32s())
		}
		out[2] = db
	}
}

// actBackward maps the gradient of act's output to the gradient of its input, reading the
// derivative off the output y. It returns g itself for ActNone.
func actBackward(ar *Arena, act backend.Activation, y, g *tensor.Tensor) *tensor.Tensor {
	if act == backend.ActNone {
		return g
	}
	dz := ar.zeros(g.Shape()...)
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
