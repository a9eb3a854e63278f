package backend

import "math"

// rowGrain returns how many rows of width cols one goroutine should take at least, given that
// each element costs about one transcendental.
func rowGrain(cols int) int { return max(1, unaryGrain/max(1, cols)) }

// Softmax subtracts the row maximum first so exp never overflows; the normaliser is summed in
// float64.
func (reference) Softmax(rows, cols int, x, y []float32) {
	if cols <= 0 {
		return
	}
	parallelFor(rows, rowGrain(cols), func(lo, hi int) {
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
	})
}

// LogSoftmax computes x - max - log(sum(exp(x - max))), which stays finite where log(softmax)
// would underflow to -Inf.
func (reference) LogSoftmax(rows, cols int, x, y []float32) {
	if cols <= 0 {
		return
	}
	parallelFor(rows, rowGrain(cols), func(lo, hi int) {
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
	})
}

func (reference) SoftmaxBackward(rows, cols int, y, dy, dx []float32) {
	if cols <= 0 {
		return
	}
	parallelFor(rows, max(1, elemGrain/cols), func(lo, hi int) {
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
	})
}

func (reference) LogSoftmaxBackward(rows, cols int, y, dy, dx []float32) {
	if cols <= 0 {
		return
	}
	parallelFor(rows, rowGrain(cols), func(lo, hi int) {
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
	})
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
