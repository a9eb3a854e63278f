package keras

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

// testStream serves the rows of x and y as a BatchStream: in order, or shuffled by its own
// seed and the epoch, as a frame-backed stream would. It records what Fit asked of it.
type testStream struct {
	x, y    *tensor.Tensor
	rows    int // what Len reports
	shuffle bool
	seed    uint64
	delay   time.Duration // slept in every Next, to look like a slow loader
	failAt  int           // batch whose Next fails; -1 for none

	epochs  []int
	sizes   []int
	opened  int
	closed  int
	batches int
	rowSeq  []int // every row served, in order
}

func newTestStream(x, y *tensor.Tensor) *testStream {
	return &testStream{x: x, y: y, rows: x.Dim(0), failAt: -1}
}

func (s *testStream) Len() int { return s.rows }

func (s *testStream) Batch([]int) ([]*tensor.Tensor, []*tensor.Tensor, error) {
	return nil, nil, errors.New("testStream is read with Stream")
}

func (s *testStream) order(epoch int) []int {
	n := s.x.Dim(0)
	if s.shuffle {
		return tensor.NewRNG(s.seed).Derive(fmt.Sprintf("test/%d", epoch)).Perm(n)
	}
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

func (s *testStream) Stream(_ context.Context, epoch, batchSize int) (BatchIterator, error) {
	s.opened++
	s.epochs = append(s.epochs, epoch)
	s.sizes = append(s.sizes, batchSize)
	return &testIter{s: s, order: s.order(epoch), bs: batchSize}, nil
}

type testIter struct {
	s      *testStream
	order  []int
	bs     int
	pos    int
	batch  int
	closed bool
}

func (it *testIter) Next() ([]*tensor.Tensor, []*tensor.Tensor, error) {
	if it.closed {
		return nil, nil, errors.New("Next after Close")
	}
	if it.s.delay > 0 {
		time.Sleep(it.s.delay)
	}
	if it.batch == it.s.failAt {
		return nil, nil, errors.New("disk on fire")
	}
	if it.pos >= len(it.order) {
		return nil, nil, io.EOF
	}
	rows := it.order[it.pos:min(it.pos+it.bs, len(it.order))]
	it.pos += len(rows)
	it.batch++
	it.s.batches++
	it.s.rowSeq = append(it.s.rowSeq, rows...)
	x, err := it.s.x.Gather(rows)
	if err != nil {
		return nil, nil, err
	}
	y, err := it.s.y.Gather(rows)
	if err != nil {
		return nil, nil, err
	}
	return []*tensor.Tensor{x}, []*tensor.Tensor{y}, nil
}

func (it *testIter) Close() error {
	if !it.closed {
		it.closed = true
		it.s.closed++
	}
	return nil
}

func smallNet(t testing.TB, seed uint64) *Model {
	t.Helper()
	SetRandomSeed(seed)
	defer SetRandomSeed(DefaultSeed)
	m := Sequential(
		layers.Dense(8, layers.Activation("relu"), layers.InputShape(2), layers.Name("h")),
		layers.Dropout(0.2, layers.Name("drop")),
		layers.Dense(2, layers.Activation("softmax"), layers.Name("out")),
	)
	if err := m.Compile(optim.SGD(0.1, optim.Momentum(0.9)), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()); err != nil {
		t.Fatal(err)
	}
	return m
}

// A stream is read one pass per epoch in its own order, and a step on a streamed batch is
// the same step as on those rows read by index: fed the same order, both paths give the same
// weights bit for bit.
func TestStreamFitMatchesRandomAccess(t *testing.T) {
	x, y := quadrants(t, 100, 3)
	s := newTestStream(x, y)
	s.shuffle, s.seed = true, 9
	streamed := smallNet(t, 42)
	h, err := streamed.Fit(bg, s, Epochs(3), BatchSize(16), Verbose(0))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(s.epochs) != "[0 1 2]" || fmt.Sprint(s.sizes) != "[16 16 16]" || s.opened != 3 || s.closed != 3 {
		t.Errorf("streams opened for epochs %v with batch sizes %v; opened %d, closed %d", s.epochs, s.sizes, s.opened, s.closed)
	}
	if len(h.Values["loss"]) != 3 || len(h.Values["accuracy"]) != 3 {
		t.Errorf("history %v", h.Values)
	}

	// The same rows in the same order, asked for by index.
	rec := &orderedDataset{Dataset: mustDataset(t, x, y), s: s}
	direct := smallNet(t, 42)
	for epoch := range 3 {
		rec.epoch = epoch
		if _, err := direct.Fit(bg, rec, Epochs(1), BatchSize(16), Shuffle(false), Verbose(0)); err != nil {
			t.Fatal(err)
		}
	}
	if !weightsEqual(streamed.GetWeights(), direct.GetWeights()) {
		t.Error("training on a stream differs from training on the same rows by index")
	}

	// Same seeds, same weights; a second Fit continues the epoch count.
	again := smallNet(t, 42)
	s2 := newTestStream(x, y)
	s2.shuffle, s2.seed = true, 9
	if _, err := again.Fit(bg, s2, Epochs(3), BatchSize(16), Verbose(0)); err != nil {
		t.Fatal(err)
	}
	if !weightsEqual(streamed.GetWeights(), again.GetWeights()) {
		t.Error("two seeded streamed runs gave different weights")
	}
	if _, err := again.Fit(bg, s2, Epochs(2), BatchSize(16), Verbose(0)); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(s2.epochs) != "[0 1 2 3 4]" {
		t.Errorf("a second Fit opened epochs %v, want 3 and 4 after 0-2", s2.epochs)
	}
}

// orderedDataset serves rows by index but maps them through the order s would stream in
// epoch, so that Fit without its own shuffle sees exactly the streamed rows.
type orderedDataset struct {
	Dataset
	s     *testStream
	epoch int
}

func (o *orderedDataset) Batch(rows []int) ([]*tensor.Tensor, []*tensor.Tensor, error) {
	order := o.s.order(o.epoch)
	mapped := make([]int, len(rows))
	for i, r := range rows {
		mapped[i] = order[r]
	}
	return o.Dataset.Batch(mapped)
}

func TestStreamUnknownLength(t *testing.T) {
	x, y := quadrants(t, 40, 4)
	s := newTestStream(x, y)
	s.rows = -1
	var out bytes.Buffer
	m := smallNet(t, 1)
	v := newTestStream(quadrants(t, 20, 5))
	v.rows = -1
	h, err := m.Fit(bg, s, Epochs(2), BatchSize(8), ProgressOutput(&out), Verbose(1), LogEvery(2), ValidationData(v))
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if !strings.HasPrefix(text, "training on a stream, validating on a stream; backend ") {
		t.Errorf("first line of %q", text)
	}
	if !strings.Contains(text, "epoch 1/2 iter 2 samples 16 loss=") || strings.Contains(text, "samples 16/") {
		t.Errorf("interval lines should count samples without a total:\n%s", text)
	}
	if len(h.Values["val_accuracy"]) != 2 {
		t.Errorf("history %v", h.Keys())
	}
	// Validation reads one pass per epoch, always as epoch 0.
	if fmt.Sprint(v.epochs) != "[0 0]" || v.closed != 2 {
		t.Errorf("validation streams opened for %v, closed %d", v.epochs, v.closed)
	}
}

// Evaluate gives the same scores on a stream as on the same rows by index.
func TestStreamEvaluate(t *testing.T) {
	x, y := quadrants(t, 50, 6)
	m := smallNet(t, 3)
	if _, err := m.Fit(bg, mustDataset(t, x, y), Epochs(2), Verbose(0)); err != nil {
		t.Fatal(err)
	}
	want, err := m.Evaluate(bg, mustDataset(t, x, y), BatchSize(16))
	if err != nil {
		t.Fatal(err)
	}
	s := newTestStream(x, y)
	s.rows = -1
	var out bytes.Buffer
	got, err := m.Evaluate(bg, s, BatchSize(16), Verbose(1), ProgressOutput(&out))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if math.Abs(got[k]-v) > 1e-6 {
			t.Errorf("%s: streamed %v, by index %v", k, got[k], v)
		}
	}
	if !strings.HasPrefix(out.String(), "evaluate samples 50 ") {
		t.Errorf("summary %q", out.String())
	}
	if s.opened != 1 || s.closed != 1 || s.epochs[0] != 0 {
		t.Errorf("opened %d (epochs %v), closed %d", s.opened, s.epochs, s.closed)
	}
}

