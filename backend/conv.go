package backend

import "github.com/deepframe/deepframe/backend/internal/par"

// The batch is processed in chunks of output pixels, so the im2col buffer of one call is
// bounded whatever the batch size (and, being pooled, allocated once in a steady training
// loop). A chunk aims at convChunkBytes of patches, about an L2 cache: measured on the
// Fashion-MNIST layer, 1 MiB chunks ran the weight gradient 10-25% faster than 8-64 MiB ones
// (its transposed patch chunk stays in cache) and the other passes no slower. It never has
// fewer than convMinChunkRows rows, which keeps the GEMMs deep enough for their dot-product
// loop on layers with very wide patches, and never more than convMaxChunkBytes.
// (Variables so that tests can force many tiny chunks.)
var (
	convChunkBytes   = 1 << 20
	convMinChunkRows = 256
)

const convMaxChunkBytes = 64 << 20

func normConv(p Conv2DParams) Conv2DParams {
	p.StrideH, p.StrideW = max(p.StrideH, 1), max(p.StrideW, 1)
	p.DilationH, p.DilationW = max(p.DilationH, 1), max(p.DilationW, 1)
	return p
}

// pointwise reports whether the convolution is a plain matrix product: the NHWC input viewed
// as [N·H·W, C] is already its own patch matrix.
func pointwise(p *Conv2DParams) bool {
	return p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 &&
		p.PadTop == 0 && p.PadBottom == 0 && p.PadLeft == 0 && p.PadRight == 0 &&
		p.OutH == p.H && p.OutW == p.W
}

// convChunk returns how many output pixels (patch-matrix rows) one chunk holds, rounded down
// to whole GEMM row tiles.
func convChunk(p *Conv2DParams, kkc int) int {
	kkc = max(kkc, 1)
	rows := max(convChunkBytes/4/kkc, convMinChunkRows)
	rows = min(rows, convMaxChunkBytes/4/kkc)
	if rows >= gemmMC {
		rows -= rows % gemmMC
	}
	return max(rows, 1)
}

// Conv2DForward lowers the convolution to im2col + GEMM. Patch rows are laid out (kh, kw, c),
// the same order as the HWIO kernel's rows, so [rows, KH·KW·C] × [KH·KW·C, OutC] lands directly
// in NHWC, and the bias rides in the GEMM epilogue.
func (reference) Conv2DForward(p Conv2DParams, x, kernel, bias, y []float32) {
	convForward(normConv(p), x, kernel, bias, y)
}

func convForward(p Conv2DParams, x, kernel, bias, y []float32) {
	rows, kkc := p.N*p.OutH*p.OutW, p.KH*p.KW*p.C
	if rows <= 0 || p.OutC <= 0 {
		return
	}
	if pointwise(&p) {
		gemm(GemmParams{M: rows, N: p.OutC, K: p.C, Alpha: 1, Bias: bias}, x, kernel, y)
		return
	}
	chunk := convChunk(&p, kkc)
	buf := scratch32.Get(min(chunk, rows) * kkc)
	defer scratch32.Put(buf)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		col := (*buf)[:(r1-r0)*kkc]
		im2col(&p, x, r0, r1, col)
		gemm(GemmParams{M: r1 - r0, N: p.OutC, K: kkc, Alpha: 1, Bias: bias}, col, kernel, y[r0*p.OutC:])
	}
}

