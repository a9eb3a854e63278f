package backend

import (
	"math"

	"github.com/deepframe/deepframe/backend/internal/par"
)

// bnTask is one parallel pass of the batch-norm kernels: a blocked column sum (term says
// which) or a per-row pass over [lo, hi).
type bnTask struct {
	phase bnPhase
	term  bnTerm

	rows, cols, k       int // k: column-sum terms per column
	cw, nCB, rowsPerB   int
	x, dy, y            []float32 // y is dx in the backward row pass
	mean, invStd, beta  []float32
	scale               []float32 // gamma·invStd, for bnNormRows
	mean64              []float64 // for bnVar
	out, parts          []float64
	kc, offset, coeffic []float64 // for bnDxRows
}

type bnPhase uint8

const (
	bnSumsWhole   bnPhase = iota // Run covers column blocks, each summing all rows into out
	bnSumsPartial                // Run covers (row block, column block) pairs, summing into parts
	bnNormRows                   // y = (x-mean)·scale (+beta) over rows
	bnDxRows                     // the backward input gradient over rows
)

// bnTerm is what a column sum adds up per element.
type bnTerm uint8

const (
	bnMean bnTerm = iota // x
	bnVar                // (x-mean)², mean from mean64
	bnGrad               // dy and dy·x̂, into two totals per column
)

var bnTasks par.Pool[bnTask, *bnTask]

func (t bnTask) run(n, grain int) {
	if threads, inline := split(n, grain); inline {
		t.Run(0, max(n, 0))
	} else {
		bnTasks.For(threads, n, grain, t)
	}
}

func (t *bnTask) Run(lo, hi int) {
	switch t.phase {
	case bnSumsWhole:
		for cb := lo; cb < hi; cb++ {
			c0 := cb * t.cw
			t.accumulate(0, t.rows, c0, min(c0+t.cw, t.cols), t.out)
		}
	case bnSumsPartial:
		kc := t.k * t.cols
		for j := lo; j < hi; j++ {
			rb, c0 := j/t.nCB, (j%t.nCB)*t.cw
			r0 := rb * t.rowsPerB
			t.accumulate(r0, min(r0+t.rowsPerB, t.rows), c0, min(c0+t.cw, t.cols), t.parts[rb*kc:(rb+1)*kc])
		}
	case bnNormRows:
		bnNormaliseRows(t, lo, hi)
	case bnDxRows:
		bnBackwardRows(t, lo, hi)
	}
}

// accumulate adds the term of rows [r0, r1) and columns [c0, c1) into acc[q*cols+c].
func (t *bnTask) accumulate(r0, r1, c0, c1 int, acc []float64) {
	channels := t.cols
	switch t.term {
	case bnMean:
		a := acc[c0:c1]
		for r := r0; r < r1; r++ {
			row := t.x[r*channels+c0 : r*channels+c1]
			for j, v := range row {
				a[j] += float64(v)
			}
		}
	case bnVar:
		a, mu := acc[c0:c1], t.mean64[c0:c1]
		for r := r0; r < r1; r++ {
			row := t.x[r*channels+c0 : r*channels+c1]
			for j, v := range row {
				d := float64(v) - mu[j]
				a[j] += d * d
			}
		}
	case bnGrad:
		sdy, sdx := acc[c0:c1], acc[channels+c0:channels+c1]
		mu, is := t.mean[c0:c1], t.invStd[c0:c1]
		for r := r0; r < r1; r++ {
			xr := t.x[r*channels+c0 : r*channels+c1]
			gr := t.dy[r*channels+c0 : r*channels+c1]
			for j, g := range gr {
				xh := (float64(xr[j]) - float64(mu[j])) * float64(is[j])
				sdy[j] += float64(g)
				sdx[j] += float64(g) * xh
			}
		}
	}
}

// columnSums adds up t.k per-element terms (t.term) over the rows of a t.rows×t.cols matrix,
// one total per (term, column), into out ([k][cols]) in float64. Rows are taken in fixed
// blocks whose partial totals are folded in block order, so the totals do not depend on the
// thread count.
func columnSums(t bnTask, out []float64) {
	rows, cols, k := t.rows, t.cols, t.k
	out = out[:k*cols]
	clear(out)
	if rows <= 0 || cols <= 0 {
		return
	}
	t.cw = min(cols, reduceColBlock)
	t.nCB = (cols + t.cw - 1) / t.cw
	t.rowsPerB = max(1, reduceBlock/t.cw)
	nRB := (rows + t.rowsPerB - 1) / t.rowsPerB
	if nRB == 1 {
		t.phase, t.out = bnSumsWhole, out
		t.run(t.nCB, 1)
		return
	}
	part := scratch64.Get(nRB * k * cols)
	defer scratch64.Put(part)
	parts := *part
	clear(parts)
	t.phase, t.parts = bnSumsPartial, parts
	t.run(nRB*t.nCB, 1)
	for rb := 0; rb < nRB; rb++ {
		p := parts[rb*k*cols : (rb+1)*k*cols]
		for i, v := range p {
			out[i] += v
		}
	}
}

// rowsGrain is the number of rows of width cols worth handing to one goroutine.
func rowsGrain(cols int) int { return max(1, elemGrain/max(1, cols)) }

