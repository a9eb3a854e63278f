// Package metrics holds streaming validation metrics: accuracy (sparse, categorical, binary),
// top-k accuracy, AUC-ROC, mean absolute error, and the running mean used for losses.
package metrics

import "github.com/deepframe/deepframe/tensor"

// Metric accumulates a score over batches.
type Metric interface {
	// Name is the key in training history and logs, e.g. "accuracy".
	Name() string
	// Reset forgets all batches seen.
	Reset()
	// Update adds a batch. yTrue and yPred have the batch axis first.
	Update(yTrue, yPred *tensor.Tensor) error
	// Result is the score over all batches since Reset.
	Result() float64
}
