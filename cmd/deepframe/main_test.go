package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"github.com/deepframe/deepframe/backend"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

// fixture saves a tiny classifier (4 inputs, 3 classes) and a regressor (2 inputs, 2 outputs,
// compiled with mean squared error) and writes input files next to them.
type fixture struct {
	dir, classifier, regressor, inference string
	model                                 *keras.Model
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dir: dir}
	clf := keras.Sequential(
		layers.Dense(5, layers.Activation("relu"), layers.InputShape(4), layers.Name("fc_1")),
		layers.Dense(3, layers.Activation("softmax"), layers.Name("fc_2")),
	)
	if err := clf.Compile(optim.SGD(0.01), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()); err != nil {
		t.Fatal(err)
	}
	f.model = clf
	f.classifier = filepath.Join(dir, "clf.dfm")
	if err := clf.Save(f.classifier, keras.WithMetadata(map[string]any{"dataset": "iris"}),
		keras.WithTrainingMetrics(map[string]float64{"val_accuracy": 0.93})); err != nil {
		t.Fatal(err)
	}
	f.inference = filepath.Join(dir, "clf-inference.dfm")
	if err := clf.Save(f.inference, keras.WithoutOptimizer()); err != nil {
		t.Fatal(err)
	}
	reg := keras.Sequential(layers.Dense(2, layers.InputShape(2), layers.Name("lin")))
	if err := reg.Compile(optim.SGD(0.01), losses.MeanSquaredError()); err != nil {
		t.Fatal(err)
	}
	f.regressor = filepath.Join(dir, "reg.dfm")
	if err := reg.Save(f.regressor); err != nil {
		t.Fatal(err)
	}
	f.write(t, "iris.csv", "sepal_len,sepal_wid,petal_len,petal_wid\n5.1,3.5,1.4,0.2\n6.7,3.1,4.4,1.4\n 6.3 , 3.3 ,6.0,2.5\n")
	f.write(t, "noheader.csv", "5.1,3.5,1.4,0.2\n6.7,3.1,4.4,1.4\n")
	f.write(t, "numheader.csv", "1,2,3,4\n5.1,3.5,1.4,0.2\n")
	f.write(t, "badvalue.csv", "a,b,c,d\n1,2,3,4\n1,2,x,4\n")
	f.write(t, "badcount.csv", "1,2,3,4\n1,2,3\n")
	f.write(t, "nan.csv", "1,2,3,4\n1,NaN,3,4\n")
	f.write(t, "empty.csv", "1,2,,4\n")
	f.write(t, "quote.csv", "1,2,3,4\n1,\"2,3\n")
	f.write(t, "two.csv", "x,y\n1,2\n3,4\n")
	f.write(t, "headeronly.csv", "a,b,c,d\n")
	f.write(t, "notabundle.dfm", "hello")
	return f
}

func (f *fixture) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) path(name string) string { return filepath.Join(f.dir, name) }

func runCLI(args ...string) (code int, stdout, stderr string) {
	return runCLIWithInput("", args...)
}

