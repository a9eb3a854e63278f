package frame

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/deepframe/deepframe/tensor"
)

// VectorType is the type of a dense vector column of n doubles: FixedSizeList<Float64>, the
// Arrow form of Spark ML's DenseVector. Arrow has no zero-width fixed-size list, so n must be
// at least 1 (Spark's empty vectors have no Arrow form).
func VectorType(n int) (arrow.DataType, error) {
	if err := checkVectorWidth(n); err != nil {
		return nil, err
	}
	return arrow.FixedSizeListOf(int32(n), arrow.PrimitiveTypes.Float64), nil
}

// checkVectorWidth catches the widths arrow would panic on (or silently truncate to int32).
func checkVectorWidth(n int) error {
	if n < 1 || n > math.MaxInt32 {
		return fmt.Errorf("frame: a vector of %d values: vectors hold 1 to %d values", n, math.MaxInt32)
	}
	return nil
}

// vectorTypeName describes the vector type in messages without building one.
const vectorTypeName = "fixed_size_list<item: float64>"

// IsVector reports whether dt is a vector column type (FixedSizeList<Float64>) and its length.
func IsVector(dt arrow.DataType) (n int, ok bool) {
	fl, ok := dt.(*arrow.FixedSizeListType)
	if !ok || fl.Elem().ID() != arrow.FLOAT64 {
		return 0, false
	}
	return int(fl.Len()), true
}

// IsNumeric reports whether dt is a type whose values read as numbers: the integer and float
// types and Boolean (as 0 and 1).
func IsNumeric(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.BOOL:
		return true
	}
	return false
}

// VectorValues returns the values of a vector column as one flat slice: row i is
// values[i*n:(i+1)*n]. The slice aliases the array's memory and must not be modified. Null rows
// hold whatever the array stores there; check arr.IsNull.
func VectorValues(arr arrow.Array) (values []float64, n int, err error) {
	n, ok := IsVector(arr.DataType())
	if !ok {
		return nil, 0, fmt.Errorf("frame: column type %s is not a vector (want %s)", arr.DataType(), vectorTypeName)
	}
	fl := arr.(*array.FixedSizeList)
	child, ok := fl.ListValues().(*array.Float64)
	if !ok {
		return nil, 0, fmt.Errorf("frame: vector column has %s values", fl.ListValues().DataType())
	}
	all := child.Float64Values()
	lo, hi := fl.Offset()*n, (fl.Offset()+fl.Len())*n
	if hi > len(all) {
		return nil, 0, fmt.Errorf("frame: vector column holds %d values, want %d", len(all), hi)
	}
	return all[lo:hi:hi], n, nil
}

