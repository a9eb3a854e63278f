package nn

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/ml"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

// blobs is two Gaussian clouds in the plane, centred at (-1.5, -1.5) and (1.5, 1.5) with unit
// spread, so about 99% of points are separable by a line. The frame has the coordinates as
// numeric columns x1, x2, as a vector column "features", and the class as a Float64 "label"
// (what StringIndexer makes). parts > 1 splits it into that many record batches so that
// streaming and scoring cross batch boundaries.
func blobs(t *testing.T, n int, seed uint64, parts int) *frame.DataFrame {
	t.Helper()
	rng := tensor.NewRNG(seed)
	x1, x2, label := make([]float64, n), make([]float64, n), make([]float64, n)
	vec := make([][]float64, n)
	for i := range n {
		c := float64(i % 2)
		centre := 3*c - 1.5
		x1[i] = centre + rng.NormFloat64()
		x2[i] = centre + rng.NormFloat64()
		label[i] = c
		vec[i] = []float64{x1[i], x2[i]}
	}
	df, err := frame.FromColumns(frame.Col("x1", x1), frame.Col("x2", x2), frame.Col("features", vec), frame.Col("label", label))
	if err != nil {
		t.Fatal(err)
	}
	if parts > 1 {
		if df, err = df.Repartition(parts); err != nil {
			t.Fatal(err)
		}
	}
	return df
}

func classifierNet(seed uint64, inputs int) *keras.Model {
	keras.SetRandomSeed(seed)
	return keras.Sequential(
		layers.Dense(8, layers.Activation("relu"), layers.InputShape(inputs), layers.Name("hidden")),
		layers.Dense(2, layers.Activation("softmax"), layers.Name("out")),
	)
}

