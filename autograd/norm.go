package autograd

import (
	"math"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// Dropout zeroes each element of x with probability rate and scales the survivors by
// 1/(1-rate) (inverted dropout), so inference needs no rescaling. The mask is drawn from rng
// alone, one number per element in row-major order: the same seed gives the same mask. Rate
// 0 returns x itself.
func Dropout(x *Variable, rate float32, rng *tensor.RNG) *Variable {
	if err := check("Dropout", x); err != nil {
		return Failed(err)
	}
	if !(rate >= 0 && rate < 1) {
		return opErrorf("Dropout", "rate %g, want 0 <= rate < 1", rate)
	}
	if rate == 0 {
		return x
	}
	if rng == nil {
		return opErrorf("Dropout", "nil RNG: the mask must come from a seeded generator")
	}
	xs := x.value.Shape()
	scale := 1 / (1 - rate)
	ar := x.arena
	mask := ar.zeros(xs...)
	m := mask.Float32s()
	for i := range m {
		if rng.Float32() >= rate {
			m[i] = scale
		}
	}
	y := ar.zeros(xs...)
	Kernels().Binary(backend.Mul, x.value.Float32s(), xs, m, xs, y.Float32s(), y.Shape())
	v, nd := ar.record(y, dropoutGrad, x)
	if nd != nil {
		nd.saved[0] = mask
	}
	return v
}

// dropoutGrad scales g by the mask (saved[0]).
func dropoutGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	mask := nd.saved[0]
	dx := ar.zeros(mask.Shape()...)
	d, gs := dx.Float32s(), g.Float32s()
	for i, s := range mask.Float32s() {
		d[i] = gs[i] * s
	}
	out[0] = dx
}

