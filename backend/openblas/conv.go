package openblas

import (
	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/backend/internal/lowering"
	"github.com/deepframe/deepframe/backend/internal/par"
)

// Convolutions are lowered to sgemm through an explicit patch matrix, the same lowering as the
// reference backend's (backend/internal/lowering); only the GEMMs go to OpenBLAS.

// convChunkFloats bounds the patch matrix of one GEMM call (16 MiB): large enough that
// OpenBLAS sees big, efficient products, small enough to stay allocated across steps without
// pinning much memory. A variable so tests can force many chunks.
var convChunkFloats = 4 << 20

// chunkRows holds whole images when an image fits, so col2im can give each goroutine whole
// images.
func chunkRows(p *lowering.Params, kkc int) int {
	return lowering.ChunkRows(kkc, convChunkFloats, 1, convChunkFloats, p.OutH*p.OutW)
}

// col2imGrain is the least patch-gradient floats one col2im goroutine takes: four times the
// reference backend's, as this backend had it before the lowering was shared, so sharing it
// changes no timings.
const col2imGrain = 1 << 16

func (b *Backend) Conv2DForward(cp backend.Conv2DParams, x, kernel, bias, y []float32) {
	p := lowering.Norm(lowering.Params(cp))
	rows, kkc := p.N*p.OutH*p.OutW, p.KH*p.KW*p.C
	if rows <= 0 || p.OutC <= 0 {
		return
	}
	if kkc <= 0 {
		b.Backend.Conv2DForward(backend.Conv2DParams(p), x, kernel, bias, y)
		return
	}
	if p.Pointwise() {
		b.Gemm(backend.GemmParams{M: rows, N: p.OutC, K: p.C, Alpha: 1, Bias: bias}, x, kernel, y)
		return
	}
	chunk := chunkRows(&p, kkc)
	buf := scratch.Get(min(chunk, rows) * kkc)
	defer scratch.Put(buf)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		col := (*buf)[:(r1-r0)*kkc]
		lowering.Im2col(backend.NumThreads(), &p, x, r0, r1, col)
		b.Gemm(backend.GemmParams{M: r1 - r0, N: p.OutC, K: kkc, Alpha: 1, Bias: bias}, col, kernel, y[r0*p.OutC:r1*p.OutC])
	}
}

func (b *Backend) Conv2DBackwardData(cp backend.Conv2DParams, dy, kernel, dx []float32) {
	p := lowering.Norm(lowering.Params(cp))
	rows, kkc := p.N*p.OutH*p.OutW, p.KH*p.KW*p.C
	if p.Pointwise() && rows > 0 && p.OutC > 0 {
		b.Gemm(backend.GemmParams{TransB: true, M: rows, N: p.C, K: p.OutC, Alpha: 1}, dy, kernel, dx)
		return
	}
	if rows <= 0 || kkc <= 0 || p.OutC <= 0 {
		b.Backend.Conv2DBackwardData(backend.Conv2DParams(p), dy, kernel, dx)
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
		lowering.Col2im(backend.NumThreads(), col2imGrain, &p, col, r0, r1, dx)
	}
}

func (b *Backend) Conv2DBackwardWeights(cp backend.Conv2DParams, x, dy, dkernel, dbias []float32) {
	p := lowering.Norm(lowering.Params(cp))
	rows, kkc := p.N*p.OutH*p.OutW, p.KH*p.KW*p.C
	if rows <= 0 || kkc <= 0 || p.OutC <= 0 {
		b.Backend.Conv2DBackwardWeights(backend.Conv2DParams(p), x, dy, dkernel, dbias)
		return
	}
	if dbias != nil {
		columnSums(dy, rows, p.OutC, dbias)
	}
	if p.Pointwise() {
		b.Gemm(backend.GemmParams{TransA: true, M: p.C, N: p.OutC, K: rows, Alpha: 1}, x, dy, dkernel)
		return
	}
	chunk := chunkRows(&p, kkc)
	buf := scratch.Get(min(chunk, rows) * kkc)
	defer scratch.Put(buf)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		col := (*buf)[:(r1-r0)*kkc]
		lowering.Im2col(backend.NumThreads(), &p, x, r0, r1, col)
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

// convTask is one parallel pass over [lo, hi) of the Go loops around sgemm that the shared
// lowering does not cover: clearing col, or the blocked column sums of m (x) into parts.
type convTask struct {
	kind       convKind
	x, col     []float32
	rows, cols int
	parts      []float64
}

type convKind uint8

const (
	convClear convKind = iota
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
	switch t.kind {
	case convClear:
		clear(t.col[lo:hi])
	case convColumnSums:
		columnSumBlocks(t.x, t.rows, t.cols, t.parts, lo, hi)
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
