// Package optim holds optimizers (SGD, Adam, AdamW, Adadelta, Adagrad, RMSprop) with their
// per-parameter state, gradient clipping, and learning-rate schedules.
package optim

import (
	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// Optimizer updates parameters from their accumulated gradients.
type Optimizer interface {
	// Step applies one update to every parameter that has a gradient, then counts one
	// iteration. params must come in the same order on every call; state is keyed by each
	// variable's Name.
	Step(params []*autograd.Variable) error
	// LearningRate is the rate the next Step uses, after any schedule.
	LearningRate() float64
	// SetLearningRate sets the base rate that schedules scale (ReduceLROnPlateau and the
	// LearningRateScheduler callback use it).
	SetLearningRate(lr float64)
	// Iterations is the number of Steps taken.
	Iterations() int64
	// SetEpoch tells epoch-based schedules which epoch (0-based) is starting.
	SetEpoch(epoch int)
	// Config describes the optimizer for a saved model; FromConfig rebuilds it.
	Config() Config
	// State returns the optimizer's slots (e.g. "fc_1/kernel/m") and counters, so training can
	// resume exactly after a save and load.
	State() map[string]*tensor.Tensor
	// LoadState restores what State returned.
	LoadState(state map[string]*tensor.Tensor) error
}

// Config is the saved form of an optimizer or schedule.
type Config struct {
	ClassName string         `json:"class_name"`
	Config    map[string]any `json:"config,omitempty"`
}
