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
	mask := tensor.Zeros(xs...)
	m := mask.Float32s()
	for i := range m {
		if rng.Float32() >= rate {
			m[i] = scale
		}
	}
	y := tensor.Zeros(xs...)
	Kernels().Binary(backend.Mul, x.value.Float32s(), xs, m, xs, y.Float32s(), xs)
	return Record(y, []*Variable{x}, func(g *tensor.Tensor) []*tensor.Tensor {
		dx := tensor.Zeros(xs...)
		d, gs := dx.Float32s(), g.Float32s()
		for i, s := range m {
			d[i] = gs[i] * s
		}
		return []*tensor.Tensor{dx}
	})
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
	inputs := []*Variable{x}
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

	g := make([]float32, C)
	if gamma != nil {
		copy(g, gamma.value.Float32s())
	} else {
		for i := range g {
			g[i] = 1
		}
	}
	b := make([]float32, C)
	if beta != nil {
		copy(b, beta.value.Float32s())
	}
	y := tensor.Zeros(xs...)
	mean := make([]float32, C)
	invStd := make([]float32, C)
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
	if !anyNeedsGrad(inputs...) {
		return Record(y, inputs, nil)
	}
	return Record(y, inputs, func(dy *tensor.Tensor) []*tensor.Tensor {
		out := make([]*tensor.Tensor, len(inputs))
		needX := NeedsGrad(inputs, 0)
		needG := gi >= 0 && NeedsGrad(inputs, gi)
		needB := bi >= 0 && NeedsGrad(inputs, bi)
		X, DY := xv.Float32s(), dy.Float32s()
		var dx []float32
		dgamma := make([]float32, C)
		dbeta := make([]float32, C)
		switch {
		case training && needX:
			dxT := tensor.Zeros(xs...)
			dx = dxT.Float32s()
			if rows > 0 && C > 0 {
				k.BatchNormBackward(rows, C, X, DY, g, mean, invStd, dx, dgamma, dbeta)
			}
			out[0] = dxT
		case needX:
			// Inference: y = gamma*invStd*x + const per channel.
			dxT := tensor.Zeros(xs...)
			dx = dxT.Float32s()
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
			sg := make([]float64, C)
			sb := make([]float64, C)
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
			out[gi], _ = tensor.FromFloat32(dgamma, C)
		}
		if needB {
			out[bi], _ = tensor.FromFloat32(dbeta, C)
		}
		return out
	})
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
	idx, err := labelsOf(name, "id", ids)
	if err != nil {
		return Failed(err)
	}
	for i, id := range idx {
		if id < 0 || id >= int64(vocab) {
			return opErrorf(name, "id %d at position %d is outside the vocabulary of size %d", id, i, vocab)
		}
	}
	ys := append(ids.Shape().Clone(), dim)
	y := tensor.Zeros(ys...)
	if len(idx) > 0 && dim > 0 {
		if err := Kernels().Gather(table.value.Float32s(), vocab, dim, idx, y.Float32s()); err != nil {
			return opErrorf(name, "%v", err)
		}
	}
	return Record(y, []*Variable{table}, func(g *tensor.Tensor) []*tensor.Tensor {
		dt := tensor.Zeros(ts...)
		if len(idx) > 0 && dim > 0 {
			Kernels().ScatterAdd(dt.Float32s(), vocab, dim, idx, g.Float32s())
		}
		return []*tensor.Tensor{dt}
	})
}
