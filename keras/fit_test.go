package keras

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

func classifier(t testing.TB) *Model {
	t.Helper()
	m := Sequential(
		layers.Dense(16, layers.Activation("relu"), layers.InputShape(2), layers.Name("h1")),
		layers.Dense(16, layers.Activation("relu"), layers.Name("h2")),
		layers.Dense(2, layers.Activation("softmax"), layers.Name("out")),
	)
	if err := m.Compile(optim.Adam(0.02), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFitLearns(t *testing.T) {
	t.Run("quadrants", func(t *testing.T) {
		x, y := quadrants(t, 256, 1)
		m := classifier(t)
		h, err := m.Fit(bg, mustDataset(t, x, y), Epochs(40), Verbose(0))
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Epochs) != 40 || len(h.Values["loss"]) != 40 || len(h.Values["accuracy"]) != 40 {
			t.Fatalf("history: %d epochs, keys %v", len(h.Epochs), h.Keys())
		}
		xt, yt := quadrants(t, 200, 2)
		res, err := m.Evaluate(bg, mustDataset(t, xt, yt))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("test accuracy %.3f", res["accuracy"])
		if res["accuracy"] < 0.95 {
			t.Errorf("test accuracy %.3f after training, want >= 0.95 (history loss %v)", res["accuracy"], h.Values["loss"])
		}
		if first, last := h.Values["loss"][0], h.Values["loss"][39]; !(last < first/4) {
			t.Errorf("loss went from %v to %v", first, last)
		}
	})
	t.Run("regression", func(t *testing.T) {
		x, y := linearData(t, 128)
		m := Sequential(layers.Dense(1, layers.InputShape(2)))
		if err := m.Compile(optim.Adam(0.05), losses.MeanSquaredError(), metrics.MeanAbsoluteError()); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Fit(bg, mustDataset(t, x, y), Epochs(60), BatchSize(16), Verbose(0)); err != nil {
			t.Fatal(err)
		}
		res, err := m.Evaluate(bg, mustDataset(t, x, y), BatchSize(50))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("MSE %.3g", res["loss"])
		if res["loss"] > 1e-3 {
			t.Errorf("MSE %v after training, want < 1e-3", res["loss"])
		}
		k := m.Weights()[0].Value().Float32s()
		if math.Abs(float64(k[0])-3) > 0.05 || math.Abs(float64(k[1])+2) > 0.05 {
			t.Errorf("kernel %v, want about [3 -2]", k)
		}
	})
}

func TestFitDeterministic(t *testing.T) {
	x, y := quadrants(t, 100, 3)
	run := func(seed uint64) []*tensor.Tensor {
		SetRandomSeed(seed)
		defer SetRandomSeed(DefaultSeed)
		m := Sequential(
			layers.Dense(8, layers.Activation("relu"), layers.InputShape(2)),
			// Dense layers are auto-named (dense_7 in one run, dense_9 in the next) to show
			// initialisation does not depend on names. Dropout masks still do: layers derive
			// them with Context.LayerRNG(name), so the dropout layer has a fixed name.
			layers.Dropout(0.3, layers.Name("drop")),
			layers.Dense(2, layers.Activation("softmax")),
		)
		if err := m.Compile(optim.SGD(0.1, optim.Momentum(0.9)), losses.SparseCategoricalCrossEntropy()); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Fit(bg, mustDataset(t, x, y), Epochs(3), BatchSize(16), Verbose(0)); err != nil {
			t.Fatal(err)
		}
		return m.GetWeights()
	}
	a, b, c := run(42), run(42), run(43)
	if !weightsEqual(a, b) {
		t.Error("two seeded runs gave different weights")
	}
	if weightsEqual(a, c) {
		t.Error("different seeds gave the same weights")
	}
}

func TestShuffleOrder(t *testing.T) {
	x, y := linearData(t, 20)
	fit := func(shuffle bool) []int {
		rec := &rowRecorder{Dataset: mustDataset(t, x, y)}
		m := Sequential(layers.Dense(1, layers.InputShape(2)))
		if err := m.Compile(optim.SGD(0.01), losses.MeanSquaredError()); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Fit(bg, rec, Epochs(2), BatchSize(8), Shuffle(shuffle), Verbose(0)); err != nil {
			t.Fatal(err)
		}
		return rec.rows
	}
	plain := fit(false)
	for i, r := range plain {
		if r != i%20 {
			t.Fatalf("unshuffled rows %v", plain)
		}
	}
	a, b := fit(true), fit(true)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("shuffle order is not a function of the seed")
	}
	if fmt.Sprint(a[:20]) == fmt.Sprint(a[20:]) || fmt.Sprint(a[:20]) == fmt.Sprint(plain[:20]) {
		t.Errorf("epochs are not each shuffled anew: %v", a)
	}
}

