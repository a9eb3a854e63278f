package backend

import (
	"math"

	"github.com/deepframe/deepframe/backend/internal/par"
)

func normPool(p Pool2DParams) Pool2DParams {
	p.StrideH, p.StrideW = max(p.StrideH, 1), max(p.StrideW, 1)
	return p
}

// poolWindow clips the window of output (oh, ow) to the input: rows [h0, h1), cols [w0, w1).
func poolWindow(p *Pool2DParams, oh, ow int) (h0, h1, w0, w1 int) {
	h0 = oh*p.StrideH - p.PadTop
	w0 = ow*p.StrideW - p.PadLeft
	h1 = min(h0+p.KH, p.H)
	w1 = min(w0+p.KW, p.W)
	return max(h0, 0), h1, max(w0, 0), w1
}

// Pool2DForward parallelises over output rows (n, oh); each output row is OW·C contiguous
// values. A window that lies wholly in the padding (only possible when padding ≥ window)
// yields 0, and for max pooling argmax -1.
func (reference) Pool2DForward(p Pool2DParams, x, y []float32, argmax []int32) {
	p = normPool(p)
	if p.C <= 0 || p.OutW <= 0 {
		return
	}
	work := p.OutW * p.C * max(1, p.KH*p.KW)
	runPool(poolTask{p: p, x: x, y: y, argmax: argmax}, p.N*p.OutH, max(1, elemGrain/work))
}

// poolTask is a pooling pass over a range of output rows (forward) or images (backward). In
// the backward pass y is dy and x is dx.
type poolTask struct {
	p      Pool2DParams
	bwd    bool
	x, y   []float32
	argmax []int32
}

var poolTasks par.Pool[poolTask, *poolTask]

func (t *poolTask) Run(lo, hi int) {
	if t.bwd {
		poolBackwardImages(&t.p, t.y, t.argmax, t.x, lo, hi)
	} else {
		poolForwardRows(&t.p, t.x, t.y, t.argmax, lo, hi)
	}
}

func runPool(t poolTask, n, grain int) {
	if threads, inline := split(n, grain); inline {
		t.Run(0, max(n, 0))
	} else {
		poolTasks.For(threads, n, grain, t)
	}
}

// poolForwardRows pools output rows [lo, hi) (flat over n, oh).
func poolForwardRows(p *Pool2DParams, x, y []float32, argmax []int32, lo, hi int) {
	C := p.C
	for t := lo; t < hi; t++ {
		n, oh := t/p.OutH, t%p.OutH
		for ow := 0; ow < p.OutW; ow++ {
			o := ((n*p.OutH+oh)*p.OutW + ow) * C
			out := y[o : o+C]
			h0, h1, w0, w1 := poolWindow(p, oh, ow)
			if p.Kind == MaxPool {
				maxWindow(p, x, n, h0, h1, w0, w1, out, argmax[o:o+C])
			} else {
				avgWindow(p, x, n, h0, h1, w0, w1, out)
			}
		}
	}
}

func maxWindow(p *Pool2DParams, x []float32, n, h0, h1, w0, w1 int, out []float32, arg []int32) {
	C := p.C
	neg := float32(math.Inf(-1))
	for c := range out {
		out[c] = neg
		arg[c] = -1
	}
	for ih := h0; ih < h1; ih++ {
		for iw := w0; iw < w1; iw++ {
			base := ((n*p.H+ih)*p.W + iw) * C
			in := x[base : base+C]
			for c, v := range in {
				// The first NaN wins and sticks (NaN compares false), so it propagates.
				if v > out[c] || (v != v && out[c] == out[c]) || arg[c] < 0 {
					out[c] = v
					arg[c] = int32(base + c)
				}
			}
		}
	}
	for c := range out {
		if arg[c] < 0 {
			out[c] = 0
		}
	}
}

func avgWindow(p *Pool2DParams, x []float32, n, h0, h1, w0, w1 int, out []float32) {
	C := p.C
	clear(out)
	count := max(h1-h0, 0) * max(w1-w0, 0)
	if count == 0 {
		return
	}
	for ih := h0; ih < h1; ih++ {
		for iw := w0; iw < w1; iw++ {
			base := ((n*p.H+ih)*p.W + iw) * C
			for c, v := range x[base : base+C] {
				out[c] += v
			}
		}
	}
	inv := 1 / float32(count)
	for c := range out {
		out[c] *= inv
	}
}

// Pool2DBackward parallelises over images: every output of image n reads or scatters only
// into image n's part of dx, so goroutines never write the same element and the additions
// into an element happen in the same order whatever the thread count.
func (reference) Pool2DBackward(p Pool2DParams, dy []float32, argmax []int32, dx []float32) {
	p = normPool(p)
	inImg := p.H * p.W * p.C
	outImg := p.OutH * p.OutW * p.C
	if inImg <= 0 {
		return
	}
	work := max(1, outImg*max(1, p.KH*p.KW), inImg)
	runPool(poolTask{p: p, bwd: true, x: dx, y: dy, argmax: argmax}, p.N, max(1, elemGrain/work))
}

// poolBackwardImages writes dx for images [lo, hi).
func poolBackwardImages(p *Pool2DParams, dy []float32, argmax []int32, dx []float32, lo, hi int) {
	C := p.C
	inImg := p.H * p.W * C
	outImg := p.OutH * p.OutW * C
	clear(dx[lo*inImg : hi*inImg])
	for n := lo; n < hi; n++ {
		if p.Kind == MaxPool {
			lim := int32((n + 1) * inImg)
			g := dy[n*outImg : (n+1)*outImg]
			a := argmax[n*outImg : (n+1)*outImg]
			for i, v := range g {
				// An index outside this image can only come from a corrupt argmax;
				// skipping it keeps other goroutines' elements safe.
				if j := a[i]; j >= int32(n*inImg) && j < lim {
					dx[j] += v
				}
			}
			continue
		}
		for oh := 0; oh < p.OutH; oh++ {
			for ow := 0; ow < p.OutW; ow++ {
				h0, h1, w0, w1 := poolWindow(p, oh, ow)
				count := max(h1-h0, 0) * max(w1-w0, 0)
				if count == 0 {
					continue
				}
				inv := 1 / float32(count)
				o := ((n*p.OutH+oh)*p.OutW + ow) * C
				g := dy[o : o+C]
				for ih := h0; ih < h1; ih++ {
					for iw := w0; iw < w1; iw++ {
						base := ((n*p.H+ih)*p.W + iw) * C
						d := dx[base : base+C]
						for c, v := range g {
							d[c] += v * inv
						}
					}
				}
			}
		}
	}
}
