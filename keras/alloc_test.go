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

// kernelMeter is a backend that runs another and counts the heap allocations made while each
// kernel runs. The tests below do not need it: a step allocates nothing, kernels included.
// When one does, it says where (see explainAllocs).
type kernelMeter struct {
	backend.Backend
	mallocs map[string]uint64
}

// metered runs one kernel call, counting what it allocates. ReadMemStats stops the world, so
// the count is exact, goroutines the kernel starts included.
func (k *kernelMeter) metered(name string, call func()) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	call()
	runtime.ReadMemStats(&after)
	if d := after.Mallocs - before.Mallocs; d > 0 {
		k.mallocs[name] += d
	}
}

func (k *kernelMeter) Gemm(p backend.GemmParams, a, b, c []float32) {
	k.metered("Gemm", func() { k.Backend.Gemm(p, a, b, c) })
}
func (k *kernelMeter) Conv2DForward(p backend.Conv2DParams, x, kernel, bias, y []float32) {
	k.metered("Conv2DForward", func() { k.Backend.Conv2DForward(p, x, kernel, bias, y) })
}
func (k *kernelMeter) Conv2DBackwardData(p backend.Conv2DParams, dy, kernel, dx []float32) {
	k.metered("Conv2DBackwardData", func() { k.Backend.Conv2DBackwardData(p, dy, kernel, dx) })
}
func (k *kernelMeter) Conv2DBackwardWeights(p backend.Conv2DParams, x, dy, dkernel, dbias []float32) {
	k.metered("Conv2DBackwardWeights", func() { k.Backend.Conv2DBackwardWeights(p, x, dy, dkernel, dbias) })
}
func (k *kernelMeter) Pool2DForward(p backend.Pool2DParams, x, y []float32, argmax []int32) {
	k.metered("Pool2DForward", func() { k.Backend.Pool2DForward(p, x, y, argmax) })
}
func (k *kernelMeter) Pool2DBackward(p backend.Pool2DParams, dy []float32, argmax []int32, dx []float32) {
	k.metered("Pool2DBackward", func() { k.Backend.Pool2DBackward(p, dy, argmax, dx) })
}
func (k *kernelMeter) BatchNormForwardTraining(rows, channels int, eps float32, x, gamma, beta, y, mean, invStd []float32) {
	k.metered("BatchNormForwardTraining", func() {
		k.Backend.BatchNormForwardTraining(rows, channels, eps, x, gamma, beta, y, mean, invStd)
	})
}
func (k *kernelMeter) BatchNormForwardInference(rows, channels int, eps float32, x, gamma, beta, movingMean, movingVar, y []float32) {
	k.metered("BatchNormForwardInference", func() {
		k.Backend.BatchNormForwardInference(rows, channels, eps, x, gamma, beta, movingMean, movingVar, y)
	})
}
func (k *kernelMeter) BatchNormBackward(rows, channels int, x, dy, gamma, mean, invStd, dx, dgamma, dbeta []float32) {
	k.metered("BatchNormBackward", func() {
		k.Backend.BatchNormBackward(rows, channels, x, dy, gamma, mean, invStd, dx, dgamma, dbeta)
	})
}
func (k *kernelMeter) Unary(op backend.UnaryOp, alpha float32, x, y []float32) {
	k.metered("Unary", func() { k.Backend.Unary(op, alpha, x, y) })
}
func (k *kernelMeter) UnaryBackward(op backend.UnaryOp, alpha float32, x, y, dy, dx []float32) {
	k.metered("UnaryBackward", func() { k.Backend.UnaryBackward(op, alpha, x, y, dy, dx) })
}
func (k *kernelMeter) Binary(op backend.BinaryOp, a []float32, aShape []int, b []float32, bShape []int, y []float32, yShape []int) {
	k.metered("Binary", func() { k.Backend.Binary(op, a, aShape, b, bShape, y, yShape) })
}
func (k *kernelMeter) Reduce(op backend.ReduceOp, x []float32, xShape []int, axes []int, y []float32) {
	k.metered("Reduce", func() { k.Backend.Reduce(op, x, xShape, axes, y) })
}
func (k *kernelMeter) Transpose(x []float32, xShape []int, perm []int, y []float32) {
	k.metered("Transpose", func() { k.Backend.Transpose(x, xShape, perm, y) })
}
func (k *kernelMeter) Softmax(rows, cols int, x, y []float32) {
	k.metered("Softmax", func() { k.Backend.Softmax(rows, cols, x, y) })
}
func (k *kernelMeter) LogSoftmax(rows, cols int, x, y []float32) {
	k.metered("LogSoftmax", func() { k.Backend.LogSoftmax(rows, cols, x, y) })
}
func (k *kernelMeter) SoftmaxBackward(rows, cols int, y, dy, dx []float32) {
	k.metered("SoftmaxBackward", func() { k.Backend.SoftmaxBackward(rows, cols, y, dy, dx) })
}
func (k *kernelMeter) LogSoftmaxBackward(rows, cols int, y, dy, dx []float32) {
	k.metered("LogSoftmaxBackward", func() { k.Backend.LogSoftmaxBackward(rows, cols, y, dy, dx) })
}
func (k *kernelMeter) Gather(table []float32, tableRows, cols int, idx []int64, out []float32) error {
	var err error
	k.metered("Gather", func() { err = k.Backend.Gather(table, tableRows, cols, idx, out) })
	return err
}
func (k *kernelMeter) ScatterAdd(dst []float32, dstRows, cols int, idx []int64, src []float32) {
	k.metered("ScatterAdd", func() { k.Backend.ScatterAdd(dst, dstRows, cols, idx, src) })
}

