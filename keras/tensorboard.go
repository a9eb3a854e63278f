package keras

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/deepframe/deepframe/tensorboard"
)

// TensorBoardOption configures the TensorBoard callback and SetTensorBoard.
type TensorBoardOption func(*tensorBoardSettings)

type tensorBoardSettings struct {
	logdir, app string
	histograms  bool
}

// Histograms makes the TensorBoard callback write a histogram of every weight after each
// epoch (off by default: it costs a pass over all weights).
func Histograms(on bool) TensorBoardOption {
	return func(s *tensorBoardSettings) { s.histograms = on }
}

// SetTensorBoard makes every later Fit log to TensorBoard, as BigDL's setTensorBoard does:
// under logdir/appName/train, per training step, "Loss" (that step's loss), "Throughput"
// (samples per second) and "LearningRate", and at each epoch's end the epoch's training
// metrics (e.g. "Accuracy") and, with Histograms, weight histograms tagged by weight name;
// under logdir/appName/validation, at each epoch's end, every validation value ("Loss",
// "Accuracy", ...). Tags are the log keys in CamelCase and every step is the optimizer's
// iteration count, so training and validation curves of the same tag overlay in TensorBoard.
// Files are flushed to disk at an epoch's end at most every few seconds, and when Fit ends.
// An empty logdir turns logging off.
func (m *Model) SetTensorBoard(logdir, appName string, opts ...TensorBoardOption) {
	if logdir == "" {
		m.tb = nil
		return
	}
	s := tensorBoardSettings{logdir: logdir, app: appName}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	m.tb = &s
}

// TensorBoard is the callback behind SetTensorBoard, for one Fit.
func TensorBoard(logdir, appName string, opts ...TensorBoardOption) Callback {
	s := tensorBoardSettings{logdir: logdir, app: appName}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	return newTensorBoardCallback(s)
}

type tensorBoardCallback struct {
	s            tensorBoardSettings
	m            *Model
	train, valid *tensorboard.Writer
	lastFlush    time.Time
}

// tensorBoardFlushEvery bounds how often the event files are flushed at an epoch's end. A
// flush syncs the file to disk, which can take longer than a whole epoch of a small model;
// TensorBoard itself only rereads files every few seconds, and Fit's end flushes anyway.
const tensorBoardFlushEvery = 5 * time.Second

func newTensorBoardCallback(s tensorBoardSettings) *tensorBoardCallback {
	return &tensorBoardCallback{s: s}
}

func (t *tensorBoardCallback) OnTrainBegin(m *Model) error {
	if t.s.logdir == "" {
		return errors.New("TensorBoard: empty log directory")
	}
	t.m = m
	trainDir, validDir := tensorboard.LogDirs(t.s.logdir, t.s.app)
	var err error
	if t.train, err = tensorboard.NewWriter(trainDir); err != nil {
		return err
	}
	if t.valid, err = tensorboard.NewWriter(validDir); err != nil {
		t.train.Close()
		t.train = nil
		return err
	}
	t.lastFlush = time.Now()
	return nil
}

func (t *tensorBoardCallback) step() int64 {
	if opt := t.m.Optimizer(); opt != nil {
		return opt.Iterations()
	}
	return t.m.steps
}

func (t *tensorBoardCallback) OnBatchEnd(_ int, _ map[string]float64) error {
	if t.train == nil {
		return nil
	}
	st, step := t.m.last, t.step()
	if err := t.train.AddScalar("Loss", step, st.loss); err != nil {
		return err
	}
	if err := t.train.AddScalar("Throughput", step, throughput(st.rows, secondsDuration(st.seconds))); err != nil {
		return err
	}
	return t.train.AddScalar("LearningRate", step, st.lr)
}

func (t *tensorBoardCallback) OnEpochBegin(int) error { return nil }

func (t *tensorBoardCallback) OnEpochEnd(_ int, logs map[string]float64) error {
	if t.train == nil {
		return nil
	}
	step := t.step()
	for _, k := range sortedKeys(logs) {
		v := logs[k]
		var err error
		switch {
		case strings.HasPrefix(k, "val_"):
			err = t.valid.AddScalar(tagName(strings.TrimPrefix(k, "val_")), step, v)
		case k == "loss":
			// Logged per step already; an epoch mean at the same tag would be a second point.
		default:
			err = t.train.AddScalar(tagName(k), step, v)
		}
		if err != nil {
			return err
		}
	}
	if t.s.histograms {
		if err := t.histograms(step); err != nil {
			return err
		}
	}
	if time.Since(t.lastFlush) < tensorBoardFlushEvery {
		return nil
	}
	t.lastFlush = time.Now()
	return errors.Join(t.train.Flush(), t.valid.Flush())
}

func (t *tensorBoardCallback) histograms(step int64) error {
	t.m.mu.RLock()
	defer t.m.mu.RUnlock()
	for _, w := range t.m.Weights() {
		v := w.Value()
		if v.Len() == 0 || v.Float32s() == nil {
			continue
		}
		if err := t.train.AddHistogram(w.Name, step, v.Float32s()); err != nil {
			return fmt.Errorf("histogram of %s: %w", w.Name, err)
		}
	}
	return nil
}

func (t *tensorBoardCallback) OnTrainEnd(map[string]float64) error {
	var errs []error
	if t.train != nil {
		errs = append(errs, t.train.Close())
	}
	if t.valid != nil {
		errs = append(errs, t.valid.Close())
	}
	t.train, t.valid = nil, nil
	return errors.Join(errs...)
}

// tagName turns a log key into a BigDL-style tag: "loss" → "Loss", "top_k_accuracy" →
// "TopKAccuracy".
func tagName(key string) string {
	var b strings.Builder
	up := true
	for _, r := range key {
		if r == '_' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
