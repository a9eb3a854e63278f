package frame

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// accum collects one column of a record batch in plain Go slices and hands them to Arrow
// without copying. It is what keeps the CSV reader's per-value cost to an append: Arrow's
// builders check capacity and set a validity bit for every value.
type accum struct {
	kind  csvKind
	n     int
	i32   []int32
	i64   []int64
	f32   []float32
	f64   []float64
	bits  []byte // Boolean values, bit-packed
	offs  []int32
	data  []byte
	valid []byte // validity bitmap; nil while the batch has no nulls
	nulls int
}

func newAccum(kind csvKind) *accum {
	a := &accum{kind: kind}
	a.reset(0)
	return a
}

// reset starts a new batch; the previous slices now belong to the arrays made from them.
func (a *accum) reset(capacity int) {
	a.n, a.nulls, a.valid = 0, 0, nil
	a.i32, a.i64, a.f32, a.f64, a.bits, a.offs, a.data = nil, nil, nil, nil, nil, nil, nil
	switch a.kind {
	case csvInt32:
		a.i32 = make([]int32, 0, capacity)
	case csvInt64:
		a.i64 = make([]int64, 0, capacity)
	case csvFloat32:
		a.f32 = make([]float32, 0, capacity)
	case csvFloat64:
		a.f64 = make([]float64, 0, capacity)
	case csvBool:
		a.bits = make([]byte, 0, (capacity+7)/8)
	case csvString:
		a.offs = make([]int32, 1, capacity+1)
	}
}

// row closes the current row, recording whether it is valid.
func (a *accum) row(valid bool) {
	if !valid && a.valid == nil {
		a.valid = make([]byte, (a.n+8)/8, max((a.n+8)/8, cap(a.i32)/8+1))
		for i := 0; i < a.n; i++ {
			a.valid[i/8] |= 1 << (i % 8)
		}
	}
	if a.valid != nil {
		for len(a.valid)*8 <= a.n {
			a.valid = append(a.valid, 0)
		}
		if valid {
			a.valid[a.n/8] |= 1 << (a.n % 8)
		} else {
			a.nulls++
		}
	}
	a.n++
}

func (a *accum) appendNull() {
	switch a.kind {
	case csvInt32:
		a.i32 = append(a.i32, 0)
	case csvInt64:
		a.i64 = append(a.i64, 0)
	case csvFloat32:
		a.f32 = append(a.f32, 0)
	case csvFloat64:
		a.f64 = append(a.f64, 0)
	case csvBool:
		a.appendBool(false)
	case csvString:
		a.offs = append(a.offs, int32(len(a.data)))
	}
	a.row(false)
}

func (a *accum) appendBool(v bool) {
	if a.n%8 == 0 {
		a.bits = append(a.bits, 0)
	}
	if v {
		a.bits[a.n/8] |= 1 << (a.n % 8)
	}
}

func (a *accum) appendString(b []byte) {
	a.data = append(a.data, b...)
	a.offs = append(a.offs, int32(len(a.data)))
	a.row(true)
}

// finish returns the batch's array and starts the next batch.
func (a *accum) finish() arrow.Array {
	var buffers []*memory.Buffer
	var dt arrow.DataType
	bitmap := (*memory.Buffer)(nil)
	if a.nulls > 0 {
		bitmap = memory.NewBufferBytes(a.valid)
	}
	switch a.kind {
	case csvInt32:
		dt, buffers = arrow.PrimitiveTypes.Int32, []*memory.Buffer{bitmap, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(a.i32))}
	case csvInt64:
		dt, buffers = arrow.PrimitiveTypes.Int64, []*memory.Buffer{bitmap, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(a.i64))}
	case csvFloat32:
		dt, buffers = arrow.PrimitiveTypes.Float32, []*memory.Buffer{bitmap, memory.NewBufferBytes(arrow.Float32Traits.CastToBytes(a.f32))}
	case csvFloat64:
		dt, buffers = arrow.PrimitiveTypes.Float64, []*memory.Buffer{bitmap, memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(a.f64))}
	case csvBool:
		dt, buffers = arrow.FixedWidthTypes.Boolean, []*memory.Buffer{bitmap, memory.NewBufferBytes(a.bits)}
	case csvString:
		dt, buffers = arrow.BinaryTypes.String, []*memory.Buffer{bitmap, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(a.offs)), memory.NewBufferBytes(a.data)}
	}
	data := array.NewData(dt, a.n, buffers, nil, a.nulls, 0)
	defer data.Release()
	n := a.n
	a.reset(n)
	return array.MakeFromData(data)
}
