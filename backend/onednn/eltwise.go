package onednn

import (
	"fmt"

	"github.com/deepframe/deepframe/backend"
)

type eltKey struct {
	op     backend.UnaryOp
	alpha  float32
	n      int
	bwd    bool
	useDst bool // backward from y (cheaper where the derivative is a function of the output)
}

// Below these element counts the fallback runs element-wise ops: a oneDNN call (binding
// buffers, the OpenMP fork and join) costs ~10µs on this machine, as much as a Go loop over
// 4096 transcendentals or over 32768 elements of a memory-bound op (ReLU, or a backward
// computed from the output). Measured with TestBenchTable.
var (
	eltMin      = 4096
	eltMinCheap = 32768
)

// cheap reports whether op (or its backward) is a memory-bound pass without
// transcendentals, for which oneDNN only pays off on larger tensors.
func cheap(op backend.UnaryOp, bwd, useDst bool) bool {
	switch op {
	case backend.Neg, backend.Square, backend.Abs, backend.ReLU, backend.LeakyReLU:
		return true
	}
	return bwd && useDst
}

// dstAlg is the "use dst for backward" variant of an algorithm: its backward reads the
// output y instead of recomputing the function from x (1-y² for tanh, y(1-y) for the
// logistic, y for exp, 1/(2y) for sqrt).
func dstAlg(op backend.UnaryOp) (int32, bool) {
	switch op {
	case backend.Tanh:
		return algEltTanhUseDst, true
	case backend.Sigmoid:
		return algEltLogisticUseDst, true
	case backend.Exp:
		return algEltExpUseDst, true
	case backend.Sqrt:
		return algEltSqrtUseDst, true
	}
	return 0, false
}

// eltAlg maps a unary op onto oneDNN's eltwise algorithms. SELU, Sign and Softsign have no
// counterpart in oneDNN 2.6 and stay with the fallback; Identity is a copy.
func eltAlg(op backend.UnaryOp, alpha float32) (alg int32, a, b float32, ok bool) {
	switch op {
	case backend.Neg:
		return algEltLinear, -1, 0, true
	case backend.Exp:
		return algEltExp, 0, 0, true
	case backend.Log:
		return algEltLog, 0, 0, true
	case backend.Sqrt:
		return algEltSqrt, 0, 0, true
	case backend.Square:
		return algEltSquare, 0, 0, true
	case backend.Abs:
		return algEltAbs, 0, 0, true
	case backend.ReLU:
		return algEltRelu, 0, 0, true
	case backend.LeakyReLU:
		return algEltRelu, alpha, 0, true
	case backend.ELU:
		return algEltElu, alpha, 0, true
	case backend.GELU:
		return algEltGeluErf, 0, 0, true
	case backend.Sigmoid:
		return algEltLogistic, 0, 0, true
	case backend.Tanh:
		return algEltTanh, 0, 0, true
	case backend.Softplus:
		return algEltSoftRelu, 0, 0, true
	case backend.Swish:
		return algEltSwish, 1, 0, true
	}
	return 0, 0, 0, false
}

func (b *Backend) buildElt(k eltKey) (*plan, error) {
	l := b.lib
	alg, a, beta, ok := eltAlg(k.op, k.alpha)
	if !ok {
		return nil, fmt.Errorf("no oneDNN algorithm for %v", k.op)
	}
	if k.useDst {
		if alg, ok = dstAlg(k.op); !ok {
			return nil, fmt.Errorf("no use-dst algorithm for %v", k.op)
		}
	}
	md, err := l.newMD([]int64{int64(k.n)}, tagA)
	if err != nil {
		return nil, err
	}
	bld, err := l.newBuilder()
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			bld.abort()
		}
	}()
	fwd := new(opDesc)
	if st := l.eltwiseFwdInit(fwd, propForwardTraining, alg, md, a, beta); st != dnnlSuccess {
		return nil, fmt.Errorf("dnnl_eltwise_forward_desc_init: %s", statusText(st))
	}
	fpd, err := bld.pd(fwd, 0)
	if err != nil {
		return nil, err
	}
	if !k.bwd {
		ix, iy := bld.user(md), bld.user(md)
		if err := bld.step(fpd, stepArg{argSrc, ix}, stepArg{argDst, iy}); err != nil {
			return nil, err
		}
		done = true
		return bld.finish(), nil
	}
	bwd := new(opDesc)
	if st := l.eltwiseBwdInit(bwd, alg, md, md, a, beta); st != dnnlSuccess {
		return nil, fmt.Errorf("dnnl_eltwise_backward_desc_init: %s", statusText(st))
	}
	bpd, err := bld.pd(bwd, fpd)
	if err != nil {
		return nil, err
	}
	in := stepArg{argSrc, bld.user(md)}
	if k.useDst {
		in.id = argDst
	}
	idy, idx := bld.user(md), bld.user(md)
	if err := bld.step(bpd, in, stepArg{argDiffDst, idy}, stepArg{argDiffSrc, idx}); err != nil {
		return nil, err
	}
	done = true
	return bld.finish(), nil
}

func eltThreshold(op backend.UnaryOp, bwd, useDst bool) int {
	if cheap(op, bwd, useDst) {
		return eltMinCheap
	}
	return eltMin
}

func (b *Backend) Unary(op backend.UnaryOp, alpha float32, x, y []float32) {
	n := min(len(x), len(y))
	if n > 0 && n >= eltThreshold(op, false, false) {
		if _, _, _, ok := eltAlg(op, alpha); ok &&
			runPlan(b, &b.elt, eltKey{op: op, alpha: alpha, n: n}, (*Backend).buildElt, f32p(x), f32p(y)) {
			return
		}
	}
	b.Backend.Unary(op, alpha, x, y)
}

// UnaryBackward differentiates from y when the op's derivative is a function of its output
// and the caller kept y, else from x (so it does not matter whether y was kept).
func (b *Backend) UnaryBackward(op backend.UnaryOp, alpha float32, x, y, dy, dx []float32) {
	n := min(len(x), len(dy), len(dx))
	_, hasDst := dstAlg(op)
	useDst := hasDst && len(y) >= n
	if n > 0 && n >= eltThreshold(op, true, useDst) {
		if _, _, _, ok := eltAlg(op, alpha); ok {
			in := x
			if useDst {
				in = y
			}
			if runPlan(b, &b.elt, eltKey{op: op, alpha: alpha, n: n, bwd: true, useDst: useDst}, (*Backend).buildElt, f32p(in), f32p(dy), f32p(dx)) {
				return
			}
		}
	}
	b.Backend.UnaryBackward(op, alpha, x, y, dy, dx)
}
