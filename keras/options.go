package keras

import (
	"io"
	"os"
)

// FitOption configures Fit.
type FitOption interface{ applyFit(*fitConfig) }

// EvalOption configures Evaluate.
type EvalOption interface{ applyEval(*evalConfig) }

// PredictOption configures Predict and PredictInputs.
type PredictOption interface{ applyPredict(*predictConfig) }

// RunOption is accepted by Fit, Evaluate and Predict alike (BatchSize, Verbose,
// ProgressOutput).
type RunOption struct{ set func(*runConfig) }

func (o RunOption) applyFit(c *fitConfig)         { o.set(&c.runConfig) }
func (o RunOption) applyEval(c *evalConfig)       { o.set(&c.runConfig) }
func (o RunOption) applyPredict(c *predictConfig) { o.set(&c.runConfig) }

type fitOptionFunc func(*fitConfig)

func (f fitOptionFunc) applyFit(c *fitConfig) { f(c) }

type runConfig struct {
	batchSize int
	verbose   int
	out       io.Writer
}

type fitConfig struct {
	runConfig
	epochs     int
	shuffle    bool
	validData  Dataset
	validSplit float64
	callbacks  []Callback
	logEvery   int
}

type evalConfig struct{ runConfig }

type predictConfig struct{ runConfig }

// DefaultLogEvery is how many training steps pass between two progress lines when the output
// is not a terminal.
const DefaultLogEvery = 100

func defaultRun(verbose int) runConfig {
	return runConfig{batchSize: 32, verbose: verbose, out: os.Stdout}
}

// BatchSize sets how many rows each step processes (default 32). The last batch of an epoch
// keeps the remaining rows, however few.
func BatchSize(n int) RunOption { return RunOption{func(c *runConfig) { c.batchSize = n }} }

// Verbose sets how much progress is printed: 0 nothing, 1 (Fit's default) a live bar on a
// terminal or a line every LogEvery steps elsewhere, plus a line per epoch, 2 only the line
// per epoch. Evaluate prints one summary line when verbose is above 0 (default 0).
func Verbose(level int) RunOption { return RunOption{func(c *runConfig) { c.verbose = level }} }

// ProgressOutput sets where progress goes (default os.Stdout).
func ProgressOutput(w io.Writer) RunOption { return RunOption{func(c *runConfig) { c.out = w }} }

// Epochs sets how many passes over the data Fit makes (default 1).
func Epochs(n int) FitOption { return fitOptionFunc(func(c *fitConfig) { c.epochs = n }) }

// Shuffle sets whether Fit visits rows in a new random order each epoch (default true). The
// order depends only on the model's seed and the epoch. A dataset that streams (BatchStream)
// keeps its own order, shuffled or not; the option does not apply to it.
func Shuffle(on bool) FitOption { return fitOptionFunc(func(c *fitConfig) { c.shuffle = on }) }

// ValidationData makes Fit evaluate d after every epoch; its results appear in the logs and
// history with a "val_" prefix.
func ValidationData(d Dataset) FitOption {
	return fitOptionFunc(func(c *fitConfig) { c.validData = d })
}

// ValidationSplit holds out the last fraction of the training rows (before shuffling, as
// Keras) and validates on them after every epoch. It needs a dataset read by row; a stream
// takes ValidationData instead.
func ValidationSplit(fraction float64) FitOption {
	return fitOptionFunc(func(c *fitConfig) { c.validSplit = fraction })
}

// Callbacks adds callbacks to this Fit (after the TensorBoard one SetTensorBoard installs).
func Callbacks(cbs ...Callback) FitOption {
	return fitOptionFunc(func(c *fitConfig) { c.callbacks = append(c.callbacks, cbs...) })
}

// LogEvery sets how many steps pass between progress lines on a non-terminal output (default
// DefaultLogEvery); 0 leaves only the line per epoch.
func LogEvery(steps int) FitOption { return fitOptionFunc(func(c *fitConfig) { c.logEvery = steps }) }
