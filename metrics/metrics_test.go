package metrics

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/tensor"
)

func f32(t testing.TB, shape []int, vals ...float32) *tensor.Tensor {
	t.Helper()
	x, err := tensor.FromFloat32(vals, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func i64(t testing.TB, shape []int, vals ...int64) *tensor.Tensor {
	t.Helper()
	x, err := tensor.FromInt64(vals, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func sh(d ...int) []int { return d }

type batch struct{ yTrue, yPred *tensor.Tensor }

func TestMetricValues(t *testing.T) {
	// Three rows over four classes; argmaxes are 3, 0 (a tie between 0 and 1: first wins), 2.
	p := f32(t, sh(3, 4), 0.1, 0.2, 0.3, 0.4, 0.4, 0.4, 0.1, 0.1, 0.2, 0.1, 0.6, 0.1)
	cases := []struct {
		name    string
		m       Metric
		batches []batch
		want    float64
	}{
		{"accuracy picks sparse ([N])", Accuracy(), []batch{{i64(t, sh(3), 3, 1, 2), p}}, 2.0 / 3},
		{"accuracy picks sparse ([N,1] float)", Accuracy(), []batch{{f32(t, sh(3, 1), 3, 0, 0), p}}, 2.0 / 3},
		{"accuracy picks categorical", Accuracy(), []batch{{f32(t, sh(3, 4), 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0), p}}, 2.0 / 3},
		{"accuracy picks binary ([N,1])", Accuracy(), []batch{{f32(t, sh(4, 1), 1, 0, 1, 0), f32(t, sh(4, 1), 0.9, 0.6, 0.5, 0.1)}}, 0.5},
		{"accuracy picks binary ([N] vs [N,1])", Accuracy(), []batch{{i64(t, sh(4), 1, 0, 1, 0), f32(t, sh(4, 1), 0.9, 0.6, 0.51, 0.1)}}, 0.75},
		{"accuracy over batches", Accuracy(), []batch{
			{i64(t, sh(3), 3, 1, 2), p},
			{i64(t, sh(1), 1), f32(t, sh(1, 4), 0, 1, 0, 0)},
		}, 3.0 / 4},
		{"accuracy for bce, multi-label", AccuracyFor("binary_crossentropy"), []batch{{f32(t, sh(1, 2), 1, 1), f32(t, sh(1, 2), 0.7, 0.2)}}, 0.5},
		{"accuracy for scce", AccuracyFor("sparse_categorical_crossentropy"), []batch{{i64(t, sh(3), 3, 1, 2), p}}, 2.0 / 3},
		{"sparse categorical", SparseCategoricalAccuracy(), []batch{{i64(t, sh(3), 3, 0, 1), p}}, 2.0 / 3},
		{"categorical", CategoricalAccuracy(), []batch{{f32(t, sh(3, 4), 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0), p}}, 2.0 / 3},
		{"binary threshold 0.7", BinaryAccuracy(0.7), []batch{{f32(t, sh(3), 1, 0, 1), f32(t, sh(3), 0.9, 0.6, 0.7)}}, 2.0 / 3},
		// Keras compares the soft target itself with 0/1, so 0.9 never matches.
		{"binary soft targets never match", BinaryAccuracy(0.5), []batch{{f32(t, sh(2), 0.9, 0), f32(t, sh(2), 0.9, 0.1)}}, 0.5},
		// label ranks: row0 label 1 has two above (0.4, 0.3) → in top 3, not top 2;
		// row1 label 2 (0.1) has two above (0.4, 0.4) → in top 3; row2 label 3 (0.1) has 0.6 and
		// 0.2 above → in top 3, and ties with class 1 at the boundary of top 3.
		{"sparse top 2", SparseTopKCategoricalAccuracy(2), []batch{{i64(t, sh(3), 1, 2, 3), p}}, 0},
		{"sparse top 3 with ties", SparseTopKCategoricalAccuracy(3), []batch{{i64(t, sh(3), 1, 2, 3), p}}, 1},
		// Top 1 is accuracy except on ties: row 1's label 1 ties class 0 for the highest score,
		// which accuracy (first argmax) counts as a miss and top-k (ties all in) as a hit.
		{"sparse top 1 with a tie", SparseTopKCategoricalAccuracy(1), []batch{{i64(t, sh(3), 3, 1, 2), p}}, 1},
		{"accuracy on the same tie", SparseCategoricalAccuracy(), []batch{{i64(t, sh(3), 3, 1, 2), p}}, 2.0 / 3},
		{"sparse top k > classes", SparseTopKCategoricalAccuracy(10), []batch{{i64(t, sh(3), 0, 1, 2), p}}, 1},
		{"top 2 one-hot", TopKCategoricalAccuracy(2), []batch{{f32(t, sh(3, 4), 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1), p}}, 2.0 / 3},
		{"mae", MeanAbsoluteError(), []batch{
			{f32(t, sh(2), 1, 2), f32(t, sh(2), 1.5, 2)},
			{i64(t, sh(1, 1), 3), f32(t, sh(1), 1)}}, (0.5 + 0 + 2) / 3},
		{"mse", MeanSquaredError(), []batch{
			{f32(t, sh(2), 1, 2), f32(t, sh(2), 1.5, 2)},
			{f32(t, sh(1), 3), f32(t, sh(1), 1)}}, (0.25 + 0 + 4) / 3},
		// positives score 0.8, 0.4, 0.4; negatives 0.4, 0.1. Pairs: 0.8 beats both (2);
		// each 0.4 positive beats 0.1 (1) and ties 0.4 (½) → (2 + 1.5 + 1.5)/6.
		{"auc with ties", AUC(), []batch{
			{f32(t, sh(3), 1, 1, 0), f32(t, sh(3), 0.8, 0.4, 0.4)},
			{f32(t, sh(2, 1), 1, 0), f32(t, sh(2, 1), 0.4, 0.1)}}, 5.0 / 6},
		{"auc perfect", AUC(), []batch{{i64(t, sh(4), 0, 0, 1, 1), f32(t, sh(4), 0.1, 0.2, 0.3, 0.9)}}, 1},
		{"auc reversed", AUC(), []batch{{i64(t, sh(4), 1, 1, 0, 0), f32(t, sh(4), 0.1, 0.2, 0.3, 0.9)}}, 0},
		{"auc all tied", AUC(), []batch{{i64(t, sh(4), 1, 0, 1, 0), f32(t, sh(4), 0.5, 0.5, 0.5, 0.5)}}, 0.5},
		{"auc no negatives", AUC(), []batch{{i64(t, sh(2), 1, 1), f32(t, sh(2), 0.5, 0.7)}}, 0},
		{"empty accuracy", Accuracy(), nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Err(c.m); err != nil {
				t.Fatal(err)
			}
			for _, b := range c.batches {
				if err := c.m.Update(b.yTrue, b.yPred); err != nil {
					t.Fatal(err)
				}
			}
			if got := c.m.Result(); math.Abs(got-c.want) > 1e-9 {
				t.Fatalf("%s = %v, want %v", c.m.Name(), got, c.want)
			}
			c.m.Reset()
			if got := c.m.Result(); got != 0 {
				t.Fatalf("after Reset: %v", got)
			}
		})
	}
}

// The streaming AUC, asked for a result after every batch, matches a brute-force count over all
// positive/negative pairs, including many ties.
func TestAUCMatchesPairCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := AUC()
	var scores []float32
	var labels []bool
	for b := 0; b < 20; b++ {
		n := 1 + rng.IntN(30)
		yt, yp := tensor.Zeros(n), tensor.Zeros(n)
		for i := 0; i < n; i++ {
			s := float32(rng.IntN(10)) / 10 // few distinct values: many ties
			pos := rng.Float64() < 0.4+0.05*float64(s*10)
			yp.Float32s()[i] = s
			if pos {
				yt.Float32s()[i] = 1
			}
			scores, labels = append(scores, s), append(labels, pos)
		}
		if err := m.Update(yt, yp); err != nil {
			t.Fatal(err)
		}
		var won, pairs float64
		for i := range scores {
			for j := range scores {
				if labels[i] && !labels[j] {
					pairs++
					switch {
					case scores[i] > scores[j]:
						won++
					case scores[i] == scores[j]:
						won += 0.5
					}
				}
			}
		}
		if got := m.Result(); math.Abs(got-won/pairs) > 1e-12 {
			t.Fatalf("after batch %d: AUC %v, pair count %v", b, got, won/pairs)
		}
		if again := m.Result(); again != m.Result() {
			t.Fatalf("Result not stable")
		}
	}
}

func TestRunningMean(t *testing.T) {
	m := Mean("loss")
	if m.Name() != "loss" || m.Result() != 0 {
		t.Fatalf("fresh mean: %q %v", m.Name(), m.Result())
	}
	m.Add(2, 32) // a batch of 32 with mean loss 2
	m.Add(5, 8)  // a last, smaller batch
	m.Add(100, 0)
	if got, want := m.Result(), (2*32+5*8)/40.0; math.Abs(got-want) > 1e-12 || m.Count() != 40 {
		t.Fatalf("mean %v (count %v), want %v", got, m.Count(), want)
	}
	var _ Metric = m
	if err := m.Update(nil, f32(t, sh(2), 1, 3)); err != nil {
		t.Fatal(err)
	}
	if got, want := m.Result(), (2*32+5*8+4)/42.0; math.Abs(got-want) > 1e-12 {
		t.Fatalf("after Update: %v, want %v", got, want)
	}
	m.Reset()
	if m.Result() != 0 || m.Count() != 0 {
		t.Fatalf("after Reset: %v", m.Result())
	}
	if err := m.Update(nil, nil); err == nil {
		t.Fatal("nil values accepted")
	}
}

func TestMetricErrors(t *testing.T) {
	p := f32(t, sh(2, 3), 0.1, 0.2, 0.7, 0.3, 0.3, 0.4)
	cases := []struct {
		m            Metric
		yTrue, yPred *tensor.Tensor
		want         string
	}{
		{Accuracy(), i64(t, sh(3), 0, 1, 2), p, "metrics: accuracy: labels (3,) do not fit predictions (2, 3): want class indices (2,) or one-hot targets (2, 3)"},
		{Accuracy(), f32(t, sh(3, 1), 0, 1, 0), f32(t, sh(2, 1), 0.1, 0.2), "metrics: accuracy: targets (3, 1) and predictions (2, 1): want the same shape"},
		{Accuracy(), i64(t, sh(2), 0, 3), p, "label 3 in row 1 is not a class index in [0, 3) (predictions (2, 3))"},
		{SparseCategoricalAccuracy(), f32(t, sh(2), 0.5, 1), p, "label 0.5 in row 0 is not a class index"},
		{SparseCategoricalAccuracy(), f32(t, sh(2, 3), 1, 0, 0, 0, 1, 0), p, "sparse_categorical_accuracy: labels (2, 3) do not fit predictions (2, 3)"},
		{SparseCategoricalAccuracy(), i64(t, sh(2), 0, 1), f32(t, sh(2), 0.1, 0.2), "labels (2,) do not fit predictions (2,)"},
		{CategoricalAccuracy(), i64(t, sh(2), 0, 1), p, "categorical_accuracy: targets (2,) and predictions (2, 3): want the same shape [batch, classes]"},
		{TopKCategoricalAccuracy(0), i64(t, sh(2), 0, 1), p, "top_k_categorical_accuracy: k 0 must be >= 1"},
		{BinaryAccuracy(math.NaN()), i64(t, sh(2), 0, 1), p, "threshold is NaN"},
		{BinaryAccuracy(0.5), i64(t, sh(3), 0, 1, 1), f32(t, sh(2), 0.1, 0.2), "binary_accuracy: targets (3,) and predictions (2,)"},
		{AUC(), i64(t, sh(2), 0, 1), p, "auc: targets (2,) and predictions (2, 3): want the same shape"},
		{MeanAbsoluteError(), f32(t, sh(6), 0, 0, 0, 0, 0, 0), p, "mean_absolute_error: targets (6,) and predictions (2, 3)"},
		{MeanSquaredError(), nil, p, "mean_squared_error: targets are nil"},
		{Accuracy(), p, nil, "accuracy: predictions are nil"},
	}
	for _, c := range cases {
		err := c.m.Update(c.yTrue, c.yPred)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.m.Name(), err, c.want)
		}
		if c.m.Result() != 0 {
			t.Errorf("%s: a failed Update counted something", c.m.Name())
		}
	}
}

func TestByName(t *testing.T) {
	for _, name := range []string{"accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy",
		"top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "mae", "mean_absolute_error", "mse", "mean_squared_error"} {
		m, err := ByName(name)
		if err != nil || m.Name() != name {
			t.Errorf("ByName(%q) = %v, %v", name, m, err)
		}
	}
	m, _ := ByName("sparse_top_k_categorical_accuracy")
	p := f32(t, sh(1, 6), 6, 5, 4, 3, 2, 1)
	if _ = m.Update(i64(t, sh(1), 4), p); m.Result() != 1 { // the default k is 5
		t.Errorf("k=5: %v", m.Result())
	}
	if _, err := ByName("f1"); err == nil || !strings.Contains(err.Error(), `unknown metric "f1"`) {
		t.Errorf("unknown name: %v", err)
	}
}
