// Command iris is the classic iris walkthrough in its pipeline form: read the CSV into a frame,
// split it 0.8/0.1/0.1 with seed 31, index the class, assemble and standardise the four
// measurements, train the 4-100-100-3 network as a pipeline stage with validation and
// TensorBoard logs, evaluate it, save the fitted pipeline and the network bundle, load both
// back, and check they predict exactly what the trained ones do.
//
//	go run ./examples/iris [-data iris.csv] [-out out/iris] [-epochs 50] [-json]
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/deepframe/deepframe/feature"
	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/ml"
	"github.com/deepframe/deepframe/ml/evaluation"
	"github.com/deepframe/deepframe/nn"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

// The 150-row file ships inside the binary so the example needs nothing beside it.
//
//go:embed iris.csv
var bundledIris []byte

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "iris:", err)
		os.Exit(1)
	}
}

type config struct {
	data      string
	out       string
	epochs    int
	batchSize int
	lr        float64
	seed      uint64
	json      bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("iris", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.data, "data", "", "iris CSV with header sepal_len,sepal_wid,petal_len,petal_wid,class (default: the copy built into this program)")
	fs.StringVar(&c.out, "out", "out/iris", "directory for TensorBoard logs (tensorboard/), the fitted pipeline (iris-pipeline/) and the network bundle (model.dfm)")
	fs.IntVar(&c.epochs, "epochs", 50, "training epochs")
	fs.IntVar(&c.batchSize, "batch-size", 32, "mini-batch size")
	fs.Float64Var(&c.lr, "lr", 0.05, "SGD learning rate (0.01, the walkthrough's classic value, leaves the network short of 0.90 after 50 epochs on this split)")
	fs.Uint64Var(&c.seed, "seed", 31, "seed for the split, initialisation and shuffling")
	fs.BoolVar(&c.json, "json", false, "print the final metrics as one JSON object on the last line")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, nil
}

var (
	measurements = []string{"sepal_len", "sepal_wid", "petal_len", "petal_wid"}
	classes      = []string{"Iris-setosa", "Iris-versicolor", "Iris-virginica"}
)

func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	df, source, err := readIris(ctx, cfg.data)
	if err != nil {
		return err
	}
	parts, err := df.RandomSplit([]float64{0.8, 0.1, 0.1}, cfg.seed)
	if err != nil {
		return err
	}
	train, valid, eval := parts[0], parts[1], parts[2]
	counts := make([]int64, 3)
	for i, p := range parts {
		if counts[i], err = p.Count(ctx); err != nil {
			return err
		}
		if counts[i] == 0 {
			return errors.New("empty split: the file has too few rows for a 0.8/0.1/0.1 split")
		}
	}
	fmt.Fprintf(stdout, "iris: %d rows from %s; split train=%d validation=%d eval=%d (seed %d)\n",
		counts[0]+counts[1]+counts[2], source, counts[0], counts[1], counts[2], cfg.seed)

	// The feature stages are fitted on the training split alone, and fitted once: the network
	// validates on the validation split as these fitted stages prepare it, and the same fitted
	// stages lead the final pipeline, which saves them together with the network.
	prep, err := ml.NewPipeline(
		feature.NewStringIndexer().SetInputCol("class").SetOutputCol("label"),
		feature.NewVectorAssembler().SetInputCols(measurements...).SetOutputCol("raw"),
		// Centred as well as scaled: plain SGD trains the network much faster on inputs
		// around zero.
		feature.NewStandardScaler().SetInputCol("raw").SetOutputCol("features").SetWithMean(true),
	).FitModel(ctx, train)
	if err != nil {
		return err
	}
	validPrepared, err := prep.Transform(ctx, valid)
	if err != nil {
		return err
	}

	keras.SetRandomSeed(cfg.seed)
	model := keras.Sequential(
		layers.Dense(100, layers.Activation("relu"), layers.InputShape(4), layers.Name("fc_1")),
		layers.Dense(100, layers.Activation("relu"), layers.Name("fc_2")),
		layers.Dense(3, layers.Activation("softmax"), layers.Name("fc_3")),
	)
	if err := model.Summary(stdout); err != nil {
		return err
	}
	classifier := nn.NewClassifier(model).
		SetFeaturesCol("features").SetLabelCol("label").
		SetBatchSize(cfg.batchSize).SetMaxEpoch(cfg.epochs).
		SetOptimizer(optim.SGD(cfg.lr)).SetSeed(cfg.seed).
		SetValidation(validPrepared, metrics.Accuracy()).
		SetTensorBoard(filepath.Join(cfg.out, "tensorboard"), "iris-example").
		SetProgress(stdout)
	fitted, err := ml.NewPipeline(prep, classifier).FitModel(ctx, train)
	if err != nil {
		return err
	}
	stages := fitted.Stages()
	net := stages[len(stages)-1].(*nn.NNClassifierModel).Model()

	scored, err := fitted.Transform(ctx, eval)
	if err != nil {
		return err
	}
	acc, err := evaluation.NewMulticlassClassificationEvaluator().
		SetLabelCol("label").SetPredictionCol("prediction").SetMetricName("accuracy").
		Evaluate(ctx, scored)
	if err != nil {
		return err
	}
	// The loss comes from the network itself, on the eval rows as the pipeline prepared them.
	evalSet, err := frame.ToDataset(ctx, scored, []string{"features"}, "label")
	if err != nil {
		return err
	}
	results, err := net.Evaluate(ctx, evalSet)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "eval: loss=%.4f accuracy=%.4f\n", results["loss"], acc)

	pipelineDir := filepath.Join(cfg.out, "iris-pipeline")
	bundle := filepath.Join(cfg.out, "model.dfm")
	if err := fitted.Save(pipelineDir); err != nil {
		return err
	}
	if err := net.Save(bundle); err != nil {
		return err
	}
	if err := checkReload(ctx, fitted, pipelineDir, net, bundle, eval, evalSet.X()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved %s and %s; the loaded pipeline and network predict exactly as the trained ones on %d rows\n",
		pipelineDir, bundle, evalSet.Len())

	total, _ := model.CountParams()
	if cfg.json {
		line, err := json.Marshal(map[string]any{
			"accuracy": round(acc),
			"loss":     round(results["loss"]),
			"params":   total,
			"epochs":   cfg.epochs,
			"bundle":   bundle,
			"pipeline": pipelineDir,
		})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(line))
	}
	return nil
}

