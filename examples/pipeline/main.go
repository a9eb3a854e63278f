// Command pipeline is the Elephas "Otto" walkthrough (string categories and numeric feature
// columns, indexed, assembled, scaled and fed to a dense network inside one Spark ML style
// pipeline) on data at hand: Fashion-MNIST images become a frame of 784 pixel columns
// pixel0..pixel783 and a category column Class_1..Class_10, written once to Parquet and read
// back. The pipeline
//
//	StringIndexer(category→label) → VectorAssembler(pixels→raw) → StandardScaler(raw→features)
//	→ NNClassifier(Dense 512 relu, Dropout, Dense 512 relu, Dropout, Dense 512 relu, Dropout,
//	  Dense 10 softmax; Adam)
//
// is fitted on a training split, scores the held-out rows, is evaluated with
// MulticlassClassificationEvaluator (the run fails below 0.85 accuracy), saved, loaded, and the
// loaded pipeline must score the held-out rows exactly as the fitted one did.
//
//	go run ./examples/pipeline [-data DIR] [-out out/pipeline] [-rows 30000] [-epochs 5] [-json]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/deepframe/deepframe/feature"
	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/ml"
	"github.com/deepframe/deepframe/ml/evaluation"
	"github.com/deepframe/deepframe/nn"
	"github.com/deepframe/deepframe/optim"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
}

type config struct {
	data      string
	out       string
	rows      int
	epochs    int
	batchSize int
	lr        float64
	dropout   float64
	testFrac  float64
	withMean  bool
	minAcc    float64
	seed      uint64
	json      bool
}

// The IDX files as the Fashion-MNIST project distributes them.
const (
	trainImages = "train-images-idx3-ubyte.gz"
	trainLabels = "train-labels-idx1-ubyte.gz"
)

// defaultDataDirs are where the repository's neighbour ../shared keeps the data, seen from the
// repository root and from this example's folder (where go test runs it).
var defaultDataDirs = []string{"../shared/data/fashion-mnist", "../../../shared/data/fashion-mnist"}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("pipeline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.data, "data", "", "directory holding "+trainImages+" and "+trainLabels+" (default: ../shared/data/fashion-mnist beside the repository)")
	fs.StringVar(&c.out, "out", "out/pipeline", "directory for the Parquet copy of the frame and the fitted pipeline")
	fs.IntVar(&c.rows, "rows", 30000, "training images to use, from the start of the 60,000 (0: all); the default reaches 0.85 with a margin in about a minute on 2 cores")
	fs.IntVar(&c.epochs, "epochs", 5, "training epochs")
	fs.IntVar(&c.batchSize, "batch-size", 128, "mini-batch size")
	fs.Float64Var(&c.lr, "lr", 0.001, "Adam learning rate")
	fs.Float64Var(&c.dropout, "dropout", 0.2, "dropout rate after each hidden layer")
	fs.BoolVar(&c.withMean, "with-mean", true, "centre the features as well as scaling them (StandardScaler withMean; Spark's default is false, but the network learns faster from inputs around zero)")
	fs.Float64Var(&c.testFrac, "test-fraction", 0.2, "share of the rows held out for testing")
	fs.Float64Var(&c.minAcc, "min-accuracy", 0.85, "fail when held-out accuracy is lower")
	fs.Uint64Var(&c.seed, "seed", 42, "seed for the split, initialisation, dropout and shuffling")
	fs.BoolVar(&c.json, "json", false, "print the results as one JSON object on the last line")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case c.rows < 0:
		return c, fmt.Errorf("-rows %d: want 0 (all) or more", c.rows)
	case !(c.testFrac > 0 && c.testFrac < 1):
		return c, fmt.Errorf("-test-fraction %v: want a fraction in (0, 1)", c.testFrac)
	case c.epochs < 1:
		return c, fmt.Errorf("-epochs %d: want at least 1", c.epochs)
	}
	return c, nil
}

const pixels = 28 * 28