func runCLIWithInput(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommands(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     []string // substrings expected on stdout
		stderr     []string // substrings expected on stderr
		exactEmpty bool     // stdout must be empty
	}{
		{name: "no command", args: nil, code: 2, stderr: []string{"deepframe: no command given", "Usage: deepframe COMMAND"}},
		{name: "unknown command", args: []string{"train-me"}, code: 2, stderr: []string{`deepframe: unknown command "train-me"`, "Commands:"}},
		{name: "help", args: []string{"help"}, code: 0, stdout: []string{"Usage: deepframe COMMAND", "predict", "summary", "version"}},
		{name: "--help", args: []string{"--help"}, code: 0, stdout: []string{"Usage: deepframe COMMAND"}},
		{name: "help predict", args: []string{"help", "predict"}, code: 0, stdout: []string{"Usage: deepframe predict MODEL.dfm --input FILE.csv", "--batch-size N", "--header"}},
		{name: "help unknown", args: []string{"help", "nope"}, code: 2, stderr: []string{`unknown command "nope"`}},
		{name: "predict -h", args: []string{"predict", "-h"}, code: 0, stdout: []string{"Usage: deepframe predict"}},

		{name: "version", args: []string{"version"}, code: 0, stdout: []string{"deepframe  " + keras.FrameworkVersion, runtime.Version(), "backend    " + backend.Current().Name()}},
		{name: "version extra arg", args: []string{"version", "x"}, code: 2, stderr: []string{`deepframe version: unexpected argument "x"`, "Usage: deepframe version"}},

		{name: "summary", args: []string{"summary", f.classifier}, code: 0, stdout: []string{
			"fc_1", "fc_2", "Total params: 43", "Input:", "fc_1_input float32 (None, 4)", "Output:", "(None, 3)",
			"Parameters:  43 total, 43 trainable, 0 non-trainable", "Optimizer:", "SGD", "Loss:", "sparse_categorical_crossentropy",
			"Metrics:", "accuracy", "val_accuracy", "0.93", "dataset", "iris"}},
		{name: "summary inference bundle", args: []string{"summary", f.inference}, code: 0, stdout: []string{"Optimizer:   none"}},
		{name: "summary missing arg", args: []string{"summary"}, code: 2, stderr: []string{"deepframe summary: missing MODEL.dfm", "Usage: deepframe summary MODEL.dfm"}},
		{name: "summary two args", args: []string{"summary", "a", "b"}, code: 2, stderr: []string{`unexpected argument "b"`}},
		{name: "summary missing file", args: []string{"summary", f.path("nope.dfm")}, code: 1, stderr: []string{"deepframe: keras: load " + f.path("nope.dfm") + ": no such file"}, exactEmpty: true},
		{name: "summary not a bundle", args: []string{"summary", f.path("notabundle.dfm")}, code: 1, stderr: []string{"not a deepframe bundle"}},
		{name: "summary unknown flag", args: []string{"summary", "--fast", f.classifier}, code: 2, stderr: []string{"flag provided but not defined: -fast"}},

		{name: "predict with header", args: []string{"predict", f.classifier, "--input", f.path("iris.csv")}, code: 0, stdout: []string{"p0,p1,p2,prediction\n"}},
		{name: "predict flags first", args: []string{"predict", "--input", f.path("noheader.csv"), "--batch-size", "1", f.classifier}, code: 0, stdout: []string{"p0,p1,p2,prediction\n"}},
		{name: "predict missing input flag", args: []string{"predict", f.classifier}, code: 2, stderr: []string{"deepframe predict: --input is required", "Usage: deepframe predict"}},
		{name: "predict bad batch size", args: []string{"predict", f.classifier, "--input", f.path("iris.csv"), "--batch-size", "0"}, code: 2, stderr: []string{"--batch-size must be at least 1"}},
		{name: "predict non-integer batch size", args: []string{"predict", f.classifier, "--input", f.path("iris.csv"), "--batch-size", "many"}, code: 2, stderr: []string{`invalid value "many" for flag -batch-size`}},
		{name: "predict bad value", args: []string{"predict", f.classifier, "--input", f.path("badvalue.csv")}, code: 1, stderr: []string{`deepframe: ` + f.path("badvalue.csv") + `: line 3, column 3 ("c"): "x" is not a number`}},
		{name: "predict bad count", args: []string{"predict", f.classifier, "--input", f.path("badcount.csv")}, code: 1, stderr: []string{f.path("badcount.csv") + ": line 2: 3 values, but the model takes 4 per row (input shape (None, 4))"}, exactEmpty: true},
		{name: "predict header only", args: []string{"predict", f.classifier, "--input", f.path("headeronly.csv")}, code: 0, stdout: []string{"p0,p1,p2,prediction\n"}},
		{name: "predict NaN", args: []string{"predict", f.classifier, "--input", f.path("nan.csv")}, code: 1, stderr: []string{`line 2, column 2: "NaN" is not a finite float32 number`}},
		{name: "predict empty value", args: []string{"predict", f.classifier, "--input", f.path("empty.csv")}, code: 1, stderr: []string{"line 1, column 3: empty value"}},
		{name: "predict broken quote", args: []string{"predict", f.classifier, "--input", f.path("quote.csv")}, code: 1, stderr: []string{f.path("quote.csv") + ": line 2, character ", "in quoted-field"}},
		{name: "predict header forced", args: []string{"predict", f.classifier, "--input", f.path("numheader.csv"), "--header"}, code: 0},
		{name: "predict wrong width for model", args: []string{"predict", f.classifier, "--input", f.path("two.csv")}, code: 1, stderr: []string{"line 1: the header has 2 columns (x,y), but the model takes 4 values per row (input shape (None, 4))"}, exactEmpty: true},
		{name: "predict missing input file", args: []string{"predict", f.classifier, "--input", f.path("nope.csv")}, code: 1, stderr: []string{"no such file"}},
		{name: "predict regressor", args: []string{"predict", f.regressor, "--input", f.path("two.csv")}, code: 0, stdout: []string{"p0,p1\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if tc.exactEmpty && stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
			if tc.code == 0 && stderr != "" {
				t.Errorf("stderr not empty on success: %q", stderr)
			}
			if tc.code == 1 && !strings.HasPrefix(stderr, "deepframe: ") {
				t.Errorf("failure message %q does not start with \"deepframe: \"", stderr)
			}
		})
	}
}

