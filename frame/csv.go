package frame

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// ReadCSV reads delimited text into a frame that streams the files batch by batch. path is a
// file, a directory (its .csv, .tsv, .txt and .csv.gz files, one partition each) or a glob
// pattern; files ending in .gz are decompressed.
//
// Options: Header, Delimiter, Quote, NullValues, InferSchema, Schema, Mode,
// CorruptRecordColumn, BatchRows, Columns. Without a header, columns are named _c0, _c1, ...
// Without InferSchema or Schema every column is a String.
//
// Parsing follows RFC 4180 with Spark's leniencies: quoted fields may hold delimiters, quotes
// (doubled) and line breaks, kept byte for byte; a quote inside an unquoted field is an
// ordinary character; lines may end in LF or CRLF; blank lines are skipped; a leading UTF-8
// byte order mark is dropped; numbers may be surrounded by spaces. A record is malformed when
// it has the wrong number of fields, a value does not parse as its column's type, a quoted
// field is unterminated or followed by stray characters, or a String field is not valid
// UTF-8. Errors name the file, the line where the record (or field) starts, and the column by
// position and name.
//
// With InferSchema (or, without a Schema, to count the columns) ReadCSV reads the files once
// before returning; the rows themselves are read when an action runs.
func ReadCSV(path string, opts ...ReadOption) (*DataFrame, error) {
	cfg, err := csvConfig("ReadCSV", opts)
	if err != nil {
		return nil, err
	}
	paths, err := resolvePaths("ReadCSV", path, ".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
	if err != nil {
		return nil, err
	}
	ins := make([]csvInput, len(paths))
	for i, p := range paths {
		ins[i] = csvInput{name: filepath.Base(p), open: func() (io.Reader, func(), error) { return openMaybeGzip(p) }}
	}
	return readCSV("ReadCSV", ins, cfg)
}

// ReadCSVFrom reads delimited text from r, as ReadCSV reads a file: name stands for the file in
// error messages ("iris.csv: line 7: ..."), and gzip-compressed text is recognised by its magic
// bytes. A reader can be read only once while a frame may be read many times, so ReadCSVFrom
// reads r to the end into memory and the frame parses that copy at each action; for data
// larger than memory, use ReadCSV on a file. It takes the same options as ReadCSV.
func ReadCSVFrom(r io.Reader, name string, opts ...ReadOption) (*DataFrame, error) {
	cfg, err := csvConfig("ReadCSVFrom", opts)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("frame: ReadCSVFrom: %s: nil reader", name)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("frame: ReadCSVFrom: %s: %w", name, err)
	}
	in := csvInput{name: name, open: func() (io.Reader, func(), error) {
		if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
			return bytes.NewReader(data), func() {}, nil
		}
		z, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		return z, func() { z.Close() }, nil
	}}
	return readCSV("ReadCSVFrom", []csvInput{in}, cfg)
}

func csvConfig(who string, opts []ReadOption) (*readConfig, error) {
	cfg, err := newReadConfig(who, []string{"Header", "Delimiter", "Quote", "NullValues", "InferSchema", "Schema", "Mode", "CorruptRecordColumn", "BatchRows", "Columns"}, opts)
	if err != nil {
		return nil, err
	}
	if cfg.delim == cfg.quote {
		return nil, fmt.Errorf("frame: %s: delimiter and quote are both %q", who, cfg.delim)
	}
	return cfg, nil
}

// csvInput is one file's worth of CSV text: a name for messages and a way to read it from
// the start, once per pass over the frame.
type csvInput struct {
	name string
	open func() (io.Reader, func(), error)
}

func readCSV(who string, ins []csvInput, cfg *readConfig) (*DataFrame, error) {
	data, err := csvSchema(who, ins, cfg)
	if err != nil {
		return nil, err
	}
	out := data
	if cfg.corruptCol != "" {
		if len(data.FieldIndices(cfg.corruptCol)) > 0 {
			return nil, fmt.Errorf("frame: %s: corrupt-record column %q is also a data column", who, cfg.corruptCol)
		}
		out = arrow.NewSchema(append(append([]arrow.Field(nil), data.Fields()...), arrow.Field{Name: cfg.corruptCol, Type: arrow.BinaryTypes.String, Nullable: true}), nil)
	}
	parts := make([]source, len(ins))
	for i, in := range ins {
		parts[i] = &csvSource{who: who, in: in, cfg: cfg, data: data, out: out}
	}
	df := newFrame(out, len(parts), &sourceNode{parts: parts})
	if cfg.columns != nil {
		return df.Select(cfg.columns...)
	}
	return df, nil
}