func pixelCols() []string {
	cols := make([]string, pixels)
	for i := range cols {
		cols[i] = "pixel" + strconv.Itoa(i)
	}
	return cols
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	start := time.Now()
	cfg, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	dir, err := findData(cfg.data)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}

	parquet := filepath.Join(cfg.out, fmt.Sprintf("fashion-mnist-%d.parquet", cfg.rows))
	wrote, err := ensureParquet(ctx, dir, parquet, cfg.rows)
	if err != nil {
		return err
	}
	df, err := frame.ReadParquet(parquet)
	if err != nil {
		return err
	}
	if err := checkSchema(df, parquet); err != nil {
		return err
	}
	// The pipeline reads the training rows several times (fitting the indexer, the scaler and
	// the network); decoding Parquet once is enough.
	if df, err = df.Collect(ctx); err != nil {
		return err
	}
	verb := "read back"
	if wrote {
		verb = "written and read back"
	}
	parts, err := df.RandomSplit([]float64{1 - cfg.testFrac, cfg.testFrac}, cfg.seed)
	if err != nil {
		return err
	}
	train, test := parts[0], parts[1]
	trainRows, err := train.Count(ctx)
	if err != nil {
		return err
	}
	testRows, err := test.Count(ctx)
	if err != nil {
		return err
	}
	if trainRows == 0 || testRows == 0 {
		return fmt.Errorf("-rows %d leaves %d training and %d test rows; use more rows", cfg.rows, trainRows, testRows)
	}
	fmt.Fprintf(stdout, "frame: %d rows x %d columns (%s %s); split train=%d test=%d (seed %d)\n",
		trainRows+testRows, len(df.Columns()), parquet, verb, trainRows, testRows, cfg.seed)

	keras.SetRandomSeed(cfg.seed)
	model := keras.Sequential(
		layers.Dense(512, layers.Activation("relu"), layers.InputShape(pixels)),
		layers.Dropout(cfg.dropout),
		layers.Dense(512, layers.Activation("relu")),
		layers.Dropout(cfg.dropout),
		layers.Dense(512, layers.Activation("relu")),
		layers.Dropout(cfg.dropout),
		layers.Dense(10, layers.Activation("softmax")),
	)
	if err := model.Summary(stdout); err != nil {
		return err
	}
	classifier := nn.NewClassifier(model).
		SetFeaturesCol("features").SetLabelCol("label").
		SetBatchSize(cfg.batchSize).SetMaxEpoch(cfg.epochs).
		SetOptimizer(optim.Adam(cfg.lr)).SetSeed(cfg.seed).
		SetProgress(stdout)
	pipe := ml.NewPipeline(
		feature.NewStringIndexer().SetInputCol("category").SetOutputCol("label"),
		feature.NewVectorAssembler().SetInputCols(pixelCols()...).SetOutputCol("raw"),
		feature.NewStandardScaler().SetInputCol("raw").SetOutputCol("features").SetWithMean(cfg.withMean),
		classifier,
	)
	fitStart := time.Now()
	fitted, err := pipe.FitModel(ctx, train)
	if err != nil {
		return err
	}
	fitSeconds := time.Since(fitStart).Seconds()
	stages := fitted.Stages()
	summary := stages[len(stages)-1].(*nn.NNClassifierModel).TrainingSummary()
	fmt.Fprintf(stdout, "fit: %.1fs (network %.1fs over %d epochs; training waited %.2fs for data)\n",
		fitSeconds, summary.Duration.Seconds(), summary.Epochs, summary.DataWait.Seconds())

	scored, err := fitted.Transform(ctx, test)
	if err != nil {
		return err
	}
	// Scoring is lazy; collecting runs it once for the evaluator and the reload check.
	if scored, err = scored.Collect(ctx); err != nil {
		return err
	}
	acc, err := evaluation.NewMulticlassClassificationEvaluator().
		SetLabelCol("label").SetPredictionCol("prediction").SetMetricName("accuracy").
		Evaluate(ctx, scored)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "test: accuracy=%.4f on %d held-out rows\n", acc, testRows)

	saved := filepath.Join(cfg.out, "fashion-pipeline")
	if err := fitted.Save(saved); err != nil {
		return err
	}
	loaded, err := ml.LoadPipelineModel(saved)
	if err != nil {
		return err
	}
	again, err := loaded.Transform(ctx, test)
	if err != nil {
		return err
	}
	for _, col := range []string{"prediction", "probability"} {
		want, err := frame.ColumnFloat64s(ctx, scored, col)
		if err != nil {
			return err
		}
		got, err := frame.ColumnFloat64s(ctx, again, col)
		if err != nil {
			return err
		}
		if !slices.Equal(want, got) {
			return fmt.Errorf("the pipeline loaded from %s scores column %s differently from the fitted one", saved, col)
		}
	}
	fmt.Fprintf(stdout, "saved %s; the loaded pipeline scores the %d held-out rows identically\n", saved, testRows)

	seconds := time.Since(start).Seconds()
	if cfg.json {
		line, err := json.Marshal(map[string]any{
			"accuracy":    math.Round(acc*1e4) / 1e4,
			"epochs":      cfg.epochs,
			"train_rows":  trainRows,
			"test_rows":   testRows,
			"seconds":     math.Round(seconds*10) / 10,
			"fit_seconds": math.Round(fitSeconds*10) / 10,
			"data_wait":   math.Round(summary.DataWait.Seconds()*100) / 100,
		})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(line))
	}
	if acc < cfg.minAcc {
		return fmt.Errorf("held-out accuracy %.4f is below %.2f", acc, cfg.minAcc)
	}
	return nil
}

