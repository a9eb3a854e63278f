package keras

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"

	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

// EarlyStoppingCallback stops training when a monitored value has stopped improving. Make it
// with EarlyStopping.
type EarlyStoppingCallback struct {
	monitor     string
	patience    int
	minDelta    float64
	mode        string
	restoreBest bool

	m            *Model
	maximize     bool
	best         float64
	bestEpoch    int
	wait         int
	stoppedEpoch int
	bestWeights  []*tensor.Tensor
}

// EarlyStopping stops Fit once monitor (a log key such as "val_loss") has not improved by more
// than minDelta for patience epochs in a row. mode is "min", "max" or "auto" (maximise
// accuracies, minimise the rest). With restoreBestWeights the model ends training with the
// weights of its best epoch.
func EarlyStopping(monitor string, patience int, minDelta float64, mode string, restoreBestWeights bool) *EarlyStoppingCallback {
	return &EarlyStoppingCallback{monitor: monitor, patience: patience, minDelta: math.Abs(minDelta), mode: mode, restoreBest: restoreBestWeights}
}

// StoppedEpoch is the epoch (from 0) in which training was stopped, or -1 if it ran to the end.
func (e *EarlyStoppingCallback) StoppedEpoch() int { return e.stoppedEpoch }

// BestEpoch is the epoch (from 0) with the best monitored value, or -1 before any.
func (e *EarlyStoppingCallback) BestEpoch() int { return e.bestEpoch }

// Best is the best monitored value seen.
func (e *EarlyStoppingCallback) Best() float64 { return e.best }

func (e *EarlyStoppingCallback) OnTrainBegin(m *Model) error {
	max, err := improvement("EarlyStopping", e.monitor, e.mode)
	if err != nil {
		return err
	}
	if e.patience < 0 {
		return fmt.Errorf("EarlyStopping: patience %d: want 0 or more", e.patience)
	}
	e.m, e.maximize = m, max
	e.best = math.Inf(1)
	if max {
		e.best = math.Inf(-1)
	}
	e.wait, e.stoppedEpoch, e.bestEpoch, e.bestWeights = 0, -1, -1, nil
	return nil
}

func (e *EarlyStoppingCallback) OnEpochBegin(int) error { return nil }

func (e *EarlyStoppingCallback) OnBatchEnd(int, map[string]float64) error { return nil }

func (e *EarlyStoppingCallback) OnEpochEnd(epoch int, logs map[string]float64) error {
	v, err := monitored("EarlyStopping", e.monitor, logs)
	if err != nil {
		return err
	}
	better := v < e.best-e.minDelta
	if e.maximize {
		better = v > e.best+e.minDelta
	}
	if better {
		e.best, e.bestEpoch, e.wait = v, epoch, 0
		if e.restoreBest {
			e.bestWeights = e.m.GetWeights()
		}
		return nil
	}
	e.wait++
	if e.wait >= e.patience {
		e.stoppedEpoch = epoch
		e.m.StopTraining()
	}
	return nil
}

func (e *EarlyStoppingCallback) OnTrainEnd(map[string]float64) error {
	if e.restoreBest && e.bestWeights != nil {
		return e.m.SetWeights(e.bestWeights)
	}
	return nil
}

// ModelCheckpointCallback saves the model during training. Make it with ModelCheckpoint.
type ModelCheckpointCallback struct {
	pattern      string
	monitor      string
	saveBestOnly bool
	m            *Model
	maximize     bool
	best         float64
	saved        []string
}

// ModelCheckpoint saves the model with Save after every epoch to a path made from pattern:
// "{epoch}" becomes the epoch number counted from 1, and "{key}" any log value, each
// optionally with a Python-style format as Keras accepts ("ckpt-{epoch:02d}-{val_loss:.3f}.dfm").
// With saveBestOnly it saves only when monitor improves on the best so far (direction as
// EarlyStopping's "auto").
func ModelCheckpoint(pattern, monitor string, saveBestOnly bool) *ModelCheckpointCallback {
	return &ModelCheckpointCallback{pattern: pattern, monitor: monitor, saveBestOnly: saveBestOnly}
}

// Saved lists the paths written so far, in order.
func (c *ModelCheckpointCallback) Saved() []string { return append([]string(nil), c.saved...) }

func (c *ModelCheckpointCallback) OnTrainBegin(m *Model) error {
	if c.pattern == "" {
		return errors.New("ModelCheckpoint: empty path")
	}
	max, err := improvement("ModelCheckpoint", c.monitor, "auto")
	if err != nil {
		return err
	}
	c.m, c.maximize = m, max
	c.best = math.Inf(1)
	if max {
		c.best = math.Inf(-1)
	}
	return nil
}

func (c *ModelCheckpointCallback) OnEpochBegin(int) error { return nil }

func (c *ModelCheckpointCallback) OnBatchEnd(int, map[string]float64) error { return nil }

func (c *ModelCheckpointCallback) OnEpochEnd(epoch int, logs map[string]float64) error {
	if c.saveBestOnly {
		v, err := monitored("ModelCheckpoint", c.monitor, logs)
		if err != nil {
			return err
		}
		if !(c.maximize && v > c.best || !c.maximize && v < c.best) {
			return nil
		}
		c.best = v
	}
	path, err := formatPath(c.pattern, epoch+1, logs)
	if err != nil {
		return fmt.Errorf("ModelCheckpoint: %w", err)
	}
	if err := c.m.Save(path); err != nil {
		return fmt.Errorf("ModelCheckpoint: %w", err)
	}
	c.saved = append(c.saved, path)
	return nil
}

