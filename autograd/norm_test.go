package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/deepframe/deepframe/tensor"
)

func TestBatchNormTraining(t *testing.T) {
	rng := tensor.NewRNG(17)
	for _, shape := range [][]int{{5, 3}, {2, 3, 2, 4}, {3, 2, 2}} {
		c := shape[len(shape)-1]
		x := normal(rng, shape...)
		gamma, beta := uniform(rng, 0.5, 1.5, c), normal(rng, c)
		mm, mv := uniform(rng, -1, 1, c), uniform(rng, 0.5, 2, c)
		mm0, mv0 := mm.Clone(), mv.Clone()
		const momentum, eps = 0.9, 1e-3
		y := must(t, BatchNorm(Constant(x), Constant(gamma), Constant(beta), mm, mv, true, momentum, eps))

		// Reference: batch statistics per channel in float64, biased variance.
		rows := x.Len() / c
		mean, variance := make([]float64, c), make([]float64, c)
		for i, v := range x.Float32s() {
			mean[i%c] += float64(v) / float64(rows)
		}
		for i, v := range x.Float32s() {
			d := float64(v) - mean[i%c]
			variance[i%c] += d * d / float64(rows)
		}
		want := make([]float32, x.Len())
		for i, v := range x.Float32s() {
			ch := i % c
			want[i] = float32((float64(v)-mean[ch])/math.Sqrt(variance[ch]+eps)*float64(gamma.Float32s()[ch]) + float64(beta.Float32s()[ch]))
		}
		name := fmt.Sprintf("BatchNorm training %v", shape)
		closeTo(t, name+" forward", y.Value(), want, shape, 1e-4)
		wm, wv := make([]float32, c), make([]float32, c)
		for ch := 0; ch < c; ch++ {
			wm[ch] = float32(float64(mm0.Float32s()[ch])*momentum + mean[ch]*(1-momentum))
			wv[ch] = float32(float64(mv0.Float32s()[ch])*momentum + variance[ch]*(1-momentum))
		}
		closeTo(t, name+" moving mean", mm, wm, tensor.Shape{c}, 1e-5)
		closeTo(t, name+" moving variance (biased)", mv, wv, tensor.Shape{c}, 1e-4)

		checkGrad(t, name, func(v []*Variable) *Variable {
			return BatchNorm(v[0], v[1], v[2], mm, mv, true, momentum, eps)
		}, x, gamma, beta)
		checkGrad(t, name+" no gamma/beta", func(v []*Variable) *Variable {
			return BatchNorm(v[0], nil, nil, nil, nil, true, momentum, eps)
		}, x)
		// Only gamma and beta trainable: the dγ, dβ path without the fused kernel.
		checkGrad(t, name+" frozen input", func(v []*Variable) *Variable {
			return BatchNorm(Constant(x), v[0], v[1], nil, nil, true, momentum, eps)
		}, gamma, beta)
	}
}

func TestBatchNormInference(t *testing.T) {
	rng := tensor.NewRNG(18)
	shape := []int{3, 2, 3}
	c := 3
	x := normal(rng, shape...)
	gamma, beta := uniform(rng, 0.5, 1.5, c), normal(rng, c)
	mm, mv := uniform(rng, -1, 1, c), uniform(rng, 0.5, 2, c)
	mm0, mv0 := mm.Clone(), mv.Clone()
	const eps = 1e-3
	y := must(t, BatchNorm(Constant(x), Constant(gamma), Constant(beta), mm, mv, false, 0.99, eps))
	want := make([]float32, x.Len())
	for i, v := range x.Float32s() {
		ch := i % c
		want[i] = float32((float64(v)-float64(mm.Float32s()[ch]))/math.Sqrt(float64(mv.Float32s()[ch])+eps)*float64(gamma.Float32s()[ch]) + float64(beta.Float32s()[ch]))
	}
	closeTo(t, "BatchNorm inference forward", y.Value(), want, shape, 1e-5)
	if !tensor.Equal(mm, mm0) || !tensor.Equal(mv, mv0) {
		t.Error("inference changed the moving statistics")
	}
	checkGrad(t, "BatchNorm inference", func(v []*Variable) *Variable {
		return BatchNorm(v[0], v[1], v[2], mm, mv, false, 0.99, eps)
	}, x, gamma, beta)
	checkGrad(t, "BatchNorm inference frozen input", func(v []*Variable) *Variable {
		return BatchNorm(Constant(x), v[0], v[1], mm, mv, false, 0.99, eps)
	}, gamma, beta)
	wantErr(t, "inference without statistics", BatchNorm(Constant(x), nil, nil, nil, nil, false, 0.99, eps), "BatchNorm", "moving")
	wantErr(t, "gamma shape", BatchNorm(Constant(x), Constant(tensor.Zeros(4)), nil, mm, mv, true, 0.99, eps), "gamma", "(4,)", "(3, 2, 3)")
}

