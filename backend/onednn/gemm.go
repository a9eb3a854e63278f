package onednn

import (
	"fmt"
	"unsafe"

	"github.com/deepframe/deepframe/backend"
)

// GEMM goes to oneDNN's matmul primitive (with the bias and activation fused as a post-op)
// for products of at least matmulMin multiply-adds, and to the fallback below that: OpenBLAS
// when installed, else the reference backend. Measured here (TestBenchTable), the matmul
// beat OpenBLAS plus the Go epilogue by 1.5-2x on the MLP's and the CNN's forward layers
// (bias and ReLU fused), matched it on their transposed backward products and on large square
// ones, and lost on the iris network's tiny products (32×100×4: ~15-25µs of fixed cost for
// binding buffers and the OpenMP fork and join, against OpenBLAS's 3µs).

const (
	matmulMinWithBLAS = 1 << 20
	matmulMinNoBLAS   = 1 << 14 // against the reference GEMM, which is ~10x slower than sgemm
)

type gemmKey struct {
	transA, transB bool
	m, n, k        int
	bias           bool
	act            backend.Activation
}

func (b *Backend) buildGemm(k gemmKey) (*plan, error) {
	l := b.lib
	aTag, bTag := tagAB, tagAB
	if k.transA {
		aTag = tagBA // A is stored K×M: logical M×K with the rows innermost
	}
	if k.transB {
		bTag = tagBA
	}
	src, err := l.newMD([]int64{int64(k.m), int64(k.k)}, aTag)
	if err != nil {
		return nil, err
	}
	wei, err := l.newMD([]int64{int64(k.k), int64(k.n)}, bTag)
	if err != nil {
		return nil, err
	}
	dst, err := l.newMD([]int64{int64(k.m), int64(k.n)}, tagAB)
	if err != nil {
		return nil, err
	}
	var bias *memDesc
	if k.bias {
		if bias, err = l.newMD([]int64{1, int64(k.n)}, tagAB); err != nil {
			return nil, err
		}
	}
	op := new(opDesc)
	if st := l.call(l.matmulInit, uintptr(unsafe.Pointer(op)), uintptr(unsafe.Pointer(src)), uintptr(unsafe.Pointer(wei)),
		uintptr(unsafe.Pointer(bias)), uintptr(unsafe.Pointer(dst))); st != dnnlSuccess {
		return nil, fmt.Errorf("dnnl_matmul_desc_init: %s", statusText(st))
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
	if k.act != backend.ActNone {
		alg := map[backend.Activation]int32{backend.ActReLU: algEltRelu, backend.ActSigmoid: algEltLogistic, backend.ActTanh: algEltTanh}[k.act]
		if alg == 0 {
			return nil, fmt.Errorf("no oneDNN post-op for activation %d", k.act)
		}
		if err := bld.eltwisePostOp(alg); err != nil {
			return nil, err
		}
	}
	pd, err := bld.pd(op, 0)
	if err != nil {
		return nil, err
	}
	args := []stepArg{{argSrc, bld.user(src)}, {argWeights, bld.user(wei)}}
	if k.bias {
		args = append(args, stepArg{argBias, bld.user(bias)})
	}
	args = append(args, stepArg{argDst, bld.user(dst)})
	if err := bld.step(pd, args...); err != nil {
		return nil, err
	}
	done = true
	return bld.finish(), nil
}

// eltwisePostOp makes the builder's primitives apply alg to their output.
func (b *pdBuilder) eltwisePostOp(alg int32) error {
	l := b.l
	var po uintptr
	if st := l.call(l.postOpsCreate, uintptr(unsafe.Pointer(&po))); st != dnnlSuccess {
		return fmt.Errorf("dnnl_post_ops_create: %s", statusText(st))
	}
	defer l.call(l.postOpsDestroy, po)
	if st := l.postOpsEltwise(po, 1, alg, 0, 0); st != dnnlSuccess {
		return fmt.Errorf("dnnl_post_ops_append_eltwise: %s", statusText(st))
	}
	if st := l.call(l.attrSetPostOps, b.attr, po); st != dnnlSuccess {
		return fmt.Errorf("dnnl_primitive_attr_set_post_ops: %s", statusText(st))
	}
	return nil
}

// Gemm takes the products autograd issues (alpha 1, beta 0) to the matmul when they are big
// enough; other scalings go to the fallback, whose beta semantics (beta 0 overwrites, NaN
// included) are the contract.
func (b *Backend) Gemm(p backend.GemmParams, a, bm, c []float32) {
	if p.M > 0 && p.N > 0 && p.K > 0 && p.Alpha == 1 && p.Beta == 0 && p.M*p.N*p.K >= b.matmulMin {
		k := gemmKey{transA: p.TransA, transB: p.TransB, m: p.M, n: p.N, k: p.K, bias: p.Bias != nil, act: p.Act}
		var ok bool
		if p.Bias != nil {
			ok = runPlan(b, &b.gemm, k, (*Backend).buildGemm, f32p(a), f32p(bm), f32p(p.Bias), f32p(c))
		} else {
			ok = runPlan(b, &b.gemm, k, (*Backend).buildGemm, f32p(a), f32p(bm), f32p(c))
		}
		if ok {
			return
		}
	}
	b.Backend.Gemm(p, a, bm, c)
}