// column reads a numeric or vector column of a frame (a vector column comes back flat).
func column(t *testing.T, df *frame.DataFrame, name string) []float64 {
	t.Helper()
	idx := df.Schema().FieldIndices(name)
	if len(idx) == 0 {
		t.Fatalf("no column %q in %s", name, df)
	}
	var out []float64
	err := df.Iterate(context.Background(), func(rec arrow.RecordBatch) error {
		col := rec.Column(idx[0])
		if _, ok := frame.IsVector(col.DataType()); ok {
			v, _, err := frame.VectorValues(col)
			out = append(out, v...)
			return err
		}
		var err error
		out, err = frame.ToFloat64(out, col)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func accuracy(t *testing.T, scored *frame.DataFrame) float64 {
	t.Helper()
	pred, label := column(t, scored, "prediction"), column(t, scored, "label")
	if len(pred) != len(label) || len(pred) == 0 {
		t.Fatalf("%d predictions for %d labels", len(pred), len(label))
	}
	right := 0
	for i := range pred {
		if pred[i] == label[i] {
			right++
		}
	}
	return float64(right) / float64(len(pred))
}

func TestClassifierBlobs(t *testing.T) {
	ctx := context.Background()
	train, test := blobs(t, 600, 1, 3), blobs(t, 300, 2, 2)
	for _, tc := range []struct {
		name    string
		setup   func(*NNClassifier) *NNClassifier
		caching bool
	}{
		{"vector cached", func(c *NNClassifier) *NNClassifier { return c.SetFeaturesCol("features") }, true},
		{"columns streamed", func(c *NNClassifier) *NNClassifier { return c.SetFeaturesCols("x1", "x2") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clf := tc.setup(NewClassifier(classifierNet(7, 2))).
				SetLabelCol("label").SetBatchSize(16).SetMaxEpoch(8).
				SetOptimizer(optim.Adam(0.01)).SetCaching(tc.caching)
			m, err := clf.FitModel(ctx, train)
			if err != nil {
				t.Fatal(err)
			}
			scored, err := m.Transform(ctx, test)
			if err != nil {
				t.Fatal(err)
			}
			if acc := accuracy(t, scored); acc < 0.95 {
				t.Errorf("accuracy %.3f on held-out blobs, want >= 0.95", acc)
			}
			probs := column(t, scored, "probability")
			if len(probs) != 2*300 {
				t.Fatalf("probability column holds %d values, want 600", len(probs))
			}
			for i := 0; i < len(probs); i += 2 {
				if s := probs[i] + probs[i+1]; math.Abs(s-1) > 1e-5 {
					t.Fatalf("row %d: probabilities %v sum to %v", i/2, probs[i:i+2], s)
				}
			}
			sum := m.TrainingSummary()
			if sum == nil || sum.Epochs != 8 || sum.Rows != 600 || sum.Cached != tc.caching {
				t.Errorf("training summary %+v, want 8 epochs over 600 rows, cached=%v", sum, tc.caching)
			}
		})
	}
}

func TestEstimatorRegression(t *testing.T) {
	ctx := context.Background()
	rng := tensor.NewRNG(3)
	n := 512
	x1, x2, y := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		x1[i], x2[i] = rng.Float64()*2-1, rng.Float64()*2-1
		y[i] = 2*x1[i] - 3*x2[i] + 0.5
	}
	df, err := frame.FromColumns(frame.Col("a", x1), frame.Col("b", x2), frame.Col("target", y))
	if err != nil {
		t.Fatal(err)
	}
	keras.SetRandomSeed(5)
	net := keras.Sequential(layers.Dense(1, layers.InputShape(2)))
	est := NewEstimator(net, losses.MeanSquaredError()).
		SetFeaturesCols("a", "b").SetLabelCol("target").SetPredictionCol("yhat").
		SetBatchSize(16).SetMaxEpoch(30).SetOptimizer(optim.SGD(0.05))
	m, err := est.FitModel(ctx, df)
	if err != nil {
		t.Fatal(err)
	}
	scored, err := m.Transform(ctx, df)
	if err != nil {
		t.Fatal(err)
	}
	if typ := scored.Schema().Field(scored.Schema().FieldIndices("yhat")[0]).Type; typ.ID() != arrow.FLOAT64 {
		t.Errorf("prediction column is %s, want float64 for one output value", typ)
	}
	pred := column(t, scored, "yhat")
	var mse float64
	for i := range pred {
		d := pred[i] - y[i]
		mse += d * d / float64(n)
	}
	if mse > 1e-3 {
		t.Errorf("MSE %.5f on a linear target, want <= 0.001", mse)
	}
	if got := m.Model().Loss().Name(); got != "mean_squared_error" {
		t.Errorf("network compiled with loss %q", got)
	}
}

// TestSaveLoadTransform writes fitted models as a pipeline would (params JSON plus the data
// directory) and checks the loaded ones score identically.
func TestSaveLoadTransform(t *testing.T) {
	ctx := context.Background()
	train, test := blobs(t, 200, 11, 1), blobs(t, 100, 12, 2)
	clf := NewClassifier(classifierNet(3, 2)).SetMaxEpoch(2).SetBatchSize(32).SetProbabilityCol("p")
	fittedClf, err := clf.FitModel(ctx, train)
	if err != nil {
		t.Fatal(err)
	}
	keras.SetRandomSeed(4)
	// Vector targets make a vector prediction column.
	reg := NewEstimator(keras.Sequential(layers.Dense(2, layers.InputShape(2)))).
		SetFeaturesCols("x1", "x2").SetLabelCol("features").SetMaxEpoch(1)
	fittedReg, err := reg.FitModel(ctx, train)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stage interface {
			ml.Stage
			ml.DataWriter
		}
		cols []string
	}{
		{fittedClf, []string{"prediction", "p"}},
		{fittedReg, []string{"prediction"}},
		{clf, nil}, // an unfitted estimator saves its network too
	} {
		t.Run(tc.stage.ClassName(), func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.stage.WriteData(dir); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, BundleFile)); err != nil {
				t.Fatal(err)
			}
			raw, err := json.Marshal(tc.stage.Params())
			if err != nil {
				t.Fatal(err)
			}
			loaded, err := ml.LoadStage(tc.stage.ClassName(), tc.stage.UID(), raw, dir)
			if err != nil {
				t.Fatal(err)
			}
			if loaded.UID() != tc.stage.UID() || loaded.ClassName() != tc.stage.ClassName() {
				t.Fatalf("loaded %s %s, want %s %s", loaded.ClassName(), loaded.UID(), tc.stage.ClassName(), tc.stage.UID())
			}
			if tc.cols == nil {
				if _, ok := loaded.(*NNClassifier); !ok {
					t.Fatalf("loaded %T", loaded)
				}
				return
			}
			want, err := tc.stage.(ml.Transformer).Transform(ctx, test)
			if err != nil {
				t.Fatal(err)
			}
			got, err := loaded.(ml.Transformer).Transform(ctx, test)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tc.cols {
				a, b := column(t, want, c), column(t, got, c)
				if len(a) != len(b) || len(a) == 0 {
					t.Fatalf("column %s: %d values before saving, %d after", c, len(a), len(b))
				}
				for i := range a {
					if a[i] != b[i] {
						t.Fatalf("column %s row %d: %v before saving, %v after", c, i, a[i], b[i])
					}
				}
			}
		})
	}
}

