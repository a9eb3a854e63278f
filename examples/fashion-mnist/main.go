// Command fashion-mnist trains the convolutional network of docs/PERFORMANCE.md on
// Fashion-MNIST: two 5x5 convolutions with max pooling, a 512-unit dense layer with dropout,
// Adam at 1e-3, batches of 64, pixels scaled to [0, 1], channels last. After every epoch it
// scores the 10,000 test images and stops once test accuracy reaches -target (0.90).
//
//	go run ./examples/fashion-mnist [-data DIR] [-out out/fashion-mnist] [-epochs 5] [-json]
//
// The four IDX files come from -data, else from ../shared/data/fashion-mnist (tried from the
// working directory and up to three levels above it), else from a cache directory, where they
// are downloaded the first time when the network allows. With -json the last line is one JSON
// object: accuracy, epochs, training seconds, samples per second and time to accuracy.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/optim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fashion-mnist:", err)
		os.Exit(1)
	}
}

type config struct {
	data      string
	cache     string
	download  bool
	out       string
	epochs    int
	target    float64
	batchSize int
	lr        float64
	seed      uint64
	trainRows int
	testRows  int
	json      bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("fashion-mnist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.data, "data", "", "folder with the four Fashion-MNIST IDX files (.gz or unpacked); default: ../shared/data/fashion-mnist if found, else the download cache")
	fs.StringVar(&c.cache, "cache", defaultCache(), "where downloaded files are kept")
	fs.BoolVar(&c.download, "download", true, "download the files into -cache when they are nowhere else")
	fs.StringVar(&c.out, "out", "out/fashion-mnist", "directory for TensorBoard logs (tensorboard/) and the model bundle (model.dfm)")
	fs.IntVar(&c.epochs, "epochs", 5, "most epochs to train; training stops earlier once test accuracy reaches -target")
	fs.Float64Var(&c.target, "target", 0.90, "test accuracy at which training stops")
	fs.IntVar(&c.batchSize, "batch-size", 64, "mini-batch size")
	fs.Float64Var(&c.lr, "lr", 1e-3, "Adam learning rate")
	fs.Uint64Var(&c.seed, "seed", 1, "seed for initialisation, shuffling and dropout")
	fs.IntVar(&c.trainRows, "train-rows", 0, "train on only the first N training images (0: all 60,000)")
	fs.IntVar(&c.testRows, "test-rows", 0, "evaluate on only the first N test images (0: all 10,000)")
	fs.BoolVar(&c.json, "json", false, "print the results as one JSON object on the last line")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case c.epochs < 1:
		return c, fmt.Errorf("-epochs %d: want at least 1", c.epochs)
	case c.batchSize < 1:
		return c, fmt.Errorf("-batch-size %d: want at least 1", c.batchSize)
	case c.trainRows < 0 || c.testRows < 0:
		return c, errors.New("-train-rows and -test-rows must not be negative")
	}
	return c, nil
}

