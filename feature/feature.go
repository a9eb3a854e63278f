// Package feature holds Spark-ML-style feature stages for deepframe pipelines: StringIndexer
// and IndexToString, OneHotEncoder, VectorAssembler, StandardScaler, MinMaxScaler, Normalizer,
// Bucketizer, and image preprocessing (Resize, CenterCrop, RandomCrop, HorizontalFlip,
// ChannelNormalize, ToTensor) chained like BigDL's ChainedPreprocessing.
//
// Stages follow Spark ML's definitions and param names, so numbers match what Spark computes
// and Spark users find what they expect. Every stage registers itself with ml.Register, so a
// fitted pipeline that holds it can be saved and loaded; setters return the stage for
// chaining and record an invalid value for Fit and Transform to report (ml.Params.Err).
//
// Transform is lazy: it checks the input columns against the frame's schema at once (an
// unknown column gives frame's *ColumnError, which lists the columns that exist) and adds
// steps to the frame's plan; problems in the data (an unseen label, a value outside the
// Bucketizer's splits) surface at the action that reads the frame. The one exception is
// ToTensor, which reads the first image to learn the tensor size, since an Arrow vector type
// fixes its length in the schema.
//
// Vector columns are frame's dense vectors (FixedSizeList<Float64>, frame.VectorType). Spark
// often produces sparse vectors (OneHotEncoder always does); deepframe has no sparse type, so
// the same values come out dense.
package feature

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// The handleInvalid values, as in Spark.
const (
	HandleError = "error" // fail on invalid data
	HandleSkip  = "skip"  // drop rows with invalid data
	HandleKeep  = "keep"  // keep them, in an extra bucket, index or NaN, depending on the stage
)

// field returns the schema field called name, or frame's error listing the columns.
func field(df *frame.DataFrame, name string) (arrow.Field, error) {
	s := df.Schema()
	if idx := s.FieldIndices(name); len(idx) > 0 {
		return s.Field(idx[0]), nil
	}
	return arrow.Field{}, &frame.ColumnError{Name: name, Columns: df.Columns()}
}

// checkNewColumn refuses to overwrite an existing column, as Spark's feature stages do: a
// stage writing over its own input is almost always a mistake in the column names.
func checkNewColumn(df *frame.DataFrame, uid, name string) error {
	if name == "" {
		return fmt.Errorf("%s: empty output column name", uid)
	}
	if len(df.Schema().FieldIndices(name)) > 0 {
		return fmt.Errorf("%s: output column %q already exists", uid, name)
	}
	return nil
}

func nonEmptyStrings(v []string) error {
	for i, s := range v {
		if s == "" {
			return fmt.Errorf("element %d is empty", i)
		}
	}
	return nil
}

// vectorField is a nullable vector column of n values, with an error naming the column where
// n has no Arrow form.
func vectorField(uid, name string, n int) (arrow.Field, error) {
	t, err := frame.VectorType(n)
	if err != nil {
		return arrow.Field{}, fmt.Errorf("%s: output column %q: %w", uid, name, err)
	}
	return arrow.Field{Name: name, Type: t, Nullable: true}, nil
}

// columnsFn computes new columns for one batch from the input columns; keep, when not nil,
// marks the rows to keep (the others are dropped).
type columnsFn func(in []arrow.Array, n int) (out []arrow.Array, keep []bool, err error)

