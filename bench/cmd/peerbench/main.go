// Command peerbench runs the issue-3 workloads in deepframe and in its peers (PyTorch,
// TensorFlow/Keras, ONNX Runtime, NumPy for sgemm), each framework in its own process with
// the same thread budget and the same fixed iteration counts, and prints one markdown table
// of median throughput, deepframe/peer ratios, latency percentiles and peak resident memory.
// It also writes the table and the raw figures as JSON.
//
// bench/run.sh (make bench) prepares the Python environment and calls it:
//
//	go run ./bench/cmd/peerbench [-quick] [-threads 2] [-python bench/.venv/bin/python]
//
// The deepframe figures come from this same binary re-run as a worker (-worker), so that
// its memory is measured apart from the orchestrator's.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type options struct {
	quick      bool
	threads    int
	reps       int
	python     string
	script     string
	frameworks string
	tasks      string
	jsonOut    string
	mdOut      string
	timeout    time.Duration
	worker     bool
	// keepCoreType passes an inherited OPENBLAS_CORETYPE on to the workers.
	keepCoreType bool
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "peerbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("peerbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.quick, "quick", os.Getenv("QUICK") == "1", "smoke run with small iteration counts (also QUICK=1)")
	fs.IntVar(&o.threads, "threads", envInt("THREADS", 2), "intra-op threads every framework gets (also THREADS=n)")
	fs.IntVar(&o.reps, "reps", 0, "timed repetitions per workload (default 7, 5 with -quick)")
	fs.StringVar(&o.python, "python", "bench/.venv/bin/python", "Python interpreter with torch, tensorflow-cpu, onnxruntime, onnx and numpy")
	fs.StringVar(&o.script, "peers", "bench/peers.py", "the peers' worker script")
	fs.StringVar(&o.frameworks, "frameworks", "deepframe,torch,tensorflow,onnxruntime,numpy", "frameworks to run, comma-separated")
	fs.StringVar(&o.tasks, "tasks", "", "only the workloads whose id starts with one of these comma-separated prefixes (mlp_train, cnn_train, iris_train, mlp_infer, sgemm)")
	fs.StringVar(&o.jsonOut, "json", "bench/results/latest.json", "where to write the results as JSON (empty: nowhere)")
	fs.StringVar(&o.mdOut, "md", "bench/results/latest.md", "where to write the markdown table too (empty: stdout only)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "time limit for one answer from a framework's process (a warm-up or one repetition)")
	fs.BoolVar(&o.worker, "worker", false, "internal: serve as the deepframe worker (requests on stdin, answers on fd 3)")
	fs.BoolVar(&o.keepCoreType, "keep-openblas-coretype", false, "pass an OPENBLAS_CORETYPE set in the environment on to the frameworks (by default it is removed so each library picks its own kernels)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.threads < 1 {
		return o, fmt.Errorf("-threads %d: want at least 1", o.threads)
	}
	return o, nil
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	if o.worker {
		out := os.NewFile(3, "responses")
		if _, err := out.Stat(); err != nil {
			return errors.New("-worker needs file descriptor 3 for its answers (it is started by peerbench itself)")
		}
		return serveWorker(os.Stdin, out)
	}
	return orchestrate(o, stdout, logf)
}

// framework is one worker process to start.
type framework struct {
	name  string // as peers.py knows it
	label string // as the report shows it
	kinds map[string]bool
}

func frameworksFor(list string) ([]framework, error) {
	all := map[string]bool{"train": true, "infer": true, "sgemm": true}
	known := map[string]framework{
		"deepframe":   {name: "deepframe", label: "deepframe", kinds: all},
		"torch":       {name: "torch", label: "torch", kinds: all},
		"tensorflow":  {name: "tensorflow", label: "tf/keras", kinds: all},
		"onnxruntime": {name: "onnxruntime", label: "onnxruntime", kinds: map[string]bool{"infer": true, "sgemm": true}},
		"numpy":       {name: "numpy", label: "numpy", kinds: map[string]bool{"sgemm": true}},
	}
	var out []framework
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		f, ok := known[n]
		if !ok {
			return nil, fmt.Errorf("unknown framework %q (known: deepframe, torch, tensorflow, onnxruntime, numpy)", n)
		}
		out = append(out, f)
	}
	return out, nil
}

// threadEnv gives every library in a worker the same budget. Without OMP/MKL/OpenBLAS
// variables each pool would size itself from the core count and could oversubscribe.
func threadEnv(n int) []string {
	s := strconv.Itoa(n)
	return []string{
		"DEEPFRAME_NUM_THREADS=" + s, "OMP_NUM_THREADS=" + s, "MKL_NUM_THREADS=" + s,
		"OPENBLAS_NUM_THREADS=" + s, "GOMAXPROCS=" + s,
		"TF_NUM_INTRAOP_THREADS=" + s, "TF_NUM_INTEROP_THREADS=1",
		"TF_CPP_MIN_LOG_LEVEL=2", "PYTHONUNBUFFERED=1",
	}
}

