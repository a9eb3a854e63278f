package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/tensor"
)

// filled returns a tensor whose elements are distinct, sign-varied values, so a round trip that
// swaps, truncates or reorders bytes shows up.
func filled(dt tensor.DType, shape ...int) *tensor.Tensor {
	t := tensor.New(dt, shape...)
	for i := 0; i < t.Len(); i++ {
		switch dt {
		case tensor.Float32:
			t.SetFloat64Flat(i, float64(i)*0.37-1.5)
		case tensor.Int64:
			t.Int64s()[i] = int64(i)*(1<<40) - 3
		case tensor.Int32:
			t.SetFloat64Flat(i, float64(int32(i*7919)-20000))
		case tensor.Uint8:
			t.SetFloat64Flat(i, float64((i*37+5)%256))
		}
	}
	return t
}

// sameTensor compares by bytes rather than tensor.Equal so that NaNs compare equal to themselves.
func sameTensor(a, b *tensor.Tensor) bool {
	return a.DType() == b.DType() && a.Shape().Equal(b.Shape()) && bytes.Equal(a.Bytes(), b.Bytes())
}

func checkSame(t *testing.T, got, want map[string]*tensor.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d tensors, want %d", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("tensor %q missing", name)
		}
		if !sameTensor(g, w) {
			t.Fatalf("tensor %q: got %v, want %v", name, g, w)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	shapes := [][]int{{}, {0}, {3}, {2, 3}, {2, 0, 3}, {1, 1, 1, 1}, {4, 5, 6}}
	dtypes := []tensor.DType{tensor.Float32, tensor.Int64, tensor.Int32, tensor.Uint8}
	for _, dt := range dtypes {
		for _, sh := range shapes {
			t.Run(fmt.Sprintf("%s%v", dt, tensor.Shape(sh)), func(t *testing.T) {
				in := map[string]*tensor.Tensor{"w": filled(dt, sh...)}
				b, err := Marshal(in, nil)
				if err != nil {
					t.Fatal(err)
				}
				out, meta, err := Unmarshal(b)
				if err != nil {
					t.Fatal(err)
				}
				if meta != nil {
					t.Fatalf("metadata = %v, want nil", meta)
				}
				checkSame(t, out, in)
				out, _, err = Read(bytes.NewReader(b), int64(len(b)))
				if err != nil {
					t.Fatal(err)
				}
				checkSame(t, out, in)
			})
		}
	}

	t.Run("mixed", func(t *testing.T) {
		in := map[string]*tensor.Tensor{}
		for i, dt := range dtypes {
			for j, sh := range shapes {
				in[fmt.Sprintf("layer_%d/%s_%d", j, dt, i)] = filled(dt, sh...)
			}
		}
		f := tensor.Full(float32(math.NaN()), 2)
		f.Float32s()[1] = float32(math.Inf(-1))
		in["special"] = f
		view, err := filled(tensor.Float32, 4, 3).Slice(1, 3)
		if err != nil {
			t.Fatal(err)
		}
		in["view"] = view
		in["名前 \"quoted\" <tag> \\ \n"] = filled(tensor.Uint8, 3)
		in[""] = filled(tensor.Int32, 2)
		meta := map[string]string{"format": "pt", "framework": "deepframe", "": "", "ünï\"code\n": "<&>"}

		b, err := Marshal(in, meta)
		if err != nil {
			t.Fatal(err)
		}
		if hl := binary.LittleEndian.Uint64(b); hl%8 != 0 {
			t.Errorf("header length %d is not a multiple of 8", hl)
		}
		again, err := Marshal(in, meta)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, again) {
			t.Fatal("Marshal is not deterministic")
		}
		var w bytes.Buffer
		if err := Write(&w, in, meta); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, w.Bytes()) {
			t.Fatal("Write and Marshal disagree")
		}
		out, gotMeta, err := Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, out, in)
		if fmt.Sprint(gotMeta) != fmt.Sprint(meta) {
			t.Fatalf("metadata = %v, want %v", gotMeta, meta)
		}

		path := filepath.Join(t.TempDir(), "w.safetensors")
		if err := WriteFile(path, in, meta); err != nil {
			t.Fatal(err)
		}
		out, gotMeta, err = ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, out, in)
		if fmt.Sprint(gotMeta) != fmt.Sprint(meta) {
			t.Fatalf("metadata = %v, want %v", gotMeta, meta)
		}
		onDisk, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(onDisk, b) {
			t.Fatal("WriteFile and Marshal disagree")
		}
	})

	t.Run("empty", func(t *testing.T) {
		b, err := Marshal(nil, map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		if want := "\x08\x00\x00\x00\x00\x00\x00\x00{}      "; string(b) != want {
			t.Fatalf("got %q, want %q", b, want)
		}
		out, meta, err := Unmarshal(b)
		if err != nil || len(out) != 0 || meta != nil {
			t.Fatalf("got %v, %v, %v", out, meta, err)
		}
	})
}

