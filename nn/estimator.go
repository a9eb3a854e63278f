package nn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/ml"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

// estimator holds what NNEstimator and NNClassifier share; each type adds chained setters
// (setters.go) that return itself.
type estimator struct {
	uid, class string
	classifier bool
	params     *ml.Params
	net        *keras.Model
	err        error // a setter's argument that no param validator can see (a nil optimizer)
	scoringParams

	labelCol     *ml.Param[string]
	maxEpoch     *ml.Param[int]
	learningRate *ml.Param[float64]
	optimMethod  *ml.Param[optim.Config]
	schedule     *ml.Param[optim.Config]
	loss         *ml.Param[losses.Config]
	caching      *ml.Param[bool]
	seed         *ml.Param[uint64]
	logDir       *ml.Param[string]
	appName      *ml.Param[string]

	// Instances given to setters are used as they are; their configs in the params above are
	// what a saved estimator keeps, and what a loaded one rebuilds them from.
	opt        optim.Optimizer
	lossFn     losses.Loss
	sched      optim.Schedule
	validDF    *frame.DataFrame
	validMets  []metrics.Metric
	progress   io.Writer
	fitOptions []keras.FitOption
}

func (e *estimator) init(class, uid string, net *keras.Model, classifier bool) {
	e.class, e.uid, e.net, e.classifier = class, uid, net, classifier
	ps := ml.NewParams(uid)
	e.params = ps
	e.scoringParams = declareScoring(ps, classifier)
	e.labelCol = ml.NewParam(ps, "labelCol", "label column: class indices for a classifier, targets for an estimator", DefaultLabelCol, ml.NonEmpty)
	e.maxEpoch = ml.NewParam(ps, "maxEpoch", "passes over the training frame", DefaultMaxEpoch, ml.AtLeast(1))
	e.learningRate = ml.NewParam(ps, "learningRate",
		"base learning rate; 0 keeps the optimizer's own", 0.0, nonNegativeFinite)
	e.optimMethod = ml.NewParam(ps, "optimMethod",
		"optimizer config; empty means the network's compiled optimizer, else Adam(0.001)", optim.Config{}, nil)
	e.schedule = ml.NewParam(ps, "learningRateSchedule", "learning-rate schedule config; empty means none", optim.Config{}, nil)
	lossDoc := "loss config; empty means the network's compiled loss, else mean squared error"
	if classifier {
		lossDoc = "loss config; empty means the network's compiled loss, else sparse categorical cross-entropy (binary cross-entropy for one output unit)"
	}
	e.loss = ml.NewParam(ps, "loss", lossDoc, losses.Config{}, nil)
	e.caching = ml.NewParam(ps, "cachingSample",
		"hold the prepared samples in memory as tensors between epochs; false streams the frame every epoch", true, nil)
	e.seed = ml.NewParam(ps, "seed", "seed of the order rows are visited in each epoch", keras.DefaultSeed, nil)
	e.logDir = ml.NewParam(ps, "logDir", "TensorBoard log directory; empty turns logging off", "", nil)
	e.appName = ml.NewParam(ps, "appName", "TensorBoard run name under logDir", "", nil)
}

// UID identifies this stage.
func (e *estimator) UID() string { return e.uid }

// ClassName keys the registry that loads saved stages.
func (e *estimator) ClassName() string { return e.class }

// Params are the typed params, Spark ML style.
func (e *estimator) Params() *ml.Params { return e.params }

// Model is the network the estimator was given; Fit trains a copy of it.
func (e *estimator) Model() *keras.Model { return e.net }

func (e *estimator) setOptimizer(o optim.Optimizer) {
	switch {
	case o == nil:
		e.fail(errors.New("SetOptimizer: nil optimizer"))
	case optim.Err(o) != nil:
		e.fail(fmt.Errorf("SetOptimizer: %w", optim.Err(o)))
	default:
		e.opt = o
		e.optimMethod.Set(o.Config())
	}
}

func (e *estimator) setLoss(l losses.Loss) {
	switch {
	case l == nil:
		e.fail(errors.New("SetLoss: nil loss"))
	case losses.Err(l) != nil:
		e.fail(fmt.Errorf("SetLoss: %w", losses.Err(l)))
	default:
		e.lossFn = l
		e.loss.Set(l.Config())
	}
}