// csvKind is the parser for one column.
type csvKind int

const (
	csvInt32 csvKind = iota
	csvInt64
	csvFloat32
	csvFloat64
	csvBool
	csvString
)

func (k csvKind) String() string {
	return [...]string{"int32", "int64", "float32", "float64", "boolean", "string"}[k]
}

func csvKindOf(dt arrow.DataType) (csvKind, bool) {
	switch dt.ID() {
	case arrow.INT32:
		return csvInt32, true
	case arrow.INT64:
		return csvInt64, true
	case arrow.FLOAT32:
		return csvFloat32, true
	case arrow.FLOAT64:
		return csvFloat64, true
	case arrow.BOOL:
		return csvBool, true
	case arrow.STRING:
		return csvString, true
	}
	return 0, false
}

func (k csvKind) arrowType() arrow.DataType {
	switch k {
	case csvInt32:
		return arrow.PrimitiveTypes.Int32
	case csvInt64:
		return arrow.PrimitiveTypes.Int64
	case csvFloat32:
		return arrow.PrimitiveTypes.Float32
	case csvFloat64:
		return arrow.PrimitiveTypes.Float64
	case csvBool:
		return arrow.FixedWidthTypes.Boolean
	}
	return arrow.BinaryTypes.String
}

// csvSchema works out the column names and types: from the Schema option, or from the header
// (or the first record's width) and, with InferSchema, a pass over every file.
func csvSchema(who string, ins []csvInput, cfg *readConfig) (*arrow.Schema, error) {
	if cfg.schema != nil {
		for _, f := range cfg.schema.Fields() {
			if _, ok := csvKindOf(f.Type); !ok {
				return nil, fmt.Errorf("frame: %s: column %q has type %s; %s reads int32, int64, float32, float64, bool and utf8", who, f.Name, f.Type, who)
			}
		}
		return cfg.schema, nil
	}
	var names []string
	var kinds []csvKind
	for fi, in := range ins {
		err := scanCSV(in, cfg, func(s *csvScanner) error {
			first := true
			for s.next() {
				if first {
					first = false
					if fi == 0 && names == nil {
						names = make([]string, s.numFields())
						for k := range names {
							if cfg.header {
								names[k] = strings.TrimSpace(string(s.fieldBytes(k)))
							}
						}
						names = uniqueNames(names)
						if !cfg.infer {
							return nil
						}
						kinds = make([]csvKind, len(names))
						inferStart(kinds)
					}
					if cfg.header {
						continue
					}
				}
				if s.errMsg != "" || s.numFields() != len(names) {
					if cfg.mode == FailFast {
						if s.errMsg != "" {
							return fmt.Errorf("%s: %s", s.where(s.errField), s.errMsg)
						}
						return fmt.Errorf("%s: %d fields, want %d", s.where(-1), s.numFields(), len(names))
					}
					continue
				}
				for k := range kinds {
					f := s.fieldBytes(k)
					if !s.fieldQuoted(k) && cfg.isNull(f) {
						continue
					}
					kinds[k] = inferStep(kinds[k], f)
				}
			}
			return s.err()
		})
		if err != nil {
			return nil, fmt.Errorf("frame: %s: %w", who, err)
		}
		if !cfg.infer && names != nil {
			break
		}
	}
	if names == nil {
		return nil, fmt.Errorf("frame: %s: %s: no records", who, ins[0].name)
	}
	fields := make([]arrow.Field, len(names))
	for k, n := range names {
		kind := csvString
		if cfg.infer {
			kind = inferResult(kinds[k])
		}
		fields[k] = arrow.Field{Name: n, Type: kind.arrowType(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// Inference state per column: a set of candidate types, narrowed by every non-null value.
// kinds[k] holds a bit set (not a csvKind) during the pass.
const (
	canInt32 = 1 << iota
	canInt64
	canFloat
	canBool
	sawValue
)

func inferStart(kinds []csvKind) {
	for k := range kinds {
		kinds[k] = csvKind(canInt32 | canInt64 | canFloat | canBool)
	}
}

func inferStep(state csvKind, f []byte) csvKind {
	s := int(state) | sawValue
	if s&(canInt32|canInt64) != 0 {
		if v, ok := parseInt(f); ok {
			if v < math.MinInt32 || v > math.MaxInt32 {
				s &^= canInt32
			}
			return csvKind(s &^ canBool)
		}
		s &^= canInt32 | canInt64
	}
	if s&canFloat != 0 {
		if _, ok := parseFloat(f); ok {
			return csvKind(s &^ canBool)
		}
		s &^= canFloat
	}
	if s&canBool != 0 {
		if _, ok := parseBool(f); !ok {
			s &^= canBool
		}
	}
	return csvKind(s)
}

func inferResult(state csvKind) csvKind {
	s := int(state)
	switch {
	case s&sawValue == 0:
		return csvString
	case s&canInt32 != 0:
		return csvInt32
	case s&canInt64 != 0:
		return csvInt64
	case s&canFloat != 0:
		return csvFloat64
	case s&canBool != 0:
		return csvBool
	}
	return csvString
}

// uniqueNames fills empty names with _cN and makes duplicates unique by appending their
// position, as Spark does.
func uniqueNames(names []string) []string {
	count := map[string]int{}
	for k, n := range names {
		if n == "" {
			names[k] = fmt.Sprintf("_c%d", k)
		}
		count[names[k]]++
	}
	for k, n := range names {
		if count[n] > 1 {
			names[k] = fmt.Sprintf("%s%d", n, k)
		}
	}
	return names
}

func (c *readConfig) isNull(f []byte) bool {
	for _, n := range c.nullValues {
		if string(f) == n {
			return true
		}
	}
	return false
}

func openMaybeGzip(path string) (io.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if !strings.HasSuffix(strings.ToLower(path), ".gz") {
		return f, func() { f.Close() }, nil
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return z, func() { z.Close(); f.Close() }, nil
}

func scanCSV(in csvInput, cfg *readConfig, fn func(*csvScanner) error) error {
	r, closeFn, err := in.open()
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(newCSVScanner(r, in.name, cfg.delim, cfg.quote, false))
}

// csvScanner splits a byte stream into records and fields. It copies each record's fields
// into one reusable buffer, so a record costs no allocations once the buffers have grown.
type csvScanner struct {
	r       io.Reader
	name    string // the file's base name (or the name ReadCSVFrom was given), for messages
	buf     []byte
	pos     int
	end     int
	eof     bool
	readErr error
	delim   byte
	quote   byte
	special [256]bool // bytes that end an unquoted run: delimiter, CR, LF
	line    int       // line number at pos, from 1

	field   []byte // the current record's fields, back to back
	ends    []int  // end offset of each field in field
	quoted  []bool
	lines   []int // line where each field starts
	recLine int

	errMsg   string // what is structurally wrong with the current record, if anything
	errField int    // the field errMsg is about

	keepRaw bool // also collect each record's raw text (for CorruptRecordColumn)
	raw     []byte
	rawFrom int
	started bool
}

func newCSVScanner(r io.Reader, name string, delim, quote byte, keepRaw bool) *csvScanner {
	s := &csvScanner{r: r, name: name, buf: make([]byte, 256<<10), delim: delim, quote: quote, line: 1, keepRaw: keepRaw}
	s.special[delim] = true
	s.special['\n'] = true
	s.special['\r'] = true
	return s
}

// fill refills the buffer once everything in it is consumed; false means end of input.
func (s *csvScanner) fill() bool {
	if s.keepRaw {
		s.raw = append(s.raw, s.buf[s.rawFrom:s.end]...)
		s.rawFrom = 0
	}
	s.pos, s.end = 0, 0
	for !s.eof {
		n, err := s.r.Read(s.buf)
		s.end = n
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.readErr = err
			}
		}
		if n > 0 {
			break
		}
	}
	if !s.started && s.end >= 3 && s.buf[0] == 0xEF && s.buf[1] == 0xBB && s.buf[2] == 0xBF {
		s.pos = 3
		s.rawFrom = 3
	}
	s.started = true
	return s.pos < s.end
}

func (s *csvScanner) err() error {
	if s.readErr != nil {
		return fmt.Errorf("%s: line %d: %w", s.name, s.line, s.readErr)
	}
	return nil
}

func (s *csvScanner) numFields() int         { return len(s.ends) }
func (s *csvScanner) fieldQuoted(k int) bool { return s.quoted[k] }
func (s *csvScanner) fieldBytes(k int) []byte {
	start := 0
	if k > 0 {
		start = s.ends[k-1]
	}
	return s.field[start:s.ends[k]]
}

// where names the file and line of field k, or of the record when k < 0.
func (s *csvScanner) where(k int) string {
	if k >= 0 && k < len(s.lines) {
		return fmt.Sprintf("%s: line %d", s.name, s.lines[k])
	}
	return fmt.Sprintf("%s: line %d", s.name, s.recLine)
}

// rawText is the current record's text without its line break.
func (s *csvScanner) rawText() string {
	return strings.TrimRight(string(s.raw), "\r\n")
}

// next reads the next non-blank record; false means end of input (see err).
func (s *csvScanner) next() bool {
	for {
		s.field, s.ends, s.quoted, s.lines = s.field[:0], s.ends[:0], s.quoted[:0], s.lines[:0]
		s.errMsg, s.errField = "", -1
		if s.pos >= s.end && !s.fill() {
			return false
		}
		s.recLine = s.line
		if s.keepRaw {
			s.raw = s.raw[:0]
			s.rawFrom = s.pos
		}
		blank := s.record()
		if s.keepRaw {
			s.raw = append(s.raw, s.buf[s.rawFrom:s.pos]...)
			s.rawFrom = s.pos
		}
		if !blank {
			return true
		}
	}
}

// record parses fields up to the end of the record and reports whether the line was blank.
func (s *csvScanner) record() (blank bool) {
	for {
		s.lines = append(s.lines, s.line)
		var term byte
		quoted := false
		if s.pos >= s.end && !s.fill() {
			term = 0
		} else if s.buf[s.pos] == s.quote {
			s.pos++
			quoted = true
			term = s.quotedField()
		} else {
			term = s.unquotedField()
		}
		s.ends = append(s.ends, len(s.field))
		s.quoted = append(s.quoted, quoted)
		if term != s.delim {
			return len(s.ends) == 1 && !quoted && len(s.field) == 0
		}
	}
}

// unquotedField copies bytes up to the next delimiter or line break and returns what ended
// the field: the delimiter, '\n', or 0 at end of input.
func (s *csvScanner) unquotedField() byte {
	for {
		i := s.pos
		buf := s.buf[:s.end]
		for i < len(buf) && !s.special[buf[i]] {
			i++
		}
		s.field = append(s.field, buf[s.pos:i]...)
		s.pos = i
		if i < len(buf) {
			c := buf[i]
			s.pos++
			switch c {
			case s.delim:
				return c
			case '\n':
				s.line++
				return '\n'
			}
			// A CR ends the record only before LF (or at the end of input); alone it is data.
			if s.pos >= s.end && !s.fill() {
				return '\n'
			}
			if s.buf[s.pos] == '\n' {
				s.pos++
				s.line++
				return '\n'
			}
			s.field = append(s.field, '\r')
			continue
		}
		if !s.fill() {
			return 0
		}
	}
}

// quotedField copies a quoted field's content (after its opening quote), turning doubled
// quotes into one, and returns what followed the closing quote.
func (s *csvScanner) quotedField() byte {
	startLine := s.line
	for {
		i := s.pos
		for i < s.end && s.buf[i] != s.quote {
			if s.buf[i] == '\n' {
				s.line++
			}
			i++
		}
		s.field = append(s.field, s.buf[s.pos:i]...)
		s.pos = i
		if i == s.end {
			if !s.fill() {
				s.fail(fmt.Sprintf("quoted field starting on line %d is never closed", startLine))
				return 0
			}
			continue
		}
		s.pos++ // the quote
		if s.pos >= s.end && !s.fill() {
			return 0
		}
		c := s.buf[s.pos]
		switch c {
		case s.quote:
			s.field = append(s.field, c)
			s.pos++
			continue
		case s.delim:
			s.pos++
			return c
		case '\n':
			s.pos++
			s.line++
			return '\n'
		case '\r':
			s.pos++
			if s.pos >= s.end && !s.fill() {
				return '\n'
			}
			if s.buf[s.pos] == '\n' {
				s.pos++
				s.line++
				return '\n'
			}
			s.fail(fmt.Sprintf("unexpected %q after closing quote", '\r'))
			s.field = append(s.field, '\r')
			return s.unquotedField()
		default:
			s.fail(fmt.Sprintf("unexpected %q after closing quote", rune(c)))
			// Keep the stray text so Permissive mode and messages can show it.
			return s.unquotedField()
		}
	}
}

func (s *csvScanner) fail(msg string) {
	if s.errMsg == "" {
		s.errMsg = msg
		s.errField = len(s.ends)
	}
}

// parseInt parses a decimal integer, allowing surrounding spaces, without allocating.
func parseInt(b []byte) (int64, bool) {
	b = trimSpace(b)
	if len(b) == 0 {
		return 0, false
	}
	neg := false
	switch b[0] {
	case '-':
		neg = true
		b = b[1:]
	case '+':
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		if len(b) > 19 {
			// Leave long digit strings (leading zeros, overflow) to strconv.
			v, err := strconv.ParseInt(unsafeString(b), 10, 64)
			if err != nil {
				return 0, false
			}
			if neg {
				v = -v
			}
			return v, true
		}
		return 0, false
	}
	var v uint64
	for _, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		v = v*10 + uint64(d)
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

func parseFloat(b []byte) (float64, bool) {
	b = trimSpace(b)
	if len(b) == 0 {
		return 0, false
	}
	if len(b) <= 15 {
		// Integers below 2^53 convert exactly and are common (pixel values, counts).
		if v, ok := parseInt(b); ok {
			return float64(v), true
		}
	}
	v, err := strconv.ParseFloat(unsafeString(b), 64)
	if err != nil {
		// strconv reports out-of-range values with ±Inf or 0 and ErrRange; Spark and pyarrow
		// reject them, and so does ReadCSV.
		return 0, false
	}
	return v, true
}

func parseBool(b []byte) (bool, bool) {
	b = trimSpace(b)
	switch {
	case bytes.EqualFold(b, []byte("true")):
		return true, true
	case bytes.EqualFold(b, []byte("false")):
		return false, true
	}
	return false, false
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// unsafeString views b as a string for strconv, which copies what it keeps (its errors
// clone their input).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// csvSource is one CSV file of a frame.
type csvSource struct {
	who  string // the reader, for messages
	in   csvInput
	cfg  *readConfig
	data *arrow.Schema // the parsed columns
	out  *arrow.Schema // data plus the corrupt-record column, if any
}

func (c *csvSource) rows() (int64, bool) { return 0, false }

func (c *csvSource) open(ctx context.Context) (recordStream, error) {
	r, closeFn, err := c.in.open()
	if err != nil {
		return nil, fmt.Errorf("frame: %s: %w", c.who, err)
	}
	s := &csvStream{src: c, scan: newCSVScanner(r, c.in.name, c.cfg.delim, c.cfg.quote, c.cfg.corruptCol != ""), closeFn: closeFn}
	s.kinds = make([]csvKind, c.data.NumFields())
	s.cols = make([]*accum, c.out.NumFields())
	for k, f := range c.data.Fields() {
		s.kinds[k], _ = csvKindOf(f.Type)
		s.cols[k] = newAccum(s.kinds[k])
	}
	if c.cfg.corruptCol != "" {
		s.corrupt = newAccum(csvString)
		s.cols[len(s.cols)-1] = s.corrupt
	}
	s.ints = make([]int64, len(s.kinds))
	s.floats = make([]float64, len(s.kinds))
	s.nulls = make([]bool, len(s.kinds))
	s.skipHeader = c.cfg.header
	return s, nil
}

type csvStream struct {
	src        *csvSource
	scan       *csvScanner
	closeFn    func()
	kinds      []csvKind
	cols       []*accum
	corrupt    *accum
	skipHeader bool
	// The current record's parsed values, checked in full before any is appended so that a
	// dropped record leaves nothing behind in the columns.
	ints   []int64
	floats []float64
	nulls  []bool
}

func (s *csvStream) close() { s.closeFn() }

func (s *csvStream) next() (arrow.RecordBatch, error) {
	cfg := s.src.cfg
	rows := 0
	for rows < cfg.batchRows && s.scan.next() {
		if s.skipHeader {
			s.skipHeader = false
			continue
		}
		ok, err := s.parseRecord()
		if err != nil {
			return nil, fmt.Errorf("frame: %s: %w", s.src.who, err)
		}
		if !ok && cfg.mode == DropMalformed {
			continue
		}
		s.appendRecord(!ok)
		rows++
	}
	if err := s.scan.err(); err != nil {
		return nil, fmt.Errorf("frame: %s: %w", s.src.who, err)
	}
	if rows == 0 {
		return nil, io.EOF
	}
	cols := make([]arrow.Array, len(s.cols))
	for k, a := range s.cols {
		cols[k] = a.finish()
	}
	rec := array.NewRecordBatch(s.src.out, cols, int64(rows))
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

// parseRecord parses the scanner's current record into the value buffers. ok is false for a
// malformed record in DropMalformed or Permissive mode (bad fields are then null); in
// FailFast mode a malformed record is an error.
func (s *csvStream) parseRecord() (ok bool, err error) {
	sc, cfg := s.scan, s.src.cfg
	fail := func(k int, msg string) error {
		if cfg.mode != FailFast {
			ok = false
			return nil
		}
		if k < 0 {
			return fmt.Errorf("%s: %s", sc.where(-1), msg)
		}
		return fmt.Errorf("%s, column %d (%s): %s", sc.where(k), k+1, s.src.data.Field(k).Name, msg)
	}
	ok = true
	if sc.errMsg != "" {
		if err := fail(sc.errField, sc.errMsg); err != nil {
			return false, err
		}
	}
	nf := sc.numFields()
	if nf != len(s.kinds) {
		if err := fail(-1, fmt.Sprintf("%d fields, want %d (%s)", nf, len(s.kinds), strings.Join(fieldNames(s.src.data), ", "))); err != nil {
			return false, err
		}
	}
	for k, kind := range s.kinds {
		s.nulls[k] = true
		if k >= nf {
			continue
		}
		f := sc.fieldBytes(k)
		quoted := sc.fieldQuoted(k)
		if !quoted && (cfg.isNull(f) || (len(f) == 0 && kind != csvString)) {
			continue
		}
		good := true
		switch kind {
		case csvInt32:
			v, okv := parseInt(f)
			good = okv && v >= math.MinInt32 && v <= math.MaxInt32
			s.ints[k] = v
		case csvInt64:
			s.ints[k], good = parseInt(f)
		case csvFloat32, csvFloat64:
			s.floats[k], good = parseFloat(f)
			if good && kind == csvFloat32 && math.Abs(s.floats[k]) > math.MaxFloat32 && !math.IsInf(s.floats[k], 0) {
				good = false
			}
		case csvBool:
			var b bool
			b, good = parseBool(f)
			s.ints[k] = 0
			if b {
				s.ints[k] = 1
			}
		case csvString:
			good = utf8.Valid(f)
			if !good {
				if err := fail(k, "invalid UTF-8"); err != nil {
					return false, err
				}
				continue
			}
		}
		if !good {
			if err := fail(k, fmt.Sprintf("cannot parse %q as %s", truncate(string(f), 40), kind)); err != nil {
				return false, err
			}
			continue
		}
		s.nulls[k] = false
	}
	return ok, nil
}

func (s *csvStream) appendRecord(malformed bool) {
	sc := s.scan
	for k, kind := range s.kinds {
		a := s.cols[k]
		if s.nulls[k] {
			a.appendNull()
			continue
		}
		switch kind {
		case csvInt32:
			a.i32 = append(a.i32, int32(s.ints[k]))
		case csvInt64:
			a.i64 = append(a.i64, s.ints[k])
		case csvFloat32:
			a.f32 = append(a.f32, float32(s.floats[k]))
		case csvFloat64:
			a.f64 = append(a.f64, s.floats[k])
		case csvBool:
			a.appendBool(s.ints[k] == 1)
		case csvString:
			a.appendString(sc.fieldBytes(k))
			continue
		}
		a.row(true)
	}
	if s.corrupt != nil {
		if malformed {
			s.corrupt.appendString([]byte(strings.ToValidUTF8(sc.rawText(), "\uFFFD")))
		} else {
			s.corrupt.appendNull()
		}
	}
}

func fieldNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