// TestLayout pins the exact bytes, derived by hand from the format description, so that a change
// in key order, spacing or padding cannot slip through as "still round-trips".
func TestLayout(t *testing.T) {
	tests := []struct {
		name    string
		tensors map[string]*tensor.Tensor
		meta    map[string]string
		want    string
	}{
		{
			// Header: 1 + 14 ("__metadata__") + 1 + 9 ({"k":"v"}) + 1 + 3 ("a") + 1
			// + 47 ({"dtype":"F32","shape":[],"data_offsets":[0,4]}) + 1 + 3 ("b") + 1
			// + 47 ({"dtype":"U8","shape":[2],"data_offsets":[4,6]}) + 1 = 130 bytes,
			// padded with 6 spaces to 136 = 0x88. Data: 1.0 as float32 LE is 00 00 80 3f,
			// then the two bytes of "b". Names are sorted, so "a" precedes "b".
			name: "metadata, scalar and vector",
			tensors: map[string]*tensor.Tensor{
				"b": mustU8(t, []uint8{1, 2}, 2),
				"a": tensor.Scalar(1),
			},
			meta: map[string]string{"k": "v"},
			want: "\x88\x00\x00\x00\x00\x00\x00\x00" +
				`{"__metadata__":{"k":"v"},` +
				`"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},` +
				`"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}` +
				"      " +
				"\x00\x00\x80\x3f" + "\x01\x02",
		},
		{
			// Header: 1 + 3 + 1 + 48 ({"dtype":"I64","shape":[1],"data_offsets":[0,8]}) + 1
			// = 54 bytes, padded with 2 spaces to 56 = 0x38. Data: -2 as int64 LE.
			name:    "int64 without metadata",
			tensors: map[string]*tensor.Tensor{"x": mustI64(t, []int64{-2}, 1)},
			want: "\x38\x00\x00\x00\x00\x00\x00\x00" +
				`{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}` + "  " +
				"\xfe\xff\xff\xff\xff\xff\xff\xff",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.tensors, tc.meta)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", b, tc.want)
			}
			out, _, err := Unmarshal([]byte(tc.want))
			if err != nil {
				t.Fatal(err)
			}
			checkSame(t, out, tc.tensors)
		})
	}
}