func (e *estimator) setLearningRateSchedule(s optim.Schedule) {
	if s == nil {
		e.fail(errors.New("SetLearningRateSchedule: nil schedule"))
		return
	}
	if v, ok := s.(interface{ Err() error }); ok && v.Err() != nil {
		e.fail(fmt.Errorf("SetLearningRateSchedule: %w", v.Err()))
		return
	}
	e.sched = s
	e.schedule.Set(s.Config())
}

func (e *estimator) setValidation(df *frame.DataFrame, ms ...metrics.Metric) {
	if df == nil {
		e.fail(errors.New("SetValidation: nil frame"))
		return
	}
	for i, m := range ms {
		if m == nil {
			e.fail(fmt.Errorf("SetValidation: metric %d is nil", i))
			return
		}
	}
	e.validDF, e.validMets = df, append([]metrics.Metric(nil), ms...)
}

func (e *estimator) fail(err error) {
	if e.err == nil {
		e.err = fmt.Errorf("nn: %s: %w", e.uid, err)
	}
}

func (e *estimator) validate() error {
	if e.err != nil {
		return e.err
	}
	if err := e.params.Validate(); err != nil {
		return fmt.Errorf("nn: %w", err)
	}
	if err := e.scoringParams.check(e.uid); err != nil {
		return err
	}
	return checkNetwork(e.uid, e.net)
}

// WriteData saves the network (model.dfm) beside the params, so an unfitted pipeline saves
// whole too.
func (e *estimator) WriteData(dir string) error {
	if e.net == nil {
		return fmt.Errorf("nn: %s: no network to save", e.uid)
	}
	return e.net.Save(filepath.Join(dir, BundleFile))
}

// TrainingSummary describes the Fit that produced a model.
type TrainingSummary struct {
	// History holds every epoch's logs ("loss", metrics, "val_..." with validation).
	History *keras.History
	Rows    int  // training rows; -1 for a stream of unknown length stopped in its first pass
	Epochs  int  // epochs run
	Cached  bool // whether samples were held in memory
	// Duration is Fit's wall time, data preparation included.
	Duration time.Duration
	// DataWait is how long training steps waited for their batches (keras's measure, see
	// keras.History.DataWait): gathering cached rows, or blocking on the stream. Against
	// StepTime it says whether input starves training.
	DataWait time.Duration
	// StepTime is how long the training steps took, waits included.
	StepTime time.Duration
	// Stream is what frame's loader reports for a streamed Fit, over every training pass:
	// LoadTime is the time it spent reading, converting and shuffling, in the background.
	// Zero when the samples were cached.
	Stream frame.Stats
}

// fitResult is what a successful train hands to the concrete Fit.
type fitResult struct {
	net     *keras.Model
	summary *TrainingSummary
}