// workerRun is what one worker process produced.
type workerRun struct {
	fw      framework
	res     WorkerResult
	peakRSS int64 // the whole process's, from ru_maxrss
	wall    time.Duration
	err     error
}

// switchGap is the pause before a repetition runs in a different process than the last
// one: thread pools (OpenMP, Eigen, onnxruntime) spin for a few milliseconds after their last
// job, and that spinning must not eat into the next framework's time.
const switchGap = 100 * time.Millisecond

func orchestrate(o options, stdout io.Writer, logf func(string, ...any)) error {
	fws, err := frameworksFor(o.frameworks)
	if err != nil {
		return err
	}
	plan := makePlan(o.quick, o.threads, o.reps).filter(o.tasks)
	if len(plan.Tasks) == 0 {
		return fmt.Errorf("-tasks %q matches no workload", o.tasks)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rep := newReport(o, plan)
	env := append(os.Environ(), threadEnv(o.threads)...)
	if v, ok := os.LookupEnv("OPENBLAS_CORETYPE"); ok && !o.keepCoreType {
		// A CORETYPE inherited from the shell pins every OpenBLAS in the run (deepframe's and
		// NumPy's) to one kernel family, which need not be this CPU's best; each library
		// chooses for itself instead, and the report says so.
		env = withoutEnv(env, "OPENBLAS_CORETYPE")
		rep.notes = append(rep.notes, fmt.Sprintf("OPENBLAS_CORETYPE=%s was set in the environment and removed for the run so that each library picks its own kernels (-keep-openblas-coretype keeps it)", v))
	}

	var workers []*worker
	for _, fw := range fws {
		if !fw.runsAny(plan) {
			continue
		}
		var cmd *exec.Cmd
		if fw.name == "deepframe" {
			cmd = exec.Command(self, "-worker", "-threads", strconv.Itoa(o.threads))
		} else {
			if _, err := exec.LookPath(o.python); err != nil {
				workers = append(workers, &worker{fw: fw, err: fmt.Errorf("no Python at %s (bench/run.sh creates it; or pass -python)", o.python)})
				continue
			}
			cmd = exec.Command(o.python, o.script, "--framework", fw.name, "--threads", strconv.Itoa(o.threads))
		}
		cmd.Env = env
		logf("peerbench: starting %s", fw.label)
		workers = append(workers, startWorker(cmd, fw, o.timeout))
	}

	for _, t := range plan.Tasks {
		var active []*worker
		for _, w := range workers {
			if w.err == nil && w.fw.kinds[t.Kind] {
				active = append(active, w)
			}
		}
		results := map[*worker]*TaskResult{}
		var ready []*worker
		for _, w := range active {
			tr := &TaskResult{ID: t.ID}
			results[w] = tr
			task := t
			logf("peerbench: %s: %s warm-up (%d iterations)", t.ID, w.fw.label, t.Warmup)
			if _, err := w.call(request{Op: "prepare", Task: &task}); err != nil {
				tr.Error = err.Error()
				continue
			}
			ready = append(ready, w)
		}
		var last *worker
		for r := 0; r < t.Reps; r++ {
			// Rotating the order keeps any framework from always running right after the
			// same neighbour.
			var line []string
			for k := range ready {
				w := ready[(k+r)%len(ready)]
				tr := results[w]
				if tr.Error != "" {
					continue
				}
				if w != last {
					time.Sleep(switchGap)
				}
				last = w
				resp, err := w.call(request{Op: "rep"})
				if err != nil {
					tr.Error = err.Error()
					continue
				}
				tr.RepSeconds = append(tr.RepSeconds, resp.Seconds)
				tr.CallSeconds = append(tr.CallSeconds, resp.Calls...)
				line = append(line, fmt.Sprintf("%s %.2fs", w.fw.label, resp.Seconds))
			}
			logf("peerbench: %s rep %d/%d: %s", t.ID, r+1, t.Reps, strings.Join(line, ", "))
		}
		for _, w := range ready {
			if resp, err := w.call(request{Op: "finish"}); err == nil {
				results[w].PeakRSS = resp.PeakRSS
			}
		}
		for _, w := range active {
			w.res.Results = append(w.res.Results, *results[w])
		}
	}
	for _, w := range workers {
		rep.add(w.stop())
	}
	rep.finish()

	md := rep.markdown()
	fmt.Fprint(stdout, md)
	if o.mdOut != "" {
		if err := writeFile(o.mdOut, []byte(md)); err != nil {
			return err
		}
	}
	if o.jsonOut != "" {
		if err := writeJSON(o.jsonOut, rep.jsonDoc()); err != nil {
			return err
		}
		logf("peerbench: wrote %s", o.jsonOut)
	}
	if failed := rep.failures(); len(failed) > 0 {
		return fmt.Errorf("some measurements failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

func (f framework) runsAny(p Plan) bool {
	for _, t := range p.Tasks {
		if f.kinds[t.Kind] {
			return true
		}
	}
	return false
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// worker is one framework's long-lived process.
type worker struct {
	fw      framework
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	enc     *json.Encoder
	resps   chan response
	output  *tailBuffer
	started time.Time
	timeout time.Duration
	res     WorkerResult
	err     error // once set, the worker gets no more requests
}

func startWorker(cmd *exec.Cmd, fw framework, timeout time.Duration) *worker {
	w := &worker{fw: fw, cmd: cmd, timeout: timeout, output: &tailBuffer{}, resps: make(chan response), started: time.Now()}
	w.res.Framework, w.res.Label = fw.name, fw.label
	// The worker's own output (progress, library warnings) goes to our stderr, so stdout
	// stays the report alone.
	cmd.Stdout = io.MultiWriter(os.Stderr, w.output)
	cmd.Stderr = io.MultiWriter(os.Stderr, w.output)
	pr, pw, err := os.Pipe()
	if err != nil {
		w.err = err
		return w
	}
	cmd.ExtraFiles = []*os.File{pw} // the child's fd 3
	if w.stdin, err = cmd.StdinPipe(); err != nil {
		w.err = err
		return w
	}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		w.err = err
		return w
	}
	pw.Close()
	w.enc = json.NewEncoder(w.stdin)
	go func() {
		defer close(w.resps)
		defer pr.Close()
		dec := json.NewDecoder(pr)
		for {
			var r response
			if err := dec.Decode(&r); err != nil {
				return
			}
			w.resps <- r
		}
	}()
	if r, err := w.receive(); err != nil {
		w.err = err
	} else if !r.Ready {
		w.fail(errors.New("did not report ready"))
	}
	return w
}

// receive waits for the next response; a worker that dies or hangs is failed for the rest of
// the run.
func (w *worker) receive() (response, error) {
	select {
	case r, ok := <-w.resps:
		if !ok {
			return r, w.fail(errors.New("exited"))
		}
		if r.Error != "" {
			return r, errors.New(r.Error)
		}
		return r, nil
	case <-time.After(w.timeout):
		_ = w.cmd.Process.Kill()
		return response{}, w.fail(fmt.Errorf("no answer within %v (-timeout)", w.timeout))
	}
}

func (w *worker) fail(err error) error {
	if tail := w.output.lastLine(); tail != "" {
		err = fmt.Errorf("%w (last output: %s)", err, tail)
	}
	w.err = err
	return err
}

func (w *worker) call(req request) (response, error) {
	if w.err != nil {
		return response{}, w.err
	}
	if err := w.enc.Encode(req); err != nil {
		return response{}, w.fail(fmt.Errorf("sending %s: %w", req.Op, err))
	}
	return w.receive()
}

// stop asks for the worker's versions, ends it and collects its peak memory.
func (w *worker) stop() workerRun {
	run := workerRun{fw: w.fw, res: w.res}
	if w.cmd == nil || w.cmd.Process == nil {
		run.err = w.err
		return run
	}
	if w.err == nil {
		if info, err := w.call(request{Op: "info"}); err == nil {
			run.res.Versions, run.res.Backend, run.res.Threads, run.res.Settings = info.Versions, info.Backend, info.Threads, info.Settings
		}
		_ = w.enc.Encode(request{Op: "quit"})
	}
	w.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil && w.err == nil {
			w.fail(fmt.Errorf("exit: %w", err))
		}
	case <-time.After(time.Minute):
		_ = w.cmd.Process.Kill()
		<-done
	}
	run.err = w.err
	run.wall = time.Since(w.started)
	if w.cmd.ProcessState != nil {
		run.peakRSS = childPeakRSS(w.cmd.ProcessState)
	}
	return run
}

// tailBuffer keeps the end of a worker's output, to quote when it fails.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 8192 {
		t.b = append(t.b[:0], t.b[len(t.b)-4096:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) lastLine() string {
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'))
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func hostInfo() map[string]string {
	h := map[string]string{"goos": runtime.GOOS, "goarch": runtime.GOARCH, "cpus": strconv.Itoa(runtime.NumCPU())}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				h["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if name, err := os.Hostname(); err == nil {
		h["hostname"] = name
	}
	return h
}

// loadAverage is the 1-minute load average, which tells a reader how quiet the machine was.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
