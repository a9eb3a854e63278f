package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Shape is the size of each axis, outermost first. A rank-0 shape is a scalar.
type Shape []int

// maxElements bounds shapes read from untrusted input so that a hostile header cannot make a
// reader allocate more than any real model needs.
const maxElements = 1 << 40

// Size is the number of elements, the product of the dimensions.
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func (s Shape) mustSize() int {
	if err := s.Validate(); err != nil {
		panic(err.Error())
	}
	return s.Size()
}

// Validate checks that no dimension is negative and the element count does not overflow.
func (s Shape) Validate() error {
	n := 1
	for i, d := range s {
		if d < 0 {
			return fmt.Errorf("tensor: shape %v has negative dimension %d at axis %d", []int(s), d, i)
		}
		if d != 0 && n > maxElements/d {
			return fmt.Errorf("tensor: shape %v has more than 2^40 elements", []int(s))
		}
		n *= d
	}
	return nil
}

// Clone returns a copy that does not share memory with s.
func (s Shape) Clone() Shape {
	if s == nil {
		return Shape{}
	}
	return append(Shape{}, s...)
}

// Equal reports whether two shapes are the same.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// String prints the shape as Keras does, e.g. (None, 28, 28, 1) is printed for a batch shape
// whose first entry is -1.
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			parts[i] = "None"
		} else {
			parts[i] = strconv.Itoa(d)
		}
	}
	if len(s) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Strides returns the row-major element strides.
func (s Shape) Strides() []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

// Offset returns the flat index of a multi-index.
func (s Shape) Offset(idx ...int) int {
	off := 0
	for i, v := range idx {
		off = off*s[i] + v
	}
	return off
}

// Axis normalises a possibly negative axis against rank r.
func Axis(axis, r int) (int, error) {
	a := axis
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		return 0, fmt.Errorf("tensor: axis %d out of range for rank %d", axis, r)
	}
	return a, nil
}

// Resolve fills in a single -1 dimension so the shape holds n elements.
func (s Shape) Resolve(n int) (Shape, error) {
	out := s.Clone()
	infer := -1
	known := 1
	for i, d := range out {
		switch {
		case d == -1 && infer >= 0:
			return nil, fmt.Errorf("shape %v has more than one -1", []int(s))
		case d == -1:
			infer = i
		case d < 0:
			return nil, fmt.Errorf("shape %v has negative dimension %d", []int(s), d)
		default:
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("%d elements cannot fill shape %v", n, []int(s))
		}
		out[infer] = n / known
	}
	if out.Size() != n {
		return nil, fmt.Errorf("%d elements do not fill shape %v (holds %d)", n, []int(s), out.Size())
	}
	return out, nil
}

// Broadcast returns the shape two operands broadcast to under NumPy rules.
func Broadcast(a, b Shape) (Shape, error) {
	n := max(len(a), len(b))
	out := make(Shape, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("tensor: shapes %v and %v do not broadcast (axis %d: %d vs %d)", a, b, i, da, db)
		}
	}
	return out, nil
}

func encodeLE(t *Tensor) []byte {
	out := make([]byte, t.Len()*t.dtype.Size())
	switch t.dtype {
	case Float32:
		for i, v := range t.f32 {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
	case Int64:
		for i, v := range t.i64 {
			binary.LittleEndian.PutUint64(out[8*i:], uint64(v))
		}
	case Int32:
		for i, v := range t.i32 {
			binary.LittleEndian.PutUint32(out[4*i:], uint32(v))
		}
	default:
		copy(out, t.u8)
	}
	return out
}

func decodeLE(t *Tensor, data []byte) {
	switch t.dtype {
	case Float32:
		for i := range t.f32 {
			t.f32[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	case Int64:
		for i := range t.i64 {
			t.i64[i] = int64(binary.LittleEndian.Uint64(data[8*i:]))
		}
	case Int32:
		for i := range t.i32 {
			t.i32[i] = int32(binary.LittleEndian.Uint32(data[4*i:]))
		}
	default:
		copy(t.u8, data)
	}
}
