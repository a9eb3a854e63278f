package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/tensor"
)

type predictFlags struct {
	input, output string
	header        bool
	batchSize     int
}

var predictCommand = &command{
	name:    "predict",
	args:    "MODEL.dfm --input FILE.csv [--output FILE.csv] [--header] [--batch-size N]",
	summary: "score the rows of a numeric CSV file with a saved model",
	long: `Each input row holds one value per element of the model's input (a header row is
detected when its first row has no number in it, or forced with --header). The output has
one row per input row: columns p0, p1, ... (one per output unit) and, for a classifier with
more than one output unit, "prediction", the index of the largest. A model counts as a
classifier unless it was saved compiled with a loss other than a categorical cross-entropy.`,
	flags: func(fs *flag.FlagSet) any {
		f := &predictFlags{}
		fs.StringVar(&f.input, "input", "", "read input rows from `FILE.csv`, one value per column (required; - reads standard input)")
		fs.StringVar(&f.output, "output", "", "write predictions to `FILE.csv` (default: standard output)")
		fs.BoolVar(&f.header, "header", false, "the first row is a header, even if it holds numbers")
		fs.IntVar(&f.batchSize, "batch-size", 256, "score `N` rows per forward pass")
		return f
	},
	run: func(ctx context.Context, inv *invocation) error {
		if err := exactArgs(inv, "MODEL.dfm"); err != nil {
			return err
		}
		f := inv.opts.(*predictFlags)
		if f.input == "" {
			return usagef("--input is required")
		}
		if f.batchSize < 1 {
			return usagef("--batch-size must be at least 1, got %d", f.batchSize)
		}
		m, err := keras.Load(inv.args[0])
		if err != nil {
			return err
		}
		in, closeIn, err := openInput(f.input, inv.stdin)
		if err != nil {
			return err
		}
		defer closeIn()
		if f.output == "" {
			bw := bufio.NewWriter(inv.stdout)
			if err := predictCSV(ctx, m, in, f.input, bw, f.header, f.batchSize); err != nil {
				bw.Flush()
				return err
			}
			return bw.Flush()
		}
		// The predictions go to a temporary file that replaces the output only when every row
		// was scored, so a bad row never leaves a half-written file or clobbers an old one.
		return writeFileAtomic(f.output, func(w io.Writer) error {
			return predictCSV(ctx, m, in, f.input, w, f.header, f.batchSize)
		})
	},
}

func openInput(path string, stdin io.Reader) (io.Reader, func(), error) {
	if path == "-" {
		return skipBOM(stdin), func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return skipBOM(f), func() { f.Close() }, nil
}

// skipBOM drops a UTF-8 byte order mark, which spreadsheet programs put at the start of CSV
// exports and which would otherwise glue itself to the first value.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\uFEFF" {
		br.Discard(3)
	}
	return br
}

