// Package safetensors reads and writes the Hugging Face safetensors format, the weights part of
// a deepframe model bundle.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON describing each tensor's
// dtype, shape and byte range, then the tensors' little-endian bytes laid end to end. The format
// carries no code, so loading a file from someone else is safe as long as the reader checks every
// claim the header makes before acting on it; Read, Unmarshal and ReadFile do, and treat any
// inconsistency as an error that names the tensor or header field at fault.
//
// Writing is deterministic: tensors are laid out sorted by name, the header is padded with spaces
// to a multiple of 8 bytes (so the data buffer starts aligned), and the same tensors and metadata
// always produce the same bytes.
package safetensors

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/deepframe/deepframe/tensor"
)

// MaxHeaderSize is the largest header accepted. Real headers are a few hundred bytes per tensor;
// the cap stops a hostile length field from making a reader buffer gigabytes of "JSON". It matches
// the reference implementation's limit, so any file it accepts, this package accepts too.
const MaxHeaderSize = 100_000_000

// metadataKey is the one top-level header key that is not a tensor.
const metadataKey = "__metadata__"

// Format names of the element types deepframe tensors can hold. Other safetensors dtypes (F16,
// BF16, F64, BOOL, ...) are rejected rather than converted, so a load never silently changes
// precision.
var (
	dtypeName = map[tensor.DType]string{
		tensor.Float32: "F32",
		tensor.Int64:   "I64",
		tensor.Int32:   "I32",
		tensor.Uint8:   "U8",
	}
	nameDType = map[string]tensor.DType{
		"F32": tensor.Float32,
		"I64": tensor.Int64,
		"I32": tensor.Int32,
		"U8":  tensor.Uint8,
	}
)

// Marshal returns the safetensors encoding of tensors and metadata. metadata may be nil.
func Marshal(tensors map[string]*tensor.Tensor, metadata map[string]string) ([]byte, error) {
	p, err := plan(tensors, metadata)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(int(p.size()))
	if err := p.write(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write writes the safetensors encoding of tensors and metadata to w. Every tensor is checked
// before the first byte is written, so invalid input never leaves a partial file behind.
func Write(w io.Writer, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	p, err := plan(tensors, metadata)
	if err != nil {
		return err
	}
	if err := p.write(w); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// WriteFile writes tensors and metadata to path. The bytes go to a temporary file in the same
// directory that is synced and then renamed over path, so a reader (or a crash) sees either the
// old file or the complete new one, never a half-written one.
func WriteFile(path string, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	p, err := plan(tensors, metadata)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, p.write)
}

// writeFileAtomic is WriteFile's file handling, separate so tests can make the write fail midway.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("safetensors: writing %s: %w", path, err)
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	// CreateTemp makes the file private (0600); a weights file is meant to be shared like any
	// other output the user writes.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	// Without the sync, a crash just after the rename can leave path naming an empty file on
	// file systems that reorder metadata before data.
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename itself durable. The new file is already in place, so a failure here is
	// not reported: the caller's data is where they asked for it.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Unmarshal decodes a complete safetensors file held in data. The returned tensors own their
// buffers; data may be reused afterwards. metadata is nil when the file has none.
func Unmarshal(data []byte) (map[string]*tensor.Tensor, map[string]string, error) {
	return decode(&sliceSource{data: data}, int64(len(data)), true)
}

// Read decodes a safetensors file from r, reading to EOF. limit bounds the number of bytes
// accepted (a larger input is an error); limit <= 0 means no bound beyond what the header
// describes. Memory grows only as bytes actually arrive, so a header that claims more data than
// the stream holds costs nothing.
func Read(r io.Reader, limit int64) (map[string]*tensor.Tensor, map[string]string, error) {
	return decode(&streamSource{r: r}, limit, false)
}

// ReadFile decodes the safetensors file at path.
func ReadFile(path string) (map[string]*tensor.Tensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	var (
		ts   map[string]*tensor.Tensor
		meta map[string]string
	)
	if st.Mode().IsRegular() {
		// The size is known, so every length in the header can be checked against it before
		// anything is allocated, and the data need not be read in growing chunks.
		ts, meta, err = decode(&streamSource{r: f, trusted: true}, st.Size(), true)
	} else {
		ts, meta, err = decode(&streamSource{r: f}, 0, false)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return ts, meta, nil
}
