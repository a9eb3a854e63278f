// Package losses holds the training objectives: cross-entropies (from probabilities or from
// logits), mean squared and absolute error, and Huber.
package losses

import (
	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// Loss scores predictions against targets.
type Loss interface {
	// Name is the Keras name, e.g. "sparse_categorical_crossentropy".
	Name() string
	// Compute returns the mean loss over the batch as a scalar Variable (Keras's default
	// "sum_over_batch_size" reduction). yTrue has the batch axis first.
	Compute(yTrue *tensor.Tensor, yPred *autograd.Variable) *autograd.Variable
	// Config describes the loss for a saved model; FromConfig rebuilds it.
	Config() Config
}

// Config is the saved form of a loss.
type Config struct {
	ClassName string         `json:"class_name"`
	Config    map[string]any `json:"config,omitempty"`
}
