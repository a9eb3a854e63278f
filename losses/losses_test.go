package losses

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/autograd"
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

func lse(xs ...float64) float64 {
	var s float64
	for _, x := range xs {
		s += math.Exp(x)
	}
	return math.Log(s)
}

func TestLossValues(t *testing.T) {
	probs := f32(t, sh(2, 3), 0.7, 0.2, 0.1, 0.1, 0.3, 0.6)
	logits := f32(t, sh(2, 3), 1, 2, 3, 0.5, -1, 0)
	cases := []struct {
		name  string
		loss  Loss
		yTrue *tensor.Tensor
		yPred *tensor.Tensor
		want  float64
	}{
		{"sparse probs", SparseCategoricalCrossEntropy(), i64(t, sh(2), 0, 2), probs,
			(-math.Log(0.7) - math.Log(0.6)) / 2},
		{"sparse probs, labels [N,1] float32", SparseCategoricalCrossEntropy(), f32(t, sh(2, 1), 0, 2), probs,
			(-math.Log(0.7) - math.Log(0.6)) / 2},
		// rows are renormalised first, as Keras does: [1.4, 0.4, 0.2] is [0.7, 0.2, 0.1]
		{"sparse probs unnormalised", SparseCategoricalCrossEntropy(), i64(t, sh(1), 0), f32(t, sh(1, 3), 1.4, 0.4, 0.2),
			-math.Log(0.7)},
		// a probability of 0 is clipped to 1e-7
		{"sparse probs clipped", SparseCategoricalCrossEntropy(), i64(t, sh(1), 1), f32(t, sh(1, 2), 1, 0),
			-math.Log(1e-7)},
		{"sparse logits", SparseCategoricalCrossEntropy(FromLogits()), i64(t, sh(2), 2, 1), logits,
			((lse(1, 2, 3) - 3) + (lse(0.5, -1, 0) + 1)) / 2},
		// targets become [0.1/3, 0.1/3, 0.9+0.1/3]
		{"sparse logits smoothed", SparseCategoricalCrossEntropy(FromLogits(), LabelSmoothing(0.1)), i64(t, sh(1), 2), f32(t, sh(1, 3), 1, 2, 3),
			(0.1/3)*(lse(1, 2, 3)-1) + (0.1/3)*(lse(1, 2, 3)-2) + (0.9+0.1/3)*(lse(1, 2, 3)-3)},
		{"sparse [N,T] against [N,T,C]", SparseCategoricalCrossEntropy(), i64(t, sh(1, 2), 0, 2), f32(t, sh(1, 2, 3), 0.7, 0.2, 0.1, 0.1, 0.3, 0.6),
			(-math.Log(0.7) - math.Log(0.6)) / 2},
		{"categorical probs", CategoricalCrossEntropy(), f32(t, sh(2, 3), 1, 0, 0, 0, 0, 1), probs,
			(-math.Log(0.7) - math.Log(0.6)) / 2},
		{"categorical soft targets", CategoricalCrossEntropy(), f32(t, sh(1, 3), 0.5, 0.5, 0), f32(t, sh(1, 3), 0.7, 0.2, 0.1),
			-0.5*math.Log(0.7) - 0.5*math.Log(0.2)},
		{"categorical smoothed", CategoricalCrossEntropy(LabelSmoothing(0.3)), f32(t, sh(1, 3), 1, 0, 0), f32(t, sh(1, 3), 0.7, 0.2, 0.1),
			-(0.8*math.Log(0.7) + 0.1*math.Log(0.2) + 0.1*math.Log(0.1))},
		{"categorical logits", CategoricalCrossEntropy(FromLogits()), f32(t, sh(2, 3), 0, 0, 1, 0, 1, 0), logits,
			((lse(1, 2, 3) - 3) + (lse(0.5, -1, 0) + 1)) / 2},
		{"binary probs", BinaryCrossEntropy(), f32(t, sh(2), 1, 0), f32(t, sh(2), 0.9, 0.2),
			(-math.Log(0.9) - math.Log(0.8)) / 2},
		{"binary probs [N] vs [N,1]", BinaryCrossEntropy(), f32(t, sh(2), 1, 0), f32(t, sh(2, 1), 0.9, 0.2),
			(-math.Log(0.9) - math.Log(0.8)) / 2},
		// 1 − 1e-7 rounds to 1 − 2⁻²³ in float32 (as in Keras), so the second term is −log 2⁻²³
		{"binary probs clipped", BinaryCrossEntropy(), f32(t, sh(2), 1, 0), f32(t, sh(2), 0, 1),
			(-math.Log(1e-7) - math.Log(1-float64(float32(1-1e-7)))) / 2},
		{"binary soft target", BinaryCrossEntropy(), f32(t, sh(1), 0.25), f32(t, sh(1), 0.5),
			math.Log(2)},
		// targets [1, 0] become [0.9, 0.1]
		{"binary smoothed", BinaryCrossEntropy(LabelSmoothing(0.2)), f32(t, sh(2), 1, 0), f32(t, sh(2), 0.9, 0.2),
			(-(0.9*math.Log(0.9) + 0.1*math.Log(0.1)) - (0.1*math.Log(0.2) + 0.9*math.Log(0.8))) / 2},
		{"binary logits", BinaryCrossEntropy(FromLogits()), i64(t, sh(2, 1), 1, 0), f32(t, sh(2, 1), 2, -1),
			(math.Log1p(math.Exp(-2)) + math.Log1p(math.Exp(-1))) / 2},
		{"binary logits large", BinaryCrossEntropy(FromLogits()), f32(t, sh(2), 0, 1), f32(t, sh(2), 100, -100),
			100},
		{"mse", MeanSquaredError(), f32(t, sh(3), 1, 2, 3), f32(t, sh(3), 1.5, 2, 1), (0.25 + 0 + 4) / 3},
		{"mse int targets, [N,1] vs [N]", MeanSquaredError(), i64(t, sh(3, 1), 1, 2, 3), f32(t, sh(3), 1.5, 2, 1), (0.25 + 0 + 4) / 3},
		{"mae", MeanAbsoluteError(), f32(t, sh(3), 1, 2, 3), f32(t, sh(3), 1.5, 2, 1), (0.5 + 0 + 2) / 3},
		// errors 0.5, 0, 2: ½·0.25, 0, 1·(2 − ½)
		{"huber", Huber(), f32(t, sh(3), 1, 2, 3), f32(t, sh(3), 1.5, 2, 1), (0.125 + 0 + 1.5) / 3},
		{"huber delta 2.5", Huber(Delta(2.5)), f32(t, sh(3), 1, 2, 3), f32(t, sh(3), 1.5, 2, 1), (0.125 + 0 + 2) / 3},
		{"huber delta 0.1", Huber(Delta(0.1)), f32(t, sh(1, 2), 0, 0), f32(t, sh(1, 2), 1, -0.05), (0.1*(1-0.05) + 0.5*0.0025) / 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := c.loss.Compute(c.yTrue, autograd.Constant(c.yPred))
			got, err := out.Item()
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Shape()) != 0 {
				t.Errorf("loss has shape %v, want a scalar", out.Shape())
			}
			if math.Abs(got-c.want) > 2e-6*math.Max(1, math.Abs(c.want)) {
				t.Fatalf("%s = %.8f, want %.8f", c.loss.Name(), got, c.want)
			}
		})
	}
}