func (e *estimator) train(ctx context.Context, df *frame.DataFrame) (*fitResult, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	if df == nil {
		return nil, fmt.Errorf("nn: %s: Fit: nil frame", e.uid)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	start := time.Now()
	spec, err := newInputSpec(e.uid, df, e.features(), e.net)
	if err != nil {
		return nil, err
	}
	if err := e.checkLabel(df); err != nil {
		return nil, err
	}
	// Fit leaves the estimator as it was (the ml contract): it trains a copy of the network,
	// which becomes the fitted model's, so fitting again starts from the same weights.
	net, err := snapshot(e.net)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: copying the network: %w", e.uid, err)
	}
	outUnits := net.OutputShapes()[0].Size()
	opt, loss, mets, err := e.resolveTraining(net, outUnits)
	if err != nil {
		return nil, err
	}
	if err := net.Compile(opt, loss, mets...); err != nil {
		return nil, fmt.Errorf("nn: %s: %w", e.uid, err)
	}

	bs, seed, label := e.batchSize.Get(), e.seed.Get(), e.labelCol.Get()
	var train, valid source
	defer func() {
		for _, s := range []source{train, valid} {
			if s != nil {
				s.close()
			}
		}
	}()
	cached := e.caching.Get()
	if train, err = e.openSource(ctx, df, spec, label, true, seed, cached, outUnits); err != nil {
		return nil, err
	}
	if s, ok := train.(*streamSource); ok {
		s.passes = e.maxEpoch.Get()
	}
	opts := append([]keras.FitOption(nil), e.fitOptions...)
	opts = append(opts, keras.BatchSize(bs), keras.Epochs(e.maxEpoch.Get()), keras.Shuffle(false))
	if e.validDF != nil {
		vspec, err := newInputSpec(e.uid, e.validDF, spec.features, net)
		if err != nil {
			return nil, fmt.Errorf("validation frame: %w", err)
		}
		if err := e.checkLabel(e.validDF); err != nil {
			return nil, fmt.Errorf("validation frame: %w", err)
		}
		if valid, err = e.openSource(ctx, e.validDF, vspec, label, false, seed, cached, outUnits); err != nil {
			return nil, fmt.Errorf("validation frame: %w", err)
		}
		opts = append(opts, keras.ValidationData(valid))
	}
	cbs := []keras.Callback{keras.CallbackFuncs{EpochBegin: func(epoch int) error {
		train.setEpoch(epoch)
		return nil
	}}}
	if dir := e.logDir.Get(); dir != "" {
		cbs = append(cbs, keras.TensorBoard(dir, e.appName.Get()))
	}
	opts = append(opts, keras.Callbacks(cbs...))
	if e.progress != nil {
		opts = append(opts, keras.ProgressOutput(e.progress), keras.Verbose(1))
	} else {
		opts = append(opts, keras.Verbose(0))
	}
	hist, err := net.Fit(ctx, train, opts...)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", e.uid, err)
	}
	epochs := 0
	if v, ok := hist.Values["loss"]; ok {
		epochs = len(v)
	}
	sum := &TrainingSummary{
		History: hist, Rows: train.rows(), Epochs: epochs, Cached: cached,
		Duration: time.Since(start), DataWait: hist.DataWait(), StepTime: hist.StepTime(),
	}
	if s, ok := train.(*streamSource); ok {
		sum.Stream = s.stats
	}
	return &fitResult{net: net, summary: sum}, nil
}

func (e *estimator) openSource(ctx context.Context, df *frame.DataFrame, spec *inputSpec, label string, shuffle bool, seed uint64, cached bool, outUnits int) (source, error) {
	if !cached {
		classes := 0
		if e.classifier {
			classes = outUnits
		}
		src, err := newStreamSource(df, spec, label, shuffle, seed, classes)
		if err != nil {
			return nil, err
		}
		return src, nil
	}
	src, y, err := newCachedSource(ctx, df, spec, label, shuffle, seed)
	if err != nil {
		return nil, err
	}
	if e.classifier {
		if err := checkClasses(e.uid, label, y, outUnits, false); err != nil {
			return nil, err
		}
	}
	return src, nil
}

// checkLabel reports a missing or unusable label column before any data is read.
func (e *estimator) checkLabel(df *frame.DataFrame) error {
	label := e.labelCol.Get()
	cols := df.Columns()
	if !hasColumn(cols, label) {
		return columnError(e.uid, "labelCol", label, cols)
	}
	t := df.Schema().Field(df.Schema().FieldIndices(label)[0]).Type
	if t.ID() == arrow.STRING || t.ID() == arrow.LARGE_STRING {
		return fmt.Errorf("nn: %s: labelCol %q is a string column; index it into class numbers first (feature.StringIndexer)", e.uid, label)
	}
	if _, vec := frame.IsVector(t); vec {
		if e.classifier {
			return fmt.Errorf("nn: %s: labelCol %q is a vector column; a classifier takes one class index per row (use NNEstimator with a categorical loss for one-hot targets)", e.uid, label)
		}
		return nil
	}
	if !frame.IsNumeric(t) {
		return fmt.Errorf("nn: %s: labelCol %q is %s; want a numeric column", e.uid, label, t)
	}
	return nil
}

// checkClasses catches labels the network cannot score, which the loss would otherwise report
// without naming the column. A streamed batch's rows are shuffled, so no row is named for it.
func checkClasses(uid, label string, y *tensor.Tensor, units int, streamed bool) error {
	classes := max(units, 2)
	for i := 0; i < y.Len(); i++ {
		v := y.Float64Flat(i)
		if v != math.Trunc(v) || v < 0 || v >= float64(classes) {
			where := fmt.Sprintf(" in row %d", i)
			if streamed {
				where = ""
			}
			return fmt.Errorf("nn: %s: labelCol %q holds %v%s; the network's %d output unit(s) score class indices 0..%d",
				uid, label, v, where, units, classes-1)
		}
	}
	return nil
}

