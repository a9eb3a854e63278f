package keras

import (
	"errors"
	"math"
	"runtime"
	"sync"
	"testing"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

// kernelMeter is a backend that runs another and counts the heap allocations made while its
// kernels run. A training step's allocations split into the kernels' (the backend's own
// business, measured by the backend's tests) and everything else's: autograd, keras, layers,
// losses and optim, which is what the tests below pin down whichever backend is installed.
type kernelMeter struct {
	backend.Backend
	mallocs uint64
}

// metered runs one kernel call, counting what it allocates. ReadMemStats stops the world, so
// the count is exact, goroutines the kernel starts included.
func (k *kernelMeter) metered(call func()) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	call()
	runtime.ReadMemStats(&after)
	k.mallocs += after.Mallocs - before.Mallocs
}

func (k *kernelMeter) Gemm(p backend.GemmParams, a, b, c []float32) {
	k.metered(func() { k.Backend.Gemm(p, a, b, c) })
}
func (k *kernelMeter) Conv2DForward(p backend.Conv2DParams, x, kernel, bias, y []float32) {
	k.metered(func() { k.Backend.Conv2DForward(p, x, kernel, bias, y) })
}
func (k *kernelMeter) Conv2DBackwardData(p backend.Conv2DParams, dy, kernel, dx []float32) {
	k.metered(func() { k.Backend.Conv2DBackwardData(p, dy, kernel, dx) })
}
func (k *kernelMeter) Conv2DBackwardWeights(p backend.Conv2DParams, x, dy, dkernel, dbias []float32) {
	k.metered(func() { k.Backend.Conv2DBackwardWeights(p, x, dy, dkernel, dbias) })
}
func (k *kernelMeter) Pool2DForward(p backend.Pool2DParams, x, y []float32, argmax []int32) {
	k.metered(func() { k.Backend.Pool2DForward(p, x, y, argmax) })
}
func (k *kernelMeter) Pool2DBackward(p backend.Pool2DParams, dy []float32, argmax []int32, dx []float32) {
	k.metered(func() { k.Backend.Pool2DBackward(p, dy, argmax, dx) })
}
func (k *kernelMeter) BatchNormForwardTraining(rows, channels int, eps float32, x, gamma, beta, y, mean, invStd []float32) {
	k.metered(func() { k.Backend.BatchNormForwardTraining(rows, channels, eps, x, gamma, beta, y, mean, invStd) })
}
func (k *kernelMeter) BatchNormForwardInference(rows, channels int, eps float32, x, gamma, beta, movingMean, movingVar, y []float32) {
	k.metered(func() {
		k.Backend.BatchNormForwardInference(rows, channels, eps, x, gamma, beta, movingMean, movingVar, y)
	})
}
func (k *kernelMeter) BatchNormBackward(rows, channels int, x, dy, gamma, mean, invStd, dx, dgamma, dbeta []float32) {
	k.metered(func() { k.Backend.BatchNormBackward(rows, channels, x, dy, gamma, mean, invStd, dx, dgamma, dbeta) })
}
func (k *kernelMeter) Unary(op backend.UnaryOp, alpha float32, x, y []float32) {
	k.metered(func() { k.Backend.Unary(op, alpha, x, y) })
}
func (k *kernelMeter) UnaryBackward(op backend.UnaryOp, alpha float32, x, y, dy, dx []float32) {
	k.metered(func() { k.Backend.UnaryBackward(op, alpha, x, y, dy, dx) })
}
func (k *kernelMeter) Binary(op backend.BinaryOp, a []float32, aShape []int, b []float32, bShape []int, y []float32, yShape []int) {
	k.metered(func() { k.Backend.Binary(op, a, aShape, b, bShape, y, yShape) })
}
func (k *kernelMeter) Reduce(op backend.ReduceOp, x []float32, xShape []int, axes []int, y []float32) {
	k.metered(func() { k.Backend.Reduce(op, x, xShape, axes, y) })
}
func (k *kernelMeter) Transpose(x []float32, xShape []int, perm []int, y []float32) {
	k.metered(func() { k.Backend.Transpose(x, xShape, perm, y) })
}
func (k *kernelMeter) Softmax(rows, cols int, x, y []float32) {
	k.metered(func() { k.Backend.Softmax(rows, cols, x, y) })
}
func (k *kernelMeter) LogSoftmax(rows, cols int, x, y []float32) {
	k.metered(func() { k.Backend.LogSoftmax(rows, cols, x, y) })
}
func (k *kernelMeter) SoftmaxBackward(rows, cols int, y, dy, dx []float32) {
	k.metered(func() { k.Backend.SoftmaxBackward(rows, cols, y, dy, dx) })
}
func (k *kernelMeter) LogSoftmaxBackward(rows, cols int, y, dy, dx []float32) {
	k.metered(func() { k.Backend.LogSoftmaxBackward(rows, cols, y, dy, dx) })
}
func (k *kernelMeter) Gather(table []float32, tableRows, cols int, idx []int64, out []float32) error {
	var err error
	k.metered(func() { err = k.Backend.Gather(table, tableRows, cols, idx, out) })
	return err
}
func (k *kernelMeter) ScatterAdd(dst []float32, dstRows, cols int, idx []int64, src []float32) {
	k.metered(func() { k.Backend.ScatterAdd(dst, dstRows, cols, idx, src) })
}

