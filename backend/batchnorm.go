package backend

import "math"

// columnSums adds up k per-element terms over the rows of a rows×cols matrix, one total per
// (term, column), into out ([k][cols]) in float64. accumulate(r0, r1, c0, c1, acc) must add
// the terms of rows [r0, r1) and columns [c0, c1) into acc[q*cols+c]. Rows are taken in fixed
// blocks whose partial totals are folded in block order, so the totals do not depend on the
// thread count.
func columnSums(rows, cols, k int, out []float64, accumulate func(r0, r1, c0, c1 int, acc []float64)) {
	out = out[:k*cols]
	clear(out)
	if rows <= 0 || cols <= 0 {
		return
	}
	cw := min(cols, reduceColBlock)
	nCB := (cols + cw - 1) / cw
	rowsPerBlock := max(1, reduceBlock/cw)
	nRB := (rows + rowsPerBlock - 1) / rowsPerBlock
	if nRB == 1 {
		parallelFor(nCB, 1, func(lo, hi int) {
			for cb := lo; cb < hi; cb++ {
				c0 := cb * cw
				accumulate(0, rows, c0, min(c0+cw, cols), out)
			}
		})
		return
	}
	part := scratch64.get(nRB * k * cols)
	defer scratch64.put(part)
	parts := *part
	clear(parts)
	parallelFor(nRB*nCB, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			rb, c0 := t/nCB, (t%nCB)*cw
			r0 := rb * rowsPerBlock
			accumulate(r0, min(r0+rowsPerBlock, rows), c0, min(c0+cw, cols), parts[rb*k*cols:(rb+1)*k*cols])
		}
	})
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
	sb := scratch64.get(2 * channels)
	defer scratch64.put(sb)
	m64, v64 := (*sb)[:channels], (*sb)[channels:]
	columnSums(rows, channels, 1, m64, func(r0, r1, c0, c1 int, acc []float64) {
		for r := r0; r < r1; r++ {
			row := x[r*channels+c0 : r*channels+c1]
			a := acc[c0:c1]
			for j, v := range row {
				a[j] += float64(v)
			}
		}
	})
	n := float64(max(rows, 1))
	for c := range m64 {
		m64[c] /= n
	}
	columnSums(rows, channels, 1, v64, func(r0, r1, c0, c1 int, acc []float64) {
		mu := m64[c0:c1]
		for r := r0; r < r1; r++ {
			row := x[r*channels+c0 : r*channels+c1]
			a := acc[c0:c1]
			for j, v := range row {
				d := float64(v) - mu[j]
				a[j] += d * d
			}
		}
	})
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
	inv := scratch32.get(channels)
	defer scratch32.put(inv)
	for c := range *inv {
		(*inv)[c] = float32(1 / math.Sqrt(float64(movingVar[c])+float64(eps)))
	}
	bnNormalise(rows, channels, x, gamma, beta, movingMean, *inv, y)
}

// bnNormalise writes y = (x - mean)·invStd·gamma + beta. It subtracts the mean before scaling
// (rather than folding everything into one multiply-add) to keep precision when |mean| ≫ std.
func bnNormalise(rows, channels int, x, gamma, beta, mean, invStd, y []float32) {
	sp := scratch32.get(channels)
	defer scratch32.put(sp)
	scale := *sp
	for c := range scale {
		g := float32(1)
		if gamma != nil {
			g = gamma[c]
		}
		scale[c] = g * invStd[c]
	}
	mean = mean[:channels]
	parallelFor(rows, rowsGrain(channels), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*channels:r*channels+channels], y[r*channels:r*channels+channels]
			if beta != nil {
				b := beta[:channels]
				for c, v := range xr {
					yr[c] = (v-mean[c])*scale[c] + b[c]
				}
			} else {
				for c, v := range xr {
					yr[c] = (v - mean[c]) * scale[c]
				}
			}
		}
	})
}

// BatchNormBackward uses the closed form for batch statistics:
// dx = gamma·invStd/N · (N·dy - Σdy - x̂·Σ(dy·x̂)), dgamma = Σ(dy·x̂), dbeta = Σdy, where
// x̂ = (x - mean)·invStd. dgamma or dbeta may be nil when the layer has no scale or centre.
func (reference) BatchNormBackward(rows, channels int, x, dy, gamma, mean, invStd, dx, dgamma, dbeta []float32) {
	if channels <= 0 {
		return
	}
	sb := scratch64.get(2 * channels)
	defer scratch64.put(sb)
	sums := *sb // [0:channels] Σdy, [channels:2·channels] Σdy·x̂
	columnSums(rows, channels, 2, sums, func(r0, r1, c0, c1 int, acc []float64) {
		sdy, sdx := acc[c0:c1], acc[channels+c0:channels+c1]
		mu, is := mean[c0:c1], invStd[c0:c1]
		for r := r0; r < r1; r++ {
			xr := x[r*channels+c0 : r*channels+c1]
			gr := dy[r*channels+c0 : r*channels+c1]
			for j, g := range gr {
				xh := (float64(xr[j]) - float64(mu[j])) * float64(is[j])
				sdy[j] += float64(g)
				sdx[j] += float64(g) * xh
			}
		}
	})
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
	cb := scratch64.get(3 * channels)
	defer scratch64.put(cb)
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
	mean = mean[:channels]
	parallelFor(rows, rowsGrain(channels), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*channels : r*channels+channels]
			gr := dy[r*channels : r*channels+channels]
			dr := dx[r*channels : r*channels+channels]
			for c, g := range gr {
				d := float64(xr[c]) - float64(mean[c])
				dr[c] = float32(k[c]*float64(g) - off[c] - coef[c]*d)
			}
		}
	})
}