// BatchNorm normalises x over every axis but the last (channels last; any rank >= 2) and
// applies gamma*x̂ + beta per channel. gamma and beta are [C] or nil (scale 1, offset 0, as
// Keras's scale=False and center=False).
//
// In training it normalises with the batch's own statistics and updates movingMean and
// movingVar (float32 [C], updated in place; either may be nil to skip its update) as Keras
// does: moving = moving*momentum + batch*(1-momentum). The batch variance in that update is
// the biased one (divided by the number of rows), as in Keras 3; Keras 2's fused kernel and
// PyTorch use the unbiased variance there instead. In inference it normalises with the moving
// statistics (both required), and its backward, for fine-tuning through a frozen layer, is
// the gradient of that fixed affine map.
func BatchNorm(x, gamma, beta *Variable, movingMean, movingVar *tensor.Tensor, training bool, momentum, epsilon float32) *Variable {
	const name = "BatchNorm"
	var inBuf [3]*Variable
	inputs := append(inBuf[:0], x)
	gi, bi := -1, -1 // positions of gamma and beta in inputs
	if gamma != nil {
		gi = len(inputs)
		inputs = append(inputs, gamma)
	}
	if beta != nil {
		bi = len(inputs)
		inputs = append(inputs, beta)
	}
	if err := check(name, inputs...); err != nil {
		return Failed(err)
	}
	xv := x.value
	xs := xv.Shape()
	if len(xs) < 2 {
		return opErrorf(name, "input %v has rank %d, want rank >= 2 (batch, ..., channels)", xs, len(xs))
	}
	C := xs[len(xs)-1]
	rows := xs[:len(xs)-1].Size()
	for _, p := range []struct {
		what string
		t    *tensor.Tensor
	}{{"gamma", valueOf(gamma)}, {"beta", valueOf(beta)}, {"moving mean", movingMean}, {"moving variance", movingVar}} {
		if p.t == nil {
			continue
		}
		if s := p.t.Shape(); len(s) != 1 || s[0] != C || p.t.DType() != tensor.Float32 {
			return opErrorf(name, "%s is %s%v for input %v, want float32 (%d,)", p.what, p.t.DType(), s, xs, C)
		}
	}
	if !(epsilon >= 0) {
		return opErrorf(name, "epsilon %g, want >= 0", epsilon)
	}
	if !training && (movingMean == nil || movingVar == nil) {
		return opErrorf(name, "inference needs the moving mean and variance")
	}
	if training && !(momentum >= 0 && momentum <= 1) {
		return opErrorf(name, "momentum %g, want 0 <= momentum <= 1", momentum)
	}
	if training && rows == 0 && C > 0 {
		return opErrorf(name, "input %v is empty: no batch statistics", xs)
	}

	ar := arenaOf(x, gamma, beta)
	g := ar.f32Buf(C)
	if gamma != nil {
		copy(g, gamma.value.Float32s())
	} else {
		for i := range g {
			g[i] = 1
		}
	}
	b := ar.f32Buf(C)
	if beta != nil {
		copy(b, beta.value.Float32s())
	}
	y := ar.zeros(xs...)
	stats := ar.zeros(2, C) // mean, then invStd: saved for backward as one tensor
	mean, invStd := stats.Float32s()[:C], stats.Float32s()[C:]
	k := Kernels()
	if training {
		if C > 0 {
			k.BatchNormForwardTraining(rows, C, epsilon, xv.Float32s(), g, b, y.Float32s(), mean, invStd)
		}
		updateMoving(movingMean, momentum, func(c int) float64 { return float64(mean[c]) })
		updateMoving(movingVar, momentum, func(c int) float64 {
			// The kernel returns 1/sqrt(var+eps); undo it in float64 so only float32 rounding
			// of invStd, not of the subtraction, reaches the moving variance.
			s := float64(invStd[c])
			return max(1/(s*s)-float64(epsilon), 0)
		})
	} else {
		mm, mv := movingMean.Float32s(), movingVar.Float32s()
		if rows > 0 && C > 0 {
			k.BatchNormForwardInference(rows, C, epsilon, xv.Float32s(), g, b, mm, mv, y.Float32s())
		}
		// Snapshot the statistics: the caller may update the moving tensors before Backward.
		copy(mean, mm)
		for c := range invStd {
			invStd[c] = float32(1 / math.Sqrt(float64(mv[c])+float64(epsilon)))
		}
	}
	v, nd := ar.record(y, batchNormGrad, inputs...)
	if nd != nil {
		gt := ar.zeros(C) // gamma as the forward pass used it (ones when there is none)
		copy(gt.Float32s(), g)
		nd.vals[0], nd.saved[0], nd.saved[1] = xv, stats, gt
		nd.flag = training
		nd.n[0], nd.n[1] = gi, bi
	}
	return v
}

// batchNormGrad reads x from vals[0], the batch or moving statistics (mean, then invStd) from
// saved[0], gamma from saved[1], training from flag and where gamma and beta sit among the
// inputs from n[0] and n[1] (-1: absent).
func batchNormGrad(ar *Arena, nd *node, dy *tensor.Tensor, out []*tensor.Tensor) {
	xv := nd.vals[0]
	xs := xv.Shape()
	C := xs[len(xs)-1]
	rows := xs[:len(xs)-1].Size()
	stats := nd.saved[0].Float32s()
	mean, invStd := stats[:C], stats[C:]
	g := nd.saved[1].Float32s()
	training := nd.flag
	gi, bi := nd.n[0], nd.n[1]
	needX := NeedsGrad(nd.inputs, 0)
	needG := gi >= 0 && NeedsGrad(nd.inputs, gi)
	needB := bi >= 0 && NeedsGrad(nd.inputs, bi)
	X, DY := xv.Float32s(), dy.Float32s()
	dgammaT, dbetaT := ar.zeros(C), ar.zeros(C)
	dgamma, dbeta := dgammaT.Float32s(), dbetaT.Float32s()
	switch {
	case training && needX:
		dxT := ar.zeros(xs...)
		if rows > 0 && C > 0 {
			Kernels().BatchNormBackward(rows, C, X, DY, g, mean, invStd, dxT.Float32s(), dgamma, dbeta)
		}
		out[0] = dxT
	case needX:
		// Inference: y = gamma*invStd*x + const per channel.
		dxT := ar.zeros(xs...)
		dx := dxT.Float32s()
		for r := 0; r < rows; r++ {
			row := r * C
			for c := 0; c < C; c++ {
				dx[row+c] = DY[row+c] * g[c] * invStd[c]
			}
		}
		out[0] = dxT
	}
	if (needG || needB) && !(training && needX) {
		// The fused kernel did not run: sum dy and dy·x̂ per channel.
		sg := ar.f64Buf(C)
		sb := ar.f64Buf(C)
		for r := 0; r < rows; r++ {
			row := r * C
			for c := 0; c < C; c++ {
				d := float64(DY[row+c])
				sb[c] += d
				sg[c] += d * float64(X[row+c]-mean[c]) * float64(invStd[c])
			}
		}
		for c := range dgamma {
			dgamma[c], dbeta[c] = float32(sg[c]), float32(sb[c])
		}
	}
	if needG {
		out[gi] = dgammaT
	}
	if needB {
		out[bi] = dbetaT
	}
}