// meterName is the name of the backend the installed meter runs.
func meterName() string {
	if k, ok := backend.Current().(*kernelMeter); ok {
		return k.Backend.Name()
	}
	return backend.Current().Name()
}

// withKernelMeter installs a meter over the current backend for the rest of the test.
func withKernelMeter(t *testing.T) *kernelMeter {
	k := &kernelMeter{Backend: backend.Current()}
	prev := backend.SetCurrent(k)
	t.Cleanup(func() { backend.SetCurrent(prev) })
	return k
}

// sparseLossAllocs is what losses.SparseCategoricalCrossEntropy allocates per call, outside
// autograd: the []int64 it copies the labels into (losses/crossentropy.go, sparse) and the
// tensor.FromInt64 that wraps it (the Tensor and the clone of its shape). Passing the labels
// tensor straight to autograd.SparseSoftmaxCrossEntropy, which reads int64, int32, uint8 and
// whole-number float32 labels itself, would bring it to 0; set it to 0 then.
const sparseLossAllocs = 3

// rngAllocs is what deriving one tensor.RNG allocates: its PCG source, its rand.Rand and the
// RNG itself, which cannot be reseeded in place. A step of a model with random layers derives
// the step's generator and one per random layer call (Dropout); a model without them derives
// none. A tensor.RNG method that re-derives into an existing generator would make it 0.
// (From step 100 on, stepRNG's strconv.FormatInt of the step number allocates one more; the
// tests here stay below it.)
const rngAllocs = 3

// stepAllocs trains m on the batches, in turn, until it is warm and returns the heap
// allocations of one further TrainOnBatch, averaged over several, and the part of them made
// inside kernels. It counts as testing.AllocsPerRun does (runtime.MemStats.Mallocs) but
// exactly, without rounding the average down, and without AllocsPerRun's switch to
// GOMAXPROCS(1), which empties the per-P caches of the kernels' sync.Pools and would show
// their refilling as the step's.
func stepAllocs(t *testing.T, m *Model, batches ...[2]*tensor.Tensor) (total, kernels float64) {
	t.Helper()
	meter := withKernelMeter(t)
	i := 0
	step := func() {
		b := batches[i%len(batches)]
		i++
		if _, err := m.TrainOnBatch([]*tensor.Tensor{b[0]}, []*tensor.Tensor{b[1]}); err != nil {
			t.Fatal(err)
		}
	}
	// Warm up with every batch shape twice: the first sight of a shape allocates.
	for range 2 * len(batches) {
		step()
	}
	runs := 8 * len(batches)
	meter.mallocs = 0
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		step()
	}
	runtime.ReadMemStats(&after)
	total = float64(after.Mallocs-before.Mallocs) / float64(runs)
	kernels = float64(meter.mallocs) / float64(runs)
	return total, kernels
}