// Every loss's gradient agrees with finite differences (inputs chosen away from the clip bounds
// and from Huber's and MAE's kinks).
func TestLossGradients(t *testing.T) {
	probs := f32(t, sh(3, 4), 0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.3, 0.2, 0.6, 0.1, 0.1, 0.2)
	logits := f32(t, sh(3, 4), 1, -2, 0.5, 3, 0, 0.1, -0.3, 2, -1, 1, 0.4, 0.7)
	cases := []struct {
		name  string
		loss  Loss
		yTrue *tensor.Tensor
		yPred *tensor.Tensor
	}{
		{"sparse probs", SparseCategoricalCrossEntropy(), i64(t, sh(3), 3, 0, 2), probs},
		{"sparse probs smoothed", SparseCategoricalCrossEntropy(LabelSmoothing(0.2)), i64(t, sh(3), 3, 0, 2), probs},
		{"sparse logits", SparseCategoricalCrossEntropy(FromLogits()), i64(t, sh(3, 1), 3, 0, 2), logits},
		{"sparse logits smoothed", SparseCategoricalCrossEntropy(FromLogits(), LabelSmoothing(0.1)), i64(t, sh(3), 3, 0, 2), logits},
		{"categorical probs", CategoricalCrossEntropy(), f32(t, sh(3, 4), 0, 0, 0, 1, 0.5, 0.5, 0, 0, 0, 0, 1, 0), probs},
		{"categorical logits", CategoricalCrossEntropy(FromLogits(), LabelSmoothing(0.1)), f32(t, sh(3, 4), 0, 0, 0, 1, 0.5, 0.5, 0, 0, 0, 0, 1, 0), logits},
		{"binary probs", BinaryCrossEntropy(), f32(t, sh(3, 4), 1, 0, 1, 0, 0, 1, 1, 0, 0.5, 0, 1, 1), probs},
		{"binary logits", BinaryCrossEntropy(FromLogits(), LabelSmoothing(0.1)), f32(t, sh(3, 4), 1, 0, 1, 0, 0, 1, 1, 0, 0.5, 0, 1, 1), logits},
		{"mse", MeanSquaredError(), f32(t, sh(3, 4), 1, 0, 1, 0, 0, 1, 1, 0, 0.5, 0, 1, 1), logits},
		{"mae", MeanAbsoluteError(), f32(t, sh(3, 4), 1, 0, 1, 0, 0, 1, 1, 0, 0.5, 0, 1, 1), logits},
		{"huber", Huber(Delta(0.8)), f32(t, sh(3, 4), 1, 0, 1, 0, 0, 1, 1, 0, 0.5, 0, 1, 1), logits},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := autograd.GradCheck(func(in []*autograd.Variable) *autograd.Variable {
				return c.loss.Compute(c.yTrue, in[0])
			}, []*tensor.Tensor{c.yPred}, autograd.GradCheckOptions{Eps: 1e-3, RTol: 1e-2, ATol: 1e-3, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Cross-entropy of softmax (or sigmoid) probabilities equals cross-entropy from the logits, in
// value and in the gradient that reaches the logits.
func TestProbabilitiesAndLogitsAgree(t *testing.T) {
	logits := f32(t, sh(3, 4), 1, -2, 0.5, 3, 0, 0.1, -0.3, 2, -1, 1, 0.4, 0.7)
	sparse := i64(t, sh(3), 1, 3, 0)
	onehot := f32(t, sh(3, 4), 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0)
	binary := f32(t, sh(3, 4), 1, 0, 1, 0, 0, 1, 1, 0, 0.3, 0, 1, 1)
	cases := []struct {
		name          string
		probs, logits Loss
		yTrue         *tensor.Tensor
		squash        func(*autograd.Variable) *autograd.Variable
	}{
		{"sparse", SparseCategoricalCrossEntropy(), SparseCategoricalCrossEntropy(FromLogits()), sparse,
			func(x *autograd.Variable) *autograd.Variable { return autograd.Softmax(x, -1) }},
		{"sparse smoothed", SparseCategoricalCrossEntropy(LabelSmoothing(0.2)), SparseCategoricalCrossEntropy(FromLogits(), LabelSmoothing(0.2)), sparse,
			func(x *autograd.Variable) *autograd.Variable { return autograd.Softmax(x, -1) }},
		{"categorical", CategoricalCrossEntropy(), CategoricalCrossEntropy(FromLogits()), onehot,
			func(x *autograd.Variable) *autograd.Variable { return autograd.Softmax(x, -1) }},
		{"binary", BinaryCrossEntropy(), BinaryCrossEntropy(FromLogits()), binary, autograd.Sigmoid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			xa := autograd.NewVariable(logits.Clone(), true)
			xb := autograd.NewVariable(logits.Clone(), true)
			la := c.probs.Compute(c.yTrue, c.squash(xa))
			lb := c.logits.Compute(c.yTrue, xb)
			va, err := la.Item()
			if err != nil {
				t.Fatal(err)
			}
			vb, _ := lb.Item()
			if math.Abs(va-vb) > 1e-5 {
				t.Fatalf("from probabilities %v, from logits %v", va, vb)
			}
			if err := la.Backward(); err != nil {
				t.Fatal(err)
			}
			if err := lb.Backward(); err != nil {
				t.Fatal(err)
			}
			if d := tensor.MaxRelDiff(xa.Grad(), xb.Grad(), 1e-3); d > 1e-3 {
				t.Fatalf("gradients differ (%g): %v vs %v", d, xa.Grad(), xb.Grad())
			}
		})
	}
}

func TestLossErrors(t *testing.T) {
	p23 := f32(t, sh(2, 3), 0.7, 0.2, 0.1, 0.1, 0.3, 0.6)
	cases := []struct {
		name  string
		loss  Loss
		yTrue *tensor.Tensor
		yPred *autograd.Variable
		want  string
	}{
		{"sparse rank-1 predictions", SparseCategoricalCrossEntropy(), i64(t, sh(2), 0, 1), autograd.Constant(f32(t, sh(2), 0.5, 0.5)),
			"sparse_categorical_crossentropy: predictions have shape (2,), want [batch, classes]"},
		{"sparse batch mismatch", SparseCategoricalCrossEntropy(), i64(t, sh(3), 0, 1, 2), autograd.Constant(p23),
			"labels (3,) do not fit predictions (2, 3): want (2,) or (2, 1), one class index per row"},
		{"sparse given one-hot", SparseCategoricalCrossEntropy(), f32(t, sh(2, 3), 1, 0, 0, 0, 1, 0), autograd.Constant(p23),
			"use categorical_crossentropy"},
		{"sparse label out of range", SparseCategoricalCrossEntropy(FromLogits()), i64(t, sh(2), 0, 3), autograd.Constant(p23),
			"label 3 in row 1 is out of range for 3 classes (predictions (2, 3))"},
		{"sparse negative label", SparseCategoricalCrossEntropy(), i64(t, sh(2), -1, 0), autograd.Constant(p23),
			"label -1 in row 0 is out of range"},
		{"sparse fractional label", SparseCategoricalCrossEntropy(), f32(t, sh(2), 0, 1.5), autograd.Constant(p23),
			"label 1.5 in row 1 is not a whole number"},
		{"categorical mismatch", CategoricalCrossEntropy(), f32(t, sh(2, 2), 1, 0, 0, 1), autograd.Constant(p23),
			"categorical_crossentropy: targets (2, 2) and predictions (2, 3): want the same shape"},
		{"categorical given indices", CategoricalCrossEntropy(), i64(t, sh(2), 0, 1), autograd.Constant(p23),
			"use sparse_categorical_crossentropy"},
		{"binary mismatch", BinaryCrossEntropy(), f32(t, sh(3), 1, 0, 1), autograd.Constant(f32(t, sh(2, 1), 0.5, 0.5)),
			"binary_crossentropy: targets (3,) and predictions (2, 1): want the same shape"},
		{"mse mismatch", MeanSquaredError(), f32(t, sh(2, 2), 1, 0, 1, 0), autograd.Constant(f32(t, sh(4), 0, 0, 0, 0)),
			"mean_squared_error: targets (2, 2) and predictions (4,)"},
		{"empty batch", MeanAbsoluteError(), f32(t, sh(0)), autograd.Constant(f32(t, sh(0))), "empty batch"},
		{"nil targets", Huber(), nil, autograd.Constant(p23), "huber: targets are nil"},
		{"nil predictions", Huber(), p23, nil, "huber: predictions are nil"},
		{"failed predictions pass through", MeanSquaredError(), p23, autograd.Errorf("upstream broke"), "upstream broke"},
		{"bad option", huberWithFromLogits(), p23, autograd.Constant(p23), "huber does not take option FromLogits"},
		{"bad smoothing", BinaryCrossEntropy(LabelSmoothing(1.5)), p23, autograd.Constant(p23), "label smoothing 1.5 must be in [0, 1]"},
		{"bad delta", Huber(Delta(-1)), p23, autograd.Constant(p23), "delta -1 must be a finite number > 0"},
		{"smoothing on huber", Huber(LabelSmoothing(0.1)), p23, autograd.Constant(p23), "huber does not take option LabelSmoothing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := c.loss.Compute(c.yTrue, c.yPred)
			if err := out.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
	if Err(Huber(FromLogits())) == nil || Err(Huber()) != nil {
		t.Errorf("Err does not report construction errors")
	}
}

// huberWithFromLogits is Huber given an option only cross-entropies take.
func huberWithFromLogits() Loss { return Huber(FromLogits()) }

func TestConfigRoundTrip(t *testing.T) {
	for _, l := range []Loss{
		SparseCategoricalCrossEntropy(), SparseCategoricalCrossEntropy(FromLogits(), LabelSmoothing(0.1)),
		CategoricalCrossEntropy(FromLogits()), BinaryCrossEntropy(LabelSmoothing(0.05)),
		MeanSquaredError(), MeanAbsoluteError(), Huber(), Huber(Delta(2.5)),
	} {
		b, err := json.Marshal(l.Config())
		if err != nil {
			t.Fatal(err)
		}
		var c Config
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		for _, cfg := range []Config{l.Config(), c} {
			back, err := FromConfig(cfg)
			if err != nil {
				t.Fatalf("%s: %v", l.Name(), err)
			}
			if back.Name() != l.Name() || !reflect.DeepEqual(back.Config(), l.Config()) {
				t.Errorf("%+v came back as %+v", l.Config(), back.Config())
			}
		}
	}
	// Keras's own keys are accepted.
	if _, err := FromConfig(Config{ClassName: "SparseCategoricalCrossentropy", Config: map[string]any{
		"name": "sparse_categorical_crossentropy", "reduction": "sum_over_batch_size", "from_logits": true}}); err != nil {
		t.Error(err)
	}
	for _, c := range []struct {
		c    Config
		want string
	}{
		{Config{ClassName: "Poisson"}, `unknown loss class "Poisson"`},
		{Config{ClassName: "Huber", Config: map[string]any{"delta": "big"}}, `"delta" is big (string), want a number`},
		{Config{ClassName: "Huber", Config: map[string]any{"from_logits": true}}, "huber does not take option FromLogits"},
		{Config{ClassName: "BinaryCrossentropy", Config: map[string]any{"from_logits": 1}}, `"from_logits" is 1 (int), want true or false`},
		{Config{ClassName: "BinaryCrossentropy", Config: map[string]any{"axis": -1}}, `unknown keys ["axis"]`},
		{Config{ClassName: "MeanSquaredError", Config: map[string]any{"reduction": "sum"}}, "reduction sum is not supported"},
	} {
		if _, err := FromConfig(c.c); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.c, err, c.want)
		}
	}
}

func TestByName(t *testing.T) {
	for name, want := range map[string]string{
		"sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
		"categorical_crossentropy":        "categorical_crossentropy",
		"binary_crossentropy":             "binary_crossentropy",
		"mse":                             "mean_squared_error",
		"mean_squared_error":              "mean_squared_error",
		"mae":                             "mean_absolute_error",
		"mean_absolute_error":             "mean_absolute_error",
		"huber":                           "huber",
		"huber_loss":                      "huber",
		"SparseCategoricalCrossentropy":   "sparse_categorical_crossentropy",
	} {
		l, err := ByName(name)
		if err != nil || l.Name() != want {
			t.Errorf("ByName(%q) = %v, %v; want %s", name, l, err, want)
		}
	}
	if _, err := ByName("kld"); err == nil || !strings.Contains(err.Error(), `unknown loss "kld"`) {
		t.Errorf("unknown name: %v", err)
	}
}

// TestStepAllocations computes every loss the way a training step does, on predictions that
// belong to an arena, and checks that once the arena is warm a step (loss and backward)
// allocates nothing: targets are checked in place or copied into the arena, never onto the
// heap. Labels of every dtype the sparse loss reads take the fused path without a copy.
func TestStepAllocations(t *testing.T) {
	probs := f32(t, sh(3, 4), 0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.3, 0.2, 0.6, 0.1, 0.1, 0.2)
	logits := f32(t, sh(3, 4), 1, -2, 0.5, 3, 0, 0.1, -0.3, 2, -1, 1, 0.4, 0.7)
	onehot := f32(t, sh(3, 4), 0, 0, 0, 1, 0.5, 0.5, 0, 0, 0, 0, 1, 0)
	i32, err := tensor.FromInt32([]int32{3, 0, 2}, 3)
	if err != nil {
		t.Fatal(err)
	}
	seq := f32(t, sh(1, 3, 4), 1, -2, 0.5, 3, 0, 0.1, -0.3, 2, -1, 1, 0.4, 0.7)
	cases := []struct {
		name  string
		loss  Loss
		yTrue *tensor.Tensor
		yPred *tensor.Tensor
	}{
		{"sparse logits int64", SparseCategoricalCrossEntropy(FromLogits()), i64(t, sh(3), 3, 0, 2), logits},
		{"sparse logits int32 [N,1]", SparseCategoricalCrossEntropy(FromLogits()), func() *tensor.Tensor { x, _ := i32.Reshape(3, 1); return x }(), logits},
		{"sparse logits float32", SparseCategoricalCrossEntropy(FromLogits()), f32(t, sh(3), 3, 0, 2), logits},
		{"sparse logits sequence", SparseCategoricalCrossEntropy(FromLogits()), i64(t, sh(1, 3), 3, 0, 2), seq},
		{"sparse probs", SparseCategoricalCrossEntropy(), i64(t, sh(3), 3, 0, 2), probs},
		{"sparse probs smoothed", SparseCategoricalCrossEntropy(LabelSmoothing(0.2)), i64(t, sh(3), 3, 0, 2), probs},
		{"categorical probs", CategoricalCrossEntropy(), onehot, probs},
		{"categorical logits smoothed", CategoricalCrossEntropy(FromLogits(), LabelSmoothing(0.1)), onehot, logits},
		{"binary probs", BinaryCrossEntropy(), onehot, probs},
		{"binary logits [N] vs [N,1]", BinaryCrossEntropy(FromLogits()), i64(t, sh(3), 1, 0, 1), f32(t, sh(3, 1), 0.5, -1, 2)},
		{"mse", MeanSquaredError(), onehot, logits},
		{"huber", Huber(Delta(0.8)), onehot, logits},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := autograd.NewVariable(c.yPred.Clone(), true)
			a := autograd.NewArena()
			step := func() {
				a.Reset()
				l := c.loss.Compute(c.yTrue, a.Bind(w))
				if err := l.Backward(); err != nil {
					t.Fatal(err)
				}
			}
			step()
			if got := testing.AllocsPerRun(20, step); got != 0 {
				t.Errorf("%v allocations per step, want 0", got)
			}
		})
	}
}