// resolveTraining picks the optimizer, loss and metrics: the estimator's own where set, else
// the network's compiled ones, else the defaults.
func (e *estimator) resolveTraining(net *keras.Model, outUnits int) (optim.Optimizer, losses.Loss, []metrics.Metric, error) {
	var opt optim.Optimizer
	var err error
	if e.opt != nil {
		// A fresh instance per Fit: an optimizer keeps per-weight state and an iteration count,
		// which must not leak from one Fit into the next. One defined outside package optim
		// cannot be rebuilt and is used as given.
		if opt, err = optim.FromConfig(e.opt.Config()); err != nil {
			opt = e.opt
		}
	}
	if opt == nil && e.optimMethod.Get().ClassName != "" {
		if opt, err = optim.FromConfig(e.optimMethod.Get()); err != nil {
			return nil, nil, nil, fmt.Errorf("nn: %s: optimMethod: %w", e.uid, err)
		}
	}
	if opt == nil {
		opt = net.Optimizer()
	}
	if opt == nil {
		opt = optim.Adam(DefaultLearningRate)
	}
	sched := e.sched
	if sched == nil && e.schedule.Get().ClassName != "" {
		if sched, err = optim.ScheduleFromConfig(e.schedule.Get()); err != nil {
			return nil, nil, nil, fmt.Errorf("nn: %s: learningRateSchedule: %w", e.uid, err)
		}
	}
	if sched != nil {
		// An optimizer takes its schedule when built, so it is rebuilt from its config.
		c := opt.Config()
		m := maps.Clone(c.Config)
		if m == nil {
			m = map[string]any{}
		}
		m["schedule"] = sched.Config()
		if opt, err = optim.FromConfig(optim.Config{ClassName: c.ClassName, Config: m}); err != nil {
			return nil, nil, nil, fmt.Errorf("nn: %s: applying the learning-rate schedule: %w", e.uid, err)
		}
	}
	if lr := e.learningRate.Get(); lr > 0 {
		opt.SetLearningRate(lr)
	}

	loss := e.lossFn
	if loss == nil && e.loss.Get().ClassName != "" {
		if loss, err = losses.FromConfig(e.loss.Get()); err != nil {
			return nil, nil, nil, fmt.Errorf("nn: %s: loss: %w", e.uid, err)
		}
	}
	if loss == nil {
		loss = net.Loss()
	}
	if loss == nil {
		switch {
		case !e.classifier:
			loss = losses.MeanSquaredError()
		case outUnits == 1:
			loss = losses.BinaryCrossEntropy()
		default:
			loss = losses.SparseCategoricalCrossEntropy()
		}
	}

	mets := fresh(e.validMets)
	if len(mets) == 0 {
		mets = net.Metrics()
	}
	if len(mets) == 0 && e.classifier {
		mets = []metrics.Metric{metrics.AccuracyFor(loss.Name())}
	}
	return opt, loss, mets, nil
}

// fresh rebuilds metrics by name where it can, so that two Fits of one estimator never share
// a metric's running totals.
func fresh(ms []metrics.Metric) []metrics.Metric {
	out := make([]metrics.Metric, len(ms))
	for i, m := range ms {
		if f, err := metrics.ByName(m.Name()); err == nil {
			out[i] = f
		} else {
			out[i] = m
		}
	}
	return out
}

// snapshot copies a network through a bundle, the one copy keras guarantees to be faithful:
// architecture, weights and, for a compiled network, its optimizer with state and the seed
// and counters of its random streams. keras saves the seed only with an optimizer, so the copy
// of an uncompiled network takes the seed in force now (keras.RandomSeed), which is the
// network's own unless the seed was changed after it was built.
func snapshot(net *keras.Model) (*keras.Model, error) {
	dir, err := os.MkdirTemp("", "nn-snapshot-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, BundleFile)
	if err := net.Save(path); err != nil {
		return nil, err
	}
	return keras.Load(path)
}
