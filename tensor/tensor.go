// Package tensor holds deepframe's n-dimensional arrays: contiguous row-major buffers of one
// element type, their shapes, and the seeded random numbers that make runs repeatable.
//
// float32 is the type all math runs in; int64 and int32 carry labels and indices, uint8 carries
// pixels. A Tensor owns its buffer unless it was made as a view (Reshape, Slice), which shares
// the buffer of its parent so that batching and reshaping never copy.
package tensor

import (
	"fmt"
	"math"
	"strings"
)

// DType is the element type of a Tensor.
type DType uint8

const (
	Float32 DType = iota
	Int64
	Int32
	Uint8
)

func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Int64:
		return "int64"
	case Int32:
		return "int32"
	case Uint8:
		return "uint8"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Size is the number of bytes one element takes.
func (d DType) Size() int {
	switch d {
	case Float32, Int32:
		return 4
	case Int64:
		return 8
	case Uint8:
		return 1
	}
	return 0
}

// ParseDType accepts the names String returns.
func ParseDType(name string) (DType, error) {
	for _, d := range []DType{Float32, Int64, Int32, Uint8} {
		if d.String() == name {
			return d, nil
		}
	}
	return 0, fmt.Errorf("tensor: unknown dtype %q (want float32, int64, int32 or uint8)", name)
}

// Tensor is an n-dimensional array with a contiguous row-major buffer. Exactly one of the typed
// buffers is non-nil, chosen by dtype.
type Tensor struct {
	shape Shape
	dtype DType
	f32   []float32
	i64   []int64
	i32   []int32
	u8    []uint8
}

// New returns a zero-filled tensor. It panics only on a negative dimension, which is a bug in the
// caller; user-facing shapes are checked with Shape.Validate first.
func New(dtype DType, shape ...int) *Tensor {
	s := Shape(shape).Clone()
	n := s.mustSize()
	t := &Tensor{shape: s, dtype: dtype}
	switch dtype {
	case Float32:
		t.f32 = make([]float32, n)
	case Int64:
		t.i64 = make([]int64, n)
	case Int32:
		t.i32 = make([]int32, n)
	case Uint8:
		t.u8 = make([]uint8, n)
	default:
		panic(fmt.Sprintf("tensor: New with unknown dtype %d", dtype))
	}
	return t
}

// Zeros returns a float32 tensor of zeros.
func Zeros(shape ...int) *Tensor { return New(Float32, shape...) }

// Full returns a float32 tensor with every element set to v.
func Full(v float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	t.Fill(v)
	return t
}

// Scalar returns a rank-0 float32 tensor.
func Scalar(v float32) *Tensor { return &Tensor{shape: Shape{}, dtype: Float32, f32: []float32{v}} }

// FromFloat32 wraps data (without copying) as a tensor of the given shape.
func FromFloat32(data []float32, shape ...int) (*Tensor, error) {
	s, err := checkLen(len(data), shape)
	if err != nil {
		return nil, err
	}
	return &Tensor{shape: s, dtype: Float32, f32: data}, nil
}

// FromInt64 wraps data (without copying) as a tensor of the given shape.
func FromInt64(data []int64, shape ...int) (*Tensor, error) {
	s, err := checkLen(len(data), shape)
	if err != nil {
		return nil, err
	}
	return &Tensor{shape: s, dtype: Int64, i64: data}, nil
}

// FromInt32 wraps data (without copying) as a tensor of the given shape.
func FromInt32(data []int32, shape ...int) (*Tensor, error) {
	s, err := checkLen(len(data), shape)
	if err != nil {
		return nil, err
	}
	return &Tensor{shape: s, dtype: Int32, i32: data}, nil
}

// FromUint8 wraps data (without copying) as a tensor of the given shape.
func FromUint8(data []uint8, shape ...int) (*Tensor, error) {
	s, err := checkLen(len(data), shape)
	if err != nil {
		return nil, err
	}
	return &Tensor{shape: s, dtype: Uint8, u8: data}, nil
}

func checkLen(n int, shape []int) (Shape, error) {
	s := Shape(shape).Clone()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.Size() != n {
		return nil, fmt.Errorf("tensor: %d elements do not fill shape %v (want %d)", n, s, s.Size())
	}
	return s, nil
}