func labelsBatch(rng *tensor.RNG, rows, classes int) *tensor.Tensor {
	y := tensor.New(tensor.Int64, rows)
	for i := range y.Int64s() {
		y.Int64s()[i] = int64(rng.IntN(classes))
	}
	return y
}

// smallCNN is the Fashion-MNIST network's layer kinds at a test's size, with batch norm
// and a weight penalty besides.
func smallCNN(dropout bool) func() *Model {
	return func() *Model {
		ls := []layers.Layer{
			layers.Conv2D(4, []int{3}, layers.Padding("same"), layers.Activation("relu"), layers.InputShape(12, 12, 1),
				layers.KernelRegularizer(layers.L2(1e-4))),
			layers.BatchNormalization(),
			layers.MaxPooling2D(),
			layers.Conv2D(8, []int{3}, layers.Activation("relu")),
			layers.MaxPooling2D(),
			layers.Flatten(),
			layers.Dense(16, layers.Activation("relu")),
		}
		if dropout {
			ls = append(ls, layers.Dropout(0.5))
		}
		return Sequential(append(ls, layers.Dense(10, layers.Activation("softmax")))...)
	}
}

func mlpModel() *Model {
	return Sequential(
		layers.Dense(512, layers.Activation("relu"), layers.InputShape(784)),
		layers.Dense(512, layers.Activation("relu")),
		layers.Dense(10, layers.Activation("softmax")),
	)
}

// TestTrainStepAllocations pins what a steady training step allocates outside the kernels:
// nothing in autograd, keras, layers or optim (the step's tensors, graph, gradients and
// scratch come from the model's arena), only the sparse cross-entropy's own label copy in
// package losses and, for models with dropout, the random generators. The kernels' share
// depends on the backend and is logged.
func TestTrainStepAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("trains an MLP")
	}
	for _, c := range []struct {
		name           string
		build          func() *Model
		opt            optim.Optimizer
		rows, in, outs int
		random         int // random layer calls per step
	}{
		{"iris/sgd/batch32", irisModel, optim.SGD(0.01), 32, 4, 3, 0},
		{"mlp/adam/batch128", mlpModel, optim.Adam(1e-3), 128, 784, 10, 0},
		{"cnn/adam/batch8", smallCNN(false), optim.Adam(1e-3), 8, 0, 10, 0},
		{"cnn-dropout/adam/batch8", smallCNN(true), optim.Adam(1e-3), 8, 0, 10, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			SetRandomSeed(1)
			m := c.build()
			if err := m.Compile(c.opt, losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()); err != nil {
				t.Fatal(err)
			}
			rng := tensor.NewRNG(2)
			x := rng.RandN(c.rows, 12, 12, 1)
			if c.in > 0 {
				x = rng.RandN(c.rows, c.in)
			}
			y := labelsBatch(rng, c.rows, c.outs)
			total, kernels := stepAllocs(t, m, [2]*tensor.Tensor{x, y})
			own := total - kernels
			t.Logf("%s backend: %.2f allocations per step in all, %.2f of them in kernels", meterName(), total, kernels)
			want := sparseLossAllocs
			if c.random > 0 {
				want += rngAllocs * (1 + c.random)
			}
			if own != float64(want) {
				t.Errorf("a steady training step allocates %.2f times outside the kernels, want %d (the loss's label copy and random generators)", own, want)
			}
		})
	}
}

