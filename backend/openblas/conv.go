package openblas

import (
	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/backend/internal/par"
)

// Convolutions are lowered to sgemm through an explicit patch matrix (im2col). Patch rows are
// laid out (kh, kw, c), the row order of an HWIO kernel seen as a [KH·KW·C, OutC] matrix, so
// patches × kernel lands directly in NHWC with no transposes.

// convChunkFloats bounds the patch matrix of one GEMM call (16 MiB): large enough that
// OpenBLAS sees big, efficient products, small enough to stay allocated across steps without
// pinning much memory. A variable so tests can force many chunks.
var convChunkFloats = 4 << 20

func norm(p backend.Conv2DParams) backend.Conv2DParams {
	p.StrideH, p.StrideW = max(p.StrideH, 1), max(p.StrideW, 1)
	p.DilationH, p.DilationW = max(p.DilationH, 1), max(p.DilationW, 1)
	return p
}

// pointwise reports a 1×1, stride-1, unpadded convolution: the NHWC input viewed as
// [N·H·W, C] is its own patch matrix.
func pointwise(p *backend.Conv2DParams) bool {
	return p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 &&
		p.PadTop == 0 && p.PadBottom == 0 && p.PadLeft == 0 && p.PadRight == 0 &&
		p.OutH == p.H && p.OutW == p.W
}

// chunkRows is how many output pixels' patches one chunk holds. Chunks are whole images
// when an image fits, so col2im can give each goroutine whole images.
func chunkRows(p *backend.Conv2DParams, kkc int) int {
	rows := max(1, convChunkFloats/max(kkc, 1))
	if img := p.OutH * p.OutW; rows >= img {
		rows -= rows % img
	}
	return rows
}

func (b *Backend) Conv2DForward(p backend.Conv2DParams, x, kernel, bias, y []float32) {
	p = norm(p)
	rows, kkc := p.N*p.OutH*p.OutW, p.KH*p.KW*p.C
	if rows <= 0 || p.OutC <= 0 {
		return
	}
	if kkc <= 0 {
		b.Backend.Conv2DForward(p, x, kernel, bias, y)
		return
	}
	if pointwise(&p) {
		b.Gemm(backend.GemmParams{M: rows, N: p.OutC, K: p.C, Alpha: 1, Bias: bias}, x, kernel, y)
		return
	}
	chunk := chunkRows(&p, kkc)
	buf := scratch.Get(min(chunk, rows) * kkc)
	defer scratch.Put(buf)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		col := (*buf)[:(r1-r0)*kkc]
		im2col(&p, x, r0, r1, col)
		b.Gemm(backend.GemmParams{M: r1 - r0, N: p.OutC, K: kkc, Alpha: 1, Bias: bias}, col, kernel, y[r0*p.OutC:r1*p.OutC])
	}
}

func (b *Backend) Conv2DBackwardData(p backend.Conv2DParams, dy, kernel, dx []float32) {
	p = norm(p)
	rows, kkc := p.N*p.OutH*p.OutW, p.KH*p.KW*p.C
	if pointwise(&p) && rows > 0 && p.OutC > 0 {
		b.Gemm(backend.GemmParams{TransB: true, M: rows, N: p.C, K: p.OutC, Alpha: 1}, dy, kernel, dx)
		return
	}
	if rows <= 0 || kkc <= 0 || p.OutC <= 0 {
		b.Backend.Conv2DBackwardData(p, dy, kernel, dx)
		return
	}
	clearParallel(dx[:p.N*p.H*p.W*p.C])
	chunk := chunkRows(&p, kkc)
	buf := scratch.Get(min(chunk, rows) * kkc)
	defer scratch.Put(buf)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		col := (*buf)[:(r1-r0)*kkc]
		b.Gemm(backend.GemmParams{TransB: true, M: r1 - r0, N: kkc, K: p.OutC, Alpha: 1}, dy[r0*p.OutC:r1*p.OutC], kernel, col)
		col2im(&p, col, r0, r1, dx)
	}
}