// TestPredictValues checks the CSV against Predict on the same rows, including the argmax
// column, and that --batch-size does not change the results.
func TestPredictValues(t *testing.T) {
	f := newFixture(t)
	rows := [][]float32{{5.1, 3.5, 1.4, 0.2}, {6.7, 3.1, 4.4, 1.4}, {6.3, 3.3, 6.0, 2.5}}
	x := tensor.Zeros(3, 4)
	for i, r := range rows {
		copy(x.Float32s()[4*i:], r)
	}
	want, err := f.model.Predict(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	var outputs []string
	for _, bs := range []string{"1", "2", "256"} {
		out := f.path("pred-" + bs + ".csv")
		code, stdout, stderr := runCLI("predict", f.classifier, "--input", f.path("iris.csv"), "--output", out, "--batch-size", bs)
		if code != 0 || stdout != "" || stderr != "" {
			t.Fatalf("batch size %s: exit %d, stdout %q, stderr %q", bs, code, stdout, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(b))
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 4 || strings.Join(recs[0], ",") != "p0,p1,p2,prediction" {
			t.Fatalf("output:\n%s", b)
		}
		for i := 0; i < 3; i++ {
			best := 0
			for j := 0; j < 3; j++ {
				v, err := strconv.ParseFloat(recs[i+1][j], 32)
				if err != nil {
					t.Fatal(err)
				}
				if float32(v) != want.Float32s()[3*i+j] {
					t.Errorf("row %d p%d = %v, Predict gives %v", i, j, v, want.Float32s()[3*i+j])
				}
				if want.Float32s()[3*i+j] > want.Float32s()[3*i+best] {
					best = j
				}
			}
			if recs[i+1][3] != strconv.Itoa(best) {
				t.Errorf("row %d prediction %s, want %d", i, recs[i+1][3], best)
			}
		}
	}
	if outputs[0] != outputs[1] || outputs[1] != outputs[2] {
		t.Error("batch size changed the predictions")
	}
}

// Rows can come from standard input, with a spreadsheet's byte order mark in front.
func TestPredictStdin(t *testing.T) {
	f := newFixture(t)
	code, stdout, stderr := runCLIWithInput("\uFEFF5.1,3.5,1.4,0.2\n6.7,3.1,4.4,1.4\n", "predict", f.classifier, "--input", "-")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); len(lines) != 3 || lines[0] != "p0,p1,p2,prediction" {
		t.Errorf("output:\n%s", stdout)
	}
}

// A failed predict leaves an existing output file as it was and no temporary file behind.
func TestPredictFailureKeepsOutput(t *testing.T) {
	f := newFixture(t)
	out := f.path("out.csv")
	f.write(t, "out.csv", "precious\n")
	before, _ := os.ReadDir(f.dir)
	code, _, stderr := runCLI("predict", f.classifier, "--input", f.path("badvalue.csv"), "--output", out)
	if code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "precious\n" {
		t.Errorf("output file now holds %q", b)
	}
	if after, _ := os.ReadDir(f.dir); len(after) != len(before) {
		t.Errorf("files before %d, after %d", len(before), len(after))
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 10903: "10,903", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