func TestStreamErrors(t *testing.T) {
	x, y := quadrants(t, 40, 7)
	t.Run("ValidationSplit", func(t *testing.T) {
		_, err := smallNet(t, 1).Fit(bg, newTestStream(x, y), ValidationSplit(0.2), Verbose(0))
		if err == nil || !strings.Contains(err.Error(), "ValidationData") {
			t.Errorf("ValidationSplit on a stream: %v", err)
		}
	})
	t.Run("Next fails", func(t *testing.T) {
		s := newTestStream(x, y)
		s.failAt = 2
		_, err := smallNet(t, 1).Fit(bg, s, Epochs(2), BatchSize(8), Verbose(0))
		if err == nil || !strings.Contains(err.Error(), "disk on fire") || !strings.Contains(err.Error(), "epoch 1: reading batch 2") {
			t.Errorf("failing stream: %v", err)
		}
		if s.closed != s.opened {
			t.Errorf("opened %d passes, closed %d", s.opened, s.closed)
		}
	})
	t.Run("empty", func(t *testing.T) {
		s := newTestStream(x, y)
		empty := NewStreamDataset(-1, func(context.Context, int, int) (BatchIterator, error) {
			return &testIter{s: s, order: nil, bs: 8}, nil
		})
		_, err := smallNet(t, 1).Fit(bg, empty, Verbose(0))
		if err == nil || !strings.Contains(err.Error(), "no batches") {
			t.Errorf("empty stream: %v", err)
		}
		if _, err := smallNet(t, 1).Evaluate(bg, empty); err == nil || !strings.Contains(err.Error(), "no batches") {
			t.Errorf("Evaluate on an empty stream: %v", err)
		}
		if _, err := smallNet(t, 1).Fit(bg, NewStreamDataset(0, nil), Verbose(0)); err == nil || !strings.Contains(err.Error(), "no rows") {
			t.Errorf("a stream of 0 rows: %v", err)
		}
	})
	t.Run("open fails", func(t *testing.T) {
		bad := NewStreamDataset(-1, func(context.Context, int, int) (BatchIterator, error) {
			return nil, errors.New("no such bucket")
		})
		if _, err := smallNet(t, 1).Fit(bg, bad, Verbose(0)); err == nil || !strings.Contains(err.Error(), "no such bucket") {
			t.Errorf("Stream error: %v", err)
		}
	})
	t.Run("stop closes", func(t *testing.T) {
		s := newTestStream(x, y)
		m := smallNet(t, 1)
		stop := CallbackFuncs{BatchEnd: func(batch int, _ map[string]float64) error {
			if batch == 1 {
				m.StopTraining()
			}
			return nil
		}}
		h, err := m.Fit(bg, s, Epochs(3), BatchSize(8), Callbacks(stop), Verbose(0))
		if err != nil || len(h.Epochs) != 1 || s.batches != 2 || s.closed != 1 {
			t.Errorf("StopTraining: %v, %d epochs, %d batches read, %d passes closed", err, len(h.Epochs), s.batches, s.closed)
		}
	})
}

