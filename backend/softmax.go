package backend

import (
	"math"

	"github.com/deepframe/deepframe/backend/internal/par"
)

// rowGrain returns how many rows of width cols one goroutine should take at least, given that
// each element costs about one transcendental.
func rowGrain(cols int) int { return max(1, unaryGrain/max(1, cols)) }

// softmaxKind selects the row function a softmaxTask runs.
type softmaxKind uint8

const (
	softmaxFwd softmaxKind = iota
	logSoftmaxFwd
	softmaxBwd
	logSoftmaxBwd
)

// softmaxTask runs one of the four row-wise kernels over rows [lo, hi). For the forward
// kernels a is x and b is y; for the backward ones a is y, b is dy and c is dx.
type softmaxTask struct {
	kind    softmaxKind
	cols    int
	a, b, c []float32
}

var softmaxTasks par.Pool[softmaxTask, *softmaxTask]

func (t *softmaxTask) Run(lo, hi int) {
	switch t.kind {
	case softmaxFwd:
		softmaxRows(t.cols, t.a, t.b, lo, hi)
	case logSoftmaxFwd:
		logSoftmaxRows(t.cols, t.a, t.b, lo, hi)
	case softmaxBwd:
		softmaxBackwardRows(t.cols, t.a, t.b, t.c, lo, hi)
	case logSoftmaxBwd:
		logSoftmaxBackwardRows(t.cols, t.a, t.b, t.c, lo, hi)
	}
}

func runSoftmax(t softmaxTask, rows, grain int) {
	if t.cols <= 0 {
		return
	}
	if threads, inline := split(rows, grain); inline {
		t.Run(0, max(rows, 0))
	} else {
		softmaxTasks.For(threads, rows, grain, t)
	}
}

// Softmax subtracts the row maximum first so exp never overflows; the normaliser is summed in
// float64.
func (reference) Softmax(rows, cols int, x, y []float32) {
	runSoftmax(softmaxTask{kind: softmaxFwd, cols: cols, a: x, b: y}, rows, rowGrain(cols))
}

func softmaxRows(cols int, x, y []float32, lo, hi int) {
	for i := lo; i < hi; i++ {
		xr, yr := x[i*cols:i*cols+cols], y[i*cols:i*cols+cols]
		m := float64(rowMax(xr))
		var sum float64
		for j, v := range xr {
			e := math.Exp(float64(v) - m)
			yr[j] = float32(e)
			sum += e
		}
		inv := float32(1 / sum)
		for j := range yr {
			yr[j] *= inv
		}
	}
}

// LogSoftmax computes x - max - log(sum(exp(x - max))), which stays finite where log(softmax)
// would underflow to -Inf.
func (reference) LogSoftmax(rows, cols int, x, y []float32) {
	runSoftmax(softmaxTask{kind: logSoftmaxFwd, cols: cols, a: x, b: y}, rows, rowGrain(cols))
}

func logSoftmaxRows(cols int, x, y []float32, lo, hi int) {
	for i := lo; i < hi; i++ {
		xr, yr := x[i*cols:i*cols+cols], y[i*cols:i*cols+cols]
		m := float64(rowMax(xr))
		var sum float64
		for _, v := range xr {
			sum += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(sum)
		for j, v := range xr {
			yr[j] = float32(float64(v) - lse)
		}
	}
}

func (reference) SoftmaxBackward(rows, cols int, y, dy, dx []float32) {
	runSoftmax(softmaxTask{kind: softmaxBwd, cols: cols, a: y, b: dy, c: dx}, rows, max(1, elemGrain/max(cols, 1)))
}

func softmaxBackwardRows(cols int, y, dy, dx []float32, lo, hi int) {
	for i := lo; i < hi; i++ {
		yr, gr, dr := y[i*cols:i*cols+cols], dy[i*cols:i*cols+cols], dx[i*cols:i*cols+cols]
		var dot float64
		for j, v := range yr {
			dot += float64(v) * float64(gr[j])
		}
		d := float32(dot)
		for j, v := range yr {
			dr[j] = v * (gr[j] - d)
		}
	}
}

func (reference) LogSoftmaxBackward(rows, cols int, y, dy, dx []float32) {
	runSoftmax(softmaxTask{kind: logSoftmaxBwd, cols: cols, a: y, b: dy, c: dx}, rows, rowGrain(cols))
}

func logSoftmaxBackwardRows(cols int, y, dy, dx []float32, lo, hi int) {
	for i := lo; i < hi; i++ {
		yr, gr, dr := y[i*cols:i*cols+cols], dy[i*cols:i*cols+cols], dx[i*cols:i*cols+cols]
		var sum float64
		for _, g := range gr {
			sum += float64(g)
		}
		for j, v := range yr {
			dr[j] = float32(float64(gr[j]) - math.Exp(float64(v))*sum)
		}
	}
}

// rowMax propagates NaN so a poisoned row comes out NaN rather than plausible.
func rowMax(r []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range r {
		if v > m || v != v {
			m = v
			if v != v {
				return v
			}
		}
	}
	return m
}