// findData returns the directory holding the training IDX files.
func findData(dir string) (string, error) {
	candidates := defaultDataDirs
	if dir != "" {
		candidates = []string{dir}
	}
	for _, d := range candidates {
		if _, err := os.Stat(filepath.Join(d, trainImages)); err == nil {
			if _, err := os.Stat(filepath.Join(d, trainLabels)); err == nil {
				return d, nil
			}
		}
	}
	return "", &missingDataError{tried: candidates}
}

// missingDataError says where the files were looked for and where to get them.
type missingDataError struct{ tried []string }

func (e *missingDataError) Error() string {
	tried := make([]string, len(e.tried))
	for i, d := range e.tried {
		tried[i] = d
		if abs, err := filepath.Abs(d); err == nil {
			tried[i] = abs
		}
	}
	return fmt.Sprintf("Fashion-MNIST not found (looked for %s and %s in %s): download them from "+
		"https://github.com/zalandoresearch/fashion-mnist (folder data/fashion) into a directory and pass -data DIR",
		trainImages, trainLabels, strings.Join(tried, ", "))
}

// ensureParquet writes the Otto-style frame of the first rows training images to path unless
// a file of that name is already there; it reports whether it wrote one.
func ensureParquet(ctx context.Context, dir, path string, rows int) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	df, err := frame.ReadIDX(filepath.Join(dir, trainImages), filepath.Join(dir, trainLabels))
	if err != nil {
		return false, err
	}
	if rows > 0 {
		if df, err = df.Limit(int64(rows)); err != nil {
			return false, err
		}
	}
	if df, err = ottoColumns(df); err != nil {
		return false, err
	}
	return true, frame.WriteParquet(ctx, df, path)
}

// ottoColumns turns ReadIDX's image and label columns into Otto's layout: one Int32 column per
// pixel and the class as the text Class_1..Class_10.
func ottoColumns(df *frame.DataFrame) (*frame.DataFrame, error) {
	fields := make([]arrow.Field, 0, pixels+1)
	for _, c := range pixelCols() {
		fields = append(fields, arrow.Field{Name: c, Type: arrow.PrimitiveTypes.Int32})
	}
	fields = append(fields, arrow.Field{Name: "category", Type: arrow.BinaryTypes.String})
	schema := arrow.NewSchema(fields, nil)
	imgIdx, labIdx := df.Schema().FieldIndices("image"), df.Schema().FieldIndices("label")
	if len(imgIdx) == 0 || len(labIdx) == 0 {
		return nil, fmt.Errorf("the IDX frame has columns %v, want image and label", df.Columns())
	}
	return df.MapBatches(schema, func(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
		imgs, err := frame.Images(rec.Column(imgIdx[0]))
		if err != nil {
			return nil, err
		}
		n := imgs.Len()
		px := make([][]int32, pixels)
		for p := range px {
			px[p] = make([]int32, n)
		}
		for i := range n {
			img, ok := imgs.At(i)
			if !ok || len(img.Data) != pixels {
				return nil, fmt.Errorf("image %s is not a %d-pixel grey image", img.Origin, pixels)
			}
			for p, v := range img.Data {
				px[p][i] = int32(v)
			}
		}
		cols := make([]arrow.Array, 0, pixels+1)
		defer func() {
			for _, c := range cols {
				c.Release()
			}
		}()
		ib := array.NewInt32Builder(memory.DefaultAllocator)
		defer ib.Release()
		for p := range px {
			ib.AppendValues(px[p], nil)
			cols = append(cols, ib.NewArray())
		}
		labels, err := frame.ToFloat64(nil, rec.Column(labIdx[0]))
		if err != nil {
			return nil, err
		}
		sb := array.NewStringBuilder(memory.DefaultAllocator)
		defer sb.Release()
		for _, l := range labels {
			sb.Append("Class_" + strconv.Itoa(int(l)+1))
		}
		cols = append(cols, sb.NewArray())
		return array.NewRecordBatch(schema, cols, int64(n)), nil
	})
}

// checkSchema makes sure a Parquet file found in -out is the frame this example writes.
func checkSchema(df *frame.DataFrame, path string) error {
	want := append(pixelCols(), "category")
	if !slices.Equal(df.Columns(), want) {
		return fmt.Errorf("%s does not hold the pixel0..pixel783,category frame this example writes; delete it and run again", path)
	}
	return nil
}
