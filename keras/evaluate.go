package keras

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// Evaluate scores the compiled model on data in inference mode: "loss" (the mean over rows,
// with weight penalties, as Fit reports it) and every compiled metric by name. It resets the
// compiled metrics, so it must not run at the same time as another Evaluate or Fit of the same
// model (a callback of Fit may call it between epochs).
func (m *Model) Evaluate(ctx context.Context, data Dataset, opts ...EvalOption) (map[string]float64, error) {
	cfg := evalConfig{defaultRun(0)}
	for _, o := range opts {
		if o != nil {
			o.applyEval(&cfg)
		}
	}
	g, err := m.ready()
	if err != nil {
		return nil, err
	}
	c := m.compiled
	if c == nil {
		return nil, fmt.Errorf("keras: Evaluate model %q before Compile: call Compile with an optimizer, a loss and metrics first", m.name)
	}
	if err := checkRun("Evaluate", cfg.runConfig); err != nil {
		return nil, err
	}
	if data == nil {
		return nil, errors.New("keras: Evaluate: nil dataset")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	start := time.Now()
	res, rows, err := m.evaluate(ctx, g, c, data, cfg.batchSize)
	if err != nil {
		return nil, err
	}
	if cfg.verbose > 0 && cfg.out != nil {
		fmt.Fprintf(cfg.out, "evaluate samples %d%s time=%s\n", rows, formatLogs(res, m.logOrder(c)), formatSeconds(time.Since(start)))
	}
	return res, nil
}

// evaluate returns the scores and the number of rows scored. A streaming dataset is read in
// one pass (epoch 0) in its own order.
func (m *Model) evaluate(ctx context.Context, g *graph, c *compiled, data Dataset, batchSize int) (map[string]float64, int, error) {
	rd := batchReader{data: data, batchSize: batchSize}
	if streamOf(data) == nil {
		if rd.n = data.Len(); rd.n <= 0 {
			return nil, 0, errors.New("keras: evaluate: the dataset has no rows")
		}
	}
	if err := rd.open(ctx, 0); err != nil {
		return nil, 0, fmt.Errorf("keras: evaluate: %w", err)
	}
	defer rd.close()
	for _, mt := range c.metrics {
		mt.Reset()
	}
	var lossSum float64
	outSums := make([]float64, len(g.outputs))
	seen := 0
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, fmt.Errorf("keras: evaluate stopped: %w", err)
		}
		x, y, rows, err := rd.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if rd.it != nil {
				return nil, 0, fmt.Errorf("keras: evaluate: reading the batch after row %d: %w", seen, err)
			}
			return nil, 0, fmt.Errorf("keras: evaluate: reading rows %d-%d: %w", seen, min(seen+batchSize, rd.n)-1, err)
		}
		if len(x) != len(g.inputs) {
			return nil, 0, fmt.Errorf("keras: evaluate: the dataset gives %d input tensor(s) but model %q has %d input(s)", len(x), m.name, len(g.inputs))
		}
		if len(y) != len(g.outputs) {
			return nil, 0, fmt.Errorf("keras: evaluate: the dataset gives %d target tensor(s) but model %q has %d output(s)", len(y), m.name, len(g.outputs))
		}
		if err := checkBatchRows(x, y, rows); err != nil {
			return nil, 0, fmt.Errorf("keras: evaluate: %w", err)
		}
		k := float64(rows)
		v, out0, err := m.evaluateBatch(g, c, x, y, outSums, k)
		if err != nil {
			return nil, 0, err
		}
		lossSum += v * k
		seen += rows
		for _, mt := range c.metrics {
			if err := mt.Update(y[0], out0); err != nil {
				return nil, 0, fmt.Errorf("keras: evaluate: metric %s: %w", mt.Name(), err)
			}
		}
	}
	if err := rd.close(); err != nil {
		return nil, 0, fmt.Errorf("keras: evaluate: closing the stream: %w", err)
	}
	if seen == 0 {
		return nil, 0, errors.New("keras: evaluate: the dataset's stream gave no batches")
	}
	penalty, err := m.weightPenalty()
	if err != nil {
		return nil, 0, err
	}
	res := map[string]float64{"loss": lossSum/float64(seen) + penalty}
	if len(g.outputs) > 1 {
		for i, o := range g.outputs {
			res[g.nodes[o].name+"_loss"] = outSums[i] / float64(seen)
		}
	}
	for _, mt := range c.metrics {
		res[mt.Name()] = mt.Result()
	}
	return res, seen, nil
}

// evaluateBatch runs one batch in inference mode. It returns the batch's loss and, when there
// are metrics to feed, the first output in a tensor of its own (metrics may keep what they are
// given, and the arena recycles its buffers); with several outputs it adds each output's loss,
// times k, into outSums.
func (m *Model) evaluateBatch(g *graph, c *compiled, x, y []*tensor.Tensor, outSums []float64, k float64) (float64, *tensor.Tensor, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p := g.getPass()
	defer g.putPass(p)
	for i, t := range x {
		p.ins[i] = p.arena.Constant(t)
	}
	outs, _, err := g.forwardLogits(&p.ctx, m.name, p.ins, false, p)
	if err != nil {
		return 0, nil, err
	}
	total, per, err := m.lossOf(g, c, y, outs, nil, p.outLoss)
	if err != nil {
		return 0, nil, fmt.Errorf("keras: evaluate: %w", err)
	}
	v, _ := total.Item()
	for i, l := range per {
		outSums[i] += l * k
	}
	var out0 *tensor.Tensor
	if len(c.metrics) > 0 {
		out0 = outs[0].Value().Clone()
	}
	return v, out0, nil
}