func (b *Backend) Conv2DBackwardWeights(p backend.Conv2DParams, x, dy, dkernel, dbias []float32) {
	p = norm(p)
	rows, kkc := p.N*p.OutH*p.OutW, p.KH*p.KW*p.C
	if rows <= 0 || kkc <= 0 || p.OutC <= 0 {
		b.Backend.Conv2DBackwardWeights(p, x, dy, dkernel, dbias)
		return
	}
	if dbias != nil {
		columnSums(dy, rows, p.OutC, dbias)
	}
	if pointwise(&p) {
		b.Gemm(backend.GemmParams{TransA: true, M: p.C, N: p.OutC, K: rows, Alpha: 1}, x, dy, dkernel)
		return
	}
	chunk := chunkRows(&p, kkc)
	buf := scratch.Get(min(chunk, rows) * kkc)
	defer scratch.Put(buf)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		col := (*buf)[:(r1-r0)*kkc]
		im2col(&p, x, r0, r1, col)
		beta := float32(1)
		if r0 == 0 {
			beta = 0
		}
		b.Gemm(backend.GemmParams{TransA: true, M: kkc, N: p.OutC, K: r1 - r0, Alpha: 1, Beta: beta}, col, dy[r0*p.OutC:r1*p.OutC], dkernel)
	}
}

const clearGrain = 1 << 16

func clearParallel(s []float32) {
	convTask{kind: convClear, col: s}.run(len(s), clearGrain)
}

// convTask is one parallel pass over [lo, hi): clearing col, im2col over patch rows, col2im
// over images or channels (x is dx then), or the blocked column sums of m (x) into parts. The
// parameters are held by value: a pointer to the caller's would escape with the task.
type convTask struct {
	kind   convKind
	p      backend.Conv2DParams
	x, col []float32
	r0, r1 int // the chunk's patch rows
	n0     int // col2im by image: the chunk's first image
	// column sums
	rows, cols int
	parts      []float64
}

type convKind uint8

const (
	convClear convKind = iota
	convIm2col
	convCol2imImages
	convCol2imChannels
	convColumnSums
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
	case convClear:
		clear(t.col[lo:hi])
	case convIm2col:
		im2colRows(p, t.x, t.r0, lo, hi, t.col)
	case convCol2imImages:
		img := p.OutH * p.OutW
		for n := t.n0 + lo; n < t.n0+hi; n++ {
			col2imRange(p, t.col, t.r0, max(t.r0, n*img), min(t.r1, (n+1)*img), 0, p.C, t.x)
		}
	case convCol2imChannels:
		col2imRange(p, t.col, t.r0, t.r0, t.r1, lo, hi, t.x)
	case convColumnSums:
		columnSumBlocks(t.x, t.rows, t.cols, t.parts, lo, hi)
	}
}

// im2col writes the patches of output pixels [r0, r1) (flat over n, oh, ow) as rows of col,
// zero where a tap falls outside the input.
func im2col(p *backend.Conv2DParams, x []float32, r0, r1 int, col []float32) {
	kkc := p.KH * p.KW * p.C
	convTask{kind: convIm2col, p: *p, x: x, col: col, r0: r0}.run(r1-r0, max(1, (1<<14)/kkc))
}

// im2colRows writes patch rows [lo, hi) of the chunk starting at output pixel r0.
func im2colRows(p *backend.Conv2DParams, x []float32, r0, lo, hi int, col []float32) {
	C, KW := p.C, p.KW
	kkc := p.KH * KW * C
	for r := lo; r < hi; r++ {
		g := r0 + r
		ow, t := g%p.OutW, g/p.OutW
		oh, n := t%p.OutH, t/p.OutH
		dst := col[r*kkc : (r+1)*kkc]
		ih0, iw0 := oh*p.StrideH-p.PadTop, ow*p.StrideW-p.PadLeft
		for kh := 0; kh < p.KH; kh++ {
			seg := dst[kh*KW*C : (kh+1)*KW*C]
			ih := ih0 + kh*p.DilationH
			if ih < 0 || ih >= p.H {
				clear(seg)
				continue
			}
			base := (n*p.H + ih) * p.W
			if p.DilationW == 1 && iw0 >= 0 && iw0+KW <= p.W {
				// An in-bounds kernel row is one contiguous run of NHWC memory.
				copy(seg, x[(base+iw0)*C:(base+iw0+KW)*C])
				continue
			}
			for kw := 0; kw < KW; kw++ {
				iw := iw0 + kw*p.DilationW
				s := seg[kw*C : (kw+1)*C]
				if iw < 0 || iw >= p.W {
					clear(s)
				} else {
					copy(s, x[(base+iw)*C:(base+iw+1)*C])
				}
			}
		}
	}
}