func TestValidationSplit(t *testing.T) {
	x, y := quadrants(t, 100, 4)
	rec := &rowRecorder{Dataset: mustDataset(t, x, y)}
	m := classifier(t)
	h, err := m.Fit(bg, rec, Epochs(2), BatchSize(10), ValidationSplit(0.25), Verbose(0))
	if err != nil {
		t.Fatal(err)
	}
	// Each epoch asks for the 75 training rows (shuffled, all below 75) then the 25 validation
	// rows in order.
	if len(rec.rows) != 200 {
		t.Fatalf("%d rows read, want 200", len(rec.rows))
	}
	for e := 0; e < 2; e++ {
		seen := map[int]bool{}
		for _, r := range rec.rows[e*100 : e*100+75] {
			if r >= 75 || seen[r] {
				t.Fatalf("epoch %d training rows %v", e, rec.rows[e*100:e*100+75])
			}
			seen[r] = true
		}
		for i, r := range rec.rows[e*100+75 : e*100+100] {
			if r != 75+i {
				t.Fatalf("epoch %d validation rows %v", e, rec.rows[e*100+75:e*100+100])
			}
		}
	}
	for _, k := range []string{"loss", "accuracy", "val_loss", "val_accuracy"} {
		if len(h.Values[k]) != 2 {
			t.Errorf("history[%q] = %v", k, h.Values[k])
		}
	}
	// The validation values are what Evaluate says about the held-out rows.
	tail, err := NewTensorDataset(mustSlice(t, x, 75, 100), mustSlice(t, y, 75, 100))
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Evaluate(bg, tail)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := h.Last("val_loss"); math.Abs(v-res["loss"]) > 1e-6 {
		t.Errorf("val_loss %v, Evaluate on the last 25 rows %v", v, res["loss"])
	}

	for _, f := range []float64{0, 1, -0.1, 1e-17} {
		if _, err := m.Fit(bg, rec, ValidationSplit(f), Verbose(0)); err == nil && f != 0 {
			t.Errorf("ValidationSplit(%v) accepted", f)
		}
	}
	if _, err := m.Fit(bg, rec, ValidationSplit(0.2), ValidationData(rec), Verbose(0)); err == nil {
		t.Error("ValidationSplit with ValidationData accepted")
	}
}