// BatchNormForwardTraining uses two passes (mean, then the mean of squared deviations) rather
// than E[x²]-E[x]², which cancels catastrophically when |mean| ≫ std. A nil gamma or beta
// means the layer has no scale (1) or no centre (0).
func (reference) BatchNormForwardTraining(rows, channels int, eps float32, x, gamma, beta, y, mean, invStd []float32) {
	if channels <= 0 {
		return
	}
	sb := scratch64.Get(2 * channels)
	defer scratch64.Put(sb)
	m64, v64 := (*sb)[:channels], (*sb)[channels:]
	columnSums(bnTask{term: bnMean, rows: rows, cols: channels, k: 1, x: x}, m64)
	n := float64(max(rows, 1))
	for c := range m64 {
		m64[c] /= n
	}
	columnSums(bnTask{term: bnVar, rows: rows, cols: channels, k: 1, x: x, mean64: m64}, v64)
	for c := 0; c < channels; c++ {
		mean[c] = float32(m64[c])
		invStd[c] = float32(1 / math.Sqrt(v64[c]/n+float64(eps)))
	}
	bnNormalise(rows, channels, x, gamma, beta, mean, invStd, y)
}

func (reference) BatchNormForwardInference(rows, channels int, eps float32, x, gamma, beta, movingMean, movingVar, y []float32) {
	if channels <= 0 {
		return
	}
	inv := scratch32.Get(channels)
	defer scratch32.Put(inv)
	for c := range *inv {
		(*inv)[c] = float32(1 / math.Sqrt(float64(movingVar[c])+float64(eps)))
	}
	bnNormalise(rows, channels, x, gamma, beta, movingMean, *inv, y)
}

// bnNormalise writes y = (x - mean)·invStd·gamma + beta. It subtracts the mean before scaling
// (rather than folding everything into one multiply-add) to keep precision when |mean| ≫ std.
func bnNormalise(rows, channels int, x, gamma, beta, mean, invStd, y []float32) {
	sp := scratch32.Get(channels)
	defer scratch32.Put(sp)
	scale := *sp
	for c := range scale {
		g := float32(1)
		if gamma != nil {
			g = gamma[c]
		}
		scale[c] = g * invStd[c]
	}
	t := bnTask{phase: bnNormRows, cols: channels, x: x, y: y, mean: mean[:channels], beta: beta, scale: scale}
	t.run(rows, rowsGrain(channels))
}

func bnNormaliseRows(t *bnTask, lo, hi int) {
	channels, x, y, mean, scale := t.cols, t.x, t.y, t.mean, t.scale
	for r := lo; r < hi; r++ {
		xr, yr := x[r*channels:r*channels+channels], y[r*channels:r*channels+channels]
		if t.beta != nil {
			b := t.beta[:channels]
			for c, v := range xr {
				yr[c] = (v-mean[c])*scale[c] + b[c]
			}
		} else {
			for c, v := range xr {
				yr[c] = (v - mean[c]) * scale[c]
			}
		}
	}
}

// BatchNormBackward uses the closed form for batch statistics:
// dx = gamma·invStd/N · (N·dy - Σdy - x̂·Σ(dy·x̂)), dgamma = Σ(dy·x̂), dbeta = Σdy, where
// x̂ = (x - mean)·invStd. dgamma or dbeta may be nil when the layer has no scale or centre.
func (reference) BatchNormBackward(rows, channels int, x, dy, gamma, mean, invStd, dx, dgamma, dbeta []float32) {
	if channels <= 0 {
		return
	}
	sb := scratch64.Get(2 * channels)
	defer scratch64.Put(sb)
	sums := *sb // [0:channels] Σdy, [channels:2·channels] Σdy·x̂
	columnSums(bnTask{term: bnGrad, rows: rows, cols: channels, k: 2, x: x, dy: dy, mean: mean, invStd: invStd}, sums)
	for c := 0; c < channels; c++ {
		if dbeta != nil {
			dbeta[c] = float32(sums[c])
		}
		if dgamma != nil {
			dgamma[c] = float32(sums[channels+c])
		}
	}
	if rows <= 0 {
		return
	}
	// Per channel: dx = k·dy - k/N·Σdy - k/N·x̂·Σ(dy·x̂) with k = gamma·invStd.
	cb := scratch64.Get(3 * channels)
	defer scratch64.Put(cb)
	k, off, coef := (*cb)[:channels], (*cb)[channels:2*channels], (*cb)[2*channels:]
	n := float64(rows)
	for c := 0; c < channels; c++ {
		g := 1.0
		if gamma != nil {
			g = float64(gamma[c])
		}
		is := float64(invStd[c])
		k[c] = g * is
		off[c] = k[c] * sums[c] / n
		coef[c] = k[c] * sums[channels+c] / n * is // multiplies (x - mean)
	}
	t := bnTask{phase: bnDxRows, cols: channels, x: x, dy: dy, y: dx, mean: mean[:channels], kc: k, offset: off, coeffic: coef}
	t.run(rows, rowsGrain(channels))
}

func bnBackwardRows(t *bnTask, lo, hi int) {
	channels, x, dy, dx, mean := t.cols, t.x, t.dy, t.y, t.mean
	k, off, coef := t.kc, t.offset, t.coeffic
	for r := lo; r < hi; r++ {
		xr := x[r*channels : r*channels+channels]
		gr := dy[r*channels : r*channels+channels]
		dr := dx[r*channels : r*channels+channels]
		for c, g := range gr {
			d := float64(xr[c]) - float64(mean[c])
			dr[c] = float32(k[c]*float64(g) - off[c] - coef[c]*d)
		}
	}
}
