package onednn

import (
	"fmt"
	"unsafe"
)

type softmaxKey struct {
	rows, cols int
	log, bwd   bool
}

// softmaxMin is the element count below which the fallback's softmax runs: the call
// overhead exceeds the work on a batch of a few class scores.
var softmaxMin = 2048

func (b *Backend) buildSoftmax(k softmaxKey) (*plan, error) {
	l := b.lib
	md, err := l.newMD([]int64{int64(k.rows), int64(k.cols)}, tagAB)
	if err != nil {
		return nil, err
	}
	alg := uintptr(algSoftmaxAccurate)
	if k.log {
		alg = algSoftmaxLog
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
	if st := l.call(l.softmaxFwdInit, uintptr(unsafe.Pointer(fwd)), propForwardTraining, alg, uintptr(unsafe.Pointer(md)), uintptr(unsafe.Pointer(md)), 1); st != dnnlSuccess {
		return nil, fmt.Errorf("dnnl_softmax_v2_forward_desc_init: %s", statusText(st))
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
	if st := l.call(l.softmaxBwdInit, uintptr(unsafe.Pointer(bwd)), alg, uintptr(unsafe.Pointer(md)), uintptr(unsafe.Pointer(md)), uintptr(unsafe.Pointer(md)), 1); st != dnnlSuccess {
		return nil, fmt.Errorf("dnnl_softmax_v2_backward_desc_init: %s", statusText(st))
	}
	bpd, err := bld.pd(bwd, fpd)
	if err != nil {
		return nil, err
	}
	iy, idy, idx := bld.user(md), bld.user(md), bld.user(md)
	if err := bld.step(bpd, stepArg{argDst, iy}, stepArg{argDiffDst, idy}, stepArg{argDiffSrc, idx}); err != nil {
		return nil, err
	}
	done = true
	return bld.finish(), nil
}

// A single column needs no arithmetic (softmax 1, log-softmax 0), which the fallback gets
// exactly and oneDNN's log approximation only to within 1e-6.
func (b *Backend) softmaxFwd(rows, cols int, log bool, x, y []float32) bool {
	return rows > 0 && cols > 1 && rows*cols >= softmaxMin &&
		runPlan(b, &b.softmax, softmaxKey{rows: rows, cols: cols, log: log}, (*Backend).buildSoftmax, f32p(x), f32p(y))
}

func (b *Backend) softmaxBwd(rows, cols int, log bool, y, dy, dx []float32) bool {
	return rows > 0 && cols > 1 && rows*cols >= softmaxMin &&
		runPlan(b, &b.softmax, softmaxKey{rows: rows, cols: cols, log: log, bwd: true}, (*Backend).buildSoftmax, f32p(y), f32p(dy), f32p(dx))
}

func (b *Backend) Softmax(rows, cols int, x, y []float32) {
	if !b.softmaxFwd(rows, cols, false, x, y) {
		b.Backend.Softmax(rows, cols, x, y)
	}
}

func (b *Backend) LogSoftmax(rows, cols int, x, y []float32) {
	if !b.softmaxFwd(rows, cols, true, x, y) {
		b.Backend.LogSoftmax(rows, cols, x, y)
	}
}

func (b *Backend) SoftmaxBackward(rows, cols int, y, dy, dx []float32) {
	if !b.softmaxBwd(rows, cols, false, y, dy, dx) {
		b.Backend.SoftmaxBackward(rows, cols, y, dy, dx)
	}
}

func (b *Backend) LogSoftmaxBackward(rows, cols int, y, dy, dx []float32) {
	if !b.softmaxBwd(rows, cols, true, y, dy, dx) {
		b.Backend.LogSoftmaxBackward(rows, cols, y, dy, dx)
	}
}
