package keras

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// lastStep describes the training step that just ended, for the TensorBoard callback, which
// logs per-iteration values that the running epoch averages in the logs would blur.
type lastStep struct {
	loss    float64 // this batch's loss (with penalties)
	rows    int
	seconds float64 // wall time since the previous step ended (data loading included)
	lr      float64 // the learning rate this step used
}

// Fit trains the compiled model on data for Epochs passes of BatchSize rows. Each step runs
// the model forward in training mode, adds weight and activity penalties to the loss,
// back-propagates, and lets the optimizer update the trainable weights of unfrozen layers.
// After each epoch it validates (ValidationData or ValidationSplit) and calls the callbacks;
// History holds every epoch's logs, among them DataWaitKey: how long the steps waited for
// data.
//
// A dataset read by row is visited in a fresh order each epoch (Shuffle); one that implements
// BatchStream is read one pass per epoch, in the stream's own order.
//
// Fit stops between two steps when ctx is cancelled and returns the history so far with an
// error wrapping ctx.Err(). A callback error ends Fit with that error.
func (m *Model) Fit(ctx context.Context, data Dataset, opts ...FitOption) (*History, error) {
	cfg := fitConfig{runConfig: defaultRun(1), epochs: 1, shuffle: true, logEvery: DefaultLogEvery}
	for _, o := range opts {
		if o != nil {
			o.applyFit(&cfg)
		}
	}
	hist := newHistory()
	g, err := m.ready()
	if err != nil {
		return hist, err
	}
	c := m.compiled
	if c == nil {
		return hist, fmt.Errorf("keras: Fit model %q before Compile: call Compile with an optimizer, a loss and metrics first", m.name)
	}
	if err := checkRun("Fit", cfg.runConfig); err != nil {
		return hist, err
	}
	if cfg.epochs < 1 {
		return hist, fmt.Errorf("keras: Fit: Epochs(%d): want at least 1", cfg.epochs)
	}
	if cfg.logEvery < 0 {
		return hist, fmt.Errorf("keras: Fit: LogEvery(%d): want 0 or more", cfg.logEvery)
	}
	if data == nil {
		return hist, errors.New("keras: Fit: nil dataset")
	}
	train, valid := data, cfg.validData
	if cfg.validSplit != 0 {
		if valid != nil {
			return hist, errors.New("keras: Fit: give ValidationData or ValidationSplit, not both")
		}
		if streamOf(data) != nil {
			return hist, fmt.Errorf("keras: Fit: ValidationSplit(%v) holds out rows by index, but the dataset streams (it implements BatchStream); give ValidationData instead", cfg.validSplit)
		}
		if train, valid, err = splitTail(data, cfg.validSplit); err != nil {
			return hist, err
		}
	}
	// A stream may not know its length (-1); it reports an empty pass when it runs.
	n := train.Len()
	if n == 0 || (n < 0 && streamOf(train) == nil) {
		return hist, errors.New("keras: Fit: the dataset has no rows")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if !m.running.CompareAndSwap(false, true) {
		return hist, fmt.Errorf("keras: Fit: model %q is already training", m.name)
	}
	defer m.running.Store(false)
	m.stop.Store(false)

	var cbs []Callback
	if m.tb != nil {
		cbs = append(cbs, newTensorBoardCallback(*m.tb))
	}
	cbs = append(cbs, cfg.callbacks...)
	for i, cb := range cbs {
		if cb == nil {
			return hist, fmt.Errorf("keras: Fit: callback %d is nil", i)
		}
	}
	calls := &callbackList{cbs: cbs, m: m}
	nValid := 0
	if valid != nil {
		nValid = valid.Len()
	}
	prog := newProgress(cfg, n)
	b := backend.Current()
	prog.begin(b.Name(), b.Version(), n, nValid)

	if err := calls.trainBegin(); err != nil {
		// Callbacks that did begin may hold resources (open event files) to release.
		_ = calls.trainEnd(nil)
		return hist, err
	}
	var lastLogs map[string]float64
	runErr := m.fitEpochs(ctx, g, c, cfg, train, valid, calls, prog, hist, &lastLogs)
	if runErr != nil {
		prog.abort()
	}
	endErr := calls.trainEnd(lastLogs)
	if runErr != nil {
		return hist, runErr
	}
	return hist, endErr
}

func checkRun(who string, c runConfig) error {
	if c.batchSize < 1 {
		return fmt.Errorf("keras: %s: BatchSize(%d): want at least 1", who, c.batchSize)
	}
	return nil
}

func (m *Model) fitEpochs(ctx context.Context, g *graph, c *compiled, cfg fitConfig, train, valid Dataset,
	calls *callbackList, prog *progress, hist *History, lastLogs *map[string]float64) error {
	rd := batchReader{data: train, batchSize: cfg.batchSize}
	if streamOf(train) == nil {
		rd.n = train.Len()
		rd.order = make([]int, rd.n)
	}
	defer rd.close()
	nOut := len(g.outputs)
	outLossSums := make([]float64, nOut)
	stepLoss := make([]float64, nOut) // each output's loss in the step just taken
	fitSteps := 0
	for epoch := 0; epoch < cfg.epochs; epoch++ {
		c.opt.SetEpoch(m.epochs)
		if err := calls.epochBegin(epoch); err != nil {
			return err
		}
		for i := range rd.order {
			rd.order[i] = i
		}
		if cfg.shuffle && rd.order != nil {
			shuffleRNG(m.seed, m.epochs).Shuffle(rd.order)
		}
		if err := rd.open(ctx, m.epochs); err != nil {
			return fmt.Errorf("keras: Fit epoch %d: %w", epoch+1, err)
		}
		for _, mt := range c.metrics {
			mt.Reset()
		}
		clear(outLossSums)
		var lossSum float64
		var wait, busy time.Duration // waiting for data; in steps, waits included
		seen := 0
		epochStart := time.Now()
		prev := epochStart
		prog.epochBegin(epoch, cfg.epochs)
		for batch := 0; ; batch++ {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("keras: Fit stopped in epoch %d/%d: %w", epoch+1, cfg.epochs, err)
			}
			asked := time.Now()
			x, y, rows, err := rd.next()
			got := time.Now()
			wait += got.Sub(asked)
			if err == io.EOF {
				busy += got.Sub(asked)
				break
			}
			if err != nil {
				return fmt.Errorf("keras: Fit epoch %d: reading batch %d: %w", epoch+1, batch, err)
			}
			lr := c.opt.LearningRate()
			res, err := m.trainStep(g, c, x, y, rows, len(c.metrics) > 0, stepLoss)
			if err != nil {
				return fmt.Errorf("keras: Fit epoch %d batch %d: %w", epoch+1, batch, err)
			}
			for _, mt := range c.metrics {
				if err := mt.Update(y[0], res.out0); err != nil {
					return fmt.Errorf("keras: Fit epoch %d batch %d: metric %s: %w", epoch+1, batch, mt.Name(), err)
				}
			}
			k := float64(rows)
			lossSum += res.loss * k
			if nOut > 1 {
				for i, v := range stepLoss {
					outLossSums[i] += v * k
				}
			}
			seen += rows
			fitSteps++
			now := time.Now()
			busy += now.Sub(asked)
			m.last = lastStep{loss: res.loss, rows: rows, seconds: now.Sub(prev).Seconds(), lr: lr}
			prev = now
			prog.step(fitSteps, c.opt.Iterations(), seen, lossSum/float64(seen), c.opt.LearningRate())
			if len(calls.cbs) > 0 {
				logs := map[string]float64{"loss": lossSum / float64(seen), "size": k}
				for _, mt := range c.metrics {
					logs[mt.Name()] = mt.Result()
				}
				if err := calls.batchEnd(batch, logs); err != nil {
					return err
				}
			}
			if m.stop.Load() {
				break
			}
		}
		if err := rd.close(); err != nil {
			return fmt.Errorf("keras: Fit epoch %d: closing the stream: %w", epoch+1, err)
		}
		if seen == 0 {
			return fmt.Errorf("keras: Fit epoch %d: the dataset's stream gave no batches", epoch+1)
		}
		hist.dataWait += wait
		hist.stepTime += busy
		logs := map[string]float64{"loss": lossSum / float64(seen), DataWaitKey: wait.Seconds()}
		if nOut > 1 {
			for i, o := range g.outputs {
				logs[g.nodes[o].name+"_loss"] = outLossSums[i] / float64(seen)
			}
		}
		for _, mt := range c.metrics {
			logs[mt.Name()] = mt.Result()
		}
		if valid != nil {
			vres, _, err := m.evaluate(ctx, g, c, valid, cfg.batchSize)
			if err != nil {
				return fmt.Errorf("keras: Fit epoch %d: validation: %w", epoch+1, err)
			}
			for k, v := range vres {
				logs["val_"+k] = v
			}
		}
		m.mu.Lock()
		m.epochs++
		m.mu.Unlock()
		*lastLogs = logs
		if err := calls.epochEnd(epoch, logs); err != nil {
			return err
		}
		hist.record(epoch, logs)
		prog.epochEnd(epoch, cfg.epochs, logs, m.logOrder(c), time.Since(epochStart))
		if m.stop.Load() {
			break
		}
	}
	return nil
}

