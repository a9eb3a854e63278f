package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Row is one framework's figures for one workload.
type Row struct {
	Task      string  `json:"task"`
	Framework string  `json:"framework"`
	Unit      string  `json:"unit"` // "samples/s" or "GFLOP/s" (sgemm)
	Median    float64 `json:"median"`
	Min       float64 `json:"min"`
	Max       float64 `json:"max"`
	Reps      int     `json:"reps"`
	// Ratio is deepframe's median over this framework's (above 1: deepframe is faster).
	Ratio float64 `json:"ratio_deepframe_over_peer,omitempty"`
	P50ms float64 `json:"p50_ms,omitempty"`
	P99ms float64 `json:"p99_ms,omitempty"`
	// LatencyRatio is deepframe's p50 over this framework's (below 1: deepframe is quicker).
	LatencyRatio float64 `json:"p50_ratio_deepframe_over_peer,omitempty"`
	GFLOPs       float64 `json:"gflops,omitempty"`
	PctPeak      float64 `json:"pct_of_sgemm_peak,omitempty"`
	PeakRSS      int64   `json:"peak_rss_bytes,omitempty"`
	Error        string  `json:"error,omitempty"`
}

type frameworkSummary struct {
	Framework string            `json:"framework"`
	Versions  map[string]string `json:"versions,omitempty"`
	Backend   string            `json:"backend,omitempty"`
	Threads   int               `json:"threads"`
	Settings  map[string]string `json:"settings,omitempty"`
	PeakRSS   int64             `json:"peak_rss_bytes"`
	Seconds   float64           `json:"wall_seconds"`
	Error     string            `json:"error,omitempty"`
}

type report struct {
	o    options
	plan Plan
	runs []workerRun
	rows []Row
	// peak is the sgemm row with the fastest single repetition: the machine's measured
	// capability. A median would understate it whenever outside load hit some repetitions.
	peak    Row
	start   time.Time
	loadBeg string
	loadEnd string
	wall    time.Duration
	notes   []string
}

func newReport(o options, plan Plan) *report {
	return &report{o: o, plan: plan, start: time.Now(), loadBeg: loadAverage()}
}

func (r *report) add(w workerRun) { r.runs = append(r.runs, w) }

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile uses the nearest-rank definition: the smallest value with at least p% of the
// values at or below it.
func percentile(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return math.NaN()
	}
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

// finish turns raw timings into rows, finds the sgemm peak and computes the ratios.
func (r *report) finish() {
	r.loadEnd = loadAverage()
	r.wall = time.Since(r.start)
	for _, t := range r.plan.Tasks {
		for _, w := range r.runs {
			var tr *TaskResult
			for i := range w.res.Results {
				if w.res.Results[i].ID == t.ID {
					tr = &w.res.Results[i]
				}
			}
			row := Row{Task: t.ID, Framework: w.fw.label, Unit: "samples/s", Reps: t.Reps}
			if t.Kind == "sgemm" {
				row.Unit = "GFLOP/s"
			}
			switch {
			case !w.fw.kinds[t.Kind] || (tr == nil && w.err == nil):
				continue // this framework does not run this kind of workload
			case tr == nil:
				row.Error = "worker failed: " + w.err.Error()
			case tr.Error != "":
				row.Error = tr.Error
			case len(tr.RepSeconds) == 0:
				row.Error = "no timings"
			default:
				per := make([]float64, len(tr.RepSeconds))
				for i, s := range tr.RepSeconds {
					if t.Kind == "sgemm" {
						per[i] = float64(t.Iters) * t.FLOPs / s / 1e9
					} else {
						per[i] = float64(t.Iters*t.Batch) / s
					}
				}
				row.Median, row.Min, row.Max = median(per), slicesMin(per), slicesMax(per)
				if t.Kind == "sgemm" {
					row.GFLOPs = row.Median
				} else if t.FLOPs > 0 {
					row.GFLOPs = row.Median / float64(t.Batch) * t.FLOPs / 1e9
				}
				if len(tr.CallSeconds) > 0 {
					row.P50ms = percentile(tr.CallSeconds, 50) * 1e3
					row.P99ms = percentile(tr.CallSeconds, 99) * 1e3
				}
			}
			if tr != nil {
				row.PeakRSS = tr.PeakRSS
			}
			r.rows = append(r.rows, row)
		}
	}
	for _, row := range r.rows {
		if row.Unit == "GFLOP/s" && row.Error == "" && row.Max > r.peak.Max {
			r.peak = row
		}
	}
	for i := range r.rows {
		row := &r.rows[i]
		if r.peak.Max > 0 && row.GFLOPs > 0 {
			row.PctPeak = 100 * row.GFLOPs / r.peak.Max
		}
		df := r.deepframeRow(row.Task)
		if df == nil || row.Error != "" || df.Error != "" {
			continue
		}
		if row.Median > 0 {
			row.Ratio = df.Median / row.Median
		}
		if row.P50ms > 0 && df.P50ms > 0 {
			row.LatencyRatio = df.P50ms / row.P50ms
		}
	}
}