// Fit reports how long its steps waited for data, per epoch and in all.
func TestDataWait(t *testing.T) {
	x, y := quadrants(t, 48, 8)
	s := newTestStream(x, y)
	const delay = 3 * time.Millisecond
	s.delay = delay
	h, err := smallNet(t, 1).Fit(bg, s, Epochs(2), BatchSize(16), Verbose(0))
	if err != nil {
		t.Fatal(err)
	}
	// Three batches and the end of the pass: four waits per epoch.
	waits := h.Values[DataWaitKey]
	if len(waits) != 2 {
		t.Fatalf("history %s = %v", DataWaitKey, waits)
	}
	sum := 0.0
	for _, w := range waits {
		if w < 4*delay.Seconds() {
			t.Errorf("epoch data wait %v s, want at least %v s", w, 4*delay.Seconds())
		}
		sum += w
	}
	if d := h.DataWait().Seconds(); math.Abs(d-sum) > 1e-6 {
		t.Errorf("DataWait %v s, epochs sum to %v s", d, sum)
	}
	if h.StepTime() < h.DataWait() {
		t.Errorf("StepTime %v < DataWait %v", h.StepTime(), h.DataWait())
	}

	// Reading by index is measured too, and the progress line does not show it.
	var out bytes.Buffer
	h, err = smallNet(t, 1).Fit(bg, mustDataset(t, x, y), Epochs(1), ProgressOutput(&out), Verbose(2))
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := h.Last(DataWaitKey); !ok || w < 0 || w > h.StepTime().Seconds() {
		t.Errorf("random-access data wait %v (%v), step time %v", w, ok, h.StepTime())
	}
	if strings.Contains(out.String(), DataWaitKey) {
		t.Errorf("progress shows the data wait: %q", out.String())
	}
}
