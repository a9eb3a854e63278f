package keras

import (
	"errors"
	"fmt"

	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/optim"
)

type compiled struct {
	opt     optim.Optimizer
	loss    losses.Loss
	metrics []metrics.Metric
	// logitsLoss is loss computed from logits (losses.LogitsTwin), or nil: training applies
	// it to the logits of softmax outputs, fusing softmax and cross-entropy.
	logitsLoss losses.Loss
}

// Compile sets how the model trains: the optimizer, the loss and the metrics Fit and Evaluate
// report. A model with several outputs applies the loss to each output and trains on their
// sum (history also keeps each output's loss as "<output layer>_loss"); metrics score the
// first output. Compiling again replaces the previous settings (the weights stay).
//
// A loaded model is given its training state back by calling Compile with the optimizer, loss
// and metrics rebuilt from its CompileConfig, then restoring the optimizer's state.
func (m *Model) Compile(opt optim.Optimizer, loss losses.Loss, ms ...metrics.Metric) error {
	if _, err := m.ready(); err != nil {
		return err
	}
	if opt == nil {
		return fmt.Errorf("keras: Compile model %q: nil optimizer", m.name)
	}
	if err := optim.Err(opt); err != nil {
		return fmt.Errorf("keras: Compile model %q: %w", m.name, err)
	}
	if loss == nil {
		return fmt.Errorf("keras: Compile model %q: nil loss", m.name)
	}
	if err := losses.Err(loss); err != nil {
		return fmt.Errorf("keras: Compile model %q: %w", m.name, err)
	}
	seen := map[string]bool{"loss": true}
	for i, mt := range ms {
		if mt == nil {
			return fmt.Errorf("keras: Compile model %q: metric %d is nil", m.name, i)
		}
		if err := metrics.Err(mt); err != nil {
			return fmt.Errorf("keras: Compile model %q: metric %s: %w", m.name, mt.Name(), err)
		}
		if seen[mt.Name()] {
			return fmt.Errorf("keras: Compile model %q: two metrics are named %q; history keys must be unique", m.name, mt.Name())
		}
		seen[mt.Name()] = true
	}
	if m.running.Load() {
		return errors.New("keras: Compile called while Fit is running")
	}
	m.mu.Lock()
	m.compiled = &compiled{opt: opt, loss: loss, metrics: append([]metrics.Metric(nil), ms...)}
	if twin, ok := losses.LogitsTwin(loss); ok {
		m.compiled.logitsLoss = twin
	}
	m.mu.Unlock()
	return nil
}

// Optimizer is the compiled optimizer, or nil before Compile.
func (m *Model) Optimizer() optim.Optimizer {
	if c := m.compiled; c != nil {
		return c.opt
	}
	return nil
}

// Loss is the compiled loss, or nil before Compile.
func (m *Model) Loss() losses.Loss {
	if c := m.compiled; c != nil {
		return c.loss
	}
	return nil
}

// Metrics are the compiled metrics, or nil before Compile.
func (m *Model) Metrics() []metrics.Metric {
	if c := m.compiled; c != nil {
		return append([]metrics.Metric(nil), c.metrics...)
	}
	return nil
}

// CompileConfig is what a saved model records of Compile so that loading can compile again:
// the optimizer and loss configs (optim.FromConfig and losses.FromConfig rebuild them) and the
// metric names (metrics.ByName rebuilds them).
type CompileConfig struct {
	Optimizer optim.Config  `json:"optimizer"`
	Loss      losses.Config `json:"loss"`
	LossName  string        `json:"loss_name"`
	Metrics   []string      `json:"metrics"`
}

// CompileConfig describes the compiled state, or returns nil before Compile.
func (m *Model) CompileConfig() *CompileConfig {
	c := m.compiled
	if c == nil {
		return nil
	}
	cc := &CompileConfig{Optimizer: c.opt.Config(), Loss: c.loss.Config(), LossName: c.loss.Name(), Metrics: []string{}}
	for _, mt := range c.metrics {
		cc.Metrics = append(cc.Metrics, mt.Name())
	}
	return cc
}