func slicesMin(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

func slicesMax(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

func (r *report) deepframeRow(task string) *Row {
	for i := range r.rows {
		if r.rows[i].Task == task && r.rows[i].Framework == "deepframe" {
			return &r.rows[i]
		}
	}
	return nil
}

func (r *report) failures() []string {
	var out []string
	for _, w := range r.runs {
		if w.err != nil {
			out = append(out, fmt.Sprintf("%s: %v", w.fw.label, w.err))
		}
	}
	for _, row := range r.rows {
		if row.Error != "" && !strings.HasPrefix(row.Error, "worker failed") {
			out = append(out, fmt.Sprintf("%s %s: %s", row.Framework, row.Task, row.Error))
		}
	}
	return out
}

func (r *report) command() string {
	if c := os.Getenv("BENCH_COMMAND"); c != "" {
		return c
	}
	return "go run ./bench/cmd/peerbench " + strings.Join(os.Args[1:], " ")
}

func mib(b int64) string {
	if b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f", float64(b)/(1<<20))
}

// num formats with thousands separators and enough significant digits to compare.
func num(v float64) string {
	switch {
	case v == 0 || math.IsNaN(v):
		return "—"
	case v >= 1000:
		s := fmt.Sprintf("%.0f", v)
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func ratio(v float64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx", v)
}

func (r *report) markdown() string {
	var b strings.Builder
	mode := "full"
	if r.o.quick {
		mode = "QUICK (smoke run; iteration counts too small for figures to quote)"
	}
	reps := 0
	if len(r.plan.Tasks) > 0 {
		reps = r.plan.Tasks[0].Reps
	}
	h := hostInfo()
	fmt.Fprintf(&b, "## deepframe vs peers — %d threads each, %s mode\n\n", r.plan.Threads, mode)
	fmt.Fprintf(&b, "- Command: `%s` (%s, %s).\n", r.command(), r.start.UTC().Format("2006-01-02 15:04 UTC"), r.wall.Round(time.Second))
	fmt.Fprintf(&b, "- Machine: %s, %s CPUs; load average %s at the start, %s at the end.\n", h["cpu"], h["cpus"], r.loadBeg, r.loadEnd)
	fmt.Fprintf(&b, "- Method: each framework in its own process with the same thread budget; warm-up excluded; median of %d timed repetitions of a fixed iteration count, the same counts for every framework (min–max beside it); repetitions interleaved across frameworks so that outside load hits all alike.\n", reps)
	for _, n := range r.notes {
		fmt.Fprintf(&b, "- Note: %s.\n", n)
	}
	if set := tuningEnv(r.o.keepCoreType); len(set) > 0 {
		fmt.Fprintf(&b, "- Set in the environment and passed to every framework: %s.\n", strings.Join(set, ", "))
	}
	if l := max(load1(r.loadBeg), load1(r.loadEnd)); l > 0.75*float64(runtime.NumCPU()) {
		fmt.Fprintf(&b, "- **Warning: the machine was busy** (1-minute load %.1f on %d CPUs). Other processes took CPU time from every framework, and OpenMP-based libraries (PyTorch above all, whose threads spin at barriers while a core is taken away from them) slow down far more than their share: these figures do not represent a quiet machine.\n", l, runtime.NumCPU())
	}
	for _, w := range r.runs {
		if w.fw.name == "deepframe" && w.res.Backend != "" {
			fmt.Fprintf(&b, "- deepframe backend: %s.\n", w.res.Backend)
		}
	}
	var vers []string
	seen := map[string]bool{}
	for _, w := range r.runs {
		for _, k := range sortedKeys(w.res.Versions) {
			if !seen[k] {
				seen[k] = true
				vers = append(vers, k+" "+w.res.Versions[k])
			}
		}
	}
	if len(vers) > 0 {
		fmt.Fprintf(&b, "- Versions: %s.\n", strings.Join(vers, ", "))
	}
	if r.peak.Max > 0 {
		fmt.Fprintf(&b, "- Measured sgemm peak: %s GFLOP/s (%s, %s), the fastest single repetition of any sgemm implementation in this run; %% of peak compares each median with it.\n",
			num(r.peak.Max), r.peak.Framework, strings.TrimPrefix(r.peak.Task, "sgemm_")+"³")
	}
	b.WriteString("\n| workload | framework | throughput (median) | min–max | deepframe/peer | p50 ms | p99 ms | p50 deepframe/peer | GFLOP/s | % of peak | peak RSS MiB |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	title := map[string]string{}
	for _, t := range r.plan.Tasks {
		title[t.ID] = t.Title()
	}
	last := ""
	for _, row := range r.rows {
		name := ""
		if row.Task != last {
			name = title[row.Task]
			last = row.Task
		}
		if row.Error != "" {
			fmt.Fprintf(&b, "| %s | %s | failed: %s | | | | | | | | %s |\n", name, row.Framework, oneLine(row.Error), mib(row.PeakRSS))
			continue
		}
		thr := num(row.Median) + " " + row.Unit
		spread := num(row.Min) + "–" + num(row.Max)
		r1 := ratio(row.Ratio)
		if row.Framework == "deepframe" {
			r1 = ""
		}
		p50, p99, lr := "", "", ""
		if row.P50ms > 0 {
			p50, p99 = fmt.Sprintf("%.3f", row.P50ms), fmt.Sprintf("%.3f", row.P99ms)
			if row.Framework != "deepframe" {
				lr = ratio(row.LatencyRatio)
			}
		}
		pct := ""
		if row.PctPeak > 0 {
			pct = fmt.Sprintf("%.0f%%", row.PctPeak)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			name, row.Framework, thr, spread, r1, p50, p99, lr, num(row.GFLOPs), pct, mib(row.PeakRSS))
	}
	var rss []string
	for _, w := range r.runs {
		s := w.fw.label + " " + mib(w.peakRSS) + " MiB"
		if w.err != nil {
			s += " (failed)"
		}
		rss = append(rss, s)
	}
	fmt.Fprintf(&b, "\nPeak resident memory of each framework's whole process (ru_maxrss; the table's column is per workload, with VmHWM reset before each): %s.\n", strings.Join(rss, ", "))
	var notes []string
	for _, w := range r.runs {
		if w.fw.name == "deepframe" || len(w.res.Settings) == 0 {
			continue
		}
		var kv []string
		for _, k := range sortedKeys(w.res.Settings) {
			kv = append(kv, k+"="+w.res.Settings[k])
		}
		notes = append(notes, fmt.Sprintf("%s: %s", w.fw.label, strings.Join(kv, ", ")))
	}
	if len(notes) > 0 {
		b.WriteString("\nPeer settings: " + strings.Join(notes, "; ") + ".\n")
	}
	return b.String()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func (r *report) jsonDoc() any {
	var fws []frameworkSummary
	for _, w := range r.runs {
		s := frameworkSummary{Framework: w.fw.label, Versions: w.res.Versions, Backend: w.res.Backend,
			Threads: w.res.Threads, Settings: w.res.Settings, PeakRSS: w.peakRSS, Seconds: w.wall.Seconds()}
		if w.err != nil {
			s.Error = w.err.Error()
		}
		fws = append(fws, s)
	}
	return map[string]any{
		"command":      r.command(),
		"date":         r.start.UTC().Format(time.RFC3339),
		"quick":        r.o.quick,
		"threads":      r.plan.Threads,
		"host":         hostInfo(),
		"load_average": map[string]string{"start": r.loadBeg, "end": r.loadEnd},
		"wall_seconds": r.wall.Seconds(),
		"plan":         r.plan,
		"frameworks":   fws,
		"sgemm_peak":   map[string]any{"gflops": r.peak.Max, "framework": r.peak.Framework, "task": r.peak.Task, "definition": "fastest single repetition of any sgemm implementation in the run"},
		"rows":         r.rows,
		"notes":        r.notes,
	}
}

func load1(avg string) float64 {
	f := strings.Fields(avg)
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// tuningEnv lists the variables that change how the frameworks thread or which kernels they
// pick, so a table says what it was measured with.
func tuningEnv(withCoreType bool) []string {
	prefixes := []string{"OMP_WAIT_POLICY", "GOMP_", "KMP_", "DEEPFRAME_BACKEND", "TF_ENABLE_ONEDNN_OPTS", "ONEDNN_", "DNNL_", "MKL_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE"}
	if withCoreType {
		prefixes = append(prefixes, "OPENBLAS_CORETYPE")
	}
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				out = append(out, kv)
			}
		}
	}
	sort.Strings(out)
	return out
}