// adjointConv describes, for a stride-1 convolution, the forward convolution that computes its
// input gradient: dy padded by the kernel's extent minus the original padding, correlated with
// the kernel flipped in space and with in/out channels swapped. ok is false where that does
// not apply (strides, padding wider than the kernel's reach, an inconsistent output size).
func adjointConv(p *Conv2DParams) (q Conv2DParams, ok bool) {
	if p.StrideH != 1 || p.StrideW != 1 {
		return q, false
	}
	eh, ew := p.DilationH*(p.KH-1), p.DilationW*(p.KW-1)
	q = Conv2DParams{N: p.N, H: p.OutH, W: p.OutW, C: p.OutC, KH: p.KH, KW: p.KW, OutC: p.C,
		StrideH: 1, StrideW: 1, DilationH: p.DilationH, DilationW: p.DilationW,
		PadTop: eh - p.PadTop, PadBottom: eh - p.PadBottom, PadLeft: ew - p.PadLeft, PadRight: ew - p.PadRight,
		OutH: p.H, OutW: p.W}
	ok = q.PadTop >= 0 && q.PadBottom >= 0 && q.PadLeft >= 0 && q.PadRight >= 0 &&
		p.OutH == p.H+p.PadTop+p.PadBottom-eh && p.OutW == p.W+p.PadLeft+p.PadRight-ew
	return q, ok
}

// Conv2DBackwardData, for stride 1 (the common "same" layers), runs the adjoint as a forward
// convolution of dy (see adjointConv): its GEMM has depth KH·KW·OutC, long enough for the
// dot-product loop, and it writes dx once instead of scattering into it. Otherwise it computes
// the patch-matrix gradient dy·Wᵀ one chunk at a time and scatter-adds it back onto the input
// positions each patch was copied from (col2im).
func (reference) Conv2DBackwardData(p Conv2DParams, dy, kernel, dx []float32) {
	p = normConv(p)
	rows, kkc := p.N*p.OutH*p.OutW, p.KH*p.KW*p.C
	if pointwise(&p) {
		gemm(GemmParams{TransB: true, M: rows, N: p.C, K: p.OutC, Alpha: 1}, dy, kernel, dx)
		return
	}
	if q, ok := adjointConv(&p); ok && rows > 0 {
		// Flip the kernel in space and swap its channel axes: HWIO → HW(O)(I).
		fk := scratch32.Get(kkc * p.OutC)
		defer scratch32.Put(fk)
		flipped := *fk
		for kh := 0; kh < p.KH; kh++ {
			for kw := 0; kw < p.KW; kw++ {
				src := kernel[((p.KH-1-kh)*p.KW+(p.KW-1-kw))*p.C*p.OutC:]
				dst := flipped[(kh*p.KW+kw)*p.OutC*p.C:]
				for c := 0; c < p.C; c++ {
					for o := 0; o < p.OutC; o++ {
						dst[o*p.C+c] = src[c*p.OutC+o]
					}
				}
			}
		}
		convForward(q, dy, flipped, nil, dx)
		return
	}
	fill(dx[:p.N*p.H*p.W*p.C], 0)
	if rows <= 0 || kkc <= 0 {
		return
	}
	chunk := convChunk(&p, kkc)
	buf := scratch32.Get(min(chunk, rows) * kkc)
	defer scratch32.Put(buf)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		col := (*buf)[:(r1-r0)*kkc]
		gemm(GemmParams{TransB: true, M: r1 - r0, N: kkc, K: p.OutC, Alpha: 1}, dy[r0*p.OutC:], kernel, col)
		col2im(&p, col, r0, r1, dx)
	}
}

// Conv2DBackwardWeights accumulates patchesᵀ·dy over the chunks (beta 0 on the first chunk
// overwrites dkernel); dbias is the column sum of dy.
func (reference) Conv2DBackwardWeights(p Conv2DParams, x, dy, dkernel, dbias []float32) {
	p = normConv(p)
	rows, kkc := p.N*p.OutH*p.OutW, p.KH*p.KW*p.C
	if dbias != nil {
		reduce3(ReduceSum, dy, 1, rows, p.OutC, dbias)
	}
	if kkc <= 0 || p.OutC <= 0 {
		return
	}
	if rows <= 0 {
		clear(dkernel[:kkc*p.OutC])
		return
	}
	if pointwise(&p) {
		gemm(GemmParams{TransA: true, M: p.C, N: p.OutC, K: rows, Alpha: 1}, x, dy, dkernel)
		return
	}
	chunk := convChunk(&p, kkc)
	buf := scratch32.Get(min(chunk, rows) * kkc)
	defer scratch32.Put(buf)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		col := (*buf)[:(r1-r0)*kkc]
		im2col(&p, x, r0, r1, col)
		beta := float32(1)
		if r0 == 0 {
			beta = 0
		}
		gemm(GemmParams{TransA: true, M: kkc, N: p.OutC, K: r1 - r0, Alpha: 1, Beta: beta}, col, dy[r0*p.OutC:], dkernel)
	}
}

