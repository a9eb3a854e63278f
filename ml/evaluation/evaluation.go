// Package evaluation scores a frame of predictions the way Spark ML's evaluators do:
// MulticlassClassificationEvaluator (accuracy, weighted f1, precision and recall, and the
// confusion matrix), BinaryClassificationEvaluator (areas under the ROC and precision-recall
// curves) and RegressionEvaluator (rmse, mse, mae, r2).
//
// Metrics follow Spark's definitions. Two differences are deliberate: every row counts with
// weight 1 (there is no weightCol), and a null or NaN label or prediction is an error naming
// the column and row rather than a NaN result or a silently dropped row.
package evaluation

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// Evaluator computes one metric from a frame of predictions.
type Evaluator interface {
	ml.Stage
	Evaluate(ctx context.Context, df *frame.DataFrame) (float64, error)
	// IsLargerBetter says whether a larger value of the metric is better, for model selection.
	IsLargerBetter() bool
}

// column finds name in df, with frame's error listing the columns when it is missing.
func column(df *frame.DataFrame, name string) (int, arrow.DataType, error) {
	idx := df.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return 0, nil, &frame.ColumnError{Name: name, Columns: df.Columns()}
	}
	return idx[0], df.Schema().Field(idx[0]).Type, nil
}

func numericColumn(df *frame.DataFrame, uid, name, role string) (int, error) {
	j, t, err := column(df, name)
	if err != nil {
		return 0, err
	}
	if !frame.IsNumeric(t) {
		return 0, fmt.Errorf("%s: %s column %q is %s; want a numeric column", uid, role, name, t)
	}
	return j, nil
}

// scanPairs calls fn with every row's two values, read as float64; nulls and NaN are errors.
// b may be a vector column, read at element vecIndex.
func scanPairs(ctx context.Context, df *frame.DataFrame, uid string, names [2]string, idx [2]int, vecIndex int, fn func(a, b float64)) (int64, error) {
	var row int64
	err := df.Iterate(ctx, func(rec arrow.RecordBatch) error {
		var vals [2][]float64
		width := 0
		for k := 0; k < 2; k++ {
			col := rec.Column(idx[k])
			if k == 1 && vecIndex >= 0 {
				v, n, err := frame.VectorValues(col)
				if err != nil {
					return err
				}
				vals[k], width = v, n
			} else {
				v, err := frame.ToFloat64(nil, col)
				if err != nil {
					return err
				}
				vals[k] = v
			}
			if col.NullN() > 0 {
				for r := 0; r < col.Len(); r++ {
					if col.IsNull(r) {
						return fmt.Errorf("%s: column %q is null in row %d", uid, names[k], row+int64(r))
					}
				}
			}
		}
		n := int(rec.NumRows())
		for r := 0; r < n; r++ {
			a := vals[0][r]
			b := 0.0
			if vecIndex >= 0 {
				b = vals[1][r*width+vecIndex]
			} else {
				b = vals[1][r]
			}
			if math.IsNaN(a) {
				return fmt.Errorf("%s: column %q is NaN in row %d", uid, names[0], row+int64(r))
			}
			if math.IsNaN(b) {
				return fmt.Errorf("%s: column %q is NaN in row %d", uid, names[1], row+int64(r))
			}
			fn(a, b)
		}
		row += int64(n)
		return nil
	})
	return row, err
}
