package safetensors

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/deepframe/deepframe/tensor"
)

func fuzzSeeds(t testing.TB) [][]byte {
	sets := []struct {
		tensors map[string]*tensor.Tensor
		meta    map[string]string
	}{
		{nil, nil},
		{map[string]*tensor.Tensor{"a": tensor.Scalar(2)}, map[string]string{"format": "pt"}},
		{map[string]*tensor.Tensor{
			"fc_1/kernel": filled(tensor.Float32, 4, 3),
			"fc_1/bias":   filled(tensor.Float32, 3),
			"labels":      filled(tensor.Int64, 5),
			"idx":         filled(tensor.Int32, 2, 2),
			"pixels":      filled(tensor.Uint8, 2, 3, 1),
			"empty":       filled(tensor.Float32, 0, 7),
		}, map[string]string{"epochs": "50", "": "x"}},
	}
	var seeds [][]byte
	for _, s := range sets {
		b, err := Marshal(s.tensors, s.meta)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
		// Mutations that land on the interesting boundaries: a cut in each region and a byte
		// changed in the length, the header and the data.
		if len(b) > 12 {
			seeds = append(seeds, b[:len(b)-1], b[:10], append(append([]byte{}, b...), 0))
			for _, i := range []int{0, 3, 8, 9, len(b) / 2, len(b) - 1} {
				m := append([]byte{}, b...)
				m[i] ^= 0x41
				seeds = append(seeds, m)
			}
		}
	}
	for _, c := range badInputs() {
		// Large seeds make the fuzzer spend its time minimizing their offspring byte by byte
		// instead of exploring; the deep-nesting cases are covered by TestMalformed.
		if len(c.input) <= 1024 {
			seeds = append(seeds, c.input)
		}
	}
	return seeds
}

// FuzzUnmarshal checks that no input makes the reader panic, that the buffered and streaming
// readers agree, and that whatever is accepted survives a write and re-read unchanged.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, meta, err := Unmarshal(data)
		ts2, meta2, err2 := Read(bytes.NewReader(data), int64(len(data)))
		if (err == nil) != (err2 == nil) {
			t.Fatalf("Unmarshal error %v, Read error %v", err, err2)
		}
		if err != nil {
			return
		}
		if !sameSet(ts, ts2) || fmt.Sprint(meta) != fmt.Sprint(meta2) {
			t.Fatal("Unmarshal and Read decoded different files")
		}
		for name, x := range ts {
			if x == nil || x.Len() != x.Shape().Size() {
				t.Fatalf("tensor %q is malformed: %v", name, x)
			}
		}
		b, err := Marshal(ts, meta)
		if err != nil {
			t.Fatalf("accepted input cannot be written back: %v", err)
		}
		again, againMeta, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("re-reading what was written: %v", err)
		}
		if !sameSet(ts, again) || fmt.Sprint(meta) != fmt.Sprint(againMeta) {
			t.Fatal("write and re-read changed the file's contents")
		}
		b2, err := Marshal(again, againMeta)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("Marshal is not a fixed point after one round trip (err %v)", err)
		}
	})
}

func sameSet(a, b map[string]*tensor.Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || !sameTensor(x, y) {
			return false
		}
	}
	return true
}
