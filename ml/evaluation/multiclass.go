package evaluation

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// MulticlassClassificationEvaluator scores predicted class labels against true ones, with
// Spark's MulticlassMetrics definitions. The classes are the distinct true labels; each
// weighted metric sums a per-class value times the class's share of the rows: precision
// tp/(tp+fp), recall tp/(tp+fn), f1 their harmonic mean (each 0 when undefined). accuracy is
// the share of rows predicted right. The default metric is f1, as in Spark.
type MulticlassClassificationEvaluator struct {
	uid           string
	params        *ml.Params
	labelCol      *ml.Param[string]
	predictionCol *ml.Param[string]
	metricName    *ml.Param[string]
}

// NewMulticlassClassificationEvaluator returns an evaluator of f1 on columns "label" and
// "prediction".
func NewMulticlassClassificationEvaluator() *MulticlassClassificationEvaluator {
	return newMulticlass(ml.NewUID("MulticlassClassificationEvaluator"))
}

func newMulticlass(uid string) *MulticlassClassificationEvaluator {
	ps := ml.NewParams(uid)
	return &MulticlassClassificationEvaluator{
		uid:           uid,
		params:        ps,
		labelCol:      ml.NewParam(ps, "labelCol", "true label column", "label", ml.NonEmpty),
		predictionCol: ml.NewParam(ps, "predictionCol", "predicted label column", "prediction", ml.NonEmpty),
		metricName: ml.NewParam(ps, "metricName", "metric: f1, accuracy, weightedPrecision or weightedRecall", "f1",
			ml.OneOf("f1", "accuracy", "weightedPrecision", "weightedRecall")),
	}
}

func (e *MulticlassClassificationEvaluator) UID() string { return e.uid }
func (e *MulticlassClassificationEvaluator) ClassName() string {
	return "MulticlassClassificationEvaluator"
}
func (e *MulticlassClassificationEvaluator) Params() *ml.Params { return e.params }

// SetLabelCol sets the true label column.
func (e *MulticlassClassificationEvaluator) SetLabelCol(c string) *MulticlassClassificationEvaluator {
	e.labelCol.Set(c)
	return e
}

// SetPredictionCol sets the predicted label column.
func (e *MulticlassClassificationEvaluator) SetPredictionCol(c string) *MulticlassClassificationEvaluator {
	e.predictionCol.Set(c)
	return e
}

// SetMetricName sets the metric: "f1", "accuracy", "weightedPrecision" or "weightedRecall".
func (e *MulticlassClassificationEvaluator) SetMetricName(m string) *MulticlassClassificationEvaluator {
	e.metricName.Set(m)
	return e
}

// IsLargerBetter is true: every metric offered is better when larger.
func (e *MulticlassClassificationEvaluator) IsLargerBetter() bool { return true }

// counts returns pair counts keyed by (label, prediction).
func (e *MulticlassClassificationEvaluator) counts(ctx context.Context, df *frame.DataFrame) (map[[2]float64]int64, int64, error) {
	if err := e.params.Validate(); err != nil {
		return nil, 0, err
	}
	names := [2]string{e.labelCol.Get(), e.predictionCol.Get()}
	var idx [2]int
	var err error
	if idx[0], err = numericColumn(df, e.uid, names[0], "label"); err != nil {
		return nil, 0, err
	}
	if idx[1], err = numericColumn(df, e.uid, names[1], "prediction"); err != nil {
		return nil, 0, err
	}
	pairs := map[[2]float64]int64{}
	n, err := scanPairs(ctx, df, e.uid, names, idx, -1, func(l, p float64) {
		// -0 and +0 are one class.
		pairs[[2]float64{l + 0, p + 0}]++
	})
	if err != nil {
		return nil, 0, err
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("%s: no rows to evaluate", e.uid)
	}
	return pairs, n, nil
}

// Evaluate computes the metric.
func (e *MulticlassClassificationEvaluator) Evaluate(ctx context.Context, df *frame.DataFrame) (float64, error) {
	pairs, n, err := e.counts(ctx, df)
	if err != nil {
		return 0, err
	}
	labelCount := map[float64]int64{} // rows per true label
	tp := map[float64]int64{}         // by label
	fp := map[float64]int64{}         // by predicted label
	var correct int64
	for k, c := range pairs {
		l, p := k[0], k[1]
		labelCount[l] += c
		if l == p {
			tp[l] += c
			correct += c
		} else {
			fp[p] += c
		}
	}
	total := float64(n)
	if e.metricName.Get() == "accuracy" {
		return float64(correct) / total, nil
	}
	var sum float64
	for l, c := range labelCount {
		t := float64(tp[l])
		precision, recall := 0.0, t/float64(c)
		if d := t + float64(fp[l]); d > 0 {
			precision = t / d
		}
		var v float64
		switch e.metricName.Get() {
		case "weightedPrecision":
			v = precision
		case "weightedRecall":
			v = recall
		default:
			if precision+recall > 0 {
				v = 2 * precision * recall / (precision + recall)
			}
		}
		sum += v * float64(c) / total
	}
	return sum, nil
}

// ConfusionMatrix counts rows by true label (matrix row) and predicted label (column). The
// labels, sorted ascending, are every value that occurs as a label or a prediction, so no row
// is left out (Spark's matrix covers the true labels only).
func (e *MulticlassClassificationEvaluator) ConfusionMatrix(ctx context.Context, df *frame.DataFrame) ([][]int64, []float64, error) {
	pairs, _, err := e.counts(ctx, df)
	if err != nil {
		return nil, nil, err
	}
	pos := map[float64]int{}
	for k := range pairs {
		pos[k[0]], pos[k[1]] = 0, 0
	}
	labels := make([]float64, 0, len(pos))
	for l := range pos {
		labels = append(labels, l)
	}
	sort.Float64s(labels)
	for i, l := range labels {
		pos[l] = i
	}
	m := make([][]int64, len(labels))
	for i := range m {
		m[i] = make([]int64, len(labels))
	}
	for k, c := range pairs {
		m[pos[k[0]]][pos[k[1]]] += c
	}
	return m, labels, nil
}

func init() {
	ml.Register("MulticlassClassificationEvaluator", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		e := newMulticlass(uid)
		if err := e.params.Load(params); err != nil {
			return nil, err
		}
		return e, nil
	})
}