func valueOf(v *Variable) *tensor.Tensor {
	if v == nil {
		return nil
	}
	return v.value
}

// updateMoving applies moving = moving*momentum + batch*(1-momentum) in place, in float64 so
// that a momentum close to 1 does not lose the batch's contribution to rounding.
func updateMoving(moving *tensor.Tensor, momentum float32, batch func(c int) float64) {
	if moving == nil {
		return
	}
	m := float64(momentum)
	d := moving.Float32s()
	for c := range d {
		d[c] = float32(float64(d[c])*m + batch(c)*(1-m))
	}
}

// Embedding looks up rows of table [vocab, dim] by ids (int64, int32, uint8, or float32
// holding whole numbers) of any shape S, giving S + [dim]. Its gradient adds each output row's
// gradient into the table row it came from, so repeated ids accumulate.
func Embedding(table *Variable, ids *tensor.Tensor) *Variable {
	const name = "Embedding"
	if err := check(name, table); err != nil {
		return Failed(err)
	}
	if ids == nil {
		return opErrorf(name, "ids are nil")
	}
	ts := table.value.Shape()
	if len(ts) != 2 {
		return opErrorf(name, "table %v, want rank 2 (vocabulary, dimension)", ts)
	}
	vocab, dim := ts[0], ts[1]
	ar := table.arena
	idx, err := labelsOf(ar, name, "id", ids)
	if err != nil {
		return Failed(err)
	}
	for i, id := range idx {
		if id < 0 || id >= int64(vocab) {
			return opErrorf(name, "id %d at position %d is outside the vocabulary of size %d", id, i, vocab)
		}
	}
	is := ids.Shape()
	ys := ar.intBuf(len(is) + 1)
	copy(ys, is)
	ys[len(is)] = dim
	y := ar.zeros(ys...)
	if len(idx) > 0 && dim > 0 {
		if err := Kernels().Gather(table.value.Float32s(), vocab, dim, idx, y.Float32s()); err != nil {
			return opErrorf(name, "%v", err)
		}
	}
	v, nd := ar.record(y, embeddingGrad, table)
	if nd != nil {
		nd.vals[0], nd.idx = table.value, idx
	}
	return v
}

// embeddingGrad scatters g's rows into a table shaped like vals[0], at the ids in idx.
func embeddingGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	ts := nd.vals[0].Shape()
	vocab, dim := ts[0], ts[1]
	dt := ar.zeros(ts...)
	if len(nd.idx) > 0 && dim > 0 {
		Kernels().ScatterAdd(dt.Float32s(), vocab, dim, nd.idx, g.Float32s())
	}
	out[0] = dt
}