// predictCSV reads rows from r, scores them batchSize at a time and writes predictions to w, so
// memory stays bounded however long the file is. name labels error messages.
func predictCSV(ctx context.Context, m *keras.Model, r io.Reader, name string, w io.Writer, forceHeader bool, batchSize int) error {
	ins, outs := m.InputShapes(), m.OutputShapes()
	if len(ins) != 1 || len(outs) != 1 {
		return fmt.Errorf("predict needs a model with one input and one output; this one has %d inputs and %d outputs", len(ins), len(outs))
	}
	inShape, outShape := ins[0], outs[0]
	for _, d := range inShape {
		if d < 0 {
			return fmt.Errorf("the model's input shape %v has a dimension of unknown size; CSV rows need a fixed number of values", batchShape(inShape))
		}
	}
	cols, units := inShape.Size(), outShape.Size()
	if cols == 0 {
		return fmt.Errorf("the model's input shape %v holds no values", batchShape(inShape))
	}
	classify := units > 1 && isClassifier(m)

	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked here, so the message can say what the model expects
	cr.ReuseRecord = true
	cw := csv.NewWriter(w)

	head := make([]string, 0, units+1)
	for i := 0; i < units; i++ {
		head = append(head, "p"+strconv.Itoa(i))
	}
	if classify {
		head = append(head, "prediction")
	}
	// The header goes out with the first predictions, so input that fails at its first row
	// produces no output at all.
	wroteHead := false
	writeHead := func() error {
		if wroteHead {
			return nil
		}
		wroteHead = true
		return cw.Write(head)
	}

	var header []string
	// Room for a bounded number of rows up front; a huge --batch-size grows the buffer only as
	// rows arrive.
	batch := make([]float32, 0, min(batchSize, 1024)*cols)
	rows := 0
	out := make([]string, len(head))
	flush := func() error {
		if rows == 0 {
			return nil
		}
		if err := writeHead(); err != nil {
			return err
		}
		x, err := tensor.FromFloat32(batch, append(tensor.Shape{rows}, inShape...)...)
		if err != nil {
			return err
		}
		y, err := m.Predict(ctx, x)
		if err != nil {
			return err
		}
		if y.Len() != rows*units {
			return fmt.Errorf("the model returned %v for %d rows, want %d values per row", y.Shape(), rows, units)
		}
		for i := 0; i < rows; i++ {
			best := 0
			for j := 0; j < units; j++ {
				v := y.Float64Flat(i*units + j)
				out[j] = strconv.FormatFloat(v, 'g', -1, 32)
				if v > y.Float64Flat(i*units+best) {
					best = j
				}
			}
			if classify {
				out[units] = strconv.Itoa(best)
			}
			if err := cw.Write(out); err != nil {
				return err
			}
		}
		batch, rows = batch[:0], 0
		cw.Flush()
		return cw.Error()
	}

	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// The parser counts characters, not fields, so this is not called a column.
				return fmt.Errorf("%s: line %d, character %d: %v", name, pe.Line, pe.Column, pe.Err)
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if first && (forceHeader || looksLikeHeader(rec)) {
			// Checked here rather than at the first data row, so a file with an extra column
			// (a label, an id) is refused with the column names in view.
			if len(rec) != cols {
				return fmt.Errorf("%s: line %d: the header has %d %s (%s), but the model takes %d values per row (input shape %v)",
					name, line, len(rec), plural(len(rec), "column", "columns"), strings.Join(rec, ","), cols, batchShape(inShape))
			}
			header = append([]string(nil), rec...)
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" && cols != 1 {
			continue // a blank line
		}
		if len(rec) != cols {
			return fmt.Errorf("%s: line %d: %d %s, but the model takes %d per row (input shape %v)",
				name, line, len(rec), plural(len(rec), "value", "values"), cols, batchShape(inShape))
		}
		for j, field := range rec {
			v, err := parseValue(field)
			if err != nil {
				return fmt.Errorf("%s: line %d, column %d%s: %v", name, line, j+1, columnName(header, j), err)
			}
			batch = append(batch, v)
		}
		rows++
		if rows == batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := writeHead(); err != nil { // input without data rows
		return err
	}
	cw.Flush()
	return cw.Error()
}

// isClassifier decides whether predictions get an argmax column. A model saved with its
// training configuration says what it is through its loss; without one there is no telling,
// and an extra column costs a regression user less than a missing one costs a classifier user.
func isClassifier(m *keras.Model) bool {
	l := m.Loss()
	if l == nil {
		return true
	}
	return strings.Contains(l.Name(), "categorical_crossentropy")
}

// looksLikeHeader reports whether a first row is column names: none of its fields is a number.
// A row that mixes numbers and words is data with a typo, which the parser then reports.
func looksLikeHeader(rec []string) bool {
	for _, f := range rec {
		if _, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err == nil {
			return false
		}
	}
	return true
}

func parseValue(field string) (float32, error) {
	s := strings.TrimSpace(field)
	if s == "" {
		return 0, errors.New("empty value")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", field)
	}
	// NaN and infinities would only come back as NaN predictions; values beyond float32's
	// range would silently become infinities.
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
		return 0, fmt.Errorf("%q is not a finite float32 number", field)
	}
	return float32(v), nil
}

func columnName(header []string, j int) string {
	if j < len(header) && strings.TrimSpace(header[j]) != "" {
		return fmt.Sprintf(" (%q)", strings.TrimSpace(header[j]))
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// batchShape prints a per-sample shape with the batch axis, as Keras shows shapes.
func batchShape(s tensor.Shape) tensor.Shape { return append(tensor.Shape{-1}, s...) }

// writeFileAtomic writes path through a temporary file in the same directory that is renamed
// over path only after write succeeded.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriter(f)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
