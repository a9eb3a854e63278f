package nn

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/optim"
)

// fashionDir holds the Fashion-MNIST IDX files beside the repository (see DESIGN.md).
const fashionDir = "../../shared/data/fashion-mnist"

func fashionFrame(tb testing.TB) *frame.DataFrame {
	tb.Helper()
	images := filepath.Join(fashionDir, "train-images-idx3-ubyte.gz")
	labels := filepath.Join(fashionDir, "train-labels-idx1-ubyte.gz")
	if _, err := os.Stat(images); err != nil {
		tb.Skipf("Fashion-MNIST not present at %s: %v", fashionDir, err)
	}
	df, err := frame.ReadIDX(images, labels)
	if err != nil {
		tb.Fatal(err)
	}
	return df
}

// fashionMLP is a small network for 28x28 images: 784 → 128 → 10.
func fashionMLP() *keras.Model {
	keras.SetRandomSeed(1)
	defer keras.SetRandomSeed(keras.DefaultSeed)
	return keras.Sequential(
		layers.Dense(128, layers.Activation("relu"), layers.InputShape(784), layers.Name("hidden")),
		layers.Dense(10, layers.Activation("softmax"), layers.Name("out")),
	)
}

// BenchmarkStreamedFitDataWait trains a small MLP on the Fashion-MNIST training images,
// streamed from the gzip IDX files through frame.Batches (decompress, decode, scale, shuffle,
// prefetch, every epoch) into keras Fit, and reports how long the steps waited for their
// batches: the "the training input path must never starve training". One iteration
// is a Fit of three epochs of 60,000 rows, so that it shows both the first epoch, whose first
// step waits for the shuffle buffer to fill, and later ones, whose buffers fill while the
// previous epoch drains.
//
// Metrics: wait/step is the share of step time spent waiting for data; wait-ms/epoch and
// step-ms/epoch the totals behind it, and first-wait-ms and later-wait-ms the wait of the
// first epoch (mostly the first shuffle buffer filling) and of each later one; load-ms/epoch
// is the loader goroutines' own busy time (they run beside training, on the same cores).
func BenchmarkStreamedFitDataWait(b *testing.B) {
	df := fashionFrame(b)
	for _, tc := range []struct {
		name    string
		batch   int
		caching bool
	}{
		{"batch=64", 64, false},
		{"batch=256", 256, false},
		// For scale: the same Fit on samples cached in memory, where waiting is gathering
		// the shuffled rows of each batch.
		{"cached/batch=256", 256, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const epochs = 3
			var wait, step, load time.Duration
			var first, later float64 // seconds
			for b.Loop() {
				clf := NewClassifier(fashionMLP()).SetFeaturesCol("image").SetLabelCol("label").
					SetBatchSize(tc.batch).SetMaxEpoch(epochs).SetOptimizer(optim.Adam(0.001)).SetCaching(tc.caching)
				m, err := clf.FitModel(context.Background(), df)
				if err != nil {
					b.Fatal(err)
				}
				sum := m.TrainingSummary()
				if sum.Rows != 60000 || sum.Epochs != epochs {
					b.Fatalf("trained %d epochs on %d rows", sum.Epochs, sum.Rows)
				}
				wait += sum.DataWait
				step += sum.StepTime
				w := sum.History.Values[keras.DataWaitKey]
				first += w[0]
				for _, v := range w[1:] {
					later += v
				}
				load += sum.Stream.LoadTime
			}
			n := float64(b.N * epochs)
			b.ReportMetric(wait.Seconds()/step.Seconds(), "wait/step")
			b.ReportMetric(float64(wait.Milliseconds())/n, "wait-ms/epoch")
			b.ReportMetric(float64(step.Milliseconds())/n, "step-ms/epoch")
			b.ReportMetric(1000*first/float64(b.N), "first-wait-ms")
			b.ReportMetric(1000*later/float64(b.N*(epochs-1)), "later-wait-ms")
			if !tc.caching {
				b.ReportMetric(float64(load.Milliseconds())/n, "load-ms/epoch")
			}
			b.ReportMetric(60000*n/step.Seconds(), "rows/s")
		})
	}
}

// BenchmarkFashionBatches is the loader alone: the rate frame.Batches delivers shuffled
// Fashion-MNIST batches when nothing consumes them, the ceiling the training path can use.
func BenchmarkFashionBatches(b *testing.B) {
	df := fashionFrame(b)
	for b.Loop() {
		it, err := frame.Batches(context.Background(), df, []string{"image"}, "label",
			frame.BatchSize(256), frame.Flatten(), frame.Shuffle(1), frame.Prefetch(streamPrefetch))
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for it.Next() {
			rows += it.Batch().X.Dim(0)
		}
		if err := it.Err(); err != nil {
			b.Fatal(err)
		}
		it.Close()
		if rows != 60000 {
			b.Fatalf("%d rows", rows)
		}
	}
	b.ReportMetric(60000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