// addColumns adds (or replaces, by name) the given fields, computed batch by batch by fn from
// the named inputs, keeping each field's metadata; it may drop rows. One column that keeps
// every row goes through WithColumnField, so Count still skips the pass over the data.
func addColumns(df *frame.DataFrame, inputs []string, fields []arrow.Field, mayDrop bool, fn columnsFn) (*frame.DataFrame, error) {
	idx := make([]int, len(inputs))
	for i, name := range inputs {
		if _, err := field(df, name); err != nil {
			return nil, err
		}
		idx[i] = df.Schema().FieldIndices(name)[0]
	}
	if len(fields) == 1 && !mayDrop {
		f := fields[0]
		f.Nullable = true
		return df.WithColumnField(f, inputs, func(cols []arrow.Array) (arrow.Array, error) {
			n := 0
			if len(cols) > 0 {
				n = cols[0].Len()
			}
			out, _, err := fn(cols, n)
			if err != nil {
				return nil, err
			}
			return out[0], nil
		})
	}
	all := append([]arrow.Field(nil), df.Schema().Fields()...)
	pos := make([]int, len(fields))
	for k, f := range fields {
		f.Nullable = true
		if j := df.Schema().FieldIndices(f.Name); len(j) > 0 {
			all[j[0]] = f
			pos[k] = j[0]
		} else {
			pos[k] = len(all)
			all = append(all, f)
		}
	}
	md := df.Schema().Metadata()
	schema := arrow.NewSchema(all, &md)
	return df.MapBatches(schema, func(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
		in := make([]arrow.Array, len(idx))
		for i, j := range idx {
			in[i] = rec.Column(j)
		}
		out, keep, err := fn(in, int(rec.NumRows()))
		if err != nil {
			return nil, err
		}
		defer func() {
			for _, a := range out {
				a.Release()
			}
		}()
		if len(out) != len(fields) {
			return nil, fmt.Errorf("internal: %d columns computed for %d fields", len(out), len(fields))
		}
		cols := append([]arrow.Array(nil), rec.Columns()...)
		cols = append(cols, make([]arrow.Array, len(all)-len(cols))...)
		for k, a := range out {
			cols[pos[k]] = a
		}
		full := array.NewRecordBatch(schema, cols, rec.NumRows())
		if keep == nil {
			return full, nil
		}
		defer full.Release()
		return filterRows(full, keep)
	})
}

// filterRows returns the rows of rec marked in keep.
func filterRows(rec arrow.RecordBatch, keep []bool) (arrow.RecordBatch, error) {
	b := array.NewBooleanBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(keep, nil)
	mask := b.NewArray()
	defer mask.Release()
	out, err := compute.FilterRecordBatch(context.Background(), rec, mask, compute.DefaultFilterOptions())
	if err != nil {
		return nil, fmt.Errorf("dropping invalid rows: %w", err)
	}
	return out, nil
}

func float64Array(vals []float64, valid []bool) arrow.Array {
	b := array.NewFloat64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vals, valid)
	return b.NewArray()
}

// numbers reads a numeric or Boolean column as float64 with a validity mask (nil when no value
// is null); frame.ToFloat64 turns nulls into NaN, which some stages must tell apart.
func numbers(arr arrow.Array) ([]float64, []bool, error) {
	vals, err := frame.ToFloat64(nil, arr)
	if err != nil {
		return nil, nil, err
	}
	if arr.NullN() == 0 {
		return vals, nil, nil
	}
	valid := make([]bool, arr.Len())
	for i := range valid {
		valid[i] = arr.IsValid(i)
	}
	return vals, valid, nil
}

// vectorColumn checks that name is a vector column and returns its length.
func vectorColumn(df *frame.DataFrame, uid, name string) (int, error) {
	f, err := field(df, name)
	if err != nil {
		return 0, err
	}
	n, ok := frame.IsVector(f.Type)
	if !ok {
		return 0, fmt.Errorf("%s: input column %q is %s; want a vector column (fixed_size_list<double>, e.g. from VectorAssembler)", uid, name, f.Type)
	}
	return n, nil
}

// mapVectors builds a vector column of width out from a vector column of width in, row by row;
// null rows stay null. fn writes dst from src.
func mapVectors(arr arrow.Array, in, out int, fn func(dst, src []float64)) (arrow.Array, error) {
	vals, _, err := frame.VectorValues(arr)
	if err != nil {
		return nil, err
	}
	rows := arr.Len()
	flat := make([]float64, rows*out)
	var valid []bool
	if arr.NullN() > 0 {
		valid = make([]bool, rows)
	}
	for r := 0; r < rows; r++ {
		if valid != nil {
			if arr.IsNull(r) {
				continue
			}
			valid[r] = true
		}
		fn(flat[r*out:(r+1)*out], vals[r*in:(r+1)*in])
	}
	return newVectors(out, rows, flat, valid)
}

