package tensor

import (
	"strings"
	"testing"
)

func TestBroadcast(t *testing.T) {
	for _, tc := range []struct {
		a, b, want Shape
		err        string
	}{
		{Shape{2, 3}, Shape{3}, Shape{2, 3}, ""},
		{Shape{4, 1, 5}, Shape{3, 1}, Shape{4, 3, 5}, ""},
		{Shape{}, Shape{2, 2}, Shape{2, 2}, ""},
		{Shape{1}, Shape{1}, Shape{1}, ""},
		{Shape{2, 3}, Shape{2}, nil, "do not broadcast (axis 1: 3 vs 2)"},
	} {
		got, err := Broadcast(tc.a, tc.b)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Broadcast(%v, %v) error %v, want %q", tc.a, tc.b, err, tc.err)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("Broadcast(%v, %v) = %v, %v; want %v", tc.a, tc.b, got, err, tc.want)
		}
	}
}

func TestReshapeIsAViewAndInfers(t *testing.T) {
	x := Zeros(2, 3, 4)
	v, err := x.Reshape(-1, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Shape().Equal(Shape{6, 4}) {
		t.Fatalf("shape %v, want (6, 4)", v.Shape())
	}
	v.Float32s()[5] = 7
	if x.Float32s()[5] != 7 {
		t.Error("Reshape copied the buffer; it must be a view")
	}
	for _, bad := range [][]int{{5, -1}, {-1, -1}, {7}, {-2, 12}} {
		if _, err := x.Reshape(bad...); err == nil || !strings.Contains(err.Error(), "cannot reshape (2, 3, 4)") {
			t.Errorf("Reshape(%v) error %v, want one naming the source shape", bad, err)
		}
	}
}

func TestSliceAndGather(t *testing.T) {
	x, _ := FromFloat32([]float32{0, 1, 2, 3, 4, 5, 6, 7}, 4, 2)
	s, err := x.Slice(1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Float32s(); len(got) != 4 || got[0] != 2 || got[3] != 5 {
		t.Errorf("Slice(1,3) = %v", got)
	}
	if _, err := x.Slice(3, 5); err == nil {
		t.Error("Slice past the end gave no error")
	}
	g, err := x.Gather([]int{3, 0, 3})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := FromFloat32([]float32{6, 7, 0, 1, 6, 7}, 3, 2)
	if !Equal(g, want) {
		t.Errorf("Gather = %v, want %v", g, want)
	}
	if _, err := x.Gather([]int{4}); err == nil || !strings.Contains(err.Error(), "row index 4 out of range [0, 4)") {
		t.Errorf("Gather out of range error %v", err)
	}
}

func TestBytesRoundTrip(t *testing.T) {
	rng := NewRNG(1)
	for _, dt := range []DType{Float32, Int64, Int32, Uint8} {
		x := New(dt, 3, 5)
		for i := 0; i < x.Len(); i++ {
			x.SetFloat64Flat(i, float64(rng.IntN(200))-50*float64(dt%2))
		}
		y, err := FromBytes(dt, x.Shape(), x.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !Equal(x, y) {
			t.Errorf("%s: round trip changed the tensor", dt)
		}
		if _, err := FromBytes(dt, Shape{3, 6}, x.Bytes()); err == nil {
			t.Errorf("%s: FromBytes accepted a buffer of the wrong size", dt)
		}
	}
}

func TestShapeValidate(t *testing.T) {
	if err := (Shape{2, -1}).Validate(); err == nil || !strings.Contains(err.Error(), "negative dimension -1 at axis 1") {
		t.Errorf("negative dimension: %v", err)
	}
	if err := (Shape{1 << 30, 1 << 30, 4}).Validate(); err == nil {
		t.Error("an overflowing element count was accepted")
	}
	if _, err := FromFloat32(make([]float32, 5), 2, 3); err == nil || !strings.Contains(err.Error(), "5 elements do not fill shape (2, 3)") {
		t.Errorf("FromFloat32 size mismatch: %v", err)
	}
}

func TestRNGIsDeterministic(t *testing.T) {
	a, b := NewRNG(42), NewRNG(42)
	for i := 0; i < 100; i++ {
		if a.Uint64() != b.Uint64() {
			t.Fatal("two RNGs with one seed diverged")
		}
	}
	if NewRNG(1).Uint64() == NewRNG(2).Uint64() {
		t.Error("different seeds gave the same first value")
	}
	// Derive must not depend on how much the parent has drawn.
	p, q := NewRNG(7), NewRNG(7)
	p.Uint64()
	if p.Derive("dropout").Uint64() != q.Derive("dropout").Uint64() {
		t.Error("Derive depends on the parent's position")
	}
	if q.Derive("dropout").Uint64() == q.Derive("shuffle").Uint64() {
		t.Error("different purposes derived the same stream")
	}
	x := NewRNG(3)
	tn := Zeros(10000)
	x.FillTruncatedNormal(tn, 0, 1)
	for _, v := range tn.Float32s() {
		if v < -2 || v > 2 {
			t.Fatalf("truncated normal drew %v", v)
		}
	}
}

// TestRNGDeriveInPlace checks that the in-place derivations give exactly the streams of the
// allocating ones, whatever dst held before, and allocate nothing.
func TestRNGDeriveInPlace(t *testing.T) {
	same := func(a, b *RNG) bool {
		for range 20 {
			if a.Uint64() != b.Uint64() {
				return false
			}
		}
		return true
	}
	root := NewRNG(11)
	var dst RNG // the zero RNG may be reseeded
	for _, purpose := range []string{"dropout", "", "node/3"} {
		if got := root.DeriveInto(&dst, purpose); got != &dst || !same(got, root.Derive(purpose)) {
			t.Errorf("DeriveInto(%q) differs from Derive", purpose)
		}
		dst.Split() // state the next derivation must reset
	}
	for n := uint64(0); n < 3; n++ {
		if !same(root.DeriveNInto(&dst, "step/", n), root.DeriveN("step/", n)) {
			t.Errorf("DeriveNInto(step/, %d) differs from DeriveN", n)
		}
	}
	if root.DeriveN("step/", 1).Uint64() == root.DeriveN("step/", 2).Uint64() {
		t.Error("DeriveN gave steps 1 and 2 the same stream")
	}
	if root.DeriveN("a", 5).Uint64() == root.Derive("a\x05").Uint64() {
		t.Error("DeriveN collides with a Derive of the number as a byte")
	}
	dst.Reseed(99)
	if !same(&dst, NewRNG(99)) {
		t.Error("Reseed does not restart the generator as NewRNG does")
	}
	// The child counter restarts too: Split after Reseed is NewRNG's first Split.
	dst.Reseed(5)
	if !same(dst.Split(), NewRNG(5).Split()) {
		t.Error("Split after Reseed differs from a fresh generator's")
	}
	if a := testing.AllocsPerRun(50, func() {
		root.DeriveNInto(&dst, "step/", 12345)
		root.DeriveInto(&dst, "dropout")
		dst.Float32()
	}); a != 0 {
		t.Errorf("deriving into an existing RNG allocates %v times", a)
	}
}

func TestShapeString(t *testing.T) {
	for _, tc := range []struct {
		s    Shape
		want string
	}{{Shape{-1, 100}, "(None, 100)"}, {Shape{4}, "(4,)"}, {Shape{}, "()"}, {Shape{-1, 28, 28, 1}, "(None, 28, 28, 1)"}} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%v.String() = %q, want %q", []int(tc.s), got, tc.want)
		}
	}
}
