package evaluation

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

var bg = context.Background()

func mustFrame(t *testing.T, cols ...frame.Column) *frame.DataFrame {
	t.Helper()
	df, err := frame.FromColumns(cols...)
	if err != nil {
		t.Fatal(err)
	}
	return df
}

func wantErr(t *testing.T, what string, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %q does not mention %q", what, err, f)
		}
	}
}

func TestMulticlass(t *testing.T) {
	// Per label: 0 has precision 1/2, recall 1/2, f1 1/2; 1 has 2/3, 1, 4/5; 2 has 1, 1/2,
	// 2/3. Each label is a third of the rows.
	df := mustFrame(t,
		frame.Col("label", []int64{0, 0, 1, 1, 2, 2}),
		frame.Col("prediction", []float64{0, 1, 1, 1, 2, 0}),
	)
	cases := []struct {
		metric string
		want   float64
	}{
		{"accuracy", 4.0 / 6},
		{"weightedPrecision", (0.5 + 2.0/3 + 1) / 3},
		{"weightedRecall", (0.5 + 1 + 0.5) / 3},
		{"f1", (0.5 + 0.8 + 2.0/3) / 3},
	}
	for _, c := range cases {
		e := NewMulticlassClassificationEvaluator().SetMetricName(c.metric)
		got, err := e.Evaluate(bg, df)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", c.metric, got, c.want)
		}
		if !e.IsLargerBetter() {
			t.Errorf("%s: IsLargerBetter false", c.metric)
		}
	}
	if got, _ := NewMulticlassClassificationEvaluator().Evaluate(bg, df); math.Abs(got-(0.5+0.8+2.0/3)/3) > 1e-12 {
		t.Errorf("default metric %v, want f1", got)
	}
	m, labels, err := NewMulticlassClassificationEvaluator().ConfusionMatrix(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(m, labels) != "[[1 1 0] [0 2 0] [1 0 1]] [0 1 2]" {
		t.Errorf("confusion matrix %v labels %v", m, labels)
	}
}

func TestMulticlassPredictionOutsideLabels(t *testing.T) {
	// Label 1 is never predicted (precision 0 by Spark's convention); class 7 is predicted but
	// is no label, so it adds to no weight, only to the matrix.
	df := mustFrame(t, frame.Col("y", []float64{0, 0, 1, 1}), frame.Col("p", []float64{0, 0, 7, 0}))
	e := NewMulticlassClassificationEvaluator().SetLabelCol("y").SetPredictionCol("p")
	cases := map[string]float64{
		"accuracy":          0.5,
		"weightedPrecision": 0.5*(2.0/3) + 0.5*0,
		"weightedRecall":    0.5*1 + 0.5*0,
		"f1":                0.5 * 0.8,
	}
	for metric, want := range cases {
		got, err := e.SetMetricName(metric).Evaluate(bg, df)
		if err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("%s = %v (%v), want %v", metric, got, err, want)
		}
	}
	m, labels, _ := e.ConfusionMatrix(bg, df)
	if fmt.Sprint(m, labels) != "[[2 0 0] [1 0 1] [0 0 0]] [0 1 7]" {
		t.Errorf("matrix %v labels %v", m, labels)
	}
}

func TestBinaryAUCWithTies(t *testing.T) {
	// Scores 0.8 and 0.5 each hold a positive and a negative. ROC points: (0,0), (0,1/3),
	// (1/3,2/3), (2/3,1), (1,1): area 7/9, the share of positive-negative pairs ranked right
	// with ties counting half. PR points: (0,1), (1/3,1), (2/3,2/3), (1,3/5), (1,1/2): area
	// 1/3 + 5/18 + 19/90 = 37/45.
	labels := []float64{1, 1, 0, 0, 1, 0}
	scores := []float64{0.9, 0.8, 0.8, 0.5, 0.5, 0.3}
	vecs := make([][]float64, len(scores))
	for i, s := range scores {
		vecs[i] = []float64{1 - s, s}
	}
	df := mustFrame(t, frame.Col("label", labels), frame.Col("score", scores), frame.Col("rawPrediction", vecs))
	for _, col := range []string{"score", "rawPrediction"} {
		for metric, want := range map[string]float64{"areaUnderROC": 7.0 / 9, "areaUnderPR": 37.0 / 45} {
			e := NewBinaryClassificationEvaluator().SetRawPredictionCol(col).SetMetricName(metric)
			got, err := e.Evaluate(bg, df)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-want) > 1e-12 {
				t.Errorf("%s on %s = %v, want %v", metric, col, got, want)
			}
		}
	}
	// All scores tied: one threshold, the chance diagonal.
	tied := mustFrame(t, frame.Col("label", []float64{1, 0, 1, 0}), frame.Col("rawPrediction", []float64{0.5, 0.5, 0.5, 0.5}))
	if got, _ := NewBinaryClassificationEvaluator().Evaluate(bg, tied); got != 0.5 {
		t.Errorf("all tied: AUC %v, want 0.5", got)
	}
	perfect := mustFrame(t, frame.Col("label", []float64{1, 1, 0}), frame.Col("rawPrediction", []float64{0.9, 0.7, 0.1}))
	for metric := range map[string]bool{"areaUnderROC": true, "areaUnderPR": true} {
		if got, _ := NewBinaryClassificationEvaluator().SetMetricName(metric).Evaluate(bg, perfect); got != 1 {
			t.Errorf("perfect ranking: %s %v, want 1", metric, got)
		}
	}
}