// checkReload loads the saved pipeline and network and requires exactly the predictions of
// the ones that were saved.
func checkReload(ctx context.Context, fitted *ml.PipelineModel, pipelineDir string, net *keras.Model, bundle string, eval *frame.DataFrame, x *tensor.Tensor) error {
	again, err := ml.LoadPipelineModel(pipelineDir)
	if err != nil {
		return err
	}
	for _, col := range []string{"prediction", "probability"} {
		want, err := scoredColumn(ctx, fitted, eval, col)
		if err != nil {
			return err
		}
		got, err := scoredColumn(ctx, again, eval, col)
		if err != nil {
			return err
		}
		if !slices.Equal(want, got) {
			return fmt.Errorf("the pipeline loaded from %s scores column %s differently from the fitted one", pipelineDir, col)
		}
	}
	loaded, err := keras.Load(bundle)
	if err != nil {
		return err
	}
	want, err := net.Predict(ctx, x)
	if err != nil {
		return err
	}
	got, err := loaded.Predict(ctx, x)
	if err != nil {
		return err
	}
	if !tensor.Equal(want, got) {
		return fmt.Errorf("the network loaded from %s predicts differently from the trained one (max relative difference %g)",
			bundle, tensor.MaxRelDiff(got, want, 1e-12))
	}
	return nil
}

func scoredColumn(ctx context.Context, m ml.Transformer, df *frame.DataFrame, col string) ([]float64, error) {
	scored, err := m.Transform(ctx, df)
	if err != nil {
		return nil, err
	}
	return frame.ColumnFloat64s(ctx, scored, col)
}

func round(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// readIris reads the CSV (the built-in copy unless path is given) and holds it to the iris
// layout, so a wrong file fails here with the line and column at fault rather than later as a
// puzzling training error.
func readIris(ctx context.Context, path string) (*frame.DataFrame, string, error) {
	source, raw := "built-in iris.csv", bundledIris
	if path != "" {
		var err error
		if raw, err = os.ReadFile(path); err != nil {
			return nil, "", err
		}
		source = path
	}
	// frame's errors name the source, so they need no prefix here.
	df, err := frame.ReadCSVFrom(bytes.NewReader(raw), source, frame.Header(), frame.InferSchema())
	if err != nil {
		return nil, "", err
	}
	want := append(slices.Clone(measurements), "class")
	cols := df.Columns()
	for i, w := range want {
		if i >= len(cols) || cols[i] != w {
			got := "missing"
			if i < len(cols) {
				got = fmt.Sprintf("%q", cols[i])
			}
			return nil, "", fmt.Errorf("%s: line 1: header column %d is %s, want %q", source, i+1, got, w)
		}
	}
	// The file is read now, once: every split and stage reads this in-memory copy.
	if df, err = df.Collect(ctx); err != nil {
		return nil, "", err
	}
	for j, c := range measurements {
		if frame.IsNumeric(df.Schema().Field(j).Type) {
			continue
		}
		// Inference made the column text, so some value is not a number; find the first.
		bad, row, err := firstValue(ctx, df, c, func(s string) bool { return !isNumber(s) })
		if err != nil {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("%s: line %d, column %s: %q is not a number", source, lineOf(raw, row, j), c, bad)
	}
	bad, row, err := firstValue(ctx, df, "class", func(s string) bool { return !slices.Contains(classes, s) })
	if err != nil {
		return nil, "", err
	}
	if row >= 0 {
		return nil, "", fmt.Errorf("%s: line %d, column class: %q is not one of %v", source, lineOf(raw, row, 4), bad, classes)
	}
	return df, source, nil
}

// firstValue returns the first value of a column (as text) for which bad holds, and its row;
// row is -1 when there is none.
func firstValue(ctx context.Context, df *frame.DataFrame, col string, bad func(string) bool) (string, int, error) {
	found, row := "", -1
	seen := 0
	f, err := df.Filter([]string{col}, func(r frame.Row) bool {
		v := r.String(0)
		if row < 0 && bad(v) {
			found, row = v, seen
		}
		seen++
		return false
	})
	if err != nil {
		return "", -1, err
	}
	if _, err := f.Count(ctx); err != nil {
		return "", -1, err
	}
	return found, row, nil
}

func isNumber(s string) bool {
	var v float64
	_, err := fmt.Sscan(s, &v)
	return err == nil
}

// lineOf finds the line where field col of data row row starts, counting as a CSV reader
// does (blank lines skipped, quoted line breaks kept), so messages point at the right line.
func lineOf(raw []byte, row, col int) int {
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1
	for i := -1; i <= row; i++ { // -1 is the header
		if _, err := r.Read(); err != nil {
			return row + 2
		}
	}
	line, _ := r.FieldPos(col)
	return line
}