// TestTrainStepShapeChange alternates full batches with a short one, as an epoch whose row
// count the batch size does not divide ends: every step must train as it would without an
// arena, and once both shapes have been seen the arena serves both without allocating.
func TestTrainStepShapeChange(t *testing.T) {
	rng := tensor.NewRNG(3)
	full := [2]*tensor.Tensor{rng.RandN(32, 4), labelsBatch(rng, 32, 3)}
	short := [2]*tensor.Tensor{rng.RandN(7, 4), labelsBatch(rng, 7, 3)}
	order := [][2]*tensor.Tensor{full, full, short, full, short, short, full}

	train := func(noArena bool) ([]*tensor.Tensor, []float64) {
		SetRandomSeed(4)
		m := irisModel()
		if err := m.Compile(optim.SGD(0.05), losses.SparseCategoricalCrossEntropy()); err != nil {
			t.Fatal(err)
		}
		m.g.noArena = noArena
		var ls []float64
		for _, b := range order {
			l, err := m.TrainOnBatch([]*tensor.Tensor{b[0]}, []*tensor.Tensor{b[1]})
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, l)
		}
		return m.GetWeights(), ls
	}
	wantW, wantL := train(true)
	gotW, gotL := train(false)
	for i := range wantL {
		if math.Float64bits(gotL[i]) != math.Float64bits(wantL[i]) {
			t.Errorf("step %d: loss %v with the arena, %v without", i, gotL[i], wantL[i])
		}
	}
	if !weightsEqual(gotW, wantW) {
		t.Error("weights after mixed batch sizes differ with and without the arena")
	}

	SetRandomSeed(4)
	m := irisModel()
	if err := m.Compile(optim.SGD(0.05), losses.SparseCategoricalCrossEntropy()); err != nil {
		t.Fatal(err)
	}
	total, kernels := stepAllocs(t, m, full, short)
	if own := total - kernels; own != sparseLossAllocs {
		t.Errorf("alternating batch sizes: %.2f allocations per step outside the kernels, want %d", own, sparseLossAllocs)
	}
}

// TestArenaBitIdentical trains the same models with and without the arena: every op, its
// gradient and the optimizer must see the same numbers, to the bit. The CNN covers
// convolution, pooling, batch norm, dropout (random streams), flatten and a weight penalty.
func TestArenaBitIdentical(t *testing.T) {
	rng := tensor.NewRNG(5)
	cnn := func() *Model {
		return Sequential(
			layers.Conv2D(4, []int{3}, layers.Padding("same"), layers.Activation("relu"), layers.InputShape(8, 8, 2),
				layers.KernelRegularizer(layers.L2(1e-3))),
			layers.BatchNormalization(),
			layers.MaxPooling2D(),
			layers.Flatten(),
			layers.Dense(16, layers.Activation("tanh")),
			layers.Dropout(0.25),
			layers.Dense(3, layers.Activation("softmax")),
		)
	}
	for _, c := range []struct {
		name  string
		build func() *Model
		opt   func() optim.Optimizer
		x     *tensor.Tensor
	}{
		{"iris", irisModel, func() optim.Optimizer { return optim.SGD(0.05) }, rng.RandN(16, 4)},
		{"cnn", cnn, func() optim.Optimizer { return optim.Adam(1e-2) }, rng.RandN(6, 8, 8, 2)},
	} {
		t.Run(c.name, func(t *testing.T) {
			y := labelsBatch(rng, c.x.Dim(0), 3)
			train := func(noArena bool) []*tensor.Tensor {
				SetRandomSeed(6)
				m := c.build()
				if err := m.Compile(c.opt(), losses.SparseCategoricalCrossEntropy()); err != nil {
					t.Fatal(err)
				}
				m.g.noArena = noArena
				for range 5 {
					if _, err := m.TrainOnBatch([]*tensor.Tensor{c.x}, []*tensor.Tensor{y}); err != nil {
						t.Fatal(err)
					}
				}
				return m.GetWeights()
			}
			want, got := train(true), train(false)
			for i := range want {
				if !bitsEqual(got[i], want[i]) {
					t.Errorf("weight %d differs after 5 steps with and without the arena", i)
				}
			}
		})
	}
}