// Result is the -json line.
type Result struct {
	Accuracy      float64 `json:"accuracy"`
	Loss          float64 `json:"loss"`
	Epochs        int     `json:"epochs"`
	ReachedTarget bool    `json:"reached_target"`
	Target        float64 `json:"target"`
	// TrainSeconds counts the training steps only (data batching included, evaluation not).
	TrainSeconds float64 `json:"train_seconds"`
	// TimeToAccuracy is the wall time from the start of training to the end of the
	// evaluation that reached the target (or of the last one), evaluations included.
	TimeToAccuracy   float64 `json:"time_to_accuracy_seconds"`
	SamplesPerSecond float64 `json:"samples_per_second"`
	TrainRows        int     `json:"train_rows"`
	TestRows         int     `json:"test_rows"`
	Backend          string  `json:"backend"`
	Threads          int     `json:"threads"`
	Data             string  `json:"data"`
	Bundle           string  `json:"bundle"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	dir, err := locateData(ctx, cfg.data, searchBases(), cfg.cache, cfg.download, stdout)
	if err != nil {
		return err
	}
	train, err := load(ctx, dir, "train", cfg.trainRows)
	if err != nil {
		return err
	}
	test, err := load(ctx, dir, "t10k", cfg.testRows)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fashion-mnist: %d training and %d test images from %s\n", train.Len(), test.Len(), dir)

	keras.SetRandomSeed(cfg.seed)
	// The same network as bench.CNN, which the benchmarks time against PyTorch and Keras.
	model := keras.Sequential(
		layers.Conv2D(32, []int{5}, layers.Padding("same"), layers.Activation("relu"), layers.InputShape(28, 28, 1)),
		layers.MaxPooling2D(),
		layers.Conv2D(64, []int{5}, layers.Padding("same"), layers.Activation("relu")),
		layers.MaxPooling2D(),
		layers.Flatten(),
		layers.Dense(512, layers.Activation("relu")),
		layers.Dropout(0.5),
		layers.Dense(10, layers.Activation("softmax")),
	)
	if err := model.Summary(stdout); err != nil {
		return err
	}
	if err := model.Compile(optim.Adam(cfg.lr), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()); err != nil {
		return err
	}
	model.SetTensorBoard(filepath.Join(cfg.out, "tensorboard"), "fashion-mnist")

	clock := newEpochClock(cfg.target)
	start := time.Now()
	hist, err := model.Fit(ctx, train, keras.BatchSize(cfg.batchSize), keras.Epochs(cfg.epochs),
		keras.ValidationData(test), keras.ProgressOutput(stdout), keras.Callbacks(clock.callback()))
	if err != nil {
		return err
	}
	acc, _ := hist.Last("val_accuracy")
	loss, _ := hist.Last("val_loss")
	epochs := len(hist.Values["val_accuracy"])
	res := Result{
		Accuracy: round(acc), Loss: round(loss), Epochs: epochs, ReachedTarget: acc >= cfg.target, Target: cfg.target,
		TrainSeconds:   round(clock.train.Seconds()),
		TimeToAccuracy: round(clock.lastEval.Sub(start).Seconds()),
		TrainRows:      train.Len(), TestRows: test.Len(),
		Backend: backend.Current().Name(), Threads: backend.NumThreads(), Data: absPath(dir),
		Bundle: filepath.Join(cfg.out, "model.dfm"),
	}
	if clock.train > 0 {
		res.SamplesPerSecond = math.Round(float64(epochs*train.Len()) / clock.train.Seconds())
	}
	if err := model.Save(res.Bundle); err != nil {
		return err
	}
	verdict := "reached"
	if !res.ReachedTarget {
		verdict = "did not reach"
	}
	fmt.Fprintf(stdout, "test accuracy %.4f after %d epoch(s): %s the target %.2f; training %.1f s (%.0f samples/s), time to accuracy %.1f s; saved %s\n",
		acc, epochs, verdict, cfg.target, res.TrainSeconds, res.SamplesPerSecond, res.TimeToAccuracy, res.Bundle)
	if cfg.json {
		line, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(line))
	}
	return nil
}

func round(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// load reads one split ("train" or "t10k") as a dataset of [N, 28, 28, 1] float32 images in
// [0, 1] and int64 labels, keeping the first rows when rows > 0.
func load(ctx context.Context, dir, split string, rows int) (*frame.Dataset, error) {
	images, labels := filepath.Join(dir, split+"-images-idx3-ubyte.gz"), filepath.Join(dir, split+"-labels-idx1-ubyte.gz")
	images, labels = existing(images), existing(labels)
	df, err := frame.ReadIDX(images, labels)
	if err != nil {
		return nil, err
	}
	if rows > 0 {
		if df, err = df.Limit(int64(rows)); err != nil {
			return nil, err
		}
	}
	return frame.ToDataset(ctx, df, []string{"image"}, "label", frame.PixelScale(1.0/255))
}

// epochClock measures training time apart from evaluation, and stops Fit at the target.
type epochClock struct {
	target     float64
	epochStart time.Time
	lastBatch  time.Time
	lastEval   time.Time
	train      time.Duration
}

func newEpochClock(target float64) *epochClock { return &epochClock{target: target} }

func (c *epochClock) callback() keras.Callback {
	return keras.CallbackFuncs{
		EpochBegin: func(int) error {
			c.epochStart = time.Now()
			return nil
		},
		// The last batch's end is where the epoch's training ends and its evaluation of the
		// test images begins.
		BatchEnd: func(int, map[string]float64) error {
			c.lastBatch = time.Now()
			return nil
		},
		EpochEnd: func(_ int, logs map[string]float64) error {
			c.lastEval = time.Now()
			c.train += c.lastBatch.Sub(c.epochStart)
			if logs["val_accuracy"] >= c.target {
				return keras.ErrStopTraining
			}
			return nil
		},
	}
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
