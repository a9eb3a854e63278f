package onednn

import (
	"fmt"
	"unsafe"

	"github.com/deepframe/deepframe/backend"
)

type convKey struct {
	p    backend.Conv2DParams
	bias bool // forward: has a bias; backward weights: wants dbias
}

// convWeightsAny lets oneDNN choose the weights layout (blocked, 16 input by 16 output
// channels) and reorders the HWIO kernel into it (and gradients back) per call. On the
// Fashion-MNIST layers the blocked kernels are 2-3x faster than oneDNN's GEMM-based ones on
// plain HWIO weights, far more than the reorder of a small kernel costs (TestBenchTable).
//
// The exception is backward data with fewer input channels than a block: the blocked kernel
// pads C to 16 and does 16x the work for a 1-channel image, so there HWIO is kept (measured
// 4.3-5 ms against 3-111 ms for the 28x28x1 layer; the first layer's input gradient is
// rarely wanted anyway).
var convWeightsAny = true

func weightsAny(p *backend.Conv2DParams, bwdData bool) bool {
	return convWeightsAny && (!bwdData || p.C >= 16)
}

func normConv(p backend.Conv2DParams) backend.Conv2DParams {
	p.StrideH, p.StrideW = max(p.StrideH, 1), max(p.StrideW, 1)
	p.DilationH, p.DilationW = max(p.DilationH, 1), max(p.DilationW, 1)
	return p
}

func convEmpty(p *backend.Conv2DParams) bool {
	return p.N <= 0 || p.H <= 0 || p.W <= 0 || p.C <= 0 || p.KH <= 0 || p.KW <= 0 || p.OutC <= 0 || p.OutH <= 0 || p.OutW <= 0
}

// convDescs are the pieces every convolution descriptor shares. oneDNN's logical dims are
// always N, C, H, W (and O, I, H, W for weights); the tags say where they live in memory:
// nhwc and hwio are exactly deepframe's layouts, so the caller's slices are used in place.
type convDescs struct {
	src, dst, wUser, wAny, bias  *memDesc
	strides, dilates, padL, padR dims
}

func (l *lib) convDescs(p *backend.Conv2DParams, bias, wAny bool) (*convDescs, error) {
	d := &convDescs{
		strides: dims{int64(p.StrideH), int64(p.StrideW)},
		// oneDNN counts dilation from 0 (no gap between taps); deepframe, like Keras, from 1.
		dilates: dims{int64(p.DilationH - 1), int64(p.DilationW - 1)},
		padL:    dims{int64(p.PadTop), int64(p.PadLeft)},
		padR:    dims{int64(p.PadBottom), int64(p.PadRight)},
	}
	var err error
	if d.src, err = l.newMD([]int64{int64(p.N), int64(p.C), int64(p.H), int64(p.W)}, tagNHWC); err != nil {
		return nil, err
	}
	if d.dst, err = l.newMD([]int64{int64(p.N), int64(p.OutC), int64(p.OutH), int64(p.OutW)}, tagNHWC); err != nil {
		return nil, err
	}
	w := []int64{int64(p.OutC), int64(p.C), int64(p.KH), int64(p.KW)}
	if d.wUser, err = l.newMD(w, tagHWIO); err != nil {
		return nil, err
	}
	d.wAny = d.wUser
	if wAny {
		if d.wAny, err = l.newMD(w, tagAny); err != nil {
			return nil, err
		}
	}
	if bias {
		if d.bias, err = l.newMD([]int64{int64(p.OutC)}, tagA); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// convForwardPD builds the forward primitive descriptor (also the hint that backward
// primitives are created against).
func (bld *pdBuilder) convForwardPD(d *convDescs) (uintptr, error) {
	l := bld.l
	op := new(opDesc)
	if st := l.call(l.convFwdInit, uintptr(unsafe.Pointer(op)), propForwardTraining, algConvDirect, uintptr(unsafe.Pointer(d.src)), uintptr(unsafe.Pointer(d.wAny)),
		uintptr(unsafe.Pointer(d.bias)), uintptr(unsafe.Pointer(d.dst)), uintptr(unsafe.Pointer(&d.strides)), uintptr(unsafe.Pointer(&d.dilates)), uintptr(unsafe.Pointer(&d.padL)), uintptr(unsafe.Pointer(&d.padR))); st != dnnlSuccess {
		return 0, fmt.Errorf("dnnl_dilated_convolution_forward_desc_init: %s", statusText(st))
	}
	return bld.pd(op, 0)
}

func (b *Backend) buildConvFwd(k convKey) (*plan, error) {
	l := b.lib
	d, err := l.convDescs(&k.p, k.bias, weightsAny(&k.p, false))
	if err != nil {
		return nil, err
	}
	bld, err := l.newBuilder()
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			bld.abort()
		}
	}()
	pd, err := bld.convForwardPD(d)
	if err != nil {
		return nil, err
	}
	ix, iw := bld.user(d.src), bld.user(d.wUser)
	ib := -1
	if k.bias {
		ib = bld.user(d.bias)
	}
	iy := bld.user(d.dst)
	wBuf := iw
	if wm := bld.queryMD(pd, queryWeightsMD); wm != nil && !l.mdEqual(wm, d.wUser) {
		wBuf = bld.internal(wm)
		rpd, err := bld.reorderPD(d.wUser, wm)
		if err != nil {
			return nil, err
		}
		if err := bld.step(rpd, stepArg{argFrom, iw}, stepArg{argTo, wBuf}); err != nil {
			return nil, err
		}
	}
	args := []stepArg{{argSrc, ix}, {argWeights, wBuf}, {argDst, iy}}
	if ib >= 0 {
		args = append(args, stepArg{argBias, ib})
	}
	if err := bld.step(pd, args...); err != nil {
		return nil, err
	}
	ok = true
	return bld.finish(), nil
}