// Shape returns the tensor's shape. The caller must not modify it.
func (t *Tensor) Shape() Shape { return t.shape }

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Len is the number of elements.
func (t *Tensor) Len() int {
	switch t.dtype {
	case Float32:
		return len(t.f32)
	case Int64:
		return len(t.i64)
	case Int32:
		return len(t.i32)
	default:
		return len(t.u8)
	}
}

// Dim returns the size of axis i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Float32s returns the backing buffer of a float32 tensor (nil for other dtypes). Writes through
// it change the tensor, which is how kernels fill their outputs.
func (t *Tensor) Float32s() []float32 { return t.f32 }

// Int64s returns the backing buffer of an int64 tensor (nil for other dtypes).
func (t *Tensor) Int64s() []int64 { return t.i64 }

// Int32s returns the backing buffer of an int32 tensor (nil for other dtypes).
func (t *Tensor) Int32s() []int32 { return t.i32 }

// Uint8s returns the backing buffer of a uint8 tensor (nil for other dtypes).
func (t *Tensor) Uint8s() []uint8 { return t.u8 }

// Bytes returns the little-endian bytes of the buffer (a copy).
func (t *Tensor) Bytes() []byte { return encodeLE(t) }

// FromBytes builds a tensor from little-endian bytes, as written by Bytes.
func FromBytes(dtype DType, shape []int, data []byte) (*Tensor, error) {
	s := Shape(shape).Clone()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if dtype.Size() == 0 {
		return nil, fmt.Errorf("tensor: unknown dtype %d", dtype)
	}
	if want := s.Size() * dtype.Size(); len(data) != want {
		return nil, fmt.Errorf("tensor: %d bytes for %s%v, want %d", len(data), dtype, s, want)
	}
	t := New(dtype, s...)
	decodeLE(t, data)
	return t, nil
}

// Float64At returns the element at the given multi-index as float64, for any dtype.
func (t *Tensor) Float64At(idx ...int) float64 {
	return t.Float64Flat(t.shape.Offset(idx...))
}

// Float64Flat returns element i of the flat buffer as float64, for any dtype.
func (t *Tensor) Float64Flat(i int) float64 {
	switch t.dtype {
	case Float32:
		return float64(t.f32[i])
	case Int64:
		return float64(t.i64[i])
	case Int32:
		return float64(t.i32[i])
	default:
		return float64(t.u8[i])
	}
}

// SetFloat64Flat sets element i of the flat buffer, converting from float64.
func (t *Tensor) SetFloat64Flat(i int, v float64) {
	switch t.dtype {
	case Float32:
		t.f32[i] = float32(v)
	case Int64:
		t.i64[i] = int64(v)
	case Int32:
		t.i32[i] = int32(v)
	default:
		t.u8[i] = uint8(v)
	}
}

// Fill sets every element to v.
func (t *Tensor) Fill(v float32) {
	switch t.dtype {
	case Float32:
		for i := range t.f32 {
			t.f32[i] = v
		}
	default:
		for i := 0; i < t.Len(); i++ {
			t.SetFloat64Flat(i, float64(v))
		}
	}
}

// Zero sets every element to zero.
func (t *Tensor) Zero() {
	switch t.dtype {
	case Float32:
		clear(t.f32)
	case Int64:
		clear(t.i64)
	case Int32:
		clear(t.i32)
	default:
		clear(t.u8)
	}
}

// Clone returns a deep copy with its own buffer.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{shape: t.shape.Clone(), dtype: t.dtype}
	switch t.dtype {
	case Float32:
		c.f32 = append([]float32(nil), t.f32...)
	case Int64:
		c.i64 = append([]int64(nil), t.i64...)
	case Int32:
		c.i32 = append([]int32(nil), t.i32...)
	default:
		c.u8 = append([]uint8(nil), t.u8...)
	}
	return c
}

// CopyFrom copies src's elements into t. Both must have the same dtype and element count.
func (t *Tensor) CopyFrom(src *Tensor) error {
	if src.dtype != t.dtype || src.Len() != t.Len() {
		return fmt.Errorf("tensor: cannot copy %s%v into %s%v", src.dtype, src.shape, t.dtype, t.shape)
	}
	switch t.dtype {
	case Float32:
		copy(t.f32, src.f32)
	case Int64:
		copy(t.i64, src.i64)
	case Int32:
		copy(t.i32, src.i32)
	default:
		copy(t.u8, src.u8)
	}
	return nil
}