// col2im adds patch-gradient rows [r0, r1) back onto the input pixels they came from.
// Patches overlap only within an image, so goroutines take whole images when the chunk spans
// several; inside one image they take disjoint channel ranges. Either way no two goroutines
// write the same element, and every element receives its additions in a fixed order.
func col2im(p *backend.Conv2DParams, col []float32, r0, r1 int, dx []float32) {
	img := p.OutH * p.OutW
	kkc := p.KH * p.KW * p.C
	n0, n1 := r0/img, (r1-1)/img
	t := convTask{p: *p, x: dx, col: col, r0: r0, r1: r1, n0: n0}
	if n1 > n0 {
		t.kind = convCol2imImages
		t.run(n1-n0+1, max(1, (1<<16)/max(1, img*kkc)))
		return
	}
	// Ranges narrower than a cache line would have goroutines writing the same lines.
	t.kind = convCol2imChannels
	t.run(p.C, max(16, p.C*(1<<16)/max(1, (r1-r0)*kkc)))
}

func col2imRange(p *backend.Conv2DParams, col []float32, base, lo, hi, c0, c1 int, dx []float32) {
	C, KW := p.C, p.KW
	kkc := p.KH * KW * C
	for g := lo; g < hi; g++ {
		src := col[(g-base)*kkc : (g-base+1)*kkc]
		ow, t := g%p.OutW, g/p.OutW
		oh, n := t%p.OutH, t/p.OutH
		ih0, iw0 := oh*p.StrideH-p.PadTop, ow*p.StrideW-p.PadLeft
		for kh := 0; kh < p.KH; kh++ {
			ih := ih0 + kh*p.DilationH
			if ih < 0 || ih >= p.H {
				continue
			}
			base := (n*p.H + ih) * p.W
			for kw := 0; kw < KW; kw++ {
				iw := iw0 + kw*p.DilationW
				if iw < 0 || iw >= p.W {
					continue
				}
				d := dx[(base+iw)*C+c0 : (base+iw)*C+c1]
				s := src[(kh*KW+kw)*C+c0 : (kh*KW+kw)*C+c1]
				for j, v := range s {
					d[j] += v
				}
			}
		}
	}
}

// columnSumBlock is the number of rows one partial of columnSums adds up.
const columnSumBlock = 256

// columnSums writes out[j] = Σ_i m[i, j] for a rows×cols matrix. Rows are summed in fixed
// blocks (float64 partials folded in block order), so the result does not depend on the
// thread count.
func columnSums(m []float32, rows, cols int, out []float32) {
	nb := (rows + columnSumBlock - 1) / columnSumBlock
	pp := scratch64.Get(nb * cols)
	defer scratch64.Put(pp)
	parts := *pp
	convTask{kind: convColumnSums, x: m, rows: rows, cols: cols, parts: parts}.run(nb, max(1, (1<<15)/(columnSumBlock*cols)))
	for j := 0; j < cols; j++ {
		var s float64
		for bi := 0; bi < nb; bi++ {
			s += parts[bi*cols+j]
		}
		out[j] = float32(s)
	}
}

// columnSumBlocks writes the partial sums of row blocks [lo, hi).
func columnSumBlocks(m []float32, rows, cols int, parts []float64, lo, hi int) {
	for bi := lo; bi < hi; bi++ {
		acc := parts[bi*cols : (bi+1)*cols]
		clear(acc)
		for i := bi * columnSumBlock; i < min(rows, (bi+1)*columnSumBlock); i++ {
			for j, v := range m[i*cols : (i+1)*cols] {
				acc[j] += float64(v)
			}
		}
	}
}
