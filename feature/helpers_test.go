package feature

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/deepframe/deepframe/frame"
)

var bg = context.Background()

func mustFrame(t *testing.T, cols ...frame.Column) *frame.DataFrame {
	t.Helper()
	df, err := frame.FromColumns(cols...)
	if err != nil {
		t.Fatal(err)
	}
	return df
}

// nullable builds a Float64 array where NaN entries of vals become nulls.
func nullable(vals []float64) arrow.Array {
	valid := make([]bool, len(vals))
	for i, v := range vals {
		valid[i] = !math.IsNaN(v)
	}
	return float64Array(vals, valid)
}

func nullableStrings(vals []string) arrow.Array {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	for _, v := range vals {
		if v == "<null>" {
			b.AppendNull()
		} else {
			b.Append(v)
		}
	}
	return b.NewArray()
}

// cells runs df and returns each row's values of the named column formatted as text: numbers
// with %v, vectors as [a b], nulls as "null". It is what tests compare.
func cells(t *testing.T, df *frame.DataFrame, col string) []string {
	t.Helper()
	out, err := tryCells(df, col)
	if err != nil {
		t.Fatalf("reading %s: %v", col, err)
	}
	return out
}

func tryCells(df *frame.DataFrame, col string) ([]string, error) {
	idx := df.Schema().FieldIndices(col)
	if len(idx) == 0 {
		return nil, fmt.Errorf("no column %q in %v", col, df.Columns())
	}
	var out []string
	err := df.Iterate(bg, func(rec arrow.RecordBatch) error {
		a := rec.Column(idx[0])
		for r := 0; r < a.Len(); r++ {
			out = append(out, cell(a, r))
		}
		return nil
	})
	return out, err
}

func cell(a arrow.Array, r int) string {
	if a.IsNull(r) {
		return "null"
	}
	if _, ok := frame.IsVector(a.DataType()); ok {
		vals, n, _ := frame.VectorValues(a)
		return fmt.Sprint(vals[r*n : (r+1)*n])
	}
	switch x := a.(type) {
	case *array.String:
		return x.Value(r)
	case *array.Float64:
		return fmt.Sprint(x.Value(r))
	}
	if frame.IsImage(a.DataType()) {
		imgs, _ := frame.Images(a)
		img, ok := imgs.At(r)
		if !ok {
			return "invalid(" + img.Origin + ")"
		}
		return fmt.Sprintf("%dx%dx%d%v", img.Height, img.Width, img.Channels, img.Data)
	}
	return a.ValueStr(r)
}

func vectors(t *testing.T, df *frame.DataFrame, col string) [][]float64 {
	t.Helper()
	idx := df.Schema().FieldIndices(col)
	if len(idx) == 0 {
		t.Fatalf("no column %q in %v", col, df.Columns())
	}
	var out [][]float64
	err := df.Iterate(bg, func(rec arrow.RecordBatch) error {
		vals, n, err := frame.VectorValues(rec.Column(idx[0]))
		if err != nil {
			return err
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			out = append(out, append([]float64(nil), vals[r*n:(r+1)*n]...))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func closeTo(a, b [][]float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			x, y := a[i][j], b[i][j]
			if math.IsNaN(x) != math.IsNaN(y) || (!math.IsNaN(x) && math.Abs(x-y) > tol) {
				return false
			}
		}
	}
	return true
}

func eqStrings(a, b []string) bool { return strings.Join(a, "|") == strings.Join(b, "|") }

// wantErr checks err mentions every fragment.
func wantErr(t *testing.T, what string, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", what, fragments)
		return
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %q does not mention %q", what, err, f)
		}
	}
}

// runErr runs df and returns the error of the action, for errors that lazy steps raise.
func runErr(df *frame.DataFrame, err error) error {
	if err != nil {
		return err
	}
	_, err = df.Collect(bg)
	return err
}

var nan = math.NaN()