type stepResult struct {
	loss float64
	out0 *tensor.Tensor
}

// trainStep runs one forward, backward and update on a batch. It holds the weight lock for
// writing, so inference in other goroutines sees the weights before or after a step, never
// half-updated. With wantOut it also returns the first output as probabilities (for the
// metrics), in a tensor of its own; a model with several outputs writes each one's loss into
// outLoss when it is not nil.
//
// The step runs in the graph's training pass: its ops allocate from the pass's arena, which is
// reset when the step ends, so a step on a batch shaped like the previous one allocates
// nothing. Nothing that outlives the step (out0, the loss) points into the arena.
func (m *Model) trainStep(g *graph, c *compiled, x, y []*tensor.Tensor, rows int, wantOut bool, outLoss []float64) (stepResult, error) {
	var res stepResult
	if len(x) != len(g.inputs) {
		return res, fmt.Errorf("the dataset gives %d input tensor(s) but model %q has %d input(s)", len(x), m.name, len(g.inputs))
	}
	if len(y) != len(g.outputs) {
		return res, fmt.Errorf("the dataset gives %d target tensor(s) but model %q has %d output(s)", len(y), m.name, len(g.outputs))
	}
	if err := checkBatchRows(x, y, rows); err != nil {
		return res, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := g.trainPass()
	defer p.release()
	lctx := &p.ctx
	lctx.Training, lctx.Grad = true, true
	if g.anyRandom {
		lctx.RNG = p.rngs.forStep(m.seed, m.steps)
	}
	m.steps++
	for i, t := range x {
		p.ins[i] = p.arena.Constant(t)
	}
	outs, isLogits, err := g.forwardLogits(lctx, m.name, p.ins, c.logitsLoss != nil, p)
	if err != nil {
		return res, err
	}
	total, per, err := m.lossOf(g, c, y, outs, isLogits, p.outLoss)
	if err != nil {
		return res, err
	}
	if outLoss != nil {
		copy(outLoss, per)
	}
	ws := g.weights
	for _, w := range ws {
		if w.Regularizer != nil {
			// Bound to the arena, the penalty's ops recycle their buffers too.
			total = autograd.Add(total, w.Regularizer.Penalty(p.arena.Bind(lctx.Param(w))))
		}
	}
	for _, pen := range lctx.Losses {
		total = autograd.Add(total, pen)
	}
	if err := total.Err(); err != nil {
		return res, fmt.Errorf("adding penalties to the loss: %w", err)
	}
	if res.loss, err = total.Item(); err != nil {
		return res, fmt.Errorf("loss: %w", err)
	}
	if wantOut {
		out0 := outs[0]
		if len(isLogits) > 0 && isLogits[0] {
			// Metrics score probabilities, as the model's Call would return them.
			out0 = autograd.Softmax(p.arena.Constant(out0.Value()), -1)
			if err := out0.Err(); err != nil {
				return res, err
			}
		}
		// A copy: metrics may keep what they are given, and the arena recycles its buffers.
		res.out0 = out0.Value().Clone()
	}
	m.params = m.params[:0]
	for _, w := range ws {
		if w.Updatable() {
			m.params = append(m.params, w.Var)
		}
	}
	// A model whose every layer is frozen still runs its forward pass (batch norm statistics,
	// metrics); there is just nothing to differentiate.
	if !total.RequiresGrad() || len(m.params) == 0 {
		return res, nil
	}
	if err := total.Backward(); err != nil {
		return res, fmt.Errorf("backward: %w", err)
	}
	err = c.opt.Step(m.params)
	for _, w := range ws {
		w.Var.ZeroGrad()
	}
	if err != nil {
		return res, fmt.Errorf("optimizer: %w", err)
	}
	return res, nil
}

// lossOf applies the compiled loss to every output; the total is their sum. With several
// outputs, each one's loss is written into per (one entry per output) and returned.
func (m *Model) lossOf(g *graph, c *compiled, y []*tensor.Tensor, outs []*autograd.Variable, isLogits []bool, per []float64) (*autograd.Variable, []float64, error) {
	var total *autograd.Variable
	if len(outs) > 1 {
		per = per[:len(outs)]
	} else {
		per = nil
	}
	for i, o := range outs {
		if y[i] == nil {
			return nil, nil, fmt.Errorf("target %d is nil", i)
		}
		loss := c.loss
		if len(isLogits) > i && isLogits[i] {
			loss = c.logitsLoss
		}
		l := loss.Compute(y[i], o)
		if l == nil {
			return nil, nil, fmt.Errorf("loss %s returned nil", c.loss.Name())
		}
		v, err := l.Item()
		if err != nil {
			return nil, nil, fmt.Errorf("loss %s on output %d (%s) of shape %v with targets of shape %v: %w",
				c.loss.Name(), i, g.nodes[g.outputs[i]].name, o.Shape(), y[i].Shape(), err)
		}
		if per != nil {
			per[i] = v
		}
		if total == nil {
			total = l
		} else {
			total = autograd.Add(total, l)
		}
	}
	return total, per, nil
}

// logOrder is the order progress lines print the logs in: loss, per-output losses, metrics,
// then the same for validation; other keys follow, sorted.
func (m *Model) logOrder(c *compiled) []string {
	base := []string{"loss"}
	if m.g != nil && len(m.g.outputs) > 1 {
		for _, o := range m.g.outputs {
			base = append(base, m.g.nodes[o].name+"_loss")
		}
	}
	for _, mt := range c.metrics {
		base = append(base, mt.Name())
	}
	out := append([]string(nil), base...)
	for _, k := range base {
		out = append(out, "val_"+k)
	}
	return out
}

// checkBatchRows catches a Dataset that returns a different number of rows than asked for,
// which would otherwise surface as a puzzling shape error deep in a layer or the loss.
func checkBatchRows(x, y []*tensor.Tensor, rows int) error {
	check := func(kind string, ts []*tensor.Tensor) error {
		for i, t := range ts {
			if t == nil {
				return fmt.Errorf("the dataset returned a nil %s[%d]", kind, i)
			}
			if t.Rank() == 0 || t.Dim(0) != rows {
				return fmt.Errorf("the dataset returned %s[%d] of shape %v for a batch of %d rows", kind, i, t.Shape(), rows)
			}
		}
		return nil
	}
	if err := check("x", x); err != nil {
		return err
	}
	return check("y", y)
}

// TrainOnBatch runs one training step (forward, loss with penalties, backward, optimizer
// update) on one batch: x holds one tensor per model input, y one per output, each with the
// same number of rows. It returns the batch loss. It is Keras's train_on_batch: the building
// block of custom training loops, and what the training-step benchmarks measure.
func (m *Model) TrainOnBatch(x, y []*tensor.Tensor) (float64, error) {
	g, err := m.ready()
	if err != nil {
		return 0, err
	}
	c := m.compiled
	if c == nil {
		return 0, fmt.Errorf("keras: TrainOnBatch model %q before Compile: call Compile with an optimizer, a loss and metrics first", m.name)
	}
	if len(x) == 0 || x[0] == nil || x[0].Rank() == 0 {
		return 0, fmt.Errorf("keras: TrainOnBatch model %q: want one input tensor with a batch axis per model input", m.name)
	}
	res, err := m.trainStep(g, c, x, y, x[0].Dim(0), false, nil)
	if err != nil {
		return 0, fmt.Errorf("keras: TrainOnBatch model %q: %w", m.name, err)
	}
	return res.loss, nil
}