func TestRegression(t *testing.T) {
	// Errors 0.5, 0, -1, 1; labels' mean 2.5 and squared deviations 5.
	df := mustFrame(t, frame.Col("label", []float64{1, 2, 3, 4}), frame.Col("prediction", []float32{1.5, 2, 2, 5}))
	cases := []struct {
		metric string
		want   float64
		larger bool
	}{
		{"mse", 2.25 / 4, false},
		{"rmse", 0.75, false},
		{"mae", 2.5 / 4, false},
		{"r2", 1 - 2.25/5, true},
	}
	for _, c := range cases {
		e := NewRegressionEvaluator().SetMetricName(c.metric)
		got, err := e.Evaluate(bg, df)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", c.metric, got, c.want)
		}
		if e.IsLargerBetter() != c.larger {
			t.Errorf("%s: IsLargerBetter %v", c.metric, e.IsLargerBetter())
		}
	}
}

func TestEvaluatorErrors(t *testing.T) {
	b := array.NewFloat64Builder(memory.DefaultAllocator)
	b.AppendValues([]float64{1, 0}, []bool{true, false})
	nullLabels := b.NewArray()
	b.Release()
	df := mustFrame(t, frame.Col("label", nullLabels), frame.Col("prediction", []float64{1, 0}),
		frame.Col("s", []string{"a", "b"}), frame.Col("v1", [][]float64{{1}, {2}}))
	nanPred := mustFrame(t, frame.Col("label", []float64{1, 0}), frame.Col("prediction", []float64{1, math.NaN()}))
	empty := mustFrame(t, frame.Col("label", []float64{}), frame.Col("prediction", []float64{}))
	cases := []struct {
		name  string
		e     Evaluator
		df    *frame.DataFrame
		wants []string
	}{
		{"unknown column", NewRegressionEvaluator().SetPredictionCol("pred"), df, []string{`no column "pred"`, "columns: label, prediction, s, v1"}},
		{"null label", NewMulticlassClassificationEvaluator(), df, []string{`column "label" is null in row 1`}},
		{"NaN prediction", NewRegressionEvaluator(), nanPred, []string{`column "prediction" is NaN in row 1`}},
		{"string column", NewMulticlassClassificationEvaluator().SetPredictionCol("s"), df, []string{`prediction column "s" is utf8`}},
		{"short vector", NewBinaryClassificationEvaluator().SetRawPredictionCol("v1"), df, []string{"vectors of 1 values", "at least 2"}},
		{"bad metric", NewMulticlassClassificationEvaluator().SetMetricName("auc"), df, []string{"param metricName = auc", "f1 accuracy weightedPrecision weightedRecall"}},
		{"bad binary metric", NewBinaryClassificationEvaluator().SetMetricName("accuracy"), df, []string{"param metricName", "areaUnderROC areaUnderPR"}},
		{"empty", NewRegressionEvaluator(), empty, []string{"no rows"}},
	}
	for _, c := range cases {
		_, err := c.e.Evaluate(bg, c.df)
		wantErr(t, c.name, err, c.wants...)
	}
}

func TestEvaluatorsSaveLoad(t *testing.T) {
	for _, e := range []Evaluator{
		NewMulticlassClassificationEvaluator().SetMetricName("accuracy").SetLabelCol("y"),
		NewBinaryClassificationEvaluator().SetMetricName("areaUnderPR"),
		NewRegressionEvaluator().SetMetricName("r2"),
	} {
		path := filepath.Join(t.TempDir(), "e.zip")
		if err := ml.Save(e, path); err != nil {
			t.Fatal(err)
		}
		s, err := ml.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(e.Params())
		b, _ := json.Marshal(s.Params())
		if s.ClassName() != e.ClassName() || string(a) != string(b) {
			t.Errorf("loaded %s %s, want %s %s", s.ClassName(), b, e.ClassName(), a)
		}
	}
}
