package evaluation

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// RegressionEvaluator scores numeric predictions against labels with Spark's RegressionMetrics
// definitions: mse = mean squared error, rmse = its square root, mae = mean absolute error,
// r2 = 1 - SSerr/SStot with SStot the labels' sum of squared deviations from their mean. The
// default metric is rmse, as in Spark.
type RegressionEvaluator struct {
	uid           string
	params        *ml.Params
	labelCol      *ml.Param[string]
	predictionCol *ml.Param[string]
	metricName    *ml.Param[string]
}

// NewRegressionEvaluator returns an evaluator of rmse on columns "label" and "prediction".
func NewRegressionEvaluator() *RegressionEvaluator {
	return newRegression(ml.NewUID("RegressionEvaluator"))
}

func newRegression(uid string) *RegressionEvaluator {
	ps := ml.NewParams(uid)
	return &RegressionEvaluator{
		uid:           uid,
		params:        ps,
		labelCol:      ml.NewParam(ps, "labelCol", "true value column", "label", ml.NonEmpty),
		predictionCol: ml.NewParam(ps, "predictionCol", "predicted value column", "prediction", ml.NonEmpty),
		metricName: ml.NewParam(ps, "metricName", "metric: rmse, mse, mae or r2", "rmse",
			ml.OneOf("rmse", "mse", "mae", "r2")),
	}
}

func (e *RegressionEvaluator) UID() string        { return e.uid }
func (e *RegressionEvaluator) ClassName() string  { return "RegressionEvaluator" }
func (e *RegressionEvaluator) Params() *ml.Params { return e.params }

// SetLabelCol sets the true value column.
func (e *RegressionEvaluator) SetLabelCol(c string) *RegressionEvaluator { e.labelCol.Set(c); return e }

// SetPredictionCol sets the predicted value column.
func (e *RegressionEvaluator) SetPredictionCol(c string) *RegressionEvaluator {
	e.predictionCol.Set(c)
	return e
}

// SetMetricName sets "rmse", "mse", "mae" or "r2".
func (e *RegressionEvaluator) SetMetricName(m string) *RegressionEvaluator {
	e.metricName.Set(m)
	return e
}

// IsLargerBetter is true for r2 only.
func (e *RegressionEvaluator) IsLargerBetter() bool { return e.metricName.Get() == "r2" }

// Evaluate computes the metric.
func (e *RegressionEvaluator) Evaluate(ctx context.Context, df *frame.DataFrame) (float64, error) {
	if err := e.params.Validate(); err != nil {
		return 0, err
	}
	names := [2]string{e.labelCol.Get(), e.predictionCol.Get()}
	var idx [2]int
	var err error
	if idx[0], err = numericColumn(df, e.uid, names[0], "label"); err != nil {
		return 0, err
	}
	if idx[1], err = numericColumn(df, e.uid, names[1], "prediction"); err != nil {
		return 0, err
	}
	var count, sqErr, absErr, mean, m2 float64
	_, err = scanPairs(ctx, df, e.uid, names, idx, -1, func(l, p float64) {
		count++
		d := p - l
		sqErr += d * d
		absErr += math.Abs(d)
		// Welford's update for the labels' spread.
		dm := l - mean
		mean += dm / count
		m2 += dm * (l - mean)
	})
	if err != nil {
		return 0, err
	}
	if count == 0 {
		return 0, fmt.Errorf("%s: no rows to evaluate", e.uid)
	}
	switch e.metricName.Get() {
	case "mse":
		return sqErr / count, nil
	case "mae":
		return absErr / count, nil
	case "r2":
		return 1 - sqErr/m2, nil
	}
	return math.Sqrt(sqErr / count), nil
}

func init() {
	ml.Register("RegressionEvaluator", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		e := newRegression(uid)
		if err := e.params.Load(params); err != nil {
			return nil, err
		}
		return e, nil
	})
}