// TestFitLeavesEstimator checks that Fit trains a copy: the estimator's network keeps its
// weights, and two Fits of one estimator give the same trained weights and scores.
func TestFitLeavesEstimator(t *testing.T) {
	ctx := context.Background()
	train := blobs(t, 100, 21, 2)
	keras.SetRandomSeed(9)
	net := keras.Sequential(
		layers.Dense(8, layers.Activation("relu"), layers.InputShape(2)),
		layers.Dropout(0.2),
		layers.Dense(2, layers.Activation("softmax")),
	)
	initial := net.GetWeights()
	for _, caching := range []bool{true, false} {
		clf := NewClassifier(net).SetMaxEpoch(2).SetBatchSize(8).SetOptimizer(optim.Adam(0.01)).SetCaching(caching)
		first, err := clf.FitModel(ctx, train)
		if err != nil {
			t.Fatal(err)
		}
		second, err := clf.FitModel(ctx, train)
		if err != nil {
			t.Fatal(err)
		}
		if net.Optimizer() != nil {
			t.Fatal("Fit compiled the estimator's network")
		}
		for i, w := range net.GetWeights() {
			if !tensor.Equal(w, initial[i]) {
				t.Fatalf("caching=%v: Fit changed weight %d of the estimator's network", caching, i)
			}
		}
		a, b := first.Model().GetWeights(), second.Model().GetWeights()
		if tensor.Equal(a[0], initial[0]) {
			t.Fatalf("caching=%v: the fitted network was not trained", caching)
		}
		for i := range a {
			if !tensor.Equal(a[i], b[i]) {
				t.Fatalf("caching=%v: two Fits of one estimator differ in weight %d", caching, i)
			}
		}
	}
}

func TestValidationAndTensorBoard(t *testing.T) {
	ctx := context.Background()
	for _, caching := range []bool{true, false} {
		t.Run(fmt.Sprintf("caching=%v", caching), func(t *testing.T) {
			logdir := t.TempDir()
			var progress bytes.Buffer
			clf := NewClassifier(classifierNet(5, 2)).SetMaxEpoch(3).SetBatchSize(16).SetCaching(caching).
				SetValidation(blobs(t, 60, 31, 2), metrics.Accuracy()).
				SetTensorBoard(logdir, "blobs").SetProgress(&progress)
			m, err := clf.FitModel(ctx, blobs(t, 120, 30, 3))
			if err != nil {
				t.Fatal(err)
			}
			h := m.TrainingSummary().History
			for _, key := range []string{"loss", "accuracy", "val_loss", "val_accuracy"} {
				if v := h.Values[key]; len(v) != 3 {
					t.Errorf("history %s has %d values, want one per epoch (3); keys %v", key, len(v), h.Keys())
				}
			}
			// Validation runs in inference mode on the same network, so its accuracy must be
			// what scoring the validation frame gives.
			scored, err := m.Transform(ctx, blobs(t, 60, 31, 1))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := accuracy(t, scored), h.Values["val_accuracy"][2]; math.Abs(got-want) > 1e-9 {
				t.Errorf("scored accuracy %v, last val_accuracy %v", got, want)
			}
			for _, sub := range []string{"train", "validation"} {
				ev, _ := filepath.Glob(filepath.Join(logdir, "blobs", sub, "events.out.tfevents.*"))
				if len(ev) == 0 {
					t.Errorf("no TensorBoard events under %s", sub)
				}
			}
			if !strings.Contains(progress.String(), "val_accuracy") {
				t.Errorf("progress output lacks validation: %q", progress.String())
			}
		})
	}
}