func (b *Backend) buildConvBwdData(k convKey) (*plan, error) {
	l := b.lib
	d, err := l.convDescs(&k.p, false, weightsAny(&k.p, true))
	if err != nil {
		return nil, err
	}
	bld, err := l.newBuilder()
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			bld.abort()
		}
	}()
	hint, err := bld.convForwardPD(d)
	if err != nil {
		return nil, err
	}
	op := new(opDesc)
	if st := l.call(l.convBwdDataInit, uintptr(unsafe.Pointer(op)), algConvDirect, uintptr(unsafe.Pointer(d.src)), uintptr(unsafe.Pointer(d.wAny)), uintptr(unsafe.Pointer(d.dst)),
		uintptr(unsafe.Pointer(&d.strides)), uintptr(unsafe.Pointer(&d.dilates)), uintptr(unsafe.Pointer(&d.padL)), uintptr(unsafe.Pointer(&d.padR))); st != dnnlSuccess {
		return nil, fmt.Errorf("dnnl_dilated_convolution_backward_data_desc_init: %s", statusText(st))
	}
	pd, err := bld.pd(op, hint)
	if err != nil {
		return nil, err
	}
	idy, iw, idx := bld.user(d.dst), bld.user(d.wUser), bld.user(d.src)
	wBuf := iw
	if wm := bld.queryMD(pd, queryWeightsMD); wm != nil && !l.mdEqual(wm, d.wUser) {
		wBuf = bld.internal(wm)
		rpd, err := bld.reorderPD(d.wUser, wm)
		if err != nil {
			return nil, err
		}
		if err := bld.step(rpd, stepArg{argFrom, iw}, stepArg{argTo, wBuf}); err != nil {
			return nil, err
		}
	}
	if err := bld.step(pd, stepArg{argDiffDst, idy}, stepArg{argWeights, wBuf}, stepArg{argDiffSrc, idx}); err != nil {
		return nil, err
	}
	ok = true
	return bld.finish(), nil
}

