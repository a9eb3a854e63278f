package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/bench"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/tensor"
)

// serveWorker is the deepframe worker: it answers the orchestrator's requests (see
// protocol.go) until "quit" or the end of its input.
func serveWorker(in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(in)
	enc := json.NewEncoder(out)
	if err := enc.Encode(response{Ready: true}); err != nil {
		return err
	}
	var (
		task    Task
		step    func() error
		perCall bool
	)
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var resp response
		switch req.Op {
		case "prepare":
			if req.Task == nil {
				resp.Error = "prepare without a task"
				break
			}
			task, step = *req.Task, nil
			// Start from a collected heap so the peak is this task's, not garbage the
			// previous one left behind.
			runtime.GC()
			debug.FreeOSMemory()
			resetPeakRSS()
			s, pc, err := deepframeStep(task)
			for i := 0; err == nil && i < task.Warmup; i++ {
				err = s()
			}
			if err != nil {
				resp.Error = err.Error()
				break
			}
			step, perCall = s, pc
		case "rep":
			if step == nil {
				resp.Error = "rep without a prepared task"
				break
			}
			secs, calls, err := timeRep(task.Iters, perCall, step)
			if err != nil {
				resp.Error = err.Error()
				break
			}
			resp.Seconds, resp.Calls = secs, calls
		case "finish":
			resp.PeakRSS = peakRSS()
			step = nil
		case "info":
			b := backend.Current()
			resp.Versions = map[string]string{"deepframe": keras.FrameworkVersion, "go": runtime.Version()}
			resp.Backend = fmt.Sprintf("%s: %s", b.Name(), b.Version())
			resp.Threads = backend.NumThreads()
			resp.Settings = map[string]string{"GOMAXPROCS": fmt.Sprint(runtime.GOMAXPROCS(0))}
			if skipped := backend.Skipped(); len(skipped) > 0 {
				resp.Settings["skipped_backends"] = fmt.Sprint(skipped)
			}
		case "quit":
			return nil
		default:
			resp.Error = fmt.Sprintf("unknown request %q", req.Op)
		}
		if err := enc.Encode(resp); err != nil {
			return err
		}
	}
}

// timeRep times iters calls of step, and each call on its own when perCall is set (for
// latency percentiles).
func timeRep(iters int, perCall bool, step func() error) (float64, []float64, error) {
	var calls []float64
	if perCall {
		calls = make([]float64, 0, iters)
	}
	start := time.Now()
	for i := 0; i < iters; i++ {
		if perCall {
			c := time.Now()
			if err := step(); err != nil {
				return 0, nil, err
			}
			calls = append(calls, time.Since(c).Seconds())
			continue
		}
		if err := step(); err != nil {
			return 0, nil, err
		}
	}
	return time.Since(start).Seconds(), calls, nil
}

// deepframeStep builds what a task needs and returns one iteration of it.
func deepframeStep(t Task) (step func() error, perCall bool, err error) {
	switch t.Kind {
	case "train":
		step, err = deepframeTrain(t)
	case "infer":
		step, err = deepframeInfer(t)
		perCall = t.Batch == 1
	case "sgemm":
		step = deepframeSgemm(t)
	default:
		err = fmt.Errorf("unknown task kind %q", t.Kind)
	}
	return step, perCall, err
}

func workloadFor(model string) (bench.Workload, error) {
	for _, w := range bench.TrainWorkloads {
		if w.ID == model+"_train" {
			return w, nil
		}
	}
	return bench.Workload{}, fmt.Errorf("unknown model %q", model)
}

func deepframeTrain(t Task) (func() error, error) {
	w, err := workloadFor(t.Model)
	if err != nil {
		return nil, err
	}
	keras.SetRandomSeed(1)
	m := w.Build()
	if err := m.Compile(w.Opt(), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()); err != nil {
		return nil, err
	}
	w.Batch = t.Batch
	x, y := bench.RandomBatch(w, 1)
	xs, ys := []*tensor.Tensor{x}, []*tensor.Tensor{y}
	return func() error {
		_, err := m.TrainOnBatch(xs, ys)
		return err
	}, nil
}

func deepframeInfer(t Task) (func() error, error) {
	if t.Model != "mlp" {
		return nil, fmt.Errorf("inference of %q is not defined", t.Model)
	}
	keras.SetRandomSeed(1)
	m := bench.MLP()
	x := tensor.NewRNG(2).RandN(t.Batch, 784)
	ctx := context.Background()
	// Predict is the public inference entry point, the one serve uses: no tape, no
	// activations kept.
	return func() error {
		_, err := m.Predict(ctx, x, keras.BatchSize(t.Batch))
		return err
	}, nil
}

func deepframeSgemm(t Task) func() error {
	n := t.N
	rng := tensor.NewRNG(3)
	a, b := rng.RandN(n, n).Float32s(), rng.RandN(n, n).Float32s()
	c := make([]float32, n*n)
	p := backend.GemmParams{M: n, N: n, K: n, Alpha: 1}
	be := backend.Current()
	return func() error {
		be.Gemm(p, a, b, c)
		return nil
	}
}