// NewVectorArray wraps flat (row i at flat[i*n:(i+1)*n]) as a vector column without copying.
// valid marks non-null rows; nil means every row is valid. flat must not be modified afterwards.
func NewVectorArray(n int, flat []float64, valid []bool) (arrow.Array, error) {
	typ, err := VectorType(n)
	if err != nil {
		return nil, fmt.Errorf("frame: NewVectorArray: %w", err)
	}
	if len(flat)%n != 0 {
		return nil, fmt.Errorf("frame: NewVectorArray: %d values do not make rows of %d", len(flat), n)
	}
	rows := len(flat) / n
	if valid != nil && len(valid) != rows {
		return nil, fmt.Errorf("frame: NewVectorArray: %d validity flags for %d rows", len(valid), rows)
	}
	vals := array.NewData(arrow.PrimitiveTypes.Float64, len(flat),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(flat))}, nil, 0, 0)
	defer vals.Release()
	bitmap, nulls := validityBitmap(valid)
	data := array.NewData(typ, rows, []*memory.Buffer{bitmap}, []arrow.ArrayData{vals}, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

func validityBitmap(valid []bool) (*memory.Buffer, int) {
	if valid == nil {
		return nil, 0
	}
	nulls := 0
	bits := make([]byte, (len(valid)+7)/8)
	for i, v := range valid {
		if v {
			bits[i/8] |= 1 << (i % 8)
		} else {
			nulls++
		}
	}
	if nulls == 0 {
		return nil, 0
	}
	return memory.NewBufferBytes(bits), nulls
}

// VectorBuilder builds a vector column row by row.
type VectorBuilder struct {
	n int
	b *array.FixedSizeListBuilder
	v *array.Float64Builder
}

// NewVectorBuilder returns a builder for vectors of length n (at least 1, as VectorType).
func NewVectorBuilder(n int) (*VectorBuilder, error) {
	if err := checkVectorWidth(n); err != nil {
		return nil, fmt.Errorf("frame: NewVectorBuilder: %w", err)
	}
	b := array.NewFixedSizeListBuilder(alloc, int32(n), arrow.PrimitiveTypes.Float64)
	return &VectorBuilder{n: n, b: b, v: b.ValueBuilder().(*array.Float64Builder)}, nil
}

// Append adds one row; v must have the builder's length.
func (b *VectorBuilder) Append(v []float64) error {
	if len(v) != b.n {
		return fmt.Errorf("frame: vector of length %d appended to a column of length %d", len(v), b.n)
	}
	b.b.Append(true)
	b.v.AppendValues(v, nil)
	return nil
}

// AppendNull adds a null row.
func (b *VectorBuilder) AppendNull() { b.b.AppendNull() }

// Len is the number of rows appended since the last NewArray.
func (b *VectorBuilder) Len() int { return b.b.Len() }

// NewArray returns the column built so far and resets the builder.
func (b *VectorBuilder) NewArray() arrow.Array { return b.b.NewArray() }

// Release frees the builder's buffers.
func (b *VectorBuilder) Release() { b.b.Release() }

// ToFloat64 appends the values of a numeric or Boolean column to dst as float64, nulls as NaN.
func ToFloat64(dst []float64, arr arrow.Array) ([]float64, error) {
	n := arr.Len()
	start := len(dst)
	switch a := arr.(type) {
	case *array.Float64:
		dst = append(dst, a.Float64Values()...)
	case *array.Float32:
		dst = appendConv(dst, a.Float32Values())
	case *array.Int64:
		dst = appendConv(dst, a.Int64Values())
	case *array.Int32:
		dst = appendConv(dst, a.Int32Values())
	case *array.Int16:
		dst = appendConv(dst, a.Int16Values())
	case *array.Int8:
		dst = appendConv(dst, a.Int8Values())
	case *array.Uint64:
		dst = appendConv(dst, a.Uint64Values())
	case *array.Uint32:
		dst = appendConv(dst, a.Uint32Values())
	case *array.Uint16:
		dst = appendConv(dst, a.Uint16Values())
	case *array.Uint8:
		dst = appendConv(dst, a.Uint8Values())
	case *array.Boolean:
		for i := 0; i < n; i++ {
			v := 0.0
			if a.Value(i) {
				v = 1
			}
			dst = append(dst, v)
		}
	default:
		return dst, fmt.Errorf("frame: column type %s is not numeric", arr.DataType())
	}
	if arr.NullN() > 0 {
		for i := 0; i < n; i++ {
			if arr.IsNull(i) {
				dst[start+i] = math.NaN()
			}
		}
	}
	return dst, nil
}

type number interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

func appendConv[T number](dst []float64, src []T) []float64 {
	for _, v := range src {
		dst = append(dst, float64(v))
	}
	return dst
}

// float64At reads one value of a numeric or Boolean column; ok is false for nulls and other
// types.
func float64At(arr arrow.Array, i int) (float64, bool) {
	if arr.IsNull(i) {
		return math.NaN(), false
	}
	switch a := arr.(type) {
	case *array.Float64:
		return a.Value(i), true
	case *array.Float32:
		return float64(a.Value(i)), true
	case *array.Int64:
		return float64(a.Value(i)), true
	case *array.Int32:
		return float64(a.Value(i)), true
	case *array.Int16:
		return float64(a.Value(i)), true
	case *array.Int8:
		return float64(a.Value(i)), true
	case *array.Uint64:
		return float64(a.Value(i)), true
	case *array.Uint32:
		return float64(a.Value(i)), true
	case *array.Uint16:
		return float64(a.Value(i)), true
	case *array.Uint8:
		return float64(a.Value(i)), true
	case *array.Boolean:
		if a.Value(i) {
			return 1, true
		}
		return 0, true
	}
	return math.NaN(), false
}

// int64At reads one value of an integer, float (truncated) or Boolean column.
func int64At(arr arrow.Array, i int) (int64, bool) {
	if arr.IsNull(i) {
		return 0, false
	}
	switch a := arr.(type) {
	case *array.Int64:
		return a.Value(i), true
	case *array.Int32:
		return int64(a.Value(i)), true
	case *array.Int16:
		return int64(a.Value(i)), true
	case *array.Int8:
		return int64(a.Value(i)), true
	case *array.Uint64:
		return int64(a.Value(i)), true
	case *array.Uint32:
		return int64(a.Value(i)), true
	case *array.Uint16:
		return int64(a.Value(i)), true
	case *array.Uint8:
		return int64(a.Value(i)), true
	}
	v, ok := float64At(arr, i)
	return int64(v), ok
}

// Column is one named column for FromColumns.
type Column struct {
	Name string
	// Data is one of []float64, []float32, []int64, []int32, []int, []string, []bool,
	// [][]float64 (a vector column; every row the same length), []Image, or an arrow.Array.
	Data any
}

// Col is shorthand for Column{name, data}.
func Col(name string, data any) Column { return Column{Name: name, Data: data} }

// FromColumns builds an in-memory frame with one partition from Go slices. Every column must
// have the same length.
func FromColumns(cols ...Column) (*DataFrame, error) {
	if len(cols) == 0 {
		return nil, fmt.Errorf("frame: FromColumns: no columns")
	}
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	release := func() {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
	}
	seen := map[string]bool{}
	for i, c := range cols {
		if seen[c.Name] {
			release()
			return nil, fmt.Errorf("frame: FromColumns: column %q given twice", c.Name)
		}
		seen[c.Name] = true
		a, err := arrayOf(c.Data)
		if err != nil {
			release()
			return nil, fmt.Errorf("frame: FromColumns: column %q: %w", c.Name, err)
		}
		arrs[i] = a
		fields[i] = arrow.Field{Name: c.Name, Type: a.DataType(), Nullable: true}
		if n, n0 := a.Len(), arrs[0].Len(); n != n0 {
			release()
			return nil, fmt.Errorf("frame: FromColumns: column %q has %d rows but %q has %d", c.Name, n, cols[0].Name, n0)
		}
	}
	schema := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(schema, arrs, int64(arrs[0].Len()))
	release()
	return newFrame(schema, 1, &memNode{schema: schema, parts: [][]arrow.RecordBatch{{rec}}}), nil
}

func arrayOf(data any) (arrow.Array, error) {
	switch d := data.(type) {
	case arrow.Array:
		d.Retain()
		return d, nil
	case []float64:
		b := array.NewFloat64Builder(alloc)
		defer b.Release()
		b.AppendValues(d, nil)
		return b.NewArray(), nil
	case []float32:
		b := array.NewFloat32Builder(alloc)
		defer b.Release()
		b.AppendValues(d, nil)
		return b.NewArray(), nil
	case []int64:
		b := array.NewInt64Builder(alloc)
		defer b.Release()
		b.AppendValues(d, nil)
		return b.NewArray(), nil
	case []int:
		b := array.NewInt64Builder(alloc)
		defer b.Release()
		for _, v := range d {
			b.Append(int64(v))
		}
		return b.NewArray(), nil
	case []int32:
		b := array.NewInt32Builder(alloc)
		defer b.Release()
		b.AppendValues(d, nil)
		return b.NewArray(), nil
	case []string:
		b := array.NewStringBuilder(alloc)
		defer b.Release()
		b.AppendValues(d, nil)
		return b.NewArray(), nil
	case []bool:
		b := array.NewBooleanBuilder(alloc)
		defer b.Release()
		b.AppendValues(d, nil)
		return b.NewArray(), nil
	case [][]float64:
		if len(d) == 0 {
			return nil, fmt.Errorf("no rows to take the vector length from; give an arrow.Array of VectorType(n) for an empty vector column")
		}
		n := len(d[0])
		if n == 0 {
			return nil, fmt.Errorf("row 0 holds an empty vector; vector columns hold at least one value per row")
		}
		flat := make([]float64, 0, n*len(d))
		for i, v := range d {
			if len(v) != n {
				return nil, fmt.Errorf("row %d has a vector of length %d, row 0 has %d", i, len(v), n)
			}
			flat = append(flat, v...)
		}
		return NewVectorArray(n, flat, nil)
	case []Image:
		b := NewImageBuilder()
		defer b.Release()
		for i, img := range d {
			if err := b.Append(img); err != nil {
				return nil, fmt.Errorf("row %d: %w", i, err)
			}
		}
		return b.NewArray(), nil
	}
	return nil, fmt.Errorf("unsupported data %T (want []float64, []float32, []int64, []int32, []int, []string, []bool, [][]float64, []Image or arrow.Array)", data)
}

// FromRecords builds an in-memory frame whose partitions are the given record batches, which
// must share one schema. The frame retains the records; the caller keeps its own references.
func FromRecords(recs ...arrow.RecordBatch) (*DataFrame, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("frame: FromRecords: no records")
	}
	schema := recs[0].Schema()
	parts := make([][]arrow.RecordBatch, len(recs))
	for i, r := range recs {
		if !sameColumns(schema, r.Schema()) {
			return nil, fmt.Errorf("frame: FromRecords: record %d has schema %s, record 0 has %s", i, r.Schema(), schema)
		}
		r.Retain()
		parts[i] = []arrow.RecordBatch{r}
	}
	return newFrame(schema, len(recs), &memNode{schema: schema, parts: parts}), nil
}

func sameColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.Fields() {
		if a.Field(i).Name != b.Field(i).Name || !arrow.TypeEqual(a.Field(i).Type, b.Field(i).Type) {
			return false
		}
	}
	return true
}

// FromTensors builds an in-memory frame with one column per tensor, rows along each tensor's
// first axis. A rank-1 tensor becomes a scalar column (float32 → Float32, int64 → Int64,
// int32 → Int32, uint8 → Int32). A uint8 tensor of shape [N, H, W] or [N, H, W, C] with C in
// {1, 3, 4} becomes an image column. Any other tensor of rank 2 or more becomes a vector
// column of its flattened rows.
func FromTensors(names []string, ts []*tensor.Tensor) (*DataFrame, error) {
	if len(names) != len(ts) {
		return nil, fmt.Errorf("frame: FromTensors: %d names for %d tensors", len(names), len(ts))
	}
	cols := make([]Column, len(ts))
	for i, t := range ts {
		if t == nil || t.Rank() == 0 {
			return nil, fmt.Errorf("frame: FromTensors: tensor %q must have rows along its first axis", names[i])
		}
		var data any
		n := t.Dim(0)
		switch {
		case t.Rank() == 1:
			switch t.DType() {
			case tensor.Float32:
				data = append([]float32(nil), t.Float32s()...)
			case tensor.Int64:
				data = append([]int64(nil), t.Int64s()...)
			case tensor.Int32:
				data = append([]int32(nil), t.Int32s()...)
			default:
				v := make([]int32, n)
				for j, b := range t.Uint8s() {
					v[j] = int32(b)
				}
				data = v
			}
		case t.DType() == tensor.Uint8 && (t.Rank() == 3 || (t.Rank() == 4 && (t.Dim(3) == 1 || t.Dim(3) == 3 || t.Dim(3) == 4))):
			h, w, c := t.Dim(1), t.Dim(2), 1
			if t.Rank() == 4 {
				c = t.Dim(3)
			}
			imgs := make([]Image, n)
			px := t.Uint8s()
			size := h * w * c
			for j := range imgs {
				imgs[j] = Image{Origin: fmt.Sprintf("%s[%d]", names[i], j), Height: h, Width: w, Channels: c, Mode: modeFor(c), Data: px[j*size : (j+1)*size]}
			}
			data = imgs
		default:
			size := t.Shape()[1:].Size()
			if size == 0 {
				return nil, fmt.Errorf("frame: FromTensors: tensor %q of shape %v has rows of no values; vector columns hold at least one value per row", names[i], t.Shape())
			}
			flat := make([]float64, t.Len())
			for j := range flat {
				flat[j] = t.Float64Flat(j)
			}
			a, err := NewVectorArray(size, flat, nil)
			if err != nil {
				return nil, fmt.Errorf("frame: FromTensors: tensor %q: %w", names[i], err)
			}
			defer a.Release()
			data = a
		}
		cols[i] = Col(names[i], data)
	}
	return FromColumns(cols...)
}

// ColumnFloat64s runs the plan and returns one column's values as float64: a numeric column's
// values, or a vector column's values row after row. It is how a scored frame's predictions or
// probabilities are read back for comparison and reporting.
func ColumnFloat64s(ctx context.Context, df *DataFrame, col string) ([]float64, error) {
	idx, err := df.index(col)
	if err != nil {
		return nil, err
	}
	var out []float64
	err = df.Iterate(ctx, func(rec arrow.RecordBatch) error {
		a := rec.Column(idx)
		if _, ok := IsVector(a.DataType()); ok {
			v, _, err := VectorValues(a)
			out = append(out, v...)
			return err
		}
		var err error
		out, err = ToFloat64(out, a)
		if err != nil {
			return fmt.Errorf("frame: column %q: %w", col, err)
		}
		return nil
	})
	return out, err
}