// weightPenalty is the sum of the weight regularizers' penalties at the current weights.
func (m *Model) weightPenalty() (float64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var sum float64
	for _, w := range m.Weights() {
		if w.Regularizer == nil {
			continue
		}
		v, err := w.Regularizer.Penalty(autograd.Constant(w.Value())).Item()
		if err != nil {
			return 0, fmt.Errorf("keras: penalty on weight %s: %w", w.Name, err)
		}
		sum += v
	}
	return sum, nil
}

// Predict runs a model with one input and one output on x (samples along the first axis) in
// batches, in inference mode, and returns the outputs for all rows. It is safe to call from
// several goroutines at once, and while Fit runs.
func (m *Model) Predict(ctx context.Context, x *tensor.Tensor, opts ...PredictOption) (*tensor.Tensor, error) {
	g, err := m.ready()
	if err != nil {
		return nil, err
	}
	if len(g.inputs) != 1 || len(g.outputs) != 1 {
		return nil, fmt.Errorf("keras: Predict: model %q has %d inputs and %d outputs; use PredictInputs", m.name, len(g.inputs), len(g.outputs))
	}
	outs, err := m.PredictInputs(ctx, []*tensor.Tensor{x}, opts...)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// PredictInputs is Predict for models with several inputs or outputs: one tensor per input,
// all with the same number of rows, and one result per output.
func (m *Model) PredictInputs(ctx context.Context, xs []*tensor.Tensor, opts ...PredictOption) ([]*tensor.Tensor, error) {
	cfg := predictConfig{defaultRun(0)}
	for _, o := range opts {
		if o != nil {
			o.applyPredict(&cfg)
		}
	}
	g, err := m.ready()
	if err != nil {
		return nil, err
	}
	if err := checkRun("Predict", cfg.runConfig); err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if len(xs) != len(g.inputs) {
		return nil, fmt.Errorf("keras: Predict: model %q takes %d input(s), got %d", m.name, len(g.inputs), len(xs))
	}
	n := -1
	for i, x := range xs {
		nd := &g.nodes[g.inputs[i]]
		if x == nil {
			return nil, fmt.Errorf("keras: Predict: input %d (%s) is nil", i, nd.name)
		}
		if !matchesBatchShape(nd.shape, x.Shape()) {
			return nil, fmt.Errorf("keras: Predict: model %q input %d (%s): expected shape %v, got %v", m.name, i, nd.name, batchShape(nd.shape), x.Shape())
		}
		if n >= 0 && x.Dim(0) != n {
			return nil, fmt.Errorf("keras: Predict: input %d (%s) has %d rows but input 0 has %d", i, nd.name, x.Dim(0), n)
		}
		n = x.Dim(0)
	}
	results := make([]*tensor.Tensor, len(g.outputs))
	if n == 0 {
		for i, o := range g.outputs {
			s := batchShape(g.nodes[o].shape)
			for k := range s {
				s[k] = max(s[k], 0)
			}
			results[i] = tensor.Zeros(s...)
		}
		return results, nil
	}
	for start := 0; start < n; start += cfg.batchSize {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("keras: Predict stopped: %w", err)
		}
		end := min(start+cfg.batchSize, n)
		if err := m.predictBatch(g, xs, start, end, results); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// predictBatch runs rows [start, end) of xs in inference mode and copies the outputs into
// results (allocating each on the first batch). The batch runs in a pass of its own, with an
// arena from the graph's pool, so concurrent predictions share nothing but the weights, and
// nothing handed back points into the arena.
func (m *Model) predictBatch(g *graph, xs []*tensor.Tensor, start, end int, results []*tensor.Tensor) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p := g.getPass()
	defer g.putPass(p)
	n := xs[0].Dim(0)
	for i, x := range xs {
		v, err := x.Slice(start, end)
		if err != nil {
			return fmt.Errorf("keras: Predict: %w", err)
		}
		p.ins[i] = p.arena.Constant(v)
	}
	// The pass's own Context: layers may record into it.
	outs, _, err := g.forwardLogits(&p.ctx, m.name, p.ins, false, p)
	if err != nil {
		return err
	}
	for i, o := range outs {
		v := o.Value()
		if results[i] == nil {
			results[i] = tensor.New(v.DType(), append(tensor.Shape{n}, v.Shape()[1:]...)...)
		}
		dst, err := results[i].Slice(start, end)
		if err == nil && !dst.Shape().Equal(v.Shape()) {
			err = fmt.Errorf("output %d has shape %v for rows %d-%d, but %v before", i, v.Shape(), start, end-1, dst.Shape())
		}
		if err == nil {
			err = dst.CopyFrom(v)
		}
		if err != nil {
			return fmt.Errorf("keras: Predict: %w", err)
		}
	}
	return nil
}

// formatLogs renders logs as " key=value" pairs in order, then any other keys sorted. The
// data wait stays out: progress lines keep the shape tools parse, and the figure is in the
// history and TensorBoard.
func formatLogs(logs map[string]float64, order []string) string {
	var b []byte
	done := make(map[string]bool, len(order)+1)
	done[DataWaitKey] = true
	for _, k := range order {
		if v, ok := logs[k]; ok {
			b = fmt.Appendf(b, " %s=%s", k, formatValue(v))
			done[k] = true
		}
	}
	for _, k := range sortedKeys(logs) {
		if !done[k] {
			b = fmt.Appendf(b, " %s=%s", k, formatValue(logs[k]))
		}
	}
	return string(b)
}
