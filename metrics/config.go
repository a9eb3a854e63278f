package metrics

import (
	"fmt"
	"strings"
)

// ByName returns the metric Keras knows by name, named as asked (so "acc" logs as "acc", as in
// Keras): "accuracy"/"acc", "sparse_categorical_accuracy", "categorical_accuracy",
// "binary_accuracy" (threshold 0.5), "top_k_categorical_accuracy" and
// "sparse_top_k_categorical_accuracy" (k 5), "auc", "mean_absolute_error"/"mae",
// "mean_squared_error"/"mse".
func ByName(name string) (Metric, error) {
	var m Metric
	switch strings.ToLower(name) {
	case "accuracy", "acc":
		m = Accuracy()
	case "sparse_categorical_accuracy":
		m = SparseCategoricalAccuracy()
	case "categorical_accuracy":
		m = CategoricalAccuracy()
	case "binary_accuracy":
		m = BinaryAccuracy(0.5)
	case "top_k_categorical_accuracy":
		m = TopKCategoricalAccuracy(5)
	case "sparse_top_k_categorical_accuracy":
		m = SparseTopKCategoricalAccuracy(5)
	case "auc":
		m = AUC()
	case "mean_absolute_error", "mae":
		m = MeanAbsoluteError()
	case "mean_squared_error", "mse":
		m = MeanSquaredError()
	default:
		return nil, fmt.Errorf("metrics: unknown metric %q (want accuracy, sparse_categorical_accuracy, categorical_accuracy, binary_accuracy, top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, auc, mae or mse)", name)
	}
	rename(m, name)
	return m, nil
}

func rename(m Metric, name string) {
	switch x := m.(type) {
	case *accuracy:
		x.name = name
	case *auc:
		x.name = name
	case *meanError:
		x.name = name
	}
}