// im2col writes the patches of output pixels [r0, r1) (flat over n, oh, ow) as rows of col,
// zeros where a tap falls in the padding.
func im2col(p *Conv2DParams, x []float32, r0, r1 int, col []float32) {
	kkc := p.KH * p.KW * p.C
	convTask{kind: convIm2col, p: *p, x: x, col: col, r0: r0}.run(r1-r0, max(1, elemGrain/max(kkc, 1)))
}

// convTask is a parallel pass of the convolution lowering over [lo, hi): im2col over patch
// rows, or col2im over images or channels. It holds the parameters by value: a pointer to the
// caller's would make them escape to the heap on every call.
type convTask struct {
	kind   convKind
	p      Conv2DParams
	x, col []float32 // x is dx for col2im
	r0, r1 int       // the chunk's patch rows
	n0     int       // col2im by image: the chunk's first image
}

type convKind uint8

const (
	convIm2col convKind = iota
	convCol2imImages
	convCol2imChannels
)

var convTasks par.Pool[convTask, *convTask]

func (t convTask) run(n, grain int) {
	if threads, inline := split(n, grain); inline {
		t.Run(0, max(n, 0))
	} else {
		convTasks.For(threads, n, grain, t)
	}
}

func (t *convTask) Run(lo, hi int) {
	p := &t.p
	switch t.kind {
	case convIm2col:
		im2colRows(p, t.x, t.r0, lo, hi, t.col)
	case convCol2imImages:
		img := p.OutH * p.OutW
		for n := t.n0 + lo; n < t.n0+hi; n++ {
			col2imRows(p, t.col, t.r0, max(t.r0, n*img), min(t.r1, (n+1)*img), 0, p.C, t.x)
		}
	case convCol2imChannels:
		col2imRows(p, t.col, t.r0, t.r0, t.r1, lo, hi, t.x)
	}
}

// im2colRows writes patch rows [lo, hi) of the chunk starting at output pixel r0.
func im2colRows(p *Conv2DParams, x []float32, r0, lo, hi int, col []float32) {
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
				// The whole kernel row is in bounds and contiguous in NHWC.
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

// col2im adds rows [r0, r1) of the patch gradient back into dx. Patches of different images
// never overlap, so a chunk spanning several images splits by image; a chunk inside one image
// splits by channel instead. Either way each dx element is owned by one goroutine and receives
// its additions in the same order for any thread count.
func col2im(p *Conv2DParams, col []float32, r0, r1 int, dx []float32) {
	img := p.OutH * p.OutW
	kkc := p.KH * p.KW * p.C
	n0, n1 := r0/img, (r1-1)/img
	t := convTask{p: *p, x: dx, col: col, r0: r0, r1: r1, n0: n0}
	if n1 > n0 {
		t.kind = convCol2imImages
		t.run(n1-n0+1, max(1, elemGrain/max(1, img*kkc)))
		return
	}
	// Narrower channel ranges than 16 floats (one cache line) would have goroutines share lines.
	t.kind = convCol2imChannels
	t.run(p.C, max(16, p.C*elemGrain/max(1, (r1-r0)*kkc)))
}

// col2imRows scatters channels [c0, c1) of output pixels [lo, hi); col's first row is pixel
// base.
func col2imRows(p *Conv2DParams, col []float32, base, lo, hi, c0, c1 int, dx []float32) {
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
