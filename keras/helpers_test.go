package keras

import (
	"context"
	"math"
	"testing"

	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/tensor"
)

var bg = context.Background()

// irisModel is the north-star network: 4 → 100 → 100 → 3.
func irisModel() *Model {
	return Sequential(
		layers.Dense(100, layers.Activation("relu"), layers.InputShape(4), layers.Name("fc_1")),
		layers.Dense(100, layers.Activation("relu"), layers.Name("fc_2")),
		layers.Dense(3, layers.Activation("softmax"), layers.Name("fc_3")),
	)
}

func mustTensor(t testing.TB, data []float32, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := tensor.FromFloat32(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func mustDataset(t testing.TB, x, y *tensor.Tensor) Dataset {
	t.Helper()
	d, err := NewTensorDataset(x, y)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// quadrants is a noisy XOR: points in [-1, 1]², labelled 1 where x·y > 0. A linear model
// cannot separate it.
func quadrants(t testing.TB, n int, seed uint64) (x, y *tensor.Tensor) {
	rng := tensor.NewRNG(seed)
	xs := make([]float32, 0, 2*n)
	ys := make([]float32, 0, n)
	for len(ys) < n {
		a, b := 2*rng.Float64()-1, 2*rng.Float64()-1
		if math.Abs(a) < 0.1 || math.Abs(b) < 0.1 {
			continue // keep a margin so the task is learnable to 100%
		}
		xs = append(xs, float32(a), float32(b))
		if a*b > 0 {
			ys = append(ys, 1)
		} else {
			ys = append(ys, 0)
		}
	}
	return mustTensor(t, xs, n, 2), mustTensor(t, ys, n)
}

// linearData is y = 3·x0 − 2·x1 + 0.5 on random x.
func linearData(t testing.TB, n int) (x, y *tensor.Tensor) {
	rng := tensor.NewRNG(5)
	xs := make([]float32, 2*n)
	ys := make([]float32, n)
	for i := 0; i < n; i++ {
		a, b := float32(2*rng.Float64()-1), float32(2*rng.Float64()-1)
		xs[2*i], xs[2*i+1] = a, b
		ys[i] = 3*a - 2*b + 0.5
	}
	return mustTensor(t, xs, n, 2), mustTensor(t, ys, n, 1)
}

func weightsEqual(a, b []*tensor.Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !tensor.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// rowRecorder is a Dataset that remembers which rows were asked for.
type rowRecorder struct {
	Dataset
	rows []int
}

func (r *rowRecorder) Batch(rows []int) ([]*tensor.Tensor, []*tensor.Tensor, error) {
	r.rows = append(r.rows, rows...)
	return r.Dataset.Batch(rows)
}