func mustSlice(t testing.TB, x *tensor.Tensor, a, b int) *tensor.Tensor {
	s, err := x.Slice(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFitErrors(t *testing.T) {
	x, y := quadrants(t, 40, 5)
	ds := mustDataset(t, x, y)

	m := irisModel()
	_, err := m.Fit(bg, ds, Verbose(0))
	if err == nil || !strings.Contains(err.Error(), "before Compile") {
		t.Errorf("Fit before Compile: %v", err)
	}
	if _, err := m.Evaluate(bg, ds); err == nil || !strings.Contains(err.Error(), "before Compile") {
		t.Errorf("Evaluate before Compile: %v", err)
	}
	if m.Optimizer() != nil || m.Loss() != nil || m.Metrics() != nil || m.CompileConfig() != nil {
		t.Error("compiled state before Compile")
	}
	if err := m.Compile(optim.SGD(0.01), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()); err != nil {
		t.Fatal(err)
	}
	// x has 2 features, the iris model wants 4.
	_, err = m.Fit(bg, ds, BatchSize(32), Verbose(0))
	if err == nil || !strings.Contains(err.Error(), "expected shape (None, 4), got (32, 2)") {
		t.Errorf("wrong input shape: %v", err)
	}
	_, err = m.Predict(bg, x)
	if err == nil || !strings.Contains(err.Error(), "expected shape (None, 4), got (40, 2)") {
		t.Errorf("Predict wrong input shape: %v", err)
	}
	_, err = NewTensorDataset(tensor.Zeros(10, 4), tensor.Zeros(9))
	if err == nil || !strings.Contains(err.Error(), "x has 10 rows but y has 9") {
		t.Errorf("row mismatch: %v", err)
	}
	for _, opt := range []FitOption{BatchSize(0), Epochs(0), LogEvery(-1)} {
		if _, err := m.Fit(bg, ds, opt, Verbose(0)); err == nil {
			t.Errorf("option %#v accepted", opt)
		}
	}
	if err := m.Compile(nil, losses.MeanSquaredError()); err == nil {
		t.Error("nil optimizer accepted")
	}
	if err := m.Compile(optim.SGD(0.1), losses.MeanSquaredError(), metrics.Accuracy(), metrics.Accuracy()); err == nil {
		t.Error("duplicate metric names accepted")
	}
	cc := m.CompileConfig()
	if cc == nil || cc.LossName != "sparse_categorical_crossentropy" || fmt.Sprint(cc.Metrics) != "[accuracy]" {
		t.Errorf("CompileConfig = %+v", cc)
	}
}

func TestFitCancel(t *testing.T) {
	x, y := quadrants(t, 64, 6)
	m := classifier(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches := 0
	stopper := CallbackFuncs{BatchEnd: func(int, map[string]float64) error {
		batches++
		if batches == 3 {
			cancel()
		}
		return nil
	}}
	h, err := m.Fit(ctx, mustDataset(t, x, y), Epochs(10), BatchSize(8), Callbacks(stopper), Verbose(0))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Fit error %v, want context.Canceled", err)
	}
	if batches != 3 || len(h.Epochs) != 0 {
		t.Errorf("ran %d batches and %d epochs after cancel", batches, len(h.Epochs))
	}
	if _, err := m.Predict(ctx, x); !errors.Is(err, context.Canceled) {
		t.Errorf("Predict with a cancelled context: %v", err)
	}
}

func TestFreezeLayer(t *testing.T) {
	x, y := quadrants(t, 64, 7)
	m := classifier(t)
	h1, _ := m.Layer("h1")
	h1.SetTrainable(false)
	total, trainable := m.CountParams()
	if total-trainable != 48 {
		t.Errorf("frozen params %d, want 48", total-trainable)
	}
	before := m.GetWeights()
	if _, err := m.Fit(bg, mustDataset(t, x, y), Epochs(2), Verbose(0)); err != nil {
		t.Fatal(err)
	}
	after := m.GetWeights()
	for i, w := range m.Weights() {
		same := tensor.Equal(before[i], after[i])
		if frozen := strings.HasPrefix(w.Name, "h1/"); frozen != same {
			t.Errorf("weight %s: unchanged=%v, frozen=%v", w.Name, same, frozen)
		}
	}
}

func TestRegularizerPenalty(t *testing.T) {
	x, y := linearData(t, 32)
	m := Sequential(layers.Dense(1, layers.InputShape(2), layers.KernelRegularizer(layers.L2(0.5))))
	if err := m.Compile(optim.SGD(0.01), losses.MeanSquaredError()); err != nil {
		t.Fatal(err)
	}
	res, err := m.Evaluate(bg, mustDataset(t, x, y))
	if err != nil {
		t.Fatal(err)
	}
	k := m.Weights()[0].Value().Float32s()
	penalty := 0.5 * (float64(k[0])*float64(k[0]) + float64(k[1])*float64(k[1]))
	m2 := Sequential(layers.Dense(1, layers.InputShape(2)))
	if err := m2.SetWeights(m.GetWeights()); err != nil {
		t.Fatal(err)
	}
	if err := m2.Compile(optim.SGD(0.01), losses.MeanSquaredError()); err != nil {
		t.Fatal(err)
	}
	plain, err := m2.Evaluate(bg, mustDataset(t, x, y))
	if err != nil {
		t.Fatal(err)
	}
	if d := res["loss"] - plain["loss"] - penalty; math.Abs(d) > 1e-4 {
		t.Errorf("loss with L2 %v, without %v, penalty %v", res["loss"], plain["loss"], penalty)
	}
	// Training shrinks the kernel compared with the unregularised model.
	if _, err := m.Fit(bg, mustDataset(t, x, y), Epochs(30), Verbose(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Fit(bg, mustDataset(t, x, y), Epochs(30), Verbose(0)); err != nil {
		t.Fatal(err)
	}
	norm := func(m *Model) float64 {
		k := m.Weights()[0].Value().Float32s()
		return math.Hypot(float64(k[0]), float64(k[1]))
	}
	if !(norm(m) < norm(m2)) {
		t.Errorf("regularised kernel norm %v, plain %v", norm(m), norm(m2))
	}
}

func TestMultiInputOutput(t *testing.T) {
	in1, in2 := Input(2), Input(2)
	h := layers.Concatenate().Apply(in1, in2)
	h = layers.Dense(8, layers.Activation("tanh"), layers.Name("trunk")).Apply(h)
	o1 := layers.Dense(1, layers.Name("sum_head")).Apply(h)
	o2 := layers.Dense(1, layers.Name("diff_head")).Apply(h)
	m := NewModel([]*layers.Node{in1, in2}, []*layers.Node{o1, o2})
	if err := m.Compile(optim.Adam(0.02), losses.MeanSquaredError()); err != nil {
		t.Fatal(err)
	}
	rng := tensor.NewRNG(9)
	a, b := rng.RandU(-1, 1, 64, 2), rng.RandU(-1, 1, 64, 2)
	s, d := tensor.Zeros(64, 1), tensor.Zeros(64, 1)
	for i := 0; i < 64; i++ {
		s.Float32s()[i] = a.Float32s()[2*i] + b.Float32s()[2*i]
		d.Float32s()[i] = a.Float32s()[2*i+1] - b.Float32s()[2*i+1]
	}
	ds, err := NewMultiTensorDataset([]*tensor.Tensor{a, b}, []*tensor.Tensor{s, d})
	if err != nil {
		t.Fatal(err)
	}
	h2, err := m.Fit(bg, ds, Epochs(3), BatchSize(16), Verbose(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loss", "sum_head_loss", "diff_head_loss"} {
		if len(h2.Values[k]) != 3 {
			t.Errorf("history lacks %s: %v", k, h2.Keys())
		}
	}
	l, _ := h2.Last("loss")
	l1, _ := h2.Last("sum_head_loss")
	l2, _ := h2.Last("diff_head_loss")
	if math.Abs(l-(l1+l2)) > 1e-5 {
		t.Errorf("loss %v is not the sum of the heads' %v + %v", l, l1, l2)
	}
	outs, err := m.PredictInputs(bg, []*tensor.Tensor{a, b}, BatchSize(10))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 || !outs[0].Shape().Equal(tensor.Shape{64, 1}) {
		t.Errorf("PredictInputs gave %d outputs of shape %v", len(outs), outs[0].Shape())
	}
	if _, err := m.Predict(bg, a); err == nil || !strings.Contains(err.Error(), "PredictInputs") {
		t.Errorf("Predict on a two-input model: %v", err)
	}
}

func TestPredictConcurrent(t *testing.T) {
	m := classifier(t)
	x, y := quadrants(t, 100, 8)
	want, err := m.Predict(bg, x, BatchSize(7))
	if err != nil {
		t.Fatal(err)
	}
	if !want.Shape().Equal(tensor.Shape{100, 2}) {
		t.Fatalf("Predict shape %v", want.Shape())
	}
	one, err := m.Predict(bg, x, BatchSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.AllClose(one, want, 1e-5, 1e-6) {
		t.Error("predictions depend on the batch size")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				got, err := m.Predict(bg, x, BatchSize(7))
				if err != nil {
					errs <- err
					return
				}
				if !tensor.Equal(got, want) {
					errs <- errors.New("concurrent Predict gave a different result")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Predicting while another goroutine trains must be race-free (the race detector checks).
	other := classifier(t)
	done := make(chan error, 1)
	go func() {
		_, err := other.Fit(bg, mustDataset(t, x, y), Epochs(2), BatchSize(10), Verbose(0))
		done <- err
	}()
	for i := 0; i < 5; i++ {
		if _, err := other.Predict(bg, x); err != nil {
			t.Error(err)
		}
		_ = other.GetWeights()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	empty, err := m.Predict(bg, tensor.Zeros(0, 2))
	if err != nil || !empty.Shape().Equal(tensor.Shape{0, 2}) {
		t.Errorf("Predict on no rows: %v, %v", empty, err)
	}
}

var (
	intervalLine = regexp.MustCompile(`^epoch (\d+)/(\d+) iter (\d+) samples (\d+)/(\d+) loss=(\S+) throughput=(\d+) samples/s lr=(\S+)$`)
	epochLine    = regexp.MustCompile(`^epoch (\d+)/(\d+) done loss=(\S+) accuracy=(\S+) val_loss=(\S+) val_accuracy=(\S+) time=(\d+\.\d\d)s$`)
)

func TestProgressOutput(t *testing.T) {
	x, y := quadrants(t, 50, 10)
	ds := mustDataset(t, x, y)
	fit := func(opts ...FitOption) []string {
		var buf bytes.Buffer
		m := classifier(t)
		opts = append([]FitOption{ProgressOutput(&buf), Epochs(2), BatchSize(8), ValidationSplit(0.2)}, opts...)
		if _, err := m.Fit(bg, ds, opts...); err != nil {
			t.Fatal(err)
		}
		s := strings.TrimSuffix(buf.String(), "\n")
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
	lines := fit(LogEvery(2))
	// 40 training rows in batches of 8: 5 steps per epoch; a line after steps 2, 4, 6, 8, 10.
	if len(lines) != 1+5+2 {
		t.Fatalf("got %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if !strings.HasPrefix(lines[0], "training on 40 samples, validating on 10; backend ") {
		t.Errorf("first line %q", lines[0])
	}
	var iters []int
	epochs := 0
	for _, l := range lines[1:] {
		if m := intervalLine.FindStringSubmatch(l); m != nil {
			it, _ := strconv.Atoi(m[3])
			iters = append(iters, it)
			if m[5] != "40" || m[8] != "0.02" {
				t.Errorf("line %q", l)
			}
			if _, err := strconv.ParseFloat(m[6], 64); err != nil {
				t.Errorf("loss in %q: %v", l, err)
			}
			continue
		}
		if m := epochLine.FindStringSubmatch(l); m != nil {
			epochs++
			if m[1] != strconv.Itoa(epochs) || m[2] != "2" {
				t.Errorf("epoch line %q", l)
			}
			continue
		}
		t.Errorf("unexpected line %q", l)
	}
	if fmt.Sprint(iters) != "[2 4 6 8 10]" || epochs != 2 {
		t.Errorf("interval lines at iterations %v, %d epoch lines", iters, epochs)
	}
	if lines := fit(Verbose(0)); len(lines) != 0 {
		t.Errorf("Verbose(0) printed %q", lines)
	}
	lines = fit(Verbose(2))
	if len(lines) != 3 || !epochLine.MatchString(lines[1]) || !epochLine.MatchString(lines[2]) {
		t.Errorf("Verbose(2) printed %q", lines)
	}
}