// TestCompiledNetwork checks that a compiled network's optimizer and loss are used when the
// estimator names none.
func TestCompiledNetwork(t *testing.T) {
	net := classifierNet(2, 2)
	if err := net.Compile(optim.RMSprop(0.01), losses.SparseCategoricalCrossEntropy(losses.LabelSmoothing(0.1))); err != nil {
		t.Fatal(err)
	}
	m, err := NewClassifier(net).SetMaxEpoch(1).FitModel(context.Background(), blobs(t, 40, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	got := m.Model()
	if c := got.Optimizer().Config(); c.ClassName != "RMSprop" {
		t.Errorf("trained with %s, want the compiled RMSprop", c.ClassName)
	}
	if c := got.Loss().Config(); c.Config["label_smoothing"] != 0.1 {
		t.Errorf("trained with loss %+v, want the compiled one", c)
	}
	if names := got.CompileConfig().Metrics; len(names) != 1 || names[0] != "accuracy" {
		t.Errorf("metrics %v, want accuracy added for a classifier", names)
	}
}

// TestScheduleAndLearningRate checks that the rate and schedule params reach the optimizer.
func TestScheduleAndLearningRate(t *testing.T) {
	net := classifierNet(1, 2)
	clf := NewClassifier(net).SetMaxEpoch(2).SetOptimizer(optim.SGD(0.5)).SetLearningRate(0.1).
		SetLearningRateSchedule(optim.StepDecay(1, 0.5))
	m, err := clf.FitModel(context.Background(), blobs(t, 40, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	opt := m.Model().Optimizer()
	if got := optim.BaseLearningRate(opt); got != 0.1 {
		t.Errorf("base learning rate %v, want 0.1", got)
	}
	// After epoch index 1 began, StepDecay(1, 0.5) halves the base rate once.
	if got := opt.LearningRate(); math.Abs(got-0.05) > 1e-12 {
		t.Errorf("scheduled learning rate %v, want 0.05", got)
	}
}

func TestBinaryClassifierOneUnit(t *testing.T) {
	keras.SetRandomSeed(2)
	net := keras.Sequential(layers.Dense(1, layers.Activation("sigmoid"), layers.InputShape(2)))
	m, err := NewClassifier(net).SetMaxEpoch(10).SetBatchSize(16).SetOptimizer(optim.Adam(0.05)).
		FitModel(context.Background(), blobs(t, 300, 41, 1))
	if err != nil {
		t.Fatal(err)
	}
	scored, err := m.Transform(context.Background(), blobs(t, 100, 42, 1))
	if err != nil {
		t.Fatal(err)
	}
	if acc := accuracy(t, scored); acc < 0.95 {
		t.Errorf("accuracy %.3f, want >= 0.95", acc)
	}
	probs, pred := column(t, scored, "probability"), column(t, scored, "prediction")
	for i, p := range pred {
		if want := float64(btoi(probs[2*i+1] > 0.5)); p != want {
			t.Fatalf("row %d: prediction %v with probabilities %v", i, p, probs[2*i:2*i+2])
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestImageAndReshape feeds an image column to a flat network and a vector column to a
// network whose input has more axes.
func TestImageAndReshape(t *testing.T) {
	ctx := context.Background()
	n := 64
	px := make([]uint8, n*4*4)
	labels := make([]int64, n)
	for i := range n {
		labels[i] = int64(i % 2)
		for j := 0; j < 16; j++ {
			px[i*16+j] = uint8(40 + 160*(i%2) + j)
		}
	}
	imgs, err := tensor.FromUint8(px, n, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	lab, _ := tensor.FromInt64(labels, n)
	df, err := frame.FromTensors([]string{"image", "label"}, []*tensor.Tensor{imgs, lab})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewClassifier(classifierNet(3, 16)).SetFeaturesCol("image").SetMaxEpoch(15).
		SetOptimizer(optim.Adam(0.05)).FitModel(ctx, df)
	if err != nil {
		t.Fatal(err)
	}
	scored, err := m.Transform(ctx, df)
	if err != nil {
		t.Fatal(err)
	}
	if acc := accuracy(t, scored); acc < 0.95 {
		t.Errorf("image accuracy %.3f, want >= 0.95", acc)
	}

	keras.SetRandomSeed(1)
	shaped := keras.Sequential(layers.Flatten(layers.InputShape(1, 2)), layers.Dense(2, layers.Activation("softmax")))
	if _, err := NewClassifier(shaped).SetMaxEpoch(1).FitModel(ctx, blobs(t, 20, 1, 1)); err != nil {
		t.Errorf("vector of 2 into input shape [1 2]: %v", err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	df := blobs(t, 20, 1, 1)
	strLabel, err := frame.FromColumns(frame.Col("features", [][]float64{{1, 2}, {3, 4}}), frame.Col("label", []string{"a", "b"}))
	if err != nil {
		t.Fatal(err)
	}
	badLabel, err := frame.FromColumns(frame.Col("features", [][]float64{{1, 2}, {3, 4}}), frame.Col("label", []float64{0, 2}))
	if err != nil {
		t.Fatal(err)
	}
	three, err := frame.FromColumns(frame.Col("features", [][]float64{{1, 2, 3}}), frame.Col("label", []float64{0}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fit  func() error
		want []string
	}{
		{"batch size", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).SetBatchSize(0).Fit(ctx, df)
			return err
		}, []string{"batchSize", "at least 1"}},
		{"epochs", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).SetMaxEpoch(-1).Fit(ctx, df)
			return err
		}, []string{"maxEpoch"}},
		{"learning rate", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).SetLearningRate(math.NaN()).Fit(ctx, df)
			return err
		}, []string{"learningRate"}},
		{"nil optimizer", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).SetOptimizer(nil).Fit(ctx, df)
			return err
		}, []string{"nil optimizer"}},
		{"bad optimizer", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).SetOptimizer(optim.SGD(-1)).Fit(ctx, df)
			return err
		}, []string{"SetOptimizer"}},
		{"nil network", func() error {
			_, err := NewEstimator(nil).Fit(ctx, df)
			return err
		}, []string{"no network"}},
		{"two losses", func() error {
			_, err := NewEstimator(classifierNet(1, 2), losses.MeanSquaredError(), losses.MeanAbsoluteError()).Fit(ctx, df)
			return err
		}, []string{"2 losses"}},
		{"duplicate columns", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).SetFeaturesCols("x1", "x1").Fit(ctx, df)
			return err
		}, []string{"featuresCols", `"x1" is listed twice`}},
		{"same output columns", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).SetProbabilityCol("prediction").Fit(ctx, df)
			return err
		}, []string{"predictionCol and probabilityCol"}},
		{"missing features", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).SetFeaturesCol("pixels").Fit(ctx, df)
			return err
		}, []string{`featuresCol: no column "pixels"`, "columns: x1, x2, features, label"}},
		{"missing label", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).SetLabelCol("class").Fit(ctx, df)
			return err
		}, []string{`labelCol: no column "class"`, "columns: x1, x2, features, label"}},
		{"string label", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).Fit(ctx, strLabel)
			return err
		}, []string{`labelCol "label" is a string column`, "StringIndexer"}},
		{"label out of range", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).Fit(ctx, badLabel)
			return err
		}, []string{`labelCol "label" holds 2 in row 1`, "0..1"}},
		{"string feature", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).SetFeaturesCols("x1", "label2").Fit(ctx, df)
			return err
		}, []string{`no column "label2"`}},
		{"width on fit", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).Fit(ctx, three)
			return err
		}, []string{`featuresCol "features" gives 3 values per row`, "input shape (2,)"}},
		{"width on transform", func() error {
			_, err := NewClassifierModel(classifierNet(1, 2)).Transform(ctx, three)
			return err
		}, []string{`featuresCol "features" gives 3 values per row`, `network "`, "input shape (2,)"}},
		{"width of columns", func() error {
			_, err := NewModel(classifierNet(1, 3)).SetFeaturesCols("x1", "x2").Transform(ctx, df)
			return err
		}, []string{"featuresCols [x1, x2] gives 2 values per row", "input shape (3,)"}},
		{"vector among columns", func() error {
			_, err := NewModel(classifierNet(1, 3)).SetFeaturesCols("features", "x1").Transform(ctx, df)
			return err
		}, []string{"must be the only feature", "VectorAssembler"}},
		{"validation width", func() error {
			_, err := NewClassifier(classifierNet(1, 2)).SetValidation(three).Fit(ctx, df)
			return err
		}, []string{"validation frame", "gives 3 values per row"}},
		{"loaded params", func() error {
			_, err := ml.LoadStage(ClassifierModelClass, "x", json.RawMessage(`{"bogus":1}`), t.TempDir())
			return err
		}, []string{"model.dfm"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.fit()
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParamsExplainAndRoundTrip(t *testing.T) {
	clf := NewClassifier(classifierNet(1, 2)).SetFeaturesCol("f").SetBatchSize(64).SetMaxEpoch(3).
		SetOptimizer(optim.SGD(0.01, optim.Momentum(0.9))).SetLoss(losses.SparseCategoricalCrossEntropy()).
		SetCaching(false).SetSeed(99)
	explain := clf.Params().Explain()
	for _, name := range []string{"featuresCol", "featuresCols", "labelCol", "predictionCol", "probabilityCol", "batchSize",
		"maxEpoch", "learningRate", "optimMethod", "learningRateSchedule", "loss", "cachingSample", "seed", "logDir", "appName"} {
		if !strings.Contains(explain, name+":") {
			t.Errorf("Explain lacks %s:\n%s", name, explain)
		}
	}
	raw, err := json.Marshal(clf.Params())
	if err != nil {
		t.Fatal(err)
	}
	again := NewClassifier(classifierNet(1, 2))
	if err := again.Params().Load(raw); err != nil {
		t.Fatal(err)
	}
	if again.batchSize.Get() != 64 || again.featuresCol.Get() != "f" || again.caching.Get() || again.seed.Get() != 99 ||
		again.optimMethod.Get().ClassName != "SGD" {
		t.Errorf("params did not round-trip: %s", raw)
	}
	opt, _, _, err := again.resolveTraining(again.net, 2)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Config().Config["momentum"] != 0.9 {
		t.Errorf("optimizer rebuilt from params: %+v", opt.Config())
	}
}
