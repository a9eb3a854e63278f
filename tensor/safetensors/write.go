package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/deepframe/deepframe/tensor"
)

// layout is a checked, ready-to-write file: the padded header and the tensors in data order.
type layout struct {
	header []byte
	items  []item
	data   int64
}

type item struct {
	name string
	t    *tensor.Tensor
}

func (l *layout) size() int64 { return 8 + int64(len(l.header)) + l.data }

// plan checks every input and builds the header, so that nothing is written for invalid input.
func plan(tensors map[string]*tensor.Tensor, metadata map[string]string) (*layout, error) {
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	// Sorting by name is what makes the output a pure function of the input: map order is
	// random, and checksums in a model bundle must not change between identical saves.
	slices.Sort(names)

	var h bytes.Buffer
	h.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k, v := range metadata {
			// encoding/json would replace invalid UTF-8 with U+FFFD, so the file would not give
			// back what was written; refuse instead of altering it silently.
			if !utf8.ValidString(k) {
				return nil, fmt.Errorf("safetensors: metadata key %q is not valid UTF-8", k)
			}
			if !utf8.ValidString(v) {
				return nil, fmt.Errorf("safetensors: metadata %q: value %q is not valid UTF-8", k, v)
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		appendString(&h, metadataKey)
		h.WriteString(":{")
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			appendString(&h, k)
			h.WriteByte(':')
			appendString(&h, metadata[k])
		}
		h.WriteByte('}')
		first = false
	}

	l := &layout{items: make([]item, 0, len(names))}
	var off int64
	for _, name := range names {
		t := tensors[name]
		if name == metadataKey {
			return nil, fmt.Errorf("safetensors: tensor name %q is reserved for the file's metadata", name)
		}
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", name)
		}
		if t == nil {
			return nil, fmt.Errorf("safetensors: tensor %q is nil", name)
		}
		code, ok := dtypeName[t.DType()]
		if !ok {
			return nil, fmt.Errorf("safetensors: tensor %q has dtype %s, which safetensors cannot hold here (want float32, int64, int32 or uint8)", name, t.DType())
		}
		shape := t.Shape()
		if err := shape.Validate(); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		if t.Len() != shape.Size() {
			return nil, fmt.Errorf("safetensors: tensor %q has %d elements for shape %v (want %d)", name, t.Len(), shape, shape.Size())
		}
		n := int64(t.Len()) * int64(t.DType().Size())
		if !first {
			h.WriteByte(',')
		}
		first = false
		appendString(&h, name)
		h.WriteString(`:{"dtype":"`)
		h.WriteString(code)
		h.WriteString(`","shape":[`)
		for i, d := range shape {
			if i > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		h.WriteString(`],"data_offsets":[`)
		h.WriteString(strconv.FormatInt(off, 10))
		h.WriteByte(',')
		h.WriteString(strconv.FormatInt(off+n, 10))
		h.WriteString("]}")
		off += n
		l.items = append(l.items, item{name: name, t: t})
	}
	h.WriteByte('}')
	// Padding puts the data buffer at an 8-byte file offset, so readers that map the file can
	// view every tensor in place; spaces are what the format allows after the JSON.
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	if h.Len() > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header would be %d bytes, over the %d-byte limit readers accept (too many tensors or too much metadata)", h.Len(), MaxHeaderSize)
	}
	l.header = h.Bytes()
	l.data = off
	return l, nil
}

// write emits the file. Its errors carry no package prefix because callers add their own context.
func (l *layout) write(w io.Writer) error {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(l.header)))
	if _, err := w.Write(n[:]); err != nil {
		return fmt.Errorf("writing header: %w", err)
	}
	if _, err := w.Write(l.header); err != nil {
		return fmt.Errorf("writing header: %w", err)
	}
	for _, it := range l.items {
		if it.t.Len() == 0 {
			continue
		}
		if _, err := w.Write(it.t.Bytes()); err != nil {
			return fmt.Errorf("writing tensor %q: %w", it.name, err)
		}
	}
	return nil
}

// appendString writes s as a JSON string. HTML escaping is off because the header is never
// embedded in a page, and names such as "a<b" should read as written.
func appendString(b *bytes.Buffer, s string) {
	e := json.NewEncoder(b)
	e.SetEscapeHTML(false)
	// Encoding a valid UTF-8 string cannot fail.
	_ = e.Encode(s)
	// Encode ends each value with a newline, which has no place inside the header object.
	b.Truncate(b.Len() - 1)
}