func (b *Backend) buildConvBwdWeights(k convKey) (*plan, error) {
	l := b.lib
	d, err := l.convDescs(&k.p, k.bias, weightsAny(&k.p, false))
	if err != nil {
		return nil, err
	}
	bld, err := l.newBuilder()
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			bld.abort()
		}
	}()
	hint, err := bld.convForwardPD(d)
	if err != nil {
		return nil, err
	}
	op := new(opDesc)
	if st := l.call(l.convBwdWeightsInit, uintptr(unsafe.Pointer(op)), algConvDirect, uintptr(unsafe.Pointer(d.src)), uintptr(unsafe.Pointer(d.wAny)), uintptr(unsafe.Pointer(d.bias)), uintptr(unsafe.Pointer(d.dst)),
		uintptr(unsafe.Pointer(&d.strides)), uintptr(unsafe.Pointer(&d.dilates)), uintptr(unsafe.Pointer(&d.padL)), uintptr(unsafe.Pointer(&d.padR))); st != dnnlSuccess {
		return nil, fmt.Errorf("dnnl_dilated_convolution_backward_weights_desc_init: %s", statusText(st))
	}
	pd, err := bld.pd(op, hint)
	if err != nil {
		return nil, err
	}
	ix, idy, idw := bld.user(d.src), bld.user(d.dst), bld.user(d.wUser)
	idb := -1
	if k.bias {
		idb = bld.user(d.bias)
	}
	dwBuf := idw
	wm := bld.queryMD(pd, queryDiffWeightsMD)
	reorder := wm != nil && !l.mdEqual(wm, d.wUser)
	if reorder {
		dwBuf = bld.internal(wm)
	}
	args := []stepArg{{argSrc, ix}, {argDiffDst, idy}, {argDiffWeights, dwBuf}}
	if idb >= 0 {
		args = append(args, stepArg{argDiffBias, idb})
	}
	if err := bld.step(pd, args...); err != nil {
		return nil, err
	}
	if reorder {
		rpd, err := bld.reorderPD(wm, d.wUser)
		if err != nil {
			return nil, err
		}
		if err := bld.step(rpd, stepArg{argFrom, dwBuf}, stepArg{argTo, idw}); err != nil {
			return nil, err
		}
	}
	ok = true
	return bld.finish(), nil
}

// runPlan fetches (or builds) the plan for k and runs it; false means the caller falls back.
func runPlan[K comparable](b *Backend, c *planCache[K], k K, build func(*Backend, K) (*plan, error), bufs ...unsafe.Pointer) bool {
	p, transient := c.get(b, k, build)
	if p == nil {
		return false
	}
	ok := p.run(bufs...)
	if transient {
		p.destroy()
	}
	return ok
}

func f32p(s []float32) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(s)) }

func (b *Backend) Conv2DForward(p backend.Conv2DParams, x, kernel, bias, y []float32) {
	p = normConv(p)
	if !convEmpty(&p) {
		k := convKey{p: p, bias: bias != nil}
		var ok bool
		if bias != nil {
			ok = runPlan(b, &b.convFwd, k, (*Backend).buildConvFwd, f32p(x), f32p(kernel), f32p(bias), f32p(y))
		} else {
			ok = runPlan(b, &b.convFwd, k, (*Backend).buildConvFwd, f32p(x), f32p(kernel), f32p(y))
		}
		if ok {
			return
		}
	}
	b.Backend.Conv2DForward(p, x, kernel, bias, y)
}

func (b *Backend) Conv2DBackwardData(p backend.Conv2DParams, dy, kernel, dx []float32) {
	p = normConv(p)
	if !convEmpty(&p) && runPlan(b, &b.convBwdData, convKey{p: p}, (*Backend).buildConvBwdData, f32p(dy), f32p(kernel), f32p(dx)) {
		return
	}
	b.Backend.Conv2DBackwardData(p, dy, kernel, dx)
}

func (b *Backend) Conv2DBackwardWeights(p backend.Conv2DParams, x, dy, dkernel, dbias []float32) {
	p = normConv(p)
	if !convEmpty(&p) {
		k := convKey{p: p, bias: dbias != nil}
		var ok bool
		if dbias != nil {
			ok = runPlan(b, &b.convBwdWeights, k, (*Backend).buildConvBwdWeights, f32p(x), f32p(dy), f32p(dkernel), f32p(dbias))
		} else {
			ok = runPlan(b, &b.convBwdWeights, k, (*Backend).buildConvBwdWeights, f32p(x), f32p(dy), f32p(dkernel))
		}
		if ok {
			return
		}
	}
	b.Backend.Conv2DBackwardWeights(p, x, dy, dkernel, dbias)
}
