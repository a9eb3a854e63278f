package nn

import (
	"context"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

// sortedBlobs is blobs with every class-0 row before every class-1 row, in several record
// batches. Visited in that order, each epoch ends on a run of one class and the network
// forgets the other, so only a real shuffle reaches the accuracy bar.
func sortedBlobs(t *testing.T, n int, seed uint64) *frame.DataFrame {
	t.Helper()
	rng := tensor.NewRNG(seed)
	x1, x2, label := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		c := 0.0
		if i >= n/2 {
			c = 1
		}
		centre := 3*c - 1.5
		x1[i], x2[i], label[i] = centre+rng.NormFloat64(), centre+rng.NormFloat64(), c
	}
	df, err := frame.FromColumns(frame.Col("x1", x1), frame.Col("x2", x2), frame.Col("label", label))
	if err != nil {
		t.Fatal(err)
	}
	if df, err = df.Repartition(6); err != nil {
		t.Fatal(err)
	}
	return df
}

// Streamed training shuffles every epoch (frame.Batches with the estimator's seed) and
// reaches the same bar as cached training on the same data; it reports its data wait from
// keras's measure and the loader's own figures.
func TestStreamedMatchesCached(t *testing.T) {
	ctx := context.Background()
	train, test := sortedBlobs(t, 600, 11), blobs(t, 300, 12, 2)
	// A filter hides the row count, as a CSV source would; the summary learns it from the
	// first pass.
	hidden, err := train.Filter([]string{"x1"}, func(frame.Row) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	const epochs, batch = 6, 16
	for _, tc := range []struct {
		name    string
		df      *frame.DataFrame
		caching bool
	}{
		{"cached", train, true},
		{"streamed", train, false},
		{"streamed, count unknown", hidden, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clf := NewClassifier(classifierNet(7, 2)).SetFeaturesCols("x1", "x2").
				SetBatchSize(batch).SetMaxEpoch(epochs).SetOptimizer(optim.Adam(0.01)).
				SetCaching(tc.caching).SetSeed(5)
			m, err := clf.FitModel(ctx, tc.df)
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
			sum := m.TrainingSummary()
			if sum.Rows != 600 || sum.Epochs != epochs || sum.Cached != tc.caching {
				t.Errorf("summary: %d rows, %d epochs, cached %v", sum.Rows, sum.Epochs, sum.Cached)
			}
			if sum.DataWait != sum.History.DataWait() || sum.DataWait <= 0 || sum.DataWait > sum.StepTime {
				t.Errorf("data wait %v (history %v), step time %v", sum.DataWait, sum.History.DataWait(), sum.StepTime)
			}
			if w := sum.History.Values[keras.DataWaitKey]; len(w) != epochs {
				t.Errorf("history %s = %v", keras.DataWaitKey, w)
			}
			steps := epochs * ((600 + batch - 1) / batch)
			if tc.caching {
				if sum.Stream != (frame.Stats{}) {
					t.Errorf("cached Fit reports loader stats %+v", sum.Stream)
				}
				return
			}
			if sum.Stream.Batches != steps || sum.Stream.Rows != 600*epochs || sum.Stream.LoadTime <= 0 {
				t.Errorf("loader stats %+v, want %d batches of %d rows in all", sum.Stream, steps, 600*epochs)
			}
			t.Logf("data wait %v of %v in steps (%.1f%%); loader busy %v", sum.DataWait, sum.StepTime,
				100*sum.DataWait.Seconds()/sum.StepTime.Seconds(), sum.Stream.LoadTime)
		})
	}
}

// The stream the estimator trains on shuffles each epoch with its seed: a sorted frame comes
// out mixed, in an order that is the same for the same epoch and differs between epochs.
func TestStreamShuffles(t *testing.T) {
	ctx := context.Background()
	train := sortedBlobs(t, 600, 11)
	spec := &inputSpec{uid: "t", features: []string{"x1", "x2"}, shape: tensor.Shape{2}}
	pass := func(shuffle bool, epoch int) []float64 {
		src, err := newStreamSource(train, spec, "label", shuffle, 5, 2)
		if err != nil {
			t.Fatal(err)
		}
		it, err := src.Stream(ctx, epoch, 16)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		var labels []float64
		for {
			x, y, err := it.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(x) != 1 || !x[0].Shape().Equal(tensor.Shape{y[0].Dim(0), 2}) {
				t.Fatalf("batch x %v for y %v", x[0].Shape(), y[0].Shape())
			}
			for i := range y[0].Len() {
				labels = append(labels, y[0].Float64Flat(i))
			}
		}
		return labels
	}
	// Class-1 labels among the first 100 rows: none in order, about half when shuffled.
	ones := func(l []float64) int {
		n := 0
		for _, v := range l[:100] {
			n += int(v)
		}
		return n
	}
	plain, a, b, c := pass(false, 0), pass(true, 3), pass(true, 3), pass(true, 4)
	if len(plain) != 600 || len(a) != 600 || ones(plain) != 0 {
		t.Fatalf("%d rows in order (%d ones first), %d shuffled", len(plain), ones(plain), len(a))
	}
	if k := ones(a); k < 30 || k > 70 {
		t.Errorf("%d of the first 100 shuffled rows are class 1, want about 50", k)
	}
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Error("the shuffle is not a function of the seed and the epoch")
	}
}

func TestStreamedLabelOutOfRange(t *testing.T) {
	df, err := frame.FromColumns(frame.Col("x1", []float64{0, 1, 2}), frame.Col("x2", []float64{0, 1, 2}), frame.Col("label", []float64{0, 1, 4}))
	if err != nil {
		t.Fatal(err)
	}
	clf := NewClassifier(classifierNet(1, 2)).SetFeaturesCols("x1", "x2").SetCaching(false).SetMaxEpoch(1)
	_, err = clf.FitModel(context.Background(), df)
	if err == nil || !strings.Contains(err.Error(), `labelCol "label" holds 4`) {
		t.Errorf("label 4 for 2 classes: %v", err)
	}
}

// The next epoch's pass starts before Fit asks for it; when Fit stops early it is never asked
// for, and the estimator still stops its loader.
func TestStreamedStopEarlyReleasesLoader(t *testing.T) {
	ctx := context.Background()
	train := sortedBlobs(t, 600, 13)
	before := runtime.NumGoroutine()
	var net *keras.Model
	stop := keras.CallbackFuncs{
		TrainBegin: func(m *keras.Model) error { net = m; return nil },
		EpochEnd: func(epoch int, _ map[string]float64) error {
			if epoch == 1 {
				net.StopTraining()
			}
			return nil
		},
	}
	m, err := NewClassifier(classifierNet(3, 2)).SetFeaturesCols("x1", "x2").SetBatchSize(16).
		SetMaxEpoch(5).SetCaching(false).SetFitOptions(keras.Callbacks(stop)).FitModel(ctx, train)
	if err != nil {
		t.Fatal(err)
	}
	if sum := m.TrainingSummary(); sum.Epochs != 2 || sum.Stream.Rows != 1200 {
		t.Errorf("%d epochs, %d rows streamed; want 2 and 1200", sum.Epochs, sum.Stream.Rows)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines after Fit, %d before: a loader was left running", g, before)
	}
}
