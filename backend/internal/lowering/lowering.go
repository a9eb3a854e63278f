// Package lowering is the convolution lowering shared by the backends that accelerate only
// GEMM (the reference Go backend and OpenBLAS): im2col, which copies the input patches of a
// range of output pixels into the rows of a patch matrix, and col2im, which adds a patch
// gradient back onto the input pixels it came from. Both run on backend/internal/par and give
// bit-identical results for any thread count.
//
// Patch rows are laid out (kh, kw, c), the row order of an HWIO kernel seen as a
// [KH·KW·C, OutC] matrix, so patches × kernel lands directly in NHWC with no transposes.
package lowering

import "github.com/deepframe/deepframe/backend/internal/par"

// Params mirrors backend.Conv2DParams field for field, so callers convert with Params(p) at no
// cost; the conversion stops compiling if the two ever diverge. It cannot be that type itself:
// package backend imports this one.
type Params struct {
	N, H, W, C                           int // input
	KH, KW, OutC                         int // kernel
	StrideH, StrideW                     int
	DilationH, DilationW                 int
	PadTop, PadBottom, PadLeft, PadRight int
	OutH, OutW                           int
}

// Norm returns p with zero strides and dilations read as 1, as Conv2DParams documents them.
func Norm(p Params) Params {
	p.StrideH, p.StrideW = max(p.StrideH, 1), max(p.StrideW, 1)
	p.DilationH, p.DilationW = max(p.DilationH, 1), max(p.DilationW, 1)
	return p
}

// Pointwise reports a 1×1, stride-1, unpadded convolution: the NHWC input viewed as
// [N·H·W, C] is already its own patch matrix, so no lowering is needed.
func (p *Params) Pointwise() bool {
	return p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 &&
		p.PadTop == 0 && p.PadBottom == 0 && p.PadLeft == 0 && p.PadRight == 0 &&
		p.OutH == p.H && p.OutW == p.W
}

// ChunkRows is how many patch rows of kkc floats one chunk of the lowering holds, so the patch
// buffer stays bounded whatever the batch: about targetFloats of patches, at least minRows
// (deep enough GEMMs for very wide patches) and at most maxFloats worth, rounded down to a
// whole number of units (GEMM row tiles, or images) when one fits. The backends tune these
// differently because their GEMMs want different sizes.
func ChunkRows(kkc, targetFloats, minRows, maxFloats, unit int) int {
	kkc = max(kkc, 1)
	rows := max(targetFloats/kkc, minRows)
	rows = min(rows, maxFloats/kkc)
	if unit > 1 && rows >= unit {
		rows -= rows % unit
	}
	return max(rows, 1)
}

// im2colGrain is the floats of patches below which a goroutine hand-off costs more than the
// copy it saves.
const im2colGrain = 1 << 14

// Im2col writes the patches of output pixels [r0, r1) (flat over n, oh, ow) as rows of col,
// zeros where a tap falls in the padding, on up to threads goroutines.
func Im2col(threads int, p *Params, x []float32, r0, r1 int, col []float32) {
	kkc := p.KH * p.KW * p.C
	task{kind: im2col, p: *p, x: x, col: col, r0: r0}.run(threads, r1-r0, max(1, im2colGrain/max(kkc, 1)))
}

// Col2im adds rows [r0, r1) of the patch gradient col back into dx, on up to threads
// goroutines that each take at least grain floats of col. Patches of different images never
// overlap, so a chunk spanning several images splits by image; a chunk inside one image splits
// by channel instead. Either way each dx element is owned by one goroutine and receives its
// additions in the same order for any thread count.
func Col2im(threads, grain int, p *Params, col []float32, r0, r1 int, dx []float32) {
	img := p.OutH * p.OutW
	kkc := p.KH * p.KW * p.C
	n0, n1 := r0/img, (r1-1)/img
	t := task{p: *p, x: dx, col: col, r0: r0, r1: r1, n0: n0}
	if n1 > n0 {
		t.kind = col2imImages
		t.run(threads, n1-n0+1, max(1, grain/max(1, img*kkc)))
		return
	}
	// Narrower channel ranges than 16 floats (one cache line) would have goroutines share lines.
	t.kind = col2imChannels
	t.run(threads, p.C, max(16, p.C*grain/max(1, (r1-r0)*kkc)))
}