// Reshape returns a view with a new shape over the same buffer. One dimension may be -1 and is
// inferred from the others.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	s, err := Shape(shape).Resolve(t.Len())
	if err != nil {
		return nil, fmt.Errorf("tensor: cannot reshape %v: %w", t.shape, err)
	}
	v := *t
	v.shape = s
	return &v, nil
}

// Slice returns a view of rows [start, end) along the first axis.
func (t *Tensor) Slice(start, end int) (*Tensor, error) {
	if len(t.shape) == 0 {
		return nil, fmt.Errorf("tensor: cannot slice a scalar")
	}
	if start < 0 || end > t.shape[0] || start > end {
		return nil, fmt.Errorf("tensor: slice [%d:%d] out of range for first axis of %v", start, end, t.shape)
	}
	row := t.shape[1:].Size()
	v := &Tensor{shape: append(Shape{end - start}, t.shape[1:]...), dtype: t.dtype}
	lo, hi := start*row, end*row
	switch t.dtype {
	case Float32:
		v.f32 = t.f32[lo:hi:hi]
	case Int64:
		v.i64 = t.i64[lo:hi:hi]
	case Int32:
		v.i32 = t.i32[lo:hi:hi]
	default:
		v.u8 = t.u8[lo:hi:hi]
	}
	return v, nil
}

// Gather returns a new tensor whose rows (first axis) are t's rows at the given indices, in
// that order. It is how batches are drawn from shuffled data.
func (t *Tensor) Gather(rows []int) (*Tensor, error) {
	if len(t.shape) == 0 {
		return nil, fmt.Errorf("tensor: cannot gather rows of a scalar")
	}
	n := t.shape[0]
	row := t.shape[1:].Size()
	out := New(t.dtype, append(Shape{len(rows)}, t.shape[1:]...)...)
	for i, r := range rows {
		if r < 0 || r >= n {
			return nil, fmt.Errorf("tensor: row index %d out of range [0, %d)", r, n)
		}
		switch t.dtype {
		case Float32:
			copy(out.f32[i*row:(i+1)*row], t.f32[r*row:(r+1)*row])
		case Int64:
			copy(out.i64[i*row:(i+1)*row], t.i64[r*row:(r+1)*row])
		case Int32:
			copy(out.i32[i*row:(i+1)*row], t.i32[r*row:(r+1)*row])
		default:
			copy(out.u8[i*row:(i+1)*row], t.u8[r*row:(r+1)*row])
		}
	}
	return out, nil
}

// AsType returns a copy converted to dtype (t itself when it already has that dtype).
func (t *Tensor) AsType(dtype DType) *Tensor {
	if dtype == t.dtype {
		return t
	}
	out := New(dtype, t.shape...)
	for i := 0; i < t.Len(); i++ {
		out.SetFloat64Flat(i, t.Float64Flat(i))
	}
	return out
}

// Equal reports whether a and b have the same dtype, shape and elements.
func Equal(a, b *Tensor) bool {
	if a.dtype != b.dtype || !a.shape.Equal(b.shape) {
		return false
	}
	for i := 0; i < a.Len(); i++ {
		if a.Float64Flat(i) != b.Float64Flat(i) {
			return false
		}
	}
	return true
}

// AllClose reports whether a and b have the same shape and |a-b| <= atol + rtol*|b| everywhere.
func AllClose(a, b *Tensor, rtol, atol float64) bool {
	return MaxRelDiff(a, b, atol) <= rtol && a.shape.Equal(b.shape)
}

// MaxRelDiff returns max |a-b| / (atol + |b|) over all elements, the figure parity tests report.
func MaxRelDiff(a, b *Tensor, atol float64) float64 {
	if a.Len() != b.Len() {
		return math.Inf(1)
	}
	worst := 0.0
	for i := 0; i < a.Len(); i++ {
		x, y := a.Float64Flat(i), b.Float64Flat(i)
		if math.IsNaN(x) != math.IsNaN(y) {
			return math.Inf(1)
		}
		d := math.Abs(x-y) / (atol + math.Abs(y))
		if d > worst {
			worst = d
		}
	}
	return worst
}

// String prints shape, dtype and up to the first 8 elements.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor(%s%v [", t.dtype, t.shape)
	n := t.Len()
	for i := 0; i < n && i < 8; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%g", t.Float64Flat(i))
	}
	if n > 8 {
		b.WriteString(" ...")
	}
	b.WriteString("])")
	return b.String()
}
