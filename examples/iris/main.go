// Command iris is the classic iris walkthrough, end to end: read the CSV, split it
// 0.8/0.1/0.1 with seed 31, build the 4-100-100-3 network, print its summary, train it with
// validation and TensorBoard logs, evaluate, save the bundle, load it back, predict, and check
// the loaded model predicts exactly what the trained one does.
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
	"strconv"

	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
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
	fs.StringVar(&c.out, "out", "out/iris", "directory for TensorBoard logs (tensorboard/) and the model bundle (model.dfm)")
	fs.IntVar(&c.epochs, "epochs", 50, "training epochs")
	fs.IntVar(&c.batchSize, "batch-size", 32, "mini-batch size")
	fs.Float64Var(&c.lr, "lr", 0.01, "SGD learning rate")
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

func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	raw := bundledIris
	source := "built-in iris.csv"
	if cfg.data != "" {
		if raw, err = os.ReadFile(cfg.data); err != nil {
			return err
		}
		source = cfg.data
	}
	ds, err := readIris(source, raw)
	if err != nil {
		return err
	}
	train, valid, eval := ds.randomSplit([]float64{0.8, 0.1, 0.1}, cfg.seed)
	// Standardise with the training split's statistics only, as a StandardScaler fitted on
	// the training frame would; the network then trains well with plain SGD.
	mean, std := train.featureStats()
	for _, s := range []*irisData{train, valid, eval} {
		s.standardize(mean, std)
	}
	fmt.Fprintf(stdout, "iris: %d rows from %s; split train=%d validation=%d eval=%d (seed %d)\n",
		ds.rows(), source, train.rows(), valid.rows(), eval.rows(), cfg.seed)

	keras.SetRandomSeed(cfg.seed)
	model := keras.Sequential(
		layers.Dense(100, layers.Activation("relu"), layers.InputShape(4), layers.Name("fc_1")),
		layers.Dense(100, layers.Activation("relu"), layers.Name("fc_2")),
		layers.Dense(3, layers.Activation("softmax"), layers.Name("fc_3")),
	)
	if err := model.Summary(stdout); err != nil {
		return err
	}
	if err := model.Compile(optim.SGD(cfg.lr), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()); err != nil {
		return err
	}
	model.SetTensorBoard(filepath.Join(cfg.out, "tensorboard"), "iris-example")

	trainSet, err := train.dataset()
	if err != nil {
		return err
	}
	validSet, err := valid.dataset()
	if err != nil {
		return err
	}
	evalSet, err := eval.dataset()
	if err != nil {
		return err
	}
	if _, err := model.Fit(ctx, trainSet, keras.BatchSize(cfg.batchSize), keras.Epochs(cfg.epochs),
		keras.ValidationData(validSet), keras.ProgressOutput(stdout)); err != nil {
		return err
	}
	results, err := model.Evaluate(ctx, evalSet)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "eval: loss=%.4f accuracy=%.4f\n", results["loss"], results["accuracy"])

	bundle := filepath.Join(cfg.out, "model.dfm")
	if err := model.Save(bundle); err != nil {
		return err
	}
	again, err := keras.Load(bundle)
	if err != nil {
		return err
	}
	want, err := model.Predict(ctx, eval.x)
	if err != nil {
		return err
	}
	got, err := again.Predict(ctx, eval.x)
	if err != nil {
		return err
	}
	if !tensor.Equal(want, got) {
		return fmt.Errorf("the model loaded from %s predicts differently from the trained model (max relative difference %g)",
			bundle, tensor.MaxRelDiff(got, want, 1e-12))
	}
	fmt.Fprintf(stdout, "saved %s; the loaded model's %d predictions equal the trained model's\n", bundle, eval.rows())

	total, _ := model.CountParams()
	if cfg.json {
		line, err := json.Marshal(map[string]any{
			"accuracy": round(results["accuracy"]),
			"loss":     round(results["loss"]),
			"params":   total,
			"epochs":   cfg.epochs,
			"bundle":   bundle,
		})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(line))
	}
	return nil
}

