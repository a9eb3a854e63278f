package onednn

import (
	"fmt"
	"unsafe"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/backend/internal/par"
)

type poolKey struct {
	p   backend.Pool2DParams
	bwd bool
}

func normPool(p backend.Pool2DParams) backend.Pool2DParams {
	p.StrideH, p.StrideW = max(p.StrideH, 1), max(p.StrideW, 1)
	return p
}

// poolMin is the work (outputs × window) below which the fallback pools: less than the ~10µs
// a oneDNN call costs.
var poolMin = 16384

// poolSupported excludes tiny problems and what oneDNN would compute differently: windows lying wholly in the
// padding (possible only when padding reaches the window size), for which deepframe defines
// the output as 0 and the argmax as -1.
func poolSupported(p *backend.Pool2DParams) bool {
	return p.N*p.OutH*p.OutW*p.C*p.KH*p.KW >= poolMin && p.N > 0 && p.C > 0 && p.H > 0 && p.W > 0 && p.OutH > 0 && p.OutW > 0 && p.KH > 0 && p.KW > 0 &&
		p.PadTop < p.KH && p.PadBottom < p.KH && p.PadLeft < p.KW && p.PadRight < p.KW &&
		(p.OutH-1)*p.StrideH-p.PadTop < p.H && (p.OutW-1)*p.StrideW-p.PadLeft < p.W
}

func (b *Backend) poolDescs(p *backend.Pool2DParams) (src, dst *memDesc, strides, kernel, padL, padR dims, err error) {
	l := b.lib
	if src, err = l.newMD([]int64{int64(p.N), int64(p.C), int64(p.H), int64(p.W)}, tagNHWC); err != nil {
		return
	}
	if dst, err = l.newMD([]int64{int64(p.N), int64(p.C), int64(p.OutH), int64(p.OutW)}, tagNHWC); err != nil {
		return
	}
	strides = dims{int64(p.StrideH), int64(p.StrideW)}
	kernel = dims{int64(p.KH), int64(p.KW)}
	padL = dims{int64(p.PadTop), int64(p.PadLeft)}
	padR = dims{int64(p.PadBottom), int64(p.PadRight)}
	return
}

