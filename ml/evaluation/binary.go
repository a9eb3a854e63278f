package evaluation

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// BinaryClassificationEvaluator computes the area under the ROC curve or the precision-recall
// curve of scores against 0/1 labels, with Spark's BinaryClassificationMetrics definitions: a
// label above 0.5 is positive; rows with equal scores form one threshold (so ties give one
// point, not an arbitrary order); the ROC curve runs from (0, 0) to (1, 1) through
// (FPR, TPR) at each threshold, the PR curve from (0, precision at the highest threshold)
// through (recall, precision); areas are trapezoidal. The curves are exact: there is no
// down-sampling into bins (Spark's numBins = 0).
//
// rawPredictionCol is a numeric column of scores or a vector column (raw predictions or
// probabilities) whose element 1, the positive class, is the score.
type BinaryClassificationEvaluator struct {
	uid              string
	params           *ml.Params
	labelCol         *ml.Param[string]
	rawPredictionCol *ml.Param[string]
	metricName       *ml.Param[string]
}

// NewBinaryClassificationEvaluator returns an evaluator of areaUnderROC on columns "label" and
// "rawPrediction".
func NewBinaryClassificationEvaluator() *BinaryClassificationEvaluator {
	return newBinary(ml.NewUID("BinaryClassificationEvaluator"))
}

func newBinary(uid string) *BinaryClassificationEvaluator {
	ps := ml.NewParams(uid)
	return &BinaryClassificationEvaluator{
		uid:              uid,
		params:           ps,
		labelCol:         ml.NewParam(ps, "labelCol", "true label column (0 or 1)", "label", ml.NonEmpty),
		rawPredictionCol: ml.NewParam(ps, "rawPredictionCol", "score column, or vector column whose element 1 is the score", "rawPrediction", ml.NonEmpty),
		metricName: ml.NewParam(ps, "metricName", "metric: areaUnderROC or areaUnderPR", "areaUnderROC",
			ml.OneOf("areaUnderROC", "areaUnderPR")),
	}
}

func (e *BinaryClassificationEvaluator) UID() string        { return e.uid }
func (e *BinaryClassificationEvaluator) ClassName() string  { return "BinaryClassificationEvaluator" }
func (e *BinaryClassificationEvaluator) Params() *ml.Params { return e.params }

// SetLabelCol sets the label column.
func (e *BinaryClassificationEvaluator) SetLabelCol(c string) *BinaryClassificationEvaluator {
	e.labelCol.Set(c)
	return e
}

// SetRawPredictionCol sets the score column.
func (e *BinaryClassificationEvaluator) SetRawPredictionCol(c string) *BinaryClassificationEvaluator {
	e.rawPredictionCol.Set(c)
	return e
}

// SetMetricName sets "areaUnderROC" or "areaUnderPR".
func (e *BinaryClassificationEvaluator) SetMetricName(m string) *BinaryClassificationEvaluator {
	e.metricName.Set(m)
	return e
}

// IsLargerBetter is true for both areas.
func (e *BinaryClassificationEvaluator) IsLargerBetter() bool { return true }

// Evaluate computes the area.
func (e *BinaryClassificationEvaluator) Evaluate(ctx context.Context, df *frame.DataFrame) (float64, error) {
	if err := e.params.Validate(); err != nil {
		return 0, err
	}
	names := [2]string{e.labelCol.Get(), e.rawPredictionCol.Get()}
	var idx [2]int
	var err error
	if idx[0], err = numericColumn(df, e.uid, names[0], "label"); err != nil {
		return 0, err
	}
	j, t, err := column(df, names[1])
	if err != nil {
		return 0, err
	}
	idx[1] = j
	vecIndex := -1
	if n, ok := frame.IsVector(t); ok {
		if n < 2 {
			return 0, fmt.Errorf("%s: rawPrediction column %q holds vectors of %d values; want at least 2 (element 1 is the positive class)", e.uid, names[1], n)
		}
		vecIndex = 1
	} else if !frame.IsNumeric(t) {
		return 0, fmt.Errorf("%s: rawPrediction column %q is %s; want a numeric or vector column", e.uid, names[1], t)
	}
	type point struct {
		score float64
		pos   bool
	}
	var pts []point
	n, err := scanPairs(ctx, df, e.uid, names, idx, vecIndex, func(label, score float64) {
		pts = append(pts, point{score, label > 0.5})
	})
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("%s: no rows to evaluate", e.uid)
	}
	sort.Slice(pts, func(a, b int) bool { return pts[a].score > pts[b].score })
	var P, N float64
	for _, p := range pts {
		if p.pos {
			P++
		} else {
			N++
		}
	}
	rate := func(x, total float64) float64 {
		if total == 0 {
			return 0
		}
		return x / total
	}
	// One curve point per distinct score, after all rows with that score count as positive.
	var xs, ys []float64
	roc := e.metricName.Get() == "areaUnderROC"
	if roc {
		xs, ys = append(xs, 0), append(ys, 0)
	}
	var tp, fp float64
	for i := 0; i < len(pts); {
		s := pts[i].score
		for ; i < len(pts) && pts[i].score == s; i++ {
			if pts[i].pos {
				tp++
			} else {
				fp++
			}
		}
		if roc {
			xs, ys = append(xs, rate(fp, N)), append(ys, rate(tp, P))
		} else {
			if len(xs) == 0 {
				xs, ys = append(xs, 0), append(ys, tp/(tp+fp))
			}
			xs, ys = append(xs, rate(tp, P)), append(ys, tp/(tp+fp))
		}
	}
	if roc {
		xs, ys = append(xs, 1), append(ys, 1)
	}
	var area float64
	for i := 1; i < len(xs); i++ {
		area += (xs[i] - xs[i-1]) * (ys[i] + ys[i-1]) / 2
	}
	return area, nil
}

func init() {
	ml.Register("BinaryClassificationEvaluator", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		e := newBinary(uid)
		if err := e.params.Load(params); err != nil {
			return nil, err
		}
		return e, nil
	})
}