func round(v float64) float64 { return math.Round(v*1e4) / 1e4 }

var classes = []string{"Iris-setosa", "Iris-versicolor", "Iris-virginica"}

// irisData is the example's own small loader: four float features and an integer label per
// row. Data frames (package frame) replace it once they exist.
type irisData struct {
	x *tensor.Tensor // [rows, 4]
	y *tensor.Tensor // [rows] int64
}

func (d *irisData) rows() int { return d.x.Dim(0) }

func readIris(source string, raw []byte) (*irisData, error) {
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = 5
	records, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if len(records) < 2 {
		return nil, fmt.Errorf("%s: no data rows", source)
	}
	want := []string{"sepal_len", "sepal_wid", "petal_len", "petal_wid", "class"}
	for i, h := range records[0] {
		if h != want[i] {
			return nil, fmt.Errorf("%s: line 1: header column %d is %q, want %q", source, i+1, h, want[i])
		}
	}
	rows := records[1:]
	x := tensor.Zeros(len(rows), 4)
	y := tensor.New(tensor.Int64, len(rows))
	xs, ys := x.Float32s(), y.Int64s()
	for i, rec := range rows {
		for j := 0; j < 4; j++ {
			v, err := strconv.ParseFloat(rec[j], 32)
			if err != nil {
				return nil, fmt.Errorf("%s: line %d, column %s: %q is not a number", source, i+2, want[j], rec[j])
			}
			xs[i*4+j] = float32(v)
		}
		label := -1
		for k, c := range classes {
			if rec[4] == c {
				label = k
			}
		}
		if label < 0 {
			return nil, fmt.Errorf("%s: line %d, column class: %q is not one of %v", source, i+2, rec[4], classes)
		}
		ys[i] = int64(label)
	}
	return &irisData{x: x, y: y}, nil
}

// randomSplit shuffles the rows with seed and cuts them by the weights' cumulative fractions,
// so the parts are disjoint, cover every row, and are the same for the same seed.
func (d *irisData) randomSplit(weights []float64, seed uint64) (train, valid, eval *irisData) {
	perm := tensor.NewRNG(seed).Perm(d.rows())
	total := 0.0
	for _, w := range weights {
		total += w
	}
	parts := make([]*irisData, len(weights))
	start, acc := 0, 0.0
	for i, w := range weights {
		acc += w
		end := int(math.Round(acc / total * float64(len(perm))))
		if i == len(weights)-1 {
			end = len(perm)
		}
		x, _ := d.x.Gather(perm[start:end])
		y, _ := d.y.Gather(perm[start:end])
		parts[i] = &irisData{x: x, y: y}
		start = end
	}
	return parts[0], parts[1], parts[2]
}

func (d *irisData) featureStats() (mean, std [4]float64) {
	xs := d.x.Float32s()
	n := float64(d.rows())
	for i := 0; i < d.rows(); i++ {
		for j := 0; j < 4; j++ {
			mean[j] += float64(xs[i*4+j]) / n
		}
	}
	for i := 0; i < d.rows(); i++ {
		for j := 0; j < 4; j++ {
			dv := float64(xs[i*4+j]) - mean[j]
			std[j] += dv * dv / (n - 1)
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j])
	}
	return mean, std
}

func (d *irisData) standardize(mean, std [4]float64) {
	xs := d.x.Float32s()
	for i := 0; i < d.rows(); i++ {
		for j := 0; j < 4; j++ {
			if std[j] > 0 {
				xs[i*4+j] = float32((float64(xs[i*4+j]) - mean[j]) / std[j])
			}
		}
	}
}

func (d *irisData) dataset() (keras.Dataset, error) {
	if d.rows() == 0 {
		return nil, errors.New("empty split: the file has too few rows for a 0.8/0.1/0.1 split")
	}
	return keras.NewTensorDataset(d.x, d.y)
}