func (b *Backend) buildPool(k poolKey) (*plan, error) {
	l := b.lib
	p := &k.p
	src, dst, strides, kernel, padL, padR, err := b.poolDescs(p)
	if err != nil {
		return nil, err
	}
	alg := uintptr(algPoolAvgExcludePad)
	if p.Kind == backend.MaxPool {
		alg = algPoolMax
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
	if st := l.call(l.poolFwdInit, uintptr(unsafe.Pointer(fwd)), propForwardTraining, alg, uintptr(unsafe.Pointer(src)), uintptr(unsafe.Pointer(dst)),
		uintptr(unsafe.Pointer(&strides)), uintptr(unsafe.Pointer(&kernel)), uintptr(unsafe.Pointer(&padL)), uintptr(unsafe.Pointer(&padR))); st != dnnlSuccess {
		return nil, fmt.Errorf("dnnl_pooling_forward_desc_init: %s", statusText(st))
	}
	fpd, err := bld.pd(fwd, 0)
	if err != nil {
		return nil, err
	}
	if k.bwd {
		// Only average pooling runs backward here; max pooling's backward is a scatter by
		// argmax, which the fallback does as fast as oneDNN would.
		bwd := new(opDesc)
		if st := l.call(l.poolBwdInit, uintptr(unsafe.Pointer(bwd)), alg, uintptr(unsafe.Pointer(src)), uintptr(unsafe.Pointer(dst)),
			uintptr(unsafe.Pointer(&strides)), uintptr(unsafe.Pointer(&kernel)), uintptr(unsafe.Pointer(&padL)), uintptr(unsafe.Pointer(&padR))); st != dnnlSuccess {
			return nil, fmt.Errorf("dnnl_pooling_backward_desc_init: %s", statusText(st))
		}
		bpd, err := bld.pd(bwd, fpd)
		if err != nil {
			return nil, err
		}
		idy, idx := bld.user(dst), bld.user(src)
		if err := bld.step(bpd, stepArg{argDiffDst, idy}, stepArg{argDiffSrc, idx}); err != nil {
			return nil, err
		}
		done = true
		return bld.finish(), nil
	}
	ix, iy := bld.user(src), bld.user(dst)
	args := []stepArg{{argSrc, ix}, {argDst, iy}}
	if p.Kind == backend.MaxPool {
		// The workspace records, per output, which tap of its window won. It is bound as a
		// caller buffer so Pool2DForward can translate it into flat input indices.
		ws := bld.queryMD(fpd, queryWorkspaceMD)
		if ws == nil {
			return nil, fmt.Errorf("max pooling without a workspace")
		}
		dt := int(*(*int32)(unsafe.Add(unsafe.Pointer(ws), mdDataTypeOffset)))
		if dt != dtU8 && dt != dtS32 {
			return nil, fmt.Errorf("max pooling workspace of data type %d", dt)
		}
		// Only a workspace laid out like the output (nhwc) can be read back here.
		want, err := l.newMDType([]int64{int64(p.N), int64(p.C), int64(p.OutH), int64(p.OutW)}, dt, tagNHWC)
		if err != nil {
			return nil, err
		}
		if !l.mdEqual(ws, want) {
			return nil, fmt.Errorf("max pooling workspace not in nhwc layout")
		}
		args = append(args, stepArg{argWorkspace, bld.user(ws)})
		bld.p.aux = dt
	}
	if err := bld.step(fpd, args...); err != nil {
		return nil, err
	}
	done = true
	return bld.finish(), nil
}

// Pool2DForward runs oneDNN's pooling; for max pooling its workspace becomes the argmax.
// Ties go to the first input of the window, as in the reference backend (checked on
// all-zero windows; the parity test accepts any of the tied inputs). One difference: a NaN
// in a window propagates in the reference, while oneDNN's comparisons pass over it and
// return the largest number (verified on oneDNN 2.6).
func (b *Backend) Pool2DForward(p backend.Pool2DParams, x, y []float32, argmax []int32) {
	p = normPool(p)
	if poolSupported(&p) {
		k := poolKey{p: p}
		pl, transient := b.poolFwd.get(b, k, (*Backend).buildPool)
		if pl != nil {
			ok := false
			if p.Kind == backend.MaxPool {
				outs := p.N * p.OutH * p.OutW * p.C
				elem := 1
				if pl.aux == dtS32 {
					elem = 4
				}
				ws := bytesPool.Get(outs * elem)
				if ok = pl.run(f32p(x), f32p(y), unsafe.Pointer(unsafe.SliceData(*ws))); ok {
					wsToArgmax(&p, *ws, elem, argmax)
				}
				bytesPool.Put(ws)
			} else {
				ok = pl.run(f32p(x), f32p(y))
			}
			if transient {
				pl.destroy()
			}
			if ok {
				return
			}
		}
	}
	b.Backend.Pool2DForward(p, x, y, argmax)
}

// wsToArgmax converts oneDNN's workspace (for each output, the winning tap kh·KW+kw of its
// window, counted from the window's padded origin) into the flat NHWC input index deepframe's
// Pool2DBackward scatters to.
func wsToArgmax(p *backend.Pool2DParams, ws []byte, elem int, argmax []int32) {
	t := argmaxTask{p: *p, ws: ws, elem: elem, argmax: argmax}
	n, grain := p.N*p.OutH, max(1, (1<<15)/max(1, p.OutW*p.C))
	if threads, inline := split(n, grain); inline {
		t.Run(0, max(n, 0))
	} else {
		argmaxTasks.For(threads, n, grain, t)
	}
}

// argmaxTask converts the workspace of output rows [lo, hi) (flat over n, oh). It holds the
// parameters by value: a pointer to the caller's would escape with the pooled task.
type argmaxTask struct {
	p      backend.Pool2DParams
	ws     []byte
	elem   int
	argmax []int32
}

var argmaxTasks par.Pool[argmaxTask, *argmaxTask]

func (a *argmaxTask) Run(lo, hi int) {
	p, ws, C := &a.p, a.ws, a.p.C
	for t := lo; t < hi; t++ {
		n, oh := t/p.OutH, t%p.OutH
		ih0 := oh*p.StrideH - p.PadTop
		for ow := 0; ow < p.OutW; ow++ {
			iw0 := ow*p.StrideW - p.PadLeft
			o := ((n*p.OutH+oh)*p.OutW + ow) * C
			out := a.argmax[o : o+C]
			for c := range out {
				var tap int
				if a.elem == 1 {
					tap = int(ws[o+c])
				} else {
					tap = int(*(*int32)(unsafe.Pointer(&ws[(o+c)*4])))
				}
				ih, iw := ih0+tap/p.KW, iw0+tap%p.KW
				out[c] = int32(((n*p.H+ih)*p.W+iw)*C + c)
			}
		}
	}
}

func (b *Backend) Pool2DBackward(p backend.Pool2DParams, dy []float32, argmax []int32, dx []float32) {
	p = normPool(p)
	if p.Kind == backend.AvgPool && poolSupported(&p) &&
		runPlan(b, &b.poolBwd, poolKey{p: p, bwd: true}, (*Backend).buildPool, f32p(dy), f32p(dx)) {
		return
	}
	b.Backend.Pool2DBackward(p, dy, argmax, dx)
}
