package backend

import (
	"math"

	"github.com/deepframe/deepframe/backend/internal/par"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Tile sizes for the parallel GEMM. gonum's Sgemm starts its own GOMAXPROCS goroutines once a
// call spans four or more 64×64 blocks, which would escape the NumThreads budget and nest
// inside ours; a gemmMC×gemmNC tile spans at most three, so every gonum call here stays on the
// goroutine that made it. gemmKC bounds the depth of one call so the B panel a tile streams
// through (gemmKC×gemmNC floats, 768 KiB) stays in L2 while the tile's rows of A walk over it;
// measured here, longer dot products kept gaining up to about this depth.
const (
	gemmMC = 64
	gemmNC = 192
	gemmKC = 1024

	// gemmDotMinK is the depth from which the A·Bᵀ (dot product) loop beats A·B (measured:
	// A·B wins at K=64, A·Bᵀ by 10-50% from K=128 up).
	gemmDotMinK = 96
	// gemmPackMin is the smallest other dimension for which repacking an operand pays.
	gemmPackMin = 16

	// gemmSmall is the M*N*K below which a GEMM runs entirely on the calling goroutine: a
	// goroutine hand-off costs about as much as this many multiply-adds.
	gemmSmall = 1 << 15
)

func (reference) Gemm(p GemmParams, a, b, c []float32) { gemm(p, a, b, c) }

// gemm computes C = act(alpha*op(A)*op(B) + beta*C + bias) tile by tile. Each C tile is
// finished (all of K, then the epilogue) by one goroutine, so the bias and activation touch it
// while it is still in cache and no two goroutines ever write the same element. Only the K
// split, which fixes the order of the additions, is constant; the M and N tiling, which does
// not change any sum, adapts to the shape and thread count. Results are therefore bit-identical
// for any budget.
func gemm(p GemmParams, a, b, c []float32) {
	m, n, k := p.M, p.N, p.K
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 || p.Alpha == 0 {
		gemmScaleOnly(p, c)
		return
	}
	transA, transB := p.TransA, p.TransB
	if m*n*k >= gemmSmall {
		// Repack the operands into the layout whose gonum loop runs fastest. With K long
		// enough, that is A·Bᵀ, a dot product per element (no stores in the inner loop: about
		// 1.5x the axpy-based loops on this machine); with short K the dot calls cost more than
		// they compute and A·B, an axpy over a row of B per element of A, wins. Repacking A
		// costs M·K, B costs K·N, against M·N·K for the product, so an operand is only
		// repacked when the other dimension amortises it.
		wantTransB := k >= gemmDotMinK
		if transA && (n >= gemmPackMin || transB) {
			packed := scratch32.Get(m * k)
			defer scratch32.Put(packed)
			transpose2D(a, k, m, *packed)
			a, transA = *packed, false
		}
		if transB != wantTransB && m >= gemmPackMin {
			packed := scratch32.Get(k * n)
			defer scratch32.Put(packed)
			if transB {
				transpose2D(b, n, k, *packed)
			} else {
				transpose2D(b, k, n, *packed)
			}
			b, transB = *packed, wantTransB
		}
	}
	nc := gemmTileCols(m, n, k)
	t := gemmTask{p: p, a: a, b: b, c: c, transA: transA, transB: transB, nc: nc, nTiles: (n + nc - 1) / nc}
	tiles := ((m + gemmMC - 1) / gemmMC) * t.nTiles
	if m*n*k < gemmSmall {
		t.Run(0, tiles)
		return
	}
	// Each worker should get at least gemmSmall multiply-adds, or the hand-off costs more
	// than the parallelism saves.
	workers := max(1, min(tiles, m*n*k/gemmSmall))
	if threads := NumThreads(); min(workers, threads) <= 1 {
		t.Run(0, tiles)
	} else {
		gemmTasks.Each(threads, tiles, workers, t)
	}
}

// gemmTask computes C tiles [lo, hi) (row-major over the nTiles tiles of each row band), or,
// with scaleOnly, C rows [lo, hi) of a product that vanishes.
type gemmTask struct {
	p              GemmParams
	a, b, c        []float32
	transA, transB bool // after any repacking
	nc, nTiles     int
	scaleOnly      bool
}

var gemmTasks par.Pool[gemmTask, *gemmTask]

func (t *gemmTask) Run(lo, hi int) {
	if t.scaleOnly {
		gemmScaleRows(&t.p, t.c, lo, hi)
		return
	}
	for i := lo; i < hi; i++ {
		t.tile(i)
	}
}

func (t *gemmTask) tile(i int) {
	p, a, b, c := &t.p, t.a, t.b, t.c
	m, n, k := p.M, p.N, p.K
	tA, tB := blas.NoTrans, blas.NoTrans
	if t.transA {
		tA = blas.Trans
	}
	if t.transB {
		tB = blas.Trans
	}
	i0 := (i / t.nTiles) * gemmMC
	j0 := (i % t.nTiles) * t.nc
	mb, nb := min(gemmMC, m-i0), min(t.nc, n-j0)
	cs := blas32.General{Rows: mb, Cols: nb, Stride: n, Data: c[i0*n+j0:]}
	beta := p.Beta
	for k0 := 0; k0 < k; k0 += gemmKC {
		kb := min(gemmKC, k-k0)
		var as, bs blas32.General
		if t.transA {
			as = blas32.General{Rows: kb, Cols: mb, Stride: m, Data: a[k0*m+i0:]}
		} else {
			as = blas32.General{Rows: mb, Cols: kb, Stride: k, Data: a[i0*k+k0:]}
		}
		if t.transB {
			bs = blas32.General{Rows: nb, Cols: kb, Stride: k, Data: b[j0*k+k0:]}
		} else {
			bs = blas32.General{Rows: kb, Cols: nb, Stride: n, Data: b[k0*n+j0:]}
		}
		blas32.Gemm(tA, tB, p.Alpha, as, bs, beta, cs)
		beta = 1
	}
	gemmEpilogue(c, n, i0, mb, j0, nb, p.Bias, p.Act)
}

// gemmTileCols picks the width of a C tile: gemmNC, narrowed while the tiles are too few to
// share evenly among the threads (a 64×800 product is five 192-wide tiles, three for one
// thread and two for the other, until narrowed to nine 96-wide ones).
func gemmTileCols(m, n, k int) int {
	nc := gemmNC
	if m*n*k < gemmSmall {
		return nc
	}
	threads := NumThreads()
	mTiles := (m + gemmMC - 1) / gemmMC
	for nc > 16 {
		tiles := mTiles * ((n + nc - 1) / nc)
		if tiles%threads == 0 || tiles >= 4*threads {
			break
		}
		nc /= 2
	}
	return nc
}

// gemmScaleOnly handles K == 0 or alpha == 0, where the product vanishes and C = beta*C
// (with beta == 0 overwriting whatever C held, NaN included) before the epilogue.
func gemmScaleOnly(p GemmParams, c []float32) {
	m, n := p.M, p.N
	grain := max(1, (1<<15)/n)
	t := gemmTask{p: p, c: c, scaleOnly: true}
	if threads, inline := split(m, grain); inline {
		t.Run(0, m)
	} else {
		gemmTasks.For(threads, m, grain, t)
	}
}

func gemmScaleRows(p *GemmParams, c []float32, lo, hi int) {
	n := p.N
	for i := lo; i < hi; i++ {
		row := c[i*n : i*n+n]
		if p.Beta == 0 {
			clear(row)
		} else if p.Beta != 1 {
			for j := range row {
				row[j] *= p.Beta
			}
		}
		gemmEpilogue(c, n, i, 1, 0, n, p.Bias, p.Act)
	}
}

// gemmEpilogue applies C[i,j] = act(C[i,j] + bias[j]) to the mb×nb tile at (i0, j0).
func gemmEpilogue(c []float32, ldc, i0, mb, j0, nb int, bias []float32, act Activation) {
	if bias == nil && act == ActNone {
		return
	}
	var bs []float32
	if bias != nil {
		bs = bias[j0 : j0+nb]
	}
	for i := i0; i < i0+mb; i++ {
		row := c[i*ldc+j0 : i*ldc+j0+nb]
		if bs != nil {
			for j, v := range bs {
				row[j] += v
			}
		}
		applyActivation(act, row)
	}
}

func applyActivation(act Activation, row []float32) {
	switch act {
	case ActReLU:
		for j, v := range row {
			if v < 0 { // NaN stays NaN: a diverging model should show it, not hide it
				row[j] = 0
			}
		}
	case ActSigmoid:
		for j, v := range row {
			row[j] = sigmoid32(v)
		}
	case ActTanh:
		for j, v := range row {
			row[j] = float32(math.Tanh(float64(v)))
		}
	}
}

// sigmoid32 never evaluates exp of a large positive number, so it neither overflows nor loses
// the small tail values for very negative inputs.
func sigmoid32(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}