func TestDropout(t *testing.T) {
	rng := tensor.NewRNG(19)
	x := away(rng, 0.1, 40, 50)
	const rate = 0.3
	scale := float32(1 / (1 - rate))
	a := must(t, Dropout(Constant(x), rate, tensor.NewRNG(5)))
	b := must(t, Dropout(Constant(x), rate, tensor.NewRNG(5)))
	c := must(t, Dropout(Constant(x), rate, tensor.NewRNG(6)))
	if !tensor.Equal(a.Value(), b.Value()) {
		t.Error("same seed, different masks")
	}
	if tensor.Equal(a.Value(), c.Value()) {
		t.Error("different seeds, same mask")
	}
	dropped := 0
	for i, v := range a.Float32s() {
		switch {
		case v == 0:
			dropped++
		case math.Abs(float64(v-x.Float32s()[i]*scale)) > 1e-6:
			t.Fatalf("kept element %d is %g, want %g", i, v, x.Float32s()[i]*scale)
		}
	}
	if frac := float64(dropped) / float64(x.Len()); math.Abs(frac-rate) > 0.05 {
		t.Errorf("dropped %.3f of the elements, want about %.1f", frac, rate)
	}

	// The gradient is the mask times the scale.
	v := leaf(x)
	y := Dropout(v, rate, tensor.NewRNG(5))
	if err := y.BackwardWith(tensor.Full(1, 40, 50)); err != nil {
		t.Fatal(err)
	}
	for i, g := range v.Grad().Float32s() {
		want := scale
		if a.Float32s()[i] == 0 {
			want = 0
		}
		if g != want {
			t.Fatalf("gradient element %d is %g, want %g", i, g, want)
		}
	}
	small := normal(rng, 3, 4)
	checkGrad(t, "Dropout", func(v []*Variable) *Variable { return Dropout(v[0], 0.5, tensor.NewRNG(3)) }, small)

	in := Constant(x)
	if Dropout(in, 0, nil) != in {
		t.Error("rate 0 does not return its input")
	}
	for _, r := range []float32{1, -0.1, float32(math.NaN())} {
		wantErr(t, fmt.Sprintf("rate %g", r), Dropout(in, r, tensor.NewRNG(1)), "Dropout", "rate")
	}
	wantErr(t, "nil rng", Dropout(in, 0.5, nil), "Dropout", "RNG")
}

func TestEmbedding(t *testing.T) {
	rng := tensor.NewRNG(20)
	table := normal(rng, 5, 3)
	ids, _ := tensor.FromInt64([]int64{1, 4, 1, 0, 1, 3}, 2, 3) // id 1 three times
	y := must(t, Embedding(Constant(table), ids))
	var want []float32
	for _, id := range ids.Int64s() {
		want = append(want, table.Float32s()[id*3:id*3+3]...)
	}
	closeTo(t, "Embedding forward", y.Value(), want, tensor.Shape{2, 3, 3}, 0)
	checkGrad(t, "Embedding", func(v []*Variable) *Variable { return Embedding(v[0], ids) }, table)

	// Repeated ids accumulate: row 1 gets three rows of ones, row 2 none.
	tv := leaf(table)
	if err := SumAll(Embedding(tv, ids)).Backward(); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "Embedding gradient", tv.Grad(), []float32{1, 1, 1, 3, 3, 3, 0, 0, 0, 1, 1, 1, 1, 1, 1}, tensor.Shape{5, 3}, 0)

	i32, _ := tensor.FromInt32([]int32{2, 2}, 2)
	f32, _ := tensor.FromFloat32([]float32{4}, 1)
	closeTo(t, "Embedding int32", must(t, Embedding(Constant(table), i32)).Value(),
		append(append([]float32(nil), table.Float32s()[6:9]...), table.Float32s()[6:9]...), tensor.Shape{2, 3}, 0)
	closeTo(t, "Embedding float32", must(t, Embedding(Constant(table), f32)).Value(), table.Float32s()[12:15], tensor.Shape{1, 3}, 0)

	bad, _ := tensor.FromInt64([]int64{0, 7}, 2)
	wantErr(t, "id out of range", Embedding(Constant(table), bad), "Embedding", "id 7", "size 5")
	frac, _ := tensor.FromFloat32([]float32{0.5}, 1)
	wantErr(t, "fractional id", Embedding(Constant(table), frac), "Embedding", "0.5")
}
