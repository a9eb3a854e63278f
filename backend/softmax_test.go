package backend

import (
	"fmt"
	"math"
	"testing"
)

func softmax64(rows, cols int, x []float64, log bool) []float64 {
	y := make([]float64, len(x))
	for i := 0; i < rows; i++ {
		row := x[i*cols : i*cols+cols]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		var s float64
		for _, v := range row {
			s += math.Exp(v - m)
		}
		for j, v := range row {
			if log {
				y[i*cols+j] = v - m - math.Log(s)
			} else {
				y[i*cols+j] = math.Exp(v-m) / s
			}
		}
	}
	return y
}

func TestSoftmax(t *testing.T) {
	cases := []struct {
		rows, cols int
		scale      float64
		finiteDiff bool
	}{
		{3, 5, 2, true},
		{4, 1, 2, true},
		{1, 7, 2, true},
		{2, 6, 500, false}, // exp(x) alone would overflow
		{100, 200, 3, false},
	}
	for ci, c := range cases {
		for _, log := range []bool{false, true} {
			name := fmt.Sprintf("%d×%d scale %g log %v", c.rows, c.cols, c.scale, log)
			r := newRNG(uint64(80 + ci))
			x := randVec(r, c.rows*c.cols, -c.scale, c.scale)
			dy := randVec(r, len(x), -1, 1)
			x64 := to64(x)
			want := softmax64(c.rows, c.cols, x64, log)
			y := nanVec(len(x))
			if log {
				ref.LogSoftmax(c.rows, c.cols, x, y)
			} else {
				ref.Softmax(c.rows, c.cols, x, y)
			}
			assertClose(t, name+" forward", y, want, 1e-5, 1e-7)

			dx := nanVec(len(x))
			if log {
				ref.LogSoftmaxBackward(c.rows, c.cols, y, dy, dx)
			} else {
				ref.SoftmaxBackward(c.rows, c.cols, y, dy, dx)
			}
			// Oracle: central differences of L = Σ dy·f(x), or the closed form for the big cases.
			wdx := make([]float64, len(x))
			for i := 0; i < c.rows; i++ {
				for j := 0; j < c.cols; j++ {
					k := i*c.cols + j
					if c.finiteDiff {
						h := 1e-6 * max(1, math.Abs(x64[k]))
						old := x64[k]
						x64[k] = old + h
						up := softmax64(c.rows, c.cols, x64, log)
						x64[k] = old - h
						down := softmax64(c.rows, c.cols, x64, log)
						x64[k] = old
						for q := range up {
							wdx[k] += float64(dy[q]) * (up[q] - down[q]) / (2 * h)
						}
						continue
					}
					var s float64
					for q := 0; q < c.cols; q++ {
						g, yq := float64(dy[i*c.cols+q]), want[i*c.cols+q]
						if log {
							s += g
						} else {
							s += g * yq
						}
					}
					if log {
						wdx[k] = float64(dy[k]) - math.Exp(want[k])*s
					} else {
						wdx[k] = want[k] * (float64(dy[k]) - s)
					}
				}
			}
			assertClose(t, name+" backward", dx, wdx, 1e-4, 1e-6)
		}
	}
}