// newVectors wraps flat as a vector column of the given width (Arrow has no zero-width
// vectors, so width is at least 1).
func newVectors(width, rows int, flat []float64, valid []bool) (arrow.Array, error) {
	if width < 1 || len(flat) != width*rows {
		return nil, fmt.Errorf("internal: %d values for %d rows of width %d", len(flat), rows, width)
	}
	return frame.NewVectorArray(width, flat, valid)
}

// columnPairs resolves Spark's two ways of naming columns, inputCol/outputCol for one column
// and inputCols/outputCols for several, which may not be mixed.
type columnPairs struct {
	inputCol, outputCol   *ml.Param[string]
	inputCols, outputCols *ml.Param[[]string]
}

func newColumnPairs(ps *ml.Params, uid string) columnPairs {
	return columnPairs{
		inputCol:   ml.NewParam(ps, "inputCol", "input column name", "", nil),
		outputCol:  ml.NewParam(ps, "outputCol", "output column name", uid+"__output", ml.NonEmpty),
		inputCols:  ml.NewParam[[]string](ps, "inputCols", "input column names", nil, nonEmptyStrings),
		outputCols: ml.NewParam[[]string](ps, "outputCols", "output column names", nil, nonEmptyStrings),
	}
}

func (c columnPairs) resolve(uid string) (in, out []string, err error) {
	ins, outs := c.inputCols.Get(), c.outputCols.Get()
	switch {
	case c.inputCol.Get() != "" && len(ins) > 0:
		return nil, nil, fmt.Errorf("%s: set inputCol or inputCols, not both", uid)
	case len(ins) > 0:
		if len(outs) != len(ins) {
			return nil, nil, fmt.Errorf("%s: %d inputCols but %d outputCols; want one output per input", uid, len(ins), len(outs))
		}
		seen := map[string]bool{}
		for _, o := range outs {
			if seen[o] {
				return nil, nil, fmt.Errorf("%s: output column %q named twice in outputCols", uid, o)
			}
			seen[o] = true
		}
		return append([]string(nil), ins...), append([]string(nil), outs...), nil
	case c.inputCol.Get() != "":
		if len(outs) > 0 {
			return nil, nil, fmt.Errorf("%s: outputCols is set but inputCols is not; use outputCol with inputCol", uid)
		}
		return []string{c.inputCol.Get()}, []string{c.outputCol.Get()}, nil
	}
	return nil, nil, fmt.Errorf("%s: set inputCol (one column) or inputCols (several)", uid)
}

// nominalAttr is Spark ML's column metadata for a categorical column, stored in the Arrow
// field metadata under "ml_attr" as Spark stores it in a StructField's metadata. It lets
// IndexToString recover labels and OneHotEncoder the number of categories.
type nominalAttr struct {
	Type string   `json:"type"`
	Name string   `json:"name,omitempty"`
	Vals []string `json:"vals,omitempty"`
}

const mlAttrKey = "ml_attr"

func nominalMetadata(name string, vals []string) arrow.Metadata {
	b, _ := json.Marshal(nominalAttr{Type: "nominal", Name: name, Vals: vals})
	return arrow.NewMetadata([]string{mlAttrKey}, []string{string(b)})
}

// nominalValues returns the category labels recorded in f's metadata, if any.
func nominalValues(f arrow.Field) ([]string, bool) {
	i := f.Metadata.FindKey(mlAttrKey)
	if i < 0 {
		return nil, false
	}
	var a nominalAttr
	if err := json.Unmarshal([]byte(f.Metadata.Values()[i]), &a); err != nil || a.Type != "nominal" || a.Vals == nil {
		return nil, false
	}
	return a.Vals, true
}

// loadParams is the Loader body shared by stages that have only params.
func loadParams[S ml.Stage](s S, params json.RawMessage) (ml.Stage, error) {
	if err := s.Params().Load(params); err != nil {
		return nil, err
	}
	return s, nil
}

func checkFinite(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("want a finite number")
	}
	return nil
}

// formatNumber spells a number as Spark's cast to string does for integers and for doubles in
// [1e-3, 1e7) (Java switches to scientific notation outside that range; deepframe does not).
func formatNumber(v float64, integer bool) string {
	if integer {
		return strconv.FormatInt(int64(v), 10)
	}
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
