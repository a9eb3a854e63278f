package backend

import "github.com/deepframe/deepframe/backend/internal/lowering"

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

// convChunk is in whole GEMM row tiles, so that only the last chunk ends in a ragged tile.
func convChunk(kkc int) int {
	return lowering.ChunkRows(kkc, convChunkBytes/4, convMinChunkRows, convMaxChunkBytes/4, gemmMC)
}

// Conv2DForward lowers the convolution to im2col + GEMM. Patch rows are laid out (kh, kw, c),
// the same order as the HWIO kernel's rows, so [rows, KH·KW·C] × [KH·KW·C, OutC] lands directly
// in NHWC, and the bias rides in the GEMM epilogue.
func (reference) Conv2DForward(p Conv2DParams, x, kernel, bias, y []float32) {
	convForward(lowering.Norm(lowering.Params(p)), x, kernel, bias, y)
}

func convForward(p lowering.Params, x, kernel, bias, y []float32) {
	rows, kkc := p.N*p.OutH*p.OutW, p.KH*p.KW*p.C
	if rows <= 0 || p.OutC <= 0 {
		return
	}
	if p.Pointwise() {
		gemm(GemmParams{M: rows, N: p.OutC, K: p.C, Alpha: 1, Bias: bias}, x, kernel, y)
		return
	}
	chunk := convChunk(kkc)
	buf := scratch32.Get(min(chunk, rows) * kkc)
	defer scratch32.Put(buf)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		col := (*buf)[:(r1-r0)*kkc]
		lowering.Im2col(NumThreads(), &p, x, r0, r1, col)
		gemm(GemmParams{M: r1 - r0, N: p.OutC, K: kkc, Alpha: 1, Bias: bias}, col, kernel, y[r0*p.OutC:])
	}
}

// adjointConv describes, for a stride-1 convolution, the forward convolution that computes its
// input gradient: dy padded by the kernel's extent minus the original padding, correlated with
// the kernel flipped in space and with in/out channels swapped. ok is false where that does
// not apply (strides, padding wider than the kernel's reach, an inconsistent output size).
func adjointConv(p *lowering.Params) (q lowering.Params, ok bool) {
	if p.StrideH != 1 || p.StrideW != 1 {
		return q, false
	}
	eh, ew := p.DilationH*(p.KH-1), p.DilationW*(p.KW-1)
	q = lowering.Params{N: p.N, H: p.OutH, W: p.OutW, C: p.OutC, KH: p.KH, KW: p.KW, OutC: p.C,
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
func (reference) Conv2DBackwardData(cp Conv2DParams, dy, kernel, dx []float32) {
	p := lowering.Norm(lowering.Params(cp))
	rows, kkc := p.N*p.OutH*p.OutW, p.KH*p.KW*p.C
	if p.Pointwise() {
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
	chunk := convChunk(kkc)
	buf := scratch32.Get(min(chunk, rows) * kkc)
	defer scratch32.Put(buf)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		col := (*buf)[:(r1-r0)*kkc]
		gemm(GemmParams{TransB: true, M: r1 - r0, N: kkc, K: p.OutC, Alpha: 1}, dy[r0*p.OutC:], kernel, col)
		lowering.Col2im(NumThreads(), elemGrain, &p, col, r0, r1, dx)
	}
}

// Conv2DBackwardWeights accumulates patchesᵀ·dy over the chunks (beta 0 on the first chunk
// overwrites dkernel); dbias is the column sum of dy.
func (reference) Conv2DBackwardWeights(cp Conv2DParams, x, dy, dkernel, dbias []float32) {
	p := lowering.Norm(lowering.Params(cp))
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
	if p.Pointwise() {
		gemm(GemmParams{TransA: true, M: p.C, N: p.OutC, K: rows, Alpha: 1}, x, dy, dkernel)
		return
	}
	chunk := convChunk(kkc)
	buf := scratch32.Get(min(chunk, rows) * kkc)
	defer scratch32.Put(buf)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		col := (*buf)[:(r1-r0)*kkc]
		lowering.Im2col(NumThreads(), &p, x, r0, r1, col)
		beta := float32(1)
		if r0 == 0 {
			beta = 0
		}
		gemm(GemmParams{TransA: true, M: kkc, N: p.OutC, K: r1 - r0, Alpha: 1, Beta: beta}, col, dy[r0*p.OutC:], dkernel)
	}
}
