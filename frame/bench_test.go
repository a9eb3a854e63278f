package frame

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// The benchmark file is Fashion-MNIST in Kaggle's CSV layout: a header
// "label,pixel1,...,pixel784" and one row per image. DEEPFRAME_BENCH_ROWS sets how many rows
// (default 10000, about 22 MB; 60000 makes the full ~130 MB file). Without the IDX files the
// pixels are random with a similar share of zeros. The file is written once to
// $TMPDIR/deepframe-bench and reused.
var (
	benchOnce sync.Once
	benchPath string
	benchErr  error
)

func fashionCSV(b *testing.B) (string, int) {
	benchOnce.Do(func() {
		rows := 10000
		if s := os.Getenv("DEEPFRAME_BENCH_ROWS"); s != "" {
			if rows, benchErr = strconv.Atoi(s); benchErr != nil {
				return
			}
		}
		// The file is kept between runs (it takes a while to write) in the system temp dir.
		dir := filepath.Join(os.TempDir(), "deepframe-bench")
		if benchErr = os.MkdirAll(dir, 0o755); benchErr != nil {
			return
		}
		benchPath = filepath.Join(dir, fmt.Sprintf("fashion-mnist-%d.csv", rows))
		if _, err := os.Stat(benchPath); err == nil {
			return
		}
		tmp := benchPath + ".tmp"
		if benchErr = writeFashionCSV(tmp, rows); benchErr == nil {
			benchErr = os.Rename(tmp, benchPath)
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	st, err := os.Stat(benchPath)
	if err != nil {
		b.Fatal(err)
	}
	return benchPath, int(st.Size())
}

func writeFashionCSV(path string, rows int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("label")
	for p := 1; p <= 784; p++ {
		fmt.Fprintf(w, ",pixel%d", p)
	}
	w.WriteByte('\n')
	emit := func(label int64, pix []byte) {
		w.WriteString(strconv.FormatInt(label, 10))
		for _, p := range pix {
			w.WriteByte(',')
			w.WriteString(strconv.Itoa(int(p)))
		}
		w.WriteByte('\n')
	}
	imgs := filepath.Join(fashionDir, "train-images-idx3-ubyte.gz")
	if _, err := os.Stat(imgs); err == nil {
		df, err := ReadIDX(imgs, filepath.Join(fashionDir, "train-labels-idx1-ubyte.gz"))
		if err != nil {
			return err
		}
		written := 0
		for written < rows {
			err = df.Iterate(context.Background(), func(r arrow.RecordBatch) error {
				col, _ := Images(r.Column(0))
				labels, _ := ToFloat64(nil, r.Column(1))
				for i := 0; i < col.Len() && written < rows; i++ {
					img, _ := col.At(i)
					emit(int64(labels[i]), img.Data)
					written++
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	} else {
		rng := rand.New(rand.NewPCG(1, 2))
		pix := make([]byte, 784)
		for r := 0; r < rows; r++ {
			for i := range pix {
				pix[i] = 0
				if rng.IntN(2) == 0 {
					pix[i] = byte(rng.IntN(256))
				}
			}
			emit(int64(rng.IntN(10)), pix)
		}
	}
	return w.Flush()
}

// cpuTime is the process's user plus system CPU time. On a shared machine wall time swings
// with other people's load; CPU time per megabyte is the steadier figure to compare.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func fashionSchema() *arrow.Schema {
	fields := []arrow.Field{{Name: "label", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}
	for p := 1; p <= 784; p++ {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("pixel%d", p), Type: arrow.PrimitiveTypes.Int32, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

func pixelNames() []string {
	out := make([]string, 784)
	for p := range out {
		out[p] = fmt.Sprintf("pixel%d", p+1)
	}
	return out
}

// BenchmarkCSVToBatches measures the training input path: CSV file → frame → float32
// batches of 256 rows, reported in MB/s of CSV and rows/s.
func BenchmarkCSVToBatches(b *testing.B) {
	path, size := fashionCSV(b)
	features := pixelNames()
	ctx := context.Background()
	cases := []struct {
		name string
		read func() (*DataFrame, error)
	}{
		{"schema", func() (*DataFrame, error) { return ReadCSV(path, Header(), Schema(fashionSchema())) }},
		{"infer", func() (*DataFrame, error) { return ReadCSV(path, Header(), InferSchema()) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			var rows int64
			cpu0 := cpuTime()
			for b.Loop() {
				df, err := c.read()
				if err != nil {
					b.Fatal(err)
				}
				it, err := Batches(ctx, df, features, "label", BatchSize(256))
				if err != nil {
					b.Fatal(err)
				}
				rows = 0
				for it.Next() {
					rows += int64(it.Batch().X.Dim(0))
				}
				if err := it.Err(); err != nil {
					b.Fatal(err)
				}
				it.Close()
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(size)*float64(b.N)/1e6/(cpuTime()-cpu0).Seconds(), "MB/cpu-s")
		})
	}
	b.Run("parse-only", func(b *testing.B) {
		b.SetBytes(int64(size))
		var rows int64
		cpu0 := cpuTime()
		for b.Loop() {
			df, err := ReadCSV(path, Header(), Schema(fashionSchema()))
			if err != nil {
				b.Fatal(err)
			}
			if rows, err = df.Count(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(size)*float64(b.N)/1e6/(cpuTime()-cpu0).Seconds(), "MB/cpu-s")
	})
}

// BenchmarkCSVPython runs pyarrow's CSV reader and pandas on the same file, each ending in a
// float32 feature matrix, when DEEPFRAME_PYTHON names a Python with pyarrow and pandas.
func BenchmarkCSVPython(b *testing.B) {
	py := os.Getenv("DEEPFRAME_PYTHON")
	if py == "" {
		b.Skip("set DEEPFRAME_PYTHON to a python3 with pyarrow and pandas to compare with them")
	}
	path, size := fashionCSV(b)
	script := `
import sys, time, numpy as np, pyarrow.csv as pc, pandas as pd
path, which = sys.argv[1], sys.argv[2]
best, cpu = 1e9, 1e9
for _ in range(2):
    t, c = time.perf_counter(), time.process_time()
    if which == "pyarrow":
        tb = pc.read_csv(path)
        x = np.column_stack([tb.column(i).to_numpy() for i in range(1, tb.num_columns)]).astype(np.float32)
    else:
        df = pd.read_csv(path)
        x = df.iloc[:, 1:].to_numpy(np.float32)
    best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
print(best, cpu, x.shape[0])
`
	for _, which := range []string{"pyarrow", "pandas"} {
		b.Run(which, func(b *testing.B) {
			b.SetBytes(int64(size))
			var secs, cpu float64
			var rows int
			for b.Loop() {
				out, err := exec.Command(py, "-c", script, path, which).CombinedOutput()
				if err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
				if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &secs, &cpu, &rows); err != nil {
					b.Fatalf("parsing %q: %v", out, err)
				}
			}
			// The Python process's start-up is not the reader's cost: report its own timing.
			b.ReportMetric(float64(size)/secs/1e6, "MB/s")
			b.ReportMetric(float64(rows)/secs, "rows/s")
			b.ReportMetric(float64(size)/cpu/1e6, "MB/cpu-s")
		})
	}
}