// explainAllocs reruns steps under a kernel meter and logs which kernels allocated, and how
// much the rest of the step (autograd, keras, layers, losses, optim) did.
func explainAllocs(t *testing.T, step func(), runs int) {
	t.Helper()
	k := &kernelMeter{Backend: backend.Current(), mallocs: map[string]uint64{}}
	prev := backend.SetCurrent(k)
	defer backend.SetCurrent(prev)
	step() // the meter's own first calls
	for name := range k.mallocs {
		delete(k.mallocs, name)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		step()
	}
	runtime.ReadMemStats(&after)
	var inKernels uint64
	for name, n := range k.mallocs {
		inKernels += n
		t.Logf("  %s: %.2f allocations per step", name, float64(n)/float64(runs))
	}
	t.Logf("  outside the kernels: %.2f allocations per step", float64(after.Mallocs-before.Mallocs-inKernels)/float64(runs))
}

// stepAllocs trains m on the batches, in turn, until it is warm and returns the heap
// allocations of one further TrainOnBatch, averaged over a window of steps: the fewest of a
// few windows. It counts as testing.AllocsPerRun does (runtime.MemStats.Mallocs) but exactly,
// and without AllocsPerRun's switch to GOMAXPROCS(1), which takes the parallel kernels off
// their parallel paths.
//
// The best window rather than the first, because what parallel kernels go through settles
// late, whenever the scheduler first arranges the case that grows it: the runtime's per-P
// caches of the records goroutines park with, and purego's sync.Pool of call frames (every
// oneDNN call), allocate as callers resume on other Ps until they have balanced out. Each
// happens a bounded number of times. A step that allocates every time shows in every window.
func stepAllocs(t *testing.T, m *Model, batches ...[2]*tensor.Tensor) float64 {
	t.Helper()
	i := 0
	step := func() {
		b := batches[i%len(batches)]
		i++
		if _, err := m.TrainOnBatch([]*tensor.Tensor{b[0]}, []*tensor.Tensor{b[1]}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC() // no collection, which empties the pools, may start in a window
	// Warm up with every batch shape a few times: the first sight of a shape allocates.
	for range 4 * len(batches) {
		step()
	}
	runs := 4 * len(batches)
	best := math.Inf(1)
	for range 6 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			step()
		}
		runtime.ReadMemStats(&after)
		best = min(best, float64(after.Mallocs-before.Mallocs)/float64(runs))
		if best == 0 {
			return 0
		}
	}
	explainAllocs(t, step, runs)
	return best
}

