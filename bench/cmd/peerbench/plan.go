package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/deepframe/deepframe/bench"
)

// Task is one measured workload. The same plan goes to every framework's worker, so all of
// them run the same iteration counts; bench/peers.py reads the same JSON fields.
type Task struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`            // "train", "infer" or "sgemm"
	Model string `json:"model,omitempty"` // "mlp", "cnn" or "iris" (train, infer)
	Batch int    `json:"batch,omitempty"` // rows per step (train, infer)
	N     int    `json:"n,omitempty"`     // square matrix size (sgemm)
	// Warmup iterations run before timing starts and are not counted: they cover lazy
	// initialisation, first-step allocations, graph tracing and thread-pool start-up.
	Warmup int `json:"warmup"`
	Iters  int `json:"iters"` // iterations per timed repetition
	Reps   int `json:"reps"`  // timed repetitions; the report takes their median
	// FLOPs of one iteration (0 where not meaningful), for GFLOP/s and % of the sgemm peak.
	FLOPs float64 `json:"flops"`
}

// Title is the workload's name in the report.
func (t Task) Title() string {
	switch t.ID {
	case "mlp_train":
		return "MLP 784-512-512-10 train (Adam, batch 128)"
	case "cnn_train":
		return "CNN 28x28x1 train (Adam, batch 64)"
	case "iris_train":
		return "iris 4-100-100-3 train (SGD, batch 32)"
	case "mlp_infer_b1":
		return "MLP inference, batch 1"
	case "mlp_infer_b128":
		return "MLP inference, batch 128"
	}
	if t.Kind == "sgemm" {
		return fmt.Sprintf("sgemm %d", t.N)
	}
	return t.ID
}

// Plan is what a worker is asked to run.
type Plan struct {
	Threads int    `json:"threads"`
	Tasks   []Task `json:"tasks"`
}

// Iteration counts are fixed (not calibrated at run time) so that every framework does the
// same work and a run is comparable with the next. In the full mode a repetition takes 0.3 to
// 2 seconds per framework on a quiet 2-core machine (about 3.5 minutes for the whole plan,
// 8 for make bench with the Go benchmarks); the quick mode's counts only check that
// everything runs.
func makePlan(quick bool, threads, reps int) Plan {
	type counts struct{ warmup, iters int }
	pick := func(q, f counts) counts {
		if quick {
			return q
		}
		return f
	}
	if reps <= 0 {
		reps = 7
		if quick {
			reps = 5
		}
	}
	train := func(w bench.Workload, model string, c counts) Task {
		return Task{ID: w.ID, Kind: "train", Model: model, Batch: w.Batch, Warmup: c.warmup, Iters: c.iters, Reps: reps,
			FLOPs: 6 * float64(w.MACs) * float64(w.Batch)}
	}
	infer := func(batch int, c counts) Task {
		return Task{ID: fmt.Sprintf("mlp_infer_b%d", batch), Kind: "infer", Model: "mlp", Batch: batch,
			Warmup: c.warmup, Iters: c.iters, Reps: reps, FLOPs: 2 * float64(bench.MLPMACs) * float64(batch)}
	}
	sgemm := func(n int, c counts) Task {
		return Task{ID: fmt.Sprintf("sgemm_%d", n), Kind: "sgemm", N: n, Warmup: c.warmup, Iters: c.iters, Reps: reps,
			FLOPs: 2 * float64(n) * float64(n) * float64(n)}
	}
	return Plan{Threads: threads, Tasks: []Task{
		train(bench.MLPTrain, "mlp", pick(counts{5, 20}, counts{10, 150})),
		train(bench.CNNTrain, "cnn", pick(counts{2, 3}, counts{3, 24})),
		train(bench.IrisTrain, "iris", pick(counts{50, 200}, counts{100, 2000})),
		infer(1, pick(counts{50, 200}, counts{200, 4000})),
		infer(128, pick(counts{5, 30}, counts{10, 400})),
		sgemm(512, pick(counts{3, 20}, counts{5, 300})),
		sgemm(1024, pick(counts{1, 4}, counts{2, 60})),
		sgemm(2048, pick(counts{1, 1}, counts{1, 10})),
	}}
}

// filter keeps the tasks whose ID starts with one of the comma-separated prefixes.
func (p Plan) filter(prefixes string) Plan {
	if prefixes == "" {
		return p
	}
	var keep []Task
	for _, t := range p.Tasks {
		for _, pre := range strings.Split(prefixes, ",") {
			if pre = strings.TrimSpace(pre); pre != "" && strings.HasPrefix(t.ID, pre) {
				keep = append(keep, t)
				break
			}
		}
	}
	p.Tasks = keep
	return p
}

func (p Plan) task(id string) (Task, bool) {
	for _, t := range p.Tasks {
		if t.ID == id {
			return t, true
		}
	}
	return Task{}, false
}

// TaskResult is one worker's raw measurement of one task; the orchestrator computes the
// statistics so that every framework's figures come from the same code.
type TaskResult struct {
	ID         string    `json:"id"`
	RepSeconds []float64 `json:"rep_seconds"`
	// CallSeconds holds every timed call's duration for latency percentiles (batch-1
	// inference only).
	CallSeconds []float64 `json:"call_seconds,omitempty"`
	// PeakRSS is the process's resident high-water mark while this task ran (the mark is
	// reset before each task where the kernel allows it), in bytes.
	PeakRSS int64  `json:"peak_rss_bytes,omitempty"`
	Note    string `json:"note,omitempty"`
	Error   string `json:"error,omitempty"`
}

// WorkerResult is a worker's whole output: one JSON object on its last stdout line.
type WorkerResult struct {
	Framework string            `json:"framework"`
	Label     string            `json:"label,omitempty"`
	Versions  map[string]string `json:"versions"`
	Backend   string            `json:"backend,omitempty"`
	Threads   int               `json:"threads"`
	Settings  map[string]string `json:"settings,omitempty"`
	Results   []TaskResult      `json:"results"`
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
