package tensorboard

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Kinds of damage ReadEvents reports, for use with errors.Is. The
// *RecordError that wraps them says where.
var (
	ErrTruncated    = errors.New("truncated record")
	ErrBadLengthCRC = errors.New("bad length CRC")
	ErrBadDataCRC   = errors.New("bad data CRC")
	ErrMalformed    = errors.New("malformed event protobuf")
)

// RecordError locates a damaged record in an event file.
type RecordError struct {
	Path   string
	Index  int   // 0 for the file's first record (the file-version event)
	Offset int64 // byte offset of the record's start
	Err    error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("tensorboard: %s: record %d (byte offset %d): %v", e.Path, e.Index, e.Offset, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// ReadEvents decodes every event in the event file at path, checking both
// CRCs of every record. On damage it returns a *RecordError together with
// the events before the damaged record, so that what a crashed or still
// running writer left behind can still be inspected.
func ReadEvents(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	// Reading only what Stat saw gives a consistent view of a file that a
	// writer is still appending to.
	return readEvents(bufio.NewReader(io.LimitReader(f, st.Size())), st.Size(), path)
}

// readEvents decodes the records in the first size bytes of r. Knowing size
// up front is what lets it refuse a record length that the input cannot
// hold before allocating for it.
func readEvents(r io.Reader, size int64, path string) ([]Event, error) {
	var events []Event
	var off int64
	for i := 0; off < size; i++ {
		fail := func(err error) ([]Event, error) {
			return events, &RecordError{Path: path, Index: i, Offset: off, Err: err}
		}
		left := size - off
		var hdr [recordHeaderLen]byte
		if left < recordHeaderLen {
			return fail(fmt.Errorf("%w: header needs %d bytes, %d remain", ErrTruncated, recordHeaderLen, left))
		}
		if err := readFull(r, hdr[:]); err != nil {
			return fail(err)
		}
		if got, want := binary.LittleEndian.Uint32(hdr[8:]), maskedCRC(hdr[:8]); got != want {
			return fail(fmt.Errorf("%w: stored 0x%08x, computed 0x%08x", ErrBadLengthCRC, got, want))
		}
		n := binary.LittleEndian.Uint64(hdr[:8])
		left -= recordHeaderLen
		if left < recordFooterLen || n > uint64(left-recordFooterLen) {
			return fail(fmt.Errorf("%w: length field says %d data bytes, %d bytes remain for data and CRC",
				ErrTruncated, n, left))
		}
		data := make([]byte, n+recordFooterLen)
		if err := readFull(r, data); err != nil {
			return fail(err)
		}
		data, crc := data[:n], data[n:]
		if got, want := binary.LittleEndian.Uint32(crc), maskedCRC(data); got != want {
			return fail(fmt.Errorf("%w: stored 0x%08x, computed 0x%08x", ErrBadDataCRC, got, want))
		}
		e, err := unmarshalEvent(data)
		if err != nil {
			return fail(fmt.Errorf("%w: %v", ErrMalformed, err))
		}
		events = append(events, e)
		off += recordHeaderLen + int64(n) + recordFooterLen
	}
	return events, nil
}

// readFull is io.ReadFull with running out of input reported as truncation:
// the size check means the input ended earlier than it said it would.
func readFull(r io.Reader, b []byte) error {
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: input ended early: %v", ErrTruncated, err)
		}
		return err
	}
	return nil
}