func (c *ModelCheckpointCallback) OnTrainEnd(map[string]float64) error { return nil }

var placeholder = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}`)

var pyFormat = regexp.MustCompile(`^[-+ 0#]*[0-9]*(\.[0-9]+)?[dfeEgG]?$`)

// formatPath fills a Keras checkpoint pattern: {epoch}, {epoch:03d}, {val_loss:.4f}.
func formatPath(pattern string, epoch int, logs map[string]float64) (string, error) {
	var firstErr error
	out := placeholder.ReplaceAllStringFunc(pattern, func(s string) string {
		sub := placeholder.FindStringSubmatch(s)
		key, spec := sub[1], sub[2]
		if spec != "" && !pyFormat.MatchString(spec) {
			if firstErr == nil {
				firstErr = fmt.Errorf("path pattern %q: format %q of {%s}: want e.g. 02d or .4f", pattern, spec, key)
			}
			return s
		}
		if key == "epoch" {
			if spec == "" {
				return strconv.Itoa(epoch)
			}
			verb := spec
			if last := spec[len(spec)-1]; last < 'A' || last > 'z' {
				verb += "d"
			}
			if verb[len(verb)-1] != 'd' {
				return fmt.Sprintf("%"+verb, float64(epoch))
			}
			return fmt.Sprintf("%"+verb, epoch)
		}
		v, ok := logs[key]
		if !ok {
			if firstErr == nil {
				_, err := monitored("path pattern "+strconv.Quote(pattern), key, logs)
				firstErr = err
			}
			return s
		}
		if spec == "" {
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
		verb := spec
		if last := spec[len(spec)-1]; last < 'A' || last > 'z' {
			verb += "g"
		}
		if verb[len(verb)-1] == 'd' {
			return fmt.Sprintf("%"+verb, int64(v))
		}
		return fmt.Sprintf("%"+verb, v)
	})
	return out, firstErr
}

type lrScheduler struct {
	fn func(epoch int, lr float64) float64
	m  *Model
}

// LearningRateScheduler sets the optimizer's learning rate at the start of every epoch to
// fn(epoch, current rate), epochs counted from 0, and logs the rate as "learning_rate".
func LearningRateScheduler(fn func(epoch int, lr float64) float64) Callback {
	return &lrScheduler{fn: fn}
}

func (s *lrScheduler) OnTrainBegin(m *Model) error {
	if s.fn == nil {
		return errors.New("LearningRateScheduler: nil function")
	}
	s.m = m
	return nil
}

func (s *lrScheduler) OnEpochBegin(epoch int) error {
	opt := s.m.Optimizer()
	lr := s.fn(epoch, optim.BaseLearningRate(opt))
	if math.IsNaN(lr) || math.IsInf(lr, 0) || lr < 0 {
		return fmt.Errorf("LearningRateScheduler: epoch %d: learning rate %v: want a finite number >= 0", epoch, lr)
	}
	opt.SetLearningRate(lr)
	return nil
}

func (s *lrScheduler) OnEpochEnd(_ int, logs map[string]float64) error {
	logs["learning_rate"] = s.m.Optimizer().LearningRate()
	return nil
}

func (s *lrScheduler) OnBatchEnd(int, map[string]float64) error { return nil }

func (s *lrScheduler) OnTrainEnd(map[string]float64) error { return nil }

type reduceLROnPlateau struct {
	monitor string
	opts    []optim.PlateauOption
	r       *optim.ReduceOnPlateau
	m       *Model
}

// ReduceLROnPlateau lowers the learning rate when monitor stops improving, with optim's
// ReduceOnPlateau (factor, patience, cooldown, min delta and floor as its options). The
// direction follows the monitor's name (maximise accuracies) unless optim.PlateauMode is
// given. The rate is logged as "learning_rate".
func ReduceLROnPlateau(monitor string, opts ...optim.PlateauOption) Callback {
	return &reduceLROnPlateau{monitor: monitor, opts: opts}
}

func (p *reduceLROnPlateau) OnTrainBegin(m *Model) error {
	max, err := improvement("ReduceLROnPlateau", p.monitor, "auto")
	if err != nil {
		return err
	}
	mode := "min"
	if max {
		mode = "max"
	}
	p.m = m
	p.r = optim.NewReduceOnPlateau(m.Optimizer(), append([]optim.PlateauOption{optim.PlateauMode(mode)}, p.opts...)...)
	if err := p.r.Err(); err != nil {
		return fmt.Errorf("ReduceLROnPlateau: %w", err)
	}
	return nil
}

func (p *reduceLROnPlateau) OnEpochEnd(_ int, logs map[string]float64) error {
	v, err := monitored("ReduceLROnPlateau", p.monitor, logs)
	if err != nil {
		return err
	}
	p.r.Observe(v)
	logs["learning_rate"] = p.m.Optimizer().LearningRate()
	return nil
}

func (p *reduceLROnPlateau) OnEpochBegin(int) error { return nil }

func (p *reduceLROnPlateau) OnBatchEnd(int, map[string]float64) error { return nil }

func (p *reduceLROnPlateau) OnTrainEnd(map[string]float64) error { return nil }