func bitsEqual(a, b *tensor.Tensor) bool {
	if !a.Shape().Equal(b.Shape()) {
		return false
	}
	as, bs := a.Float32s(), b.Float32s()
	for i := range as {
		if math.Float32bits(as[i]) != math.Float32bits(bs[i]) {
			return false
		}
	}
	return true
}

// keeper is a metric that keeps every prediction tensor it is given, with a copy of its
// values at the time: a tensor that changed afterwards was a recycled buffer.
type keeper struct {
	kept, snap []*tensor.Tensor
}

func (k *keeper) Name() string { return "keeper" }
func (k *keeper) Reset()       {}
func (k *keeper) Result() float64 {
	return 0
}
func (k *keeper) Update(_, yPred *tensor.Tensor) error {
	k.kept = append(k.kept, yPred)
	k.snap = append(k.snap, yPred.Clone())
	return nil
}

// TestNothingHandedOutIsRecycled checks that what Fit, Evaluate and Predict give their
// callers (metric inputs, predictions) keeps its values after later steps reuse the arena.
func TestNothingHandedOutIsRecycled(t *testing.T) {
	x, y := quadrants(t, 40, 9)
	m := classifier(t)
	k := &keeper{}
	if err := m.Compile(optim.SGD(0.1), losses.SparseCategoricalCrossEntropy(), k); err != nil {
		t.Fatal(err)
	}
	ds := mustDataset(t, x, y)
	if _, err := m.Fit(bg, ds, Epochs(2), BatchSize(8), Verbose(0), ValidationData(ds)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Evaluate(bg, ds, BatchSize(8)); err != nil {
		t.Fatal(err)
	}
	if len(k.kept) == 0 {
		t.Fatal("the metric saw no batches")
	}
	for i := range k.kept {
		if !tensor.Equal(k.kept[i], k.snap[i]) {
			t.Fatalf("metric input %d of %d changed after it was handed over", i, len(k.kept))
		}
	}
	first, err := m.Predict(bg, x, BatchSize(8))
	if err != nil {
		t.Fatal(err)
	}
	snap := first.Clone()
	if _, err := m.Predict(bg, tensor.NewRNG(1).RandN(40, 2), BatchSize(8)); err != nil {
		t.Fatal(err)
	}
	if !tensor.Equal(first, snap) {
		t.Error("a prediction changed when the next Predict ran")
	}
}

// TestPredictConcurrentWithTraining runs Predict from several goroutines while another trains
// the same model with TrainOnBatch; under -race it checks that the pooled inference arenas and
// the training arena share nothing. Predictions made while no step runs must be identical.
func TestPredictConcurrentWithTraining(t *testing.T) {
	x, y := quadrants(t, 64, 11)
	m := classifier(t)
	if err := m.Compile(optim.SGD(0.05), losses.SparseCategoricalCrossEntropy()); err != nil {
		t.Fatal(err)
	}
	want, err := m.Predict(bg, x, BatchSize(16))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				got, err := m.Predict(bg, x, BatchSize(16))
				if err != nil {
					errs <- err
					return
				}
				if !tensor.Equal(got, want) {
					errs <- errors.New("concurrent Predict gave a different result")
					return
				}
			}
		}()
	}
	wg.Wait()

	// Now train alongside: predictions see the weights between steps, so only their shape is
	// checked, and the race detector checks the rest.
	stop := make(chan struct{})
	trained := make(chan error, 1)
	go func() {
		defer close(trained)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := m.TrainOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y}); err != nil {
				trained <- err
				return
			}
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				got, err := m.Predict(bg, x, BatchSize(16))
				if err != nil {
					errs <- err
					return
				}
				if !got.Shape().Equal(want.Shape()) {
					errs <- errors.New("Predict during training gave a wrong shape")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-trained; err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
