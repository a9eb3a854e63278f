package tensorboard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// writeSample writes a version event and three scalars, and returns the
// file's bytes and the byte offset of each record.
func writeSample(t testing.TB) ([]byte, []int) {
	t.Helper()
	w, err := NewWriter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := w.AddScalar("loss", int64(i), float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	var offsets []int
	for off := 0; off < len(data); {
		offsets = append(offsets, off)
		off += recordHeaderLen + int(binary.LittleEndian.Uint64(data[off:])) + recordFooterLen
	}
	if len(offsets) != 4 {
		t.Fatalf("sample has %d records, want 4", len(offsets))
	}
	return data, offsets
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.out.tfevents.test")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkRecordError checks that err is a *RecordError of kind want for the
// record at index and offset, naming the file, and that the events before
// that record came back with it.
func checkRecordError(t *testing.T, events []Event, err error, path string, index, offset int, want error) {
	t.Helper()
	var re *RecordError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T), want *RecordError", err, err)
	}
	if !errors.Is(err, want) {
		t.Errorf("error %q, want %q", err, want)
	}
	if re.Path != path || re.Index != index || re.Offset != int64(offset) {
		t.Errorf("error at %s record %d offset %d, want %s record %d offset %d",
			re.Path, re.Index, re.Offset, path, index, offset)
	}
	msg := err.Error()
	if !strings.Contains(msg, path) || !strings.Contains(msg, fmt.Sprintf("record %d", index)) {
		t.Errorf("message %q does not name the file and record %d", msg, index)
	}
	if len(events) != index {
		t.Errorf("%d events returned with the error, want the %d before it", len(events), index)
	}
}

func TestReadEventsCorruptByte(t *testing.T) {
	data, offsets := writeSample(t)
	tests := []struct {
		name   string
		record int
		at     int // offset within the record; negative counts from its end
		want   error
	}{
		{"length", 0, 0, ErrBadLengthCRC},
		{"length high byte", 2, 7, ErrBadLengthCRC},
		{"length CRC", 1, 9, ErrBadLengthCRC},
		{"data first byte", 1, recordHeaderLen, ErrBadDataCRC},
		{"data last byte", 3, -recordFooterLen - 1, ErrBadDataCRC},
		{"data CRC", 3, -1, ErrBadDataCRC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := bytes.Clone(data)
			end := len(data)
			if tt.record+1 < len(offsets) {
				end = offsets[tt.record+1]
			}
			pos := offsets[tt.record] + tt.at
			if tt.at < 0 {
				pos = end + tt.at
			}
			bad[pos] ^= 0x20
			path := writeFile(t, bad)
			events, err := ReadEvents(path)
			checkRecordError(t, events, err, path, tt.record, offsets[tt.record], tt.want)
		})
	}
}

func TestReadEventsTruncated(t *testing.T) {
	data, offsets := writeSample(t)
	for n := range len(data) {
		path := writeFile(t, data[:n])
		events, err := ReadEvents(path)
		// The last record starting at or before n is the one cut short,
		// unless n falls exactly on a record boundary.
		index := 0
		for i, off := range offsets {
			if off <= n {
				index = i
			}
		}
		if n == offsets[index] {
			if err != nil || len(events) != index {
				t.Errorf("cut at boundary %d: %d events, %v; want %d events and no error", n, len(events), err, index)
			}
			continue
		}
		checkRecordError(t, events, err, path, index, offsets[index], ErrTruncated)
	}
}

// record frames data with correct CRCs, or with the length field set to n.
func record(data []byte, n uint64) []byte {
	var rec []byte
	rec = binary.LittleEndian.AppendUint64(rec, n)
	rec = binary.LittleEndian.AppendUint32(rec, maskedCRC(rec))
	rec = append(rec, data...)
	return binary.LittleEndian.AppendUint32(rec, maskedCRC(data))
}

func TestReadEventsHostile(t *testing.T) {
	version := marshalEvent(&Event{FileVersion: "brain.Event:2"})
	good := record(version, uint64(len(version)))
	tests := []struct {
		name  string
		data  []byte
		index int
		want  error
		msg   string
	}{
		{
			"length beyond file, valid length CRC",
			append(bytes.Clone(good), record(nil, 1<<62)...),
			1, ErrTruncated, "length field says 4611686018427387904 data bytes, 4 bytes remain",
		},
		{
			"maximum length",
			record(nil, ^uint64(0)),
			0, ErrTruncated, "18446744073709551615",
		},
		{
			"length one past the CRC",
			record(version, uint64(len(version))+1),
			0, ErrTruncated, "bytes remain",
		},
		{
			"valid CRCs around a bad protobuf",
			append(bytes.Clone(good), record([]byte{0x2a, 0x10, 0x0a}, 3)...),
			1, ErrMalformed, "field 5 (wire type 2): unexpected EOF",
		},
		{
			"short header",
			append(bytes.Clone(good), 1, 2, 3),
			1, ErrTruncated, "header needs 12 bytes, 3 remain",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.data)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			events, err := ReadEvents(path)
			runtime.ReadMemStats(&after)
			offset := 0
			if tt.index > 0 {
				offset = len(good)
			}
			checkRecordError(t, events, err, path, tt.index, offset, tt.want)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q does not say %q", err, tt.msg)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
				t.Errorf("reading %d bytes allocated %d bytes", len(tt.data), grew)
			}
		})
	}
}

func TestReadEventsFiles(t *testing.T) {
	if _, err := ReadEvents(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: error %v, want one naming the file", err)
	}
	events, err := ReadEvents(writeFile(t, nil))
	if err != nil || len(events) != 0 {
		t.Errorf("empty file: %d events, %v; want none and no error", len(events), err)
	}
}

func FuzzReadEvents(f *testing.F) {
	data, _ := writeSample(f)
	f.Add(data)
	f.Add(data[:len(data)/2])
	for _, g := range goldenEvents {
		f.Add(mustHex(f, g.record))
	}
	f.Add(record([]byte{0x2a, 0x04, 0x0a, 0x02, 0x2a, 0x00}, 6))
	f.Add(record(nil, 1<<40))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, data)
		// Random bytes rarely pass both CRCs; framing them as a valid
		// record sends them to the protobuf decoder too.
		fuzzRead(t, record(data, uint64(len(data))))
	})
}

func fuzzRead(t *testing.T, data []byte) {
	events, err := readEvents(bytes.NewReader(data), int64(len(data)), "fuzz")
	if err != nil {
		var re *RecordError
		if !errors.As(err, &re) {
			t.Fatalf("error %v is not a *RecordError", err)
		}
	}
	// Every record costs at least 16 bytes of input.
	if len(events) > len(data)/(recordHeaderLen+recordFooterLen) {
		t.Fatalf("%d events from %d bytes", len(events), len(data))
	}
	// Whatever decodes must survive re-encoding unchanged.
	for i := range events {
		once := marshalEvent(&events[i])
		again, err := unmarshalEvent(once)
		if err != nil {
			t.Fatalf("event %d: re-encoded form does not decode: %v", i, err)
		}
		if twice := marshalEvent(&again); !bytes.Equal(once, twice) {
			t.Fatalf("event %d: encoding not stable:\n%x\n%x", i, once, twice)
		}
	}
}
