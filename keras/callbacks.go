package keras

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Callback observes and steers Fit. Epochs and batches are numbered from 0, as in Keras. logs
// holds the values reported so far: after a batch, the epoch's running "loss" and metrics and
// "size" (rows in the batch); after an epoch, the epoch's values and "val_..." ones. A hook
// that returns an error ends Fit with that error, except ErrStopTraining, which ends it
// normally after the current epoch.
type Callback interface {
	// OnTrainBegin is called once before the first epoch with the model being trained.
	OnTrainBegin(m *Model) error
	// OnTrainEnd is called once after the last epoch with its logs (even when Fit stops early
	// because of StopTraining or ErrStopTraining).
	OnTrainEnd(logs map[string]float64) error
	OnEpochBegin(epoch int) error
	// OnEpochEnd may add entries to logs; they are kept in the history.
	OnEpochEnd(epoch int, logs map[string]float64) error
	// OnBatchEnd is called after each training step; batch counts from 0 in each epoch.
	OnBatchEnd(batch int, logs map[string]float64) error
}

// ErrStopTraining, returned by a callback hook, ends Fit after the current epoch without an
// error, as setting model.stop_training does in Keras.
var ErrStopTraining = errors.New("keras: stop training")

// StopTraining asks a running Fit to stop after the current batch; the epoch is then closed
// (its logs, validation and callbacks) and Fit returns normally.
func (m *Model) StopTraining() { m.stop.Store(true) }

// CallbackFuncs is a Callback made of optional functions, for callbacks that need one or two
// hooks:
//
//	keras.CallbackFuncs{EpochEnd: func(epoch int, logs map[string]float64) error {
//		fmt.Println(epoch, logs["loss"])
//		return nil
//	}}
type CallbackFuncs struct {
	TrainBegin func(m *Model) error
	TrainEnd   func(logs map[string]float64) error
	EpochBegin func(epoch int) error
	EpochEnd   func(epoch int, logs map[string]float64) error
	BatchEnd   func(batch int, logs map[string]float64) error
}

func (c CallbackFuncs) OnTrainBegin(m *Model) error {
	if c.TrainBegin == nil {
		return nil
	}
	return c.TrainBegin(m)
}

func (c CallbackFuncs) OnTrainEnd(logs map[string]float64) error {
	if c.TrainEnd == nil {
		return nil
	}
	return c.TrainEnd(logs)
}

func (c CallbackFuncs) OnEpochBegin(epoch int) error {
	if c.EpochBegin == nil {
		return nil
	}
	return c.EpochBegin(epoch)
}

func (c CallbackFuncs) OnEpochEnd(epoch int, logs map[string]float64) error {
	if c.EpochEnd == nil {
		return nil
	}
	return c.EpochEnd(epoch, logs)
}

func (c CallbackFuncs) OnBatchEnd(batch int, logs map[string]float64) error {
	if c.BatchEnd == nil {
		return nil
	}
	return c.BatchEnd(batch, logs)
}

// callbackList runs callbacks in order and turns ErrStopTraining into a stop request.
type callbackList struct {
	cbs   []Callback
	m     *Model
	begun int // how many callbacks OnTrainBegin reached; only they get OnTrainEnd
}

func (l *callbackList) run(hook string, f func(Callback) error) error {
	for i, cb := range l.cbs {
		err := f(cb)
		if err == nil {
			continue
		}
		if errors.Is(err, ErrStopTraining) {
			l.m.StopTraining()
			continue
		}
		return fmt.Errorf("keras: callback %d (%T) %s: %w", i, cb, hook, err)
	}
	return nil
}

func (l *callbackList) trainBegin() error {
	return l.run("OnTrainBegin", func(c Callback) error {
		l.begun++
		return c.OnTrainBegin(l.m)
	})
}

// trainEnd runs even when training failed, so callbacks can release what they hold; every
// callback gets it, and the first error is returned.
func (l *callbackList) trainEnd(logs map[string]float64) error {
	var first error
	for i, cb := range l.cbs[:l.begun] {
		if err := cb.OnTrainEnd(logs); err != nil && first == nil && !errors.Is(err, ErrStopTraining) {
			first = fmt.Errorf("keras: callback %d (%T) OnTrainEnd: %w", i, cb, err)
		}
	}
	return first
}

func (l *callbackList) epochBegin(e int) error {
	return l.run("OnEpochBegin", func(c Callback) error { return c.OnEpochBegin(e) })
}

func (l *callbackList) epochEnd(e int, logs map[string]float64) error {
	return l.run("OnEpochEnd", func(c Callback) error { return c.OnEpochEnd(e, logs) })
}

func (l *callbackList) batchEnd(b int, logs map[string]float64) error {
	if len(l.cbs) == 0 {
		return nil
	}
	return l.run("OnBatchEnd", func(c Callback) error { return c.OnBatchEnd(b, logs) })
}

// monitored reads the value a callback watches, or says which keys there are, so a misspelt
// monitor fails loudly instead of never triggering.
func monitored(who, monitor string, logs map[string]float64) (float64, error) {
	v, ok := logs[monitor]
	if !ok {
		keys := make([]string, 0, len(logs))
		for k := range logs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return 0, fmt.Errorf("%s: %q is not in the epoch logs (have: %s)", who, monitor, strings.Join(keys, ", "))
	}
	return v, nil
}

// improvement decides the direction of a monitored value: "min", "max", or "auto" (maximise
// accuracies, AUC, precision and recall; minimise everything else).
func improvement(who, monitor, mode string) (maximize bool, err error) {
	switch mode {
	case "min":
		return false, nil
	case "max":
		return true, nil
	case "auto", "":
		for _, s := range []string{"acc", "auc", "precision", "recall"} {
			if strings.Contains(monitor, s) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("%s: mode %q: want auto, min or max", who, mode)
}