// backends are the backends a step is checked on: the reference backend and, when the
// process chose another (the accelerated one the machine has), that one too.
func backends() []backend.Backend {
	bs := []backend.Backend{backend.Reference()}
	if cur := backend.Current(); cur.Name() != backend.Reference().Name() {
		bs = append(bs, cur)
	}
	return bs
}

// onBackends runs f once per backend with that backend installed.
func onBackends(t *testing.T, f func(t *testing.T)) {
	for _, b := range backends() {
		t.Run(b.Name(), func(t *testing.T) {
			prev := backend.SetCurrent(b)
			defer backend.SetCurrent(prev)
			f(t)
		})
	}
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

// TestTrainStepAllocations checks that a steady training step allocates nothing at all, on
// the reference backend and on the accelerated one the process chose: the step's tensors,
// graph, gradients and scratch come from the model's arena, kernels take their scratch and
// their parallel loops' tasks from pools, the loss reads the labels in place, and the random
// generators of dropout are reseeded in place every step.
func TestTrainStepAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("trains an MLP; allocation counts need warm pools (and no race detector)")
	}
	onBackends(t, func(t *testing.T) {
		for _, c := range []struct {
			name           string
			build          func() *Model
			opt            optim.Optimizer
			rows, in, outs int
		}{
			{"iris/sgd/batch32", irisModel, optim.SGD(0.01), 32, 4, 3},
			{"mlp/adam/batch128", mlpModel, optim.Adam(1e-3), 128, 784, 10},
			{"cnn/adam/batch8", smallCNN(false), optim.Adam(1e-3), 8, 0, 10},
			{"cnn-dropout/adam/batch8", smallCNN(true), optim.Adam(1e-3), 8, 0, 10},
			// Big enough that the kernels go parallel (and oneDNN takes the pooling).
			{"cnn-dropout/adam/batch64", smallCNN(true), optim.Adam(1e-3), 64, 0, 10},
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
				if got := stepAllocs(t, m, [2]*tensor.Tensor{x, y}); got != 0 {
					t.Errorf("a steady training step allocates %.2f times, want 0", got)
				}
			})
		}
	})
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

	if testing.Short() || raceEnabled {
		return
	}
	onBackends(t, func(t *testing.T) {
		SetRandomSeed(4)
		m := irisModel()
		if err := m.Compile(optim.SGD(0.05), losses.SparseCategoricalCrossEntropy()); err != nil {
			t.Fatal(err)
		}
		if got := stepAllocs(t, m, full, short); got != 0 {
			t.Errorf("alternating batch sizes: %.2f allocations per step, want 0", got)
		}
	})
}

// TestDropoutMasksFollowTheSeed trains the same model with dropout twice from one seed and
// once from another: the masks, and so the weights, must repeat with the seed and differ
// without it, although every step now reseeds the same generators in place.
func TestDropoutMasksFollowTheSeed(t *testing.T) {
	rng := tensor.NewRNG(8)
	x, y := rng.RandN(16, 12, 12, 1), labelsBatch(rng, 16, 10)
	train := func(seed uint64, layerSeed bool) []*tensor.Tensor {
		SetRandomSeed(seed)
		var m *Model
		if layerSeed {
			m = Sequential(layers.Flatten(layers.InputShape(12, 12, 1)), layers.Dense(16),
				layers.Dropout(0.5, layers.Seed(3)), layers.Dense(10, layers.Activation("softmax")))
		} else {
			m = smallCNN(true)()
		}
		if err := m.Compile(optim.SGD(0.1), losses.SparseCategoricalCrossEntropy()); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			if _, err := m.TrainOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y}); err != nil {
				t.Fatal(err)
			}
		}
		return m.GetWeights()
	}
	for _, layerSeed := range []bool{false, true} {
		a, b, c := train(1, layerSeed), train(1, layerSeed), train(2, layerSeed)
		if !weightsEqual(a, b) {
			t.Errorf("layer seed %v: one seed trained two different models", layerSeed)
		}
		if weightsEqual(a, c) {
			t.Errorf("layer seed %v: two seeds trained the same model", layerSeed)
		}
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