func mustU8(t *testing.T, v []uint8, shape ...int) *tensor.Tensor {
	x, err := tensor.FromUint8(v, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func mustI64(t *testing.T, v []int64, shape ...int) *tensor.Tensor {
	x, err := tensor.FromInt64(v, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// file frames a header given verbatim (no padding added) and a data buffer, the way a hostile
// writer could.
func file(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func lenPrefix(n uint64, rest string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

const u8x4 = `{"dtype":"U8","shape":[4],"data_offsets":[0,4]}`

type badCase struct {
	name  string
	input []byte
	want  string // substring of Unmarshal's error
}

func badInputs() []badCase {
	four := []byte{1, 2, 3, 4}
	return []badCase{
		{"empty input", nil, "too short for the 8-byte header length"},
		{"seven bytes", []byte{1, 0, 0, 0, 0, 0, 0}, "too short for the 8-byte header length"},
		{"header length zero", lenPrefix(0, ""), "header length 0 is too small"},
		{"header length past input", lenPrefix(100, "{}"), "header length 100 is more than the 2 bytes that follow it"},
		{"header length over cap", lenPrefix(MaxHeaderSize+1, "{}"), "over the 100000000-byte limit"},
		{"header length huge", lenPrefix(math.MaxUint64, "{}"), "over the 100000000-byte limit"},
		{"invalid JSON", file(`{"a":`, nil), "header JSON ends early"},
		{"invalid JSON syntax", file(`{"a" 1}`, nil), "not valid JSON"},
		{"not an object", file(`[1, 2]`, nil), "must be a JSON object"},
		{"leading space", file(` {}`, nil), "must be a JSON object"},
		{"second object", file(`{}{}`, nil), "header has an object after its JSON object"},
		{"trailing garbage", file(`{}  x`, nil), "not valid JSON"},
		{"invalid UTF-8", file("{\"\xff\":"+u8x4+"}", four), "not valid UTF-8"},
		{"unknown dtype", file(`{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, four),
			`tensor "w": dtype "F16" is not supported (want F32, I64, I32 or U8)`},
		{"lowercase dtype", file(`{"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, four), `dtype "f32" is not supported`},
		{"dtype not a string", file(`{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, four), `tensor "w": dtype must be a string, got number 4`},
		{"negative dim", file(`{"w":{"dtype":"U8","shape":[-4],"data_offsets":[0,4]}}`, four), `tensor "w": shape dimension 0 is -4, want a non-negative integer`},
		{"fractional dim", file(`{"w":{"dtype":"U8","shape":[4.0],"data_offsets":[0,4]}}`, four), `shape dimension 0 is 4.0, want a non-negative integer`},
		{"exponent dim", file(`{"w":{"dtype":"U8","shape":[4e0],"data_offsets":[0,4]}}`, four), `shape dimension 0 is 4e0`},
		{"dim as string", file(`{"w":{"dtype":"U8","shape":["4"],"data_offsets":[0,4]}}`, four), `shape must be an array of integers, got element string "4"`},
		{"dim past int64", file(`{"w":{"dtype":"U8","shape":[99999999999999999999],"data_offsets":[0,4]}}`, four), `want a non-negative integer`},
		{"element count overflow", file(`{"w":{"dtype":"U8","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}`, four), `tensor "w": shape [4294967296 4294967296 4] has more than 2^40 elements`},
		{"shape not array", file(`{"w":{"dtype":"U8","shape":4,"data_offsets":[0,4]}}`, four), `shape must be an array of integers, got number 4`},
		{"offsets past data", file(`{"w":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}`, four), "tensors need 8 bytes of data, but only 4 follow the header"},
		{"offsets size mismatch", file(`{"fc_1/kernel":{"dtype":"F32","shape":[20,20],"data_offsets":[0,12]}}`, make([]byte, 12)),
			`safetensors: tensor "fc_1/kernel": data_offsets [0, 12] hold 12 bytes, want 1600 for F32 (20, 20)`},
		{"offsets reversed", file(`{"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, four), `tensor "w": data_offsets [4, 0] end before they begin`},
		{"offsets three numbers", file(`{"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4,4]}}`, four), `data_offsets has 3 numbers, want 2`},
		{"offsets negative", file(`{"w":{"dtype":"U8","shape":[4],"data_offsets":[-1,3]}}`, four), `-1 is not a non-negative integer`},
		{"offsets past int64", file(`{"w":{"dtype":"U8","shape":[4],"data_offsets":[9223372036854775808,9223372036854775812]}}`, four), `is not a non-negative integer that fits in 63 bits`},
		{"offsets huge but consistent", file(`{"w":{"dtype":"U8","shape":[0],"data_offsets":[9223372036854775807,9223372036854775807]}}`, nil), `bytes [0, 9223372036854775807) of the data buffer belong to no tensor`},
		{"overlap", file(`{"a":`+u8x4+`,"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}`, make([]byte, 6)),
			`tensor "b": data_offsets [2, 6] overlap tensor "a" at [0, 4]`},
		{"same range twice", file(`{"a":`+u8x4+`,"b":`+u8x4+`}`, four), `overlap tensor "a"`},
		{"empty tensor inside another", file(`{"a":`+u8x4+`,"b":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}}`, four), `tensor "b": data_offsets [2, 2] overlap tensor "a"`},
		{"gap", file(`{"a":`+u8x4+`,"b":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}}`, make([]byte, 10)),
			`bytes [4, 6) of the data buffer belong to no tensor (gap before tensor "b"`},
		{"not starting at zero", file(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}`, make([]byte, 6)), `bytes [0, 2) of the data buffer belong to no tensor`},
		{"uncovered tail", file(`{"a":`+u8x4+`}`, make([]byte, 6)), "data buffer is 6 bytes, but tensors cover only the first 4"},
		{"data but no tensors", file(`{}`, four), "data buffer is 4 bytes, but tensors cover only the first 0"},
		{"duplicate name", file(`{"a":`+u8x4+`,"a":`+u8x4+`}`, four), `tensor "a" appears twice in the header`},
		{"duplicate metadata", file(`{"__metadata__":{},"__metadata__":{}}`, nil), `has "__metadata__" twice`},
		{"duplicate metadata key", file(`{"__metadata__":{"k":"1","k":"2"}}`, nil), `__metadata__ has key "k" twice`},
		{"metadata number", file(`{"__metadata__":{"epochs":50}}`, nil), `__metadata__ key "epochs": value must be a string, got number 50`},
		{"metadata null value", file(`{"__metadata__":{"k":null}}`, nil), `__metadata__ key "k": value must be a string, got null`},
		{"metadata nested", file(`{"__metadata__":{"k":{"x":"y"}}}`, nil), `value must be a string, got an object`},
		{"metadata not object", file(`{"__metadata__":["a"]}`, nil), `__metadata__ must be an object of strings, got an array`},
		{"entry not object", file(`{"w":[1]}`, nil), `tensor "w": want an object with dtype, shape and data_offsets, got an array`},
		{"missing dtype", file(`{"w":{"shape":[4],"data_offsets":[0,4]}}`, four), `tensor "w": missing dtype`},
		{"missing shape", file(`{"w":{"dtype":"U8","data_offsets":[0,4]}}`, four), `tensor "w": missing shape`},
		{"missing offsets", file(`{"w":{"dtype":"U8","shape":[4]}}`, four), `tensor "w": missing data_offsets`},
		{"unknown field", file(`{"w":{"dtype":"U8","shape":[4],"data_offset":[0,4]}}`, four), `tensor "w": unknown field "data_offset"`},
		{"field in other case", file(`{"w":{"DType":"U8","shape":[4],"data_offsets":[0,4]}}`, four), `unknown field "DType"`},
		{"duplicate field", file(`{"w":{"dtype":"U8","dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, four), `tensor "w": dtype given twice`},
		{"deep nesting", file(`{"w":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`, nil), `tensor "w": want an object`},
		{"deep nesting in metadata", file(`{"__metadata__":{"k":`+strings.Repeat("[", 20000)+`}`, nil), `value must be a string, got an array`},
	}
}

func TestMalformed(t *testing.T) {
	for _, tc := range badInputs() {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Unmarshal(tc.input)
			if err == nil {
				t.Fatal("Unmarshal accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Unmarshal error\n%v\ndoes not contain\n%s", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			// The streaming reader learns sizes in a different order, so its wording may differ,
			// but it must refuse the same inputs.
			if _, _, err := Read(bytes.NewReader(tc.input), 0); err == nil {
				t.Fatal("Read accepted it")
			}
			path := filepath.Join(t.TempDir(), "bad.safetensors")
			if err := os.WriteFile(path, tc.input, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("ReadFile error %v, want one containing %q and the path", err, tc.want)
			}
		})
	}
}

func TestReadStream(t *testing.T) {
	good, err := Marshal(map[string]*tensor.Tensor{"a": filled(tensor.Float32, 16), "b": filled(tensor.Uint8, 3)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(good))
	tests := []struct {
		name  string
		input []byte
		limit int64
		want  string // empty: must succeed
	}{
		{"exact limit", good, n, ""},
		{"no limit", good, 0, ""},
		{"limit one short", good, n - 1, fmt.Sprintf("over the %d-byte input limit", n-1)},
		{"limit inside header", good, 20, "does not fit in the 20-byte input limit"},
		{"trailing bytes", append(append([]byte{}, good...), 0), 0, "input continues after the 67-byte data buffer"},
		{"truncated in data", good[:n-2], 0, `tensor "b": input ends inside its data_offsets [64, 67]`},
		{"truncated in header", good[:20], 0, "input ends inside the"},
		{"truncated in length", good[:5], 0, "input ends before the 8-byte header length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// One byte at a time exercises every short read the stream code must cope with.
			_, _, err := Read(&oneByteReader{bytes.NewReader(tc.input)}, tc.limit)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}

	t.Run("reader error", func(t *testing.T) {
		boom := errors.New("boom")
		_, _, err := Read(io.MultiReader(bytes.NewReader(good[:30]), &errReader{boom}), 0)
		if !errors.Is(err, boom) {
			t.Fatalf("error %v does not wrap the reader's error", err)
		}
	})
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

// TestHostileSizesAllocateLittle checks the contract that a file cannot make the reader allocate
// more than its own size justifies: each input below is tiny but claims gigabytes.
func TestHostileSizesAllocateLittle(t *testing.T) {
	inputs := map[string][]byte{
		// A 99 MB header that is not there.
		"header": lenPrefix(MaxHeaderSize-1, "{"),
		// A valid header describing a 4 GiB tensor with no data behind it.
		"tensor": file(`{"w":{"dtype":"F32","shape":[1073741824],"data_offsets":[0,4294967296]}}`, []byte{1, 2, 3}),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			for _, read := range []func() error{
				func() error { _, _, err := Unmarshal(in); return err },
				func() error { _, _, err := Read(bytes.NewReader(in), 0); return err },
			} {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				err := read()
				runtime.ReadMemStats(&after)
				if err == nil {
					t.Fatal("accepted a file that lacks its data")
				}
				if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
					t.Fatalf("allocated %d bytes for a %d-byte input (%v)", got, len(in), err)
				}
			}
		})
	}
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name    string
		tensors map[string]*tensor.Tensor
		meta    map[string]string
		want    string
	}{
		{"nil tensor", map[string]*tensor.Tensor{"w": nil}, nil, `tensor "w" is nil`},
		{"reserved name", map[string]*tensor.Tensor{"__metadata__": filled(tensor.Uint8, 1)}, nil, "reserved"},
		{"invalid UTF-8 name", map[string]*tensor.Tensor{"\xff": filled(tensor.Uint8, 1)}, nil, "not valid UTF-8"},
		{"invalid UTF-8 metadata key", nil, map[string]string{"\xfe": "v"}, "metadata key"},
		{"invalid UTF-8 metadata value", nil, map[string]string{"k": "\xfe"}, `metadata "k": value`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w bytes.Buffer
			err := Write(&w, tc.tensors, tc.meta)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if w.Len() != 0 {
				t.Fatalf("wrote %d bytes before failing", w.Len())
			}
			if _, err := Marshal(tc.tensors, tc.meta); err == nil {
				t.Fatal("Marshal accepted it")
			}
		})
	}

	t.Run("writer error", func(t *testing.T) {
		boom := errors.New("boom")
		in := map[string]*tensor.Tensor{"w": filled(tensor.Float32, 10)}
		whole, err := Marshal(in, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Fail on the tensor's bytes, after the header got through.
		err = Write(&errWriter{after: len(whole) - 1, err: boom}, in, nil)
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), `tensor "w"`) {
			t.Fatalf("error %v, want one wrapping boom and naming the tensor", err)
		}
	})
}

// errWriter accepts `after` bytes' worth of Write calls, then fails.
type errWriter struct {
	after int
	err   error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.after < len(p) {
		return 0, e.err
	}
	e.after -= len(p)
	return len(p), nil
}

func TestWriteFileAtomic(t *testing.T) {
	newModel := map[string]*tensor.Tensor{"w": filled(tensor.Float32, 64)}
	setup := func(t *testing.T) (dir, path string, old []byte) {
		dir = t.TempDir()
		path = filepath.Join(dir, "model.safetensors")
		old, err := Marshal(map[string]*tensor.Tensor{"old": filled(tensor.Int32, 3)}, map[string]string{"v": "1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, old, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir, path, old
	}
	intact := func(t *testing.T, dir, path string, old []byte) {
		t.Helper()
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("old file gone: %v", err)
		}
		if !bytes.Equal(got, old) {
			t.Fatal("old file changed")
		}
		names, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 1 {
			t.Fatalf("directory holds %d entries after a failed write, want only the old file", len(names))
		}
	}

	t.Run("replaces", func(t *testing.T) {
		dir, path, _ := setup(t)
		if err := WriteFile(path, newModel, nil); err != nil {
			t.Fatal(err)
		}
		got, _, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, got, newModel)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, want 0644", st.Mode().Perm())
		}
		if names, _ := os.ReadDir(dir); len(names) != 1 {
			t.Fatalf("directory holds %d entries, want 1", len(names))
		}
	})

	t.Run("write fails midway", func(t *testing.T) {
		dir, path, old := setup(t)
		boom := errors.New("disk full")
		err := writeFileAtomic(path, func(w io.Writer) error {
			w.Write([]byte("half a file"))
			return boom
		})
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
			t.Fatalf("error %v, want one wrapping the write error and naming the path", err)
		}
		intact(t, dir, path, old)
	})

	t.Run("invalid tensors", func(t *testing.T) {
		dir, path, old := setup(t)
		if err := WriteFile(path, map[string]*tensor.Tensor{"w": nil}, nil); err == nil {
			t.Fatal("WriteFile accepted a nil tensor")
		}
		intact(t, dir, path, old)
	})

	t.Run("unwritable directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("running as root, which ignores directory permissions; 'write fails midway' covers the same path")
		}
		dir, path, old := setup(t)
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o755)
		if err := WriteFile(path, newModel, nil); err == nil {
			t.Fatal("WriteFile succeeded in a read-only directory")
		}
		intact(t, dir, path, old)
	})

	t.Run("directory disappears", func(t *testing.T) {
		dir, path, _ := setup(t)
		err := writeFileAtomic(path, func(w io.Writer) error {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			_, err := w.Write([]byte("data"))
			return err
		})
		if err == nil {
			t.Fatal("WriteFile reported success into a directory that no longer exists")
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("something is at %s: %v", path, err)
		}
	})

	t.Run("target is a directory", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "model.safetensors")
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(path, newModel, nil); err == nil {
			t.Fatal("WriteFile replaced a directory")
		}
		if names, _ := os.ReadDir(dir); len(names) != 1 {
			t.Fatalf("directory holds %d entries, want only the target directory", len(names))
		}
	})

	t.Run("missing directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no", "such", "dir", "m.safetensors")
		if err := WriteFile(path, newModel, nil); err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("error %v, want one naming %s", err, path)
		}
	})

	t.Run("relative path", func(t *testing.T) {
		t.Chdir(t.TempDir())
		if err := WriteFile("m.safetensors", newModel, nil); err != nil {
			t.Fatal(err)
		}
		got, _, err := ReadFile("m.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, got, newModel)
	})
}

func TestReadFileErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.safetensors")
	if _, _, err := ReadFile(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want one wrapping ErrNotExist", err)
	}
}