// task is a parallel pass of the lowering over [lo, hi): im2col over patch rows, or col2im
// over images or channels. It holds the parameters by value: a pointer to the caller's would
// make them escape to the heap on every call.
type task struct {
	kind   kind
	p      Params
	x, col []float32 // x is dx for col2im
	r0, r1 int       // the chunk's patch rows
	n0     int       // col2im by image: the chunk's first image
}

type kind uint8

const (
	im2col kind = iota
	col2imImages
	col2imChannels
)

var tasks par.Pool[task, *task]

// run keeps small passes on the caller's stack; only shared ones go through the pool, so
// neither path allocates.
func (t task) run(threads, n, grain int) {
	if par.Parts(threads, n, grain) <= 1 {
		t.Run(0, max(n, 0))
	} else {
		tasks.For(threads, n, grain, t)
	}
}

func (t *task) Run(lo, hi int) {
	p := &t.p
	switch t.kind {
	case im2col:
		im2colRows(p, t.x, t.r0, lo, hi, t.col)
	case col2imImages:
		img := p.OutH * p.OutW
		for n := t.n0 + lo; n < t.n0+hi; n++ {
			col2imRows(p, t.col, t.r0, max(t.r0, n*img), min(t.r1, (n+1)*img), 0, p.C, t.x)
		}
	case col2imChannels:
		col2imRows(p, t.col, t.r0, t.r0, t.r1, lo, hi, t.x)
	}
}

// im2colRows writes patch rows [lo, hi) of the chunk starting at output pixel r0.
func im2colRows(p *Params, x []float32, r0, lo, hi int, col []float32) {
	C, KW := p.C, p.KW
	kkc := p.KH * KW * C
	for r := lo; r < hi; r++ {
		g := r0 + r
		ow, t := g%p.OutW, g/p.OutW
		oh, n := t%p.OutH, t/p.OutH
		dst := col[r*kkc : (r+1)*kkc]
		ih0 := oh*p.StrideH - p.PadTop
		iw0 := ow*p.StrideW - p.PadLeft
		for kh := 0; kh < p.KH; kh++ {
			seg := dst[kh*KW*C : (kh+1)*KW*C]
			ih := ih0 + kh*p.DilationH
			if ih < 0 || ih >= p.H {
				clear(seg)
				continue
			}
			rowBase := (n*p.H + ih) * p.W
			if p.DilationW == 1 && iw0 >= 0 && iw0+KW <= p.W {
				// An in-bounds kernel row is one contiguous run of NHWC memory.
				copy(seg, x[(rowBase+iw0)*C:(rowBase+iw0+KW)*C])
				continue
			}
			for kw := 0; kw < KW; kw++ {
				s := seg[kw*C : (kw+1)*C]
				iw := iw0 + kw*p.DilationW
				if iw < 0 || iw >= p.W {
					clear(s)
					continue
				}
				copy(s, x[(rowBase+iw)*C:(rowBase+iw+1)*C])
			}
		}
	}
}

// col2imRows scatters channels [c0, c1) of output pixels [lo, hi); col's first row is pixel
// base.
func col2imRows(p *Params, col []float32, base, lo, hi, c0, c1 int, dx []float32) {
	C, KW := p.C, p.KW
	kkc := p.KH * KW * C
	for g := lo; g < hi; g++ {
		src := col[(g-base)*kkc : (g-base+1)*kkc]
		ow, t := g%p.OutW, g/p.OutW
		oh, n := t%p.OutH, t/p.OutH
		ih0 := oh*p.StrideH - p.PadTop
		iw0 := ow*p.StrideW - p.PadLeft
		for kh := 0; kh < p.KH; kh++ {
			ih := ih0 + kh*p.DilationH
			if ih < 0 || ih >= p.H {
				continue
			}
			rowBase := (n*p.H + ih) * p.W
			for kw := 0; kw < KW; kw++ {
				iw := iw0 + kw*p.DilationW
				if iw < 0 || iw >= p.W {
					continue
				}
				d := dx[(rowBase+iw)*C+c0 : (rowBase+iw)*C+c1]
				s := src[(kh*KW+kw)*C+c0 : (kh*KW+kw)*C+c1]
				for j, v := range s {
					d[j] += v
				}
			}
		}
	}
}
