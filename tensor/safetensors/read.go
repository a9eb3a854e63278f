package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/deepframe/deepframe/tensor"
)

// errTruncated is turned into a message that says which part of the file the input ended in.
var errTruncated = errors.New("unexpected end of input")

// source hands out consecutive byte ranges of the input. A returned slice is valid only until the
// next call, which lets a stream reuse one buffer for every tensor.
type source interface {
	next(n int64) ([]byte, error)
	// atEnd reports whether the input has no bytes left.
	atEnd() (bool, error)
}

type sliceSource struct {
	data []byte
	off  int64
}

func (s *sliceSource) next(n int64) ([]byte, error) {
	if n > int64(len(s.data))-s.off {
		return nil, errTruncated
	}
	b := s.data[s.off : s.off+n]
	s.off += n
	return b, nil
}

func (s *sliceSource) atEnd() (bool, error) { return s.off == int64(len(s.data)), nil }

// streamSource reads from an io.Reader. When trusted is false, nothing says the stream really
// holds the bytes the header claims, so buffers grow in step with what has actually arrived
// instead of being sized from the claim.
type streamSource struct {
	r       io.Reader
	trusted bool
	buf     []byte
}

// firstChunk is the most a stream of unknown length gets buffered ahead of its data.
const firstChunk = 64 << 10

func (s *streamSource) next(n int64) ([]byte, error) {
	if n > math.MaxInt {
		return nil, errTruncated
	}
	want := int(n)
	if s.trusted {
		s.buf = slices.Grow(s.buf[:0], want)[:want]
		if _, err := io.ReadFull(s.r, s.buf); err != nil {
			return nil, readErr(err)
		}
		return s.buf, nil
	}
	s.buf = s.buf[:0]
	for len(s.buf) < want {
		// Reading at most as much again as already arrived doubles the buffer at each step, so
		// it never holds more than about twice the bytes the stream has really delivered.
		chunk := min(want-len(s.buf), max(len(s.buf), firstChunk))
		have := len(s.buf)
		s.buf = slices.Grow(s.buf, chunk)[:have+chunk]
		if _, err := io.ReadFull(s.r, s.buf[have:]); err != nil {
			return nil, readErr(err)
		}
	}
	return s.buf, nil
}

func (s *streamSource) atEnd() (bool, error) {
	var b [1]byte
	_, err := io.ReadFull(s.r, b[:])
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, io.EOF):
		return true, nil
	default:
		return false, err
	}
}

func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncated
	}
	return err
}

// decode reads a whole file from src. When exact is true, size is the input's length; otherwise
// it is a limit on it (0 or less: none).
func decode(src source, size int64, exact bool) (map[string]*tensor.Tensor, map[string]string, error) {
	if exact && size < 8 {
		return nil, nil, fmt.Errorf("safetensors: input is %d bytes, too short for the 8-byte header length", size)
	}
	b, err := src.next(8)
	if err != nil {
		if err == errTruncated {
			return nil, nil, errors.New("safetensors: input ends before the 8-byte header length")
		}
		return nil, nil, fmt.Errorf("safetensors: reading header length: %w", err)
	}
	hlen := binary.LittleEndian.Uint64(b)
	switch {
	case hlen < 2:
		return nil, nil, fmt.Errorf("safetensors: header length %d is too small for a JSON object", hlen)
	case hlen > MaxHeaderSize:
		return nil, nil, fmt.Errorf("safetensors: header length %d is over the %d-byte limit", hlen, MaxHeaderSize)
	case exact && hlen > uint64(size-8):
		return nil, nil, fmt.Errorf("safetensors: header length %d is more than the %d bytes that follow it", hlen, size-8)
	case !exact && size > 0 && hlen > uint64(max(size-8, 0)):
		return nil, nil, fmt.Errorf("safetensors: header length %d does not fit in the %d-byte input limit", hlen, size)
	}
	n := int64(hlen)
	hdr, err := src.next(n)
	if err != nil {
		if err == errTruncated {
			return nil, nil, fmt.Errorf("safetensors: input ends inside the %d-byte header", n)
		}
		return nil, nil, fmt.Errorf("safetensors: reading header: %w", err)
	}
	entries, meta, dataLen, err := parseHeader(hdr)
	if err != nil {
		return nil, nil, err
	}
	if dataLen > math.MaxInt64-8-n {
		return nil, nil, fmt.Errorf("safetensors: tensors claim %d bytes of data, more than any file can hold", dataLen)
	}
	total := 8 + n + dataLen
	switch {
	case exact && total > size:
		return nil, nil, fmt.Errorf("safetensors: tensors need %d bytes of data, but only %d follow the header", dataLen, size-8-n)
	case exact && total < size:
		return nil, nil, fmt.Errorf("safetensors: data buffer is %d bytes, but tensors cover only the first %d (every byte must belong to a tensor)", size-8-n, dataLen)
	case !exact && size > 0 && total > size:
		return nil, nil, fmt.Errorf("safetensors: tensors need %d bytes of data, making the file %d bytes, over the %d-byte input limit", dataLen, total, size)
	}

	tensors := make(map[string]*tensor.Tensor, len(entries))
	for _, e := range entries {
		b, err := src.next(e.end - e.begin)
		if err != nil {
			if err == errTruncated {
				return nil, nil, fmt.Errorf("safetensors: tensor %q: input ends inside its data_offsets [%d, %d]", e.name, e.begin, e.end)
			}
			return nil, nil, fmt.Errorf("safetensors: tensor %q: reading data: %w", e.name, err)
		}
		t, err := tensor.FromBytes(e.dtype, e.shape, b)
		if err != nil {
			// parseHeader already matched sizes to shapes, so this is a bug, reported rather
			// than hidden.
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %w", e.name, err)
		}
		tensors[e.name] = t
	}
	end, err := src.atEnd()
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: reading past the data buffer: %w", err)
	}
	if !end {
		return nil, nil, fmt.Errorf("safetensors: input continues after the %d-byte data buffer the header describes (every byte must belong to a tensor)", dataLen)
	}
	return tensors, meta, nil
}
