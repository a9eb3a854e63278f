package main

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for peerbench when the orchestrator under test
// re-runs its own executable as the deepframe worker.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-worker" {
		if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestStatistics(t *testing.T) {
	if got := median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("median of 5 1 3 = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4 1 3 2 = %v", got)
	}
	v := make([]float64, 100)
	for i := range v {
		v[i] = float64(100 - i) // 100..1
	}
	if p50, p99 := percentile(v, 50), percentile(v, 99); p50 != 50 || p99 != 99 {
		t.Errorf("p50 %v p99 %v of 1..100, want 50 and 99", p50, p99)
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing should be NaN")
	}
}

// TestWorkerProtocol drives the deepframe worker in process through one task.
func TestWorkerProtocol(t *testing.T) {
	reqR, reqW := io.Pipe()
	respR, respW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- serveWorker(reqR, respW); respW.Close() }()
	enc := json.NewEncoder(reqW)
	answers := bufio.NewScanner(respR)
	next := func() response {
		t.Helper()
		if !answers.Scan() {
			t.Fatalf("no answer: %v", answers.Err())
		}
		var r response
		if err := json.Unmarshal(answers.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := next(); !r.Ready {
		t.Fatalf("first answer %+v, want ready", r)
	}
	ask := func(req request) response {
		t.Helper()
		if err := enc.Encode(req); err != nil {
			t.Fatal(err)
		}
		return next()
	}
	if r := ask(request{Op: "rep"}); r.Error == "" {
		t.Error("rep before prepare succeeded")
	}
	task := Task{ID: "mlp_infer_b1", Kind: "infer", Model: "mlp", Batch: 1, Warmup: 1, Iters: 3, Reps: 1}
	if r := ask(request{Op: "prepare", Task: &task}); r.Error != "" {
		t.Fatal(r.Error)
	}
	r := ask(request{Op: "rep"})
	if r.Error != "" || r.Seconds <= 0 || len(r.Calls) != 3 {
		t.Fatalf("rep answered %+v, want a duration and 3 call times", r)
	}
	if r := ask(request{Op: "finish"}); r.Error != "" {
		t.Fatal(r.Error)
	}
	info := ask(request{Op: "info"})
	if info.Backend == "" || info.Versions["deepframe"] == "" || info.Threads < 1 {
		t.Errorf("info %+v lacks the backend, version or threads", info)
	}
	if err := enc.Encode(request{Op: "quit"}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestOrchestrate runs a tiny plan end to end: deepframe always, and NumPy and ONNX Runtime
// too when make bench has created the Python environment.
func TestOrchestrate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs worker processes")
	}
	fws := "deepframe"
	python := filepath.Join("..", "..", ".venv", "bin", "python")
	if _, err := os.Stat(python); err == nil {
		fws += ",numpy,onnxruntime"
	} else {
		t.Logf("no %s: only deepframe runs (make bench creates the environment)", python)
	}
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "r.json")
	var out strings.Builder
	args := []string{"-quick", "-reps", "2", "-tasks", "sgemm_512,mlp_infer_b1", "-frameworks", fws,
		"-python", python, "-peers", filepath.Join("..", "..", "peers.py"), "-json", jsonPath, "-md", ""}
	if err := run(args, &out, io.Discard); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	md := out.String()
	for _, want := range []string{"| sgemm 512 | deepframe |", "MLP inference, batch 1", "deepframe backend:", "Measured sgemm peak"} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rows []Row `json:"rows"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	byKey := map[string]Row{}
	for _, r := range doc.Rows {
		if r.Error != "" {
			t.Errorf("%s %s failed: %s", r.Framework, r.Task, r.Error)
		}
		byKey[r.Framework+"/"+r.Task] = r
	}
	df := byKey["deepframe/sgemm_512"]
	if df.Median <= 0 || df.Reps != 2 || df.PeakRSS <= 0 {
		t.Errorf("deepframe sgemm row %+v: want a median, 2 repetitions and a peak RSS", df)
	}
	if lat := byKey["deepframe/mlp_infer_b1"]; lat.P50ms <= 0 || lat.P99ms < lat.P50ms {
		t.Errorf("batch-1 latency p50 %v p99 %v", lat.P50ms, lat.P99ms)
	}
	if np, ok := byKey["numpy/sgemm_512"]; ok {
		if want := df.Median / np.Median; math.Abs(np.Ratio-want) > 1e-9*want {
			t.Errorf("numpy ratio %v, want deepframe/numpy = %v", np.Ratio, want)
		}
	}
}
