package frame

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// ReadJSONLines reads files with one JSON object per line (JSON Lines / NDJSON) into a frame
// that streams them batch by batch. path is a file, a directory (its .jsonl, .ndjson and .json
// files, and those ending in .gz) or a glob pattern. Blank lines are skipped.
//
// Without a Schema, ReadJSONLines reads the files once to infer one: columns in order of first
// appearance; integers → Int64, numbers → Float64, booleans → Boolean, strings → String,
// arrays of numbers that always have the same length n ≥ 1 → VectorType(n); anything else
// (objects, ragged arrays, mixed types) → String holding the value's JSON text. With a Schema,
// keys are matched by name, missing keys are null and extra keys are ignored.
//
// Options: Schema, Mode, CorruptRecordColumn, BatchRows, Columns. A line is malformed when it
// is not a JSON object or a value does not fit its column's type; errors name the file, the
// line and the key.
func ReadJSONLines(path string, opts ...ReadOption) (*DataFrame, error) {
	cfg, err := newReadConfig("ReadJSONLines", []string{"Schema", "Mode", "CorruptRecordColumn", "BatchRows", "Columns"}, opts)
	if err != nil {
		return nil, err
	}
	paths, err := resolvePaths("ReadJSONLines", path, ".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
	if err != nil {
		return nil, err
	}
	data := cfg.schema
	if data != nil {
		for _, f := range data.Fields() {
			if _, ok := jsonKindOf(f.Type); !ok {
				return nil, fmt.Errorf("frame: ReadJSONLines: column %q has type %s; supported: int32, int64, float32, float64, bool, utf8 and vectors", f.Name, f.Type)
			}
		}
	} else if data, err = inferJSONSchema(paths, cfg); err != nil {
		return nil, err
	}
	out := data
	if cfg.corruptCol != "" {
		if len(data.FieldIndices(cfg.corruptCol)) > 0 {
			return nil, fmt.Errorf("frame: ReadJSONLines: corrupt-record column %q is also a data column", cfg.corruptCol)
		}
		out = arrow.NewSchema(append(append([]arrow.Field(nil), data.Fields()...), arrow.Field{Name: cfg.corruptCol, Type: arrow.BinaryTypes.String, Nullable: true}), nil)
	}
	parts := make([]source, len(paths))
	for i, p := range paths {
		parts[i] = &jsonSource{path: p, cfg: cfg, data: data, out: out}
	}
	df := newFrame(out, len(parts), &sourceNode{parts: parts})
	if cfg.columns != nil {
		return df.Select(cfg.columns...)
	}
	return df, nil
}

type jsonKind int

const (
	jsonInt32 jsonKind = iota
	jsonInt64
	jsonFloat32
	jsonFloat64
	jsonBool
	jsonString
	jsonVector
)

func jsonKindOf(dt arrow.DataType) (jsonKind, bool) {
	if _, ok := IsVector(dt); ok {
		return jsonVector, true
	}
	switch dt.ID() {
	case arrow.INT32:
		return jsonInt32, true
	case arrow.INT64:
		return jsonInt64, true
	case arrow.FLOAT32:
		return jsonFloat32, true
	case arrow.FLOAT64:
		return jsonFloat64, true
	case arrow.BOOL:
		return jsonBool, true
	case arrow.STRING:
		return jsonString, true
	}
	return 0, false
}

// lineReader yields lines of any length with their numbers.
type lineReader struct {
	r    *bufio.Reader
	name string
	line int
	buf  []byte
}

func (l *lineReader) next() ([]byte, error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.r.ReadSlice('\n')
		l.buf = append(l.buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(l.buf) > 0 {
			err = nil
		}
		if err != nil {
			return nil, err
		}
		l.line++
		return bytes.TrimRight(l.buf, "\r\n"), nil
	}
}

func openLines(path string) (*lineReader, func(), error) {
	r, closeFn, err := openMaybeGzip(path)
	if err != nil {
		return nil, nil, err
	}
	return &lineReader{r: bufio.NewReaderSize(r, 1<<16), name: filepath.Base(path)}, closeFn, nil
}

// jsonField is one key and value of a parsed line, in the order they appear.
type jsonField struct {
	key string
	val any
}

// parseJSONObject parses one line holding a JSON object, keeping key order.
func parseJSONObject(line []byte, dst []jsonField) ([]jsonField, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("want a JSON object, got %s", truncate(string(line), 40))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %v", err)
		}
		key, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("invalid JSON at key %q: %v", key, err)
		}
		dst = append(dst, jsonField{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid JSON: text after the object")
	}
	return dst, nil
}

// Inferred value classes, combined per column as a bit set.
const (
	jsInt = 1 << iota
	jsFloat
	jsBool
	jsString
	jsVector
	jsOther
)

type jsonInference struct {
	bits   int
	vecLen int // length of every numeric array seen, or -1 once two differ
}

func classify(v any) (bits, vecLen int) {
	switch x := v.(type) {
	case nil:
		return 0, 0
	case bool:
		return jsBool, 0
	case string:
		return jsString, 0
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return jsInt, 0
		}
		return jsFloat, 0
	case []any:
		for _, e := range x {
			if _, ok := e.(json.Number); !ok {
				return jsOther, 0
			}
		}
		return jsVector, len(x)
	}
	return jsOther, 0
}

func inferJSONSchema(paths []string, cfg *readConfig) (*arrow.Schema, error) {
	var names []string
	info := map[string]*jsonInference{}
	var fields []jsonField
	for _, p := range paths {
		lr, closeFn, err := openLines(p)
		if err != nil {
			return nil, fmt.Errorf("frame: ReadJSONLines: %w", err)
		}
		for {
			line, err := lr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				closeFn()
				return nil, fmt.Errorf("frame: ReadJSONLines: %s: line %d: %w", lr.name, lr.line+1, err)
			}
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			fields, err = parseJSONObject(line, fields[:0])
			if err != nil {
				if cfg.mode == FailFast {
					closeFn()
					return nil, fmt.Errorf("frame: ReadJSONLines: %s: line %d: %w", lr.name, lr.line, err)
				}
				continue
			}
			for _, f := range fields {
				in := info[f.key]
				if in == nil {
					in = &jsonInference{vecLen: -2}
					info[f.key] = in
					names = append(names, f.key)
				}
				bits, n := classify(f.val)
				in.bits |= bits
				if bits == jsVector {
					if in.vecLen == -2 {
						in.vecLen = n
					} else if in.vecLen != n {
						in.vecLen = -1
					}
				}
			}
		}
		closeFn()
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("frame: ReadJSONLines: %s: no JSON objects", paths[0])
	}
	out := make([]arrow.Field, len(names))
	for i, n := range names {
		in := info[n]
		var t arrow.DataType = arrow.BinaryTypes.String
		switch in.bits {
		case jsInt:
			t = arrow.PrimitiveTypes.Int64
		case jsFloat, jsInt | jsFloat:
			t = arrow.PrimitiveTypes.Float64
		case jsBool:
			t = arrow.FixedWidthTypes.Boolean
		case jsVector:
			// Arrays that are always empty have no vector form; their JSON text is kept.
			if in.vecLen > 0 {
				vt, err := VectorType(in.vecLen)
				if err != nil {
					return nil, fmt.Errorf("frame: ReadJSONLines: column %q: %w", n, err)
				}
				t = vt
			}
		}
		out[i] = arrow.Field{Name: n, Type: t, Nullable: true}
	}
	return arrow.NewSchema(out, nil), nil
}

type jsonSource struct {
	path      string
	cfg       *readConfig
	data, out *arrow.Schema
}

func (j *jsonSource) rows() (int64, bool) { return 0, false }

func (j *jsonSource) open(ctx context.Context) (recordStream, error) {
	lr, closeFn, err := openLines(j.path)
	if err != nil {
		return nil, fmt.Errorf("frame: ReadJSONLines: %w", err)
	}
	s := &jsonStream{src: j, lr: lr, closeFn: closeFn, col: map[string]int{}}
	s.kinds = make([]jsonKind, j.data.NumFields())
	s.builders = make([]array.Builder, j.out.NumFields())
	for k, f := range j.data.Fields() {
		s.kinds[k], _ = jsonKindOf(f.Type)
		s.col[f.Name] = k
		if s.kinds[k] == jsonVector {
			n, _ := IsVector(f.Type)
			vb, err := NewVectorBuilder(n)
			if err != nil {
				for _, b := range s.builders[:k] {
					b.Release()
				}
				closeFn()
				return nil, fmt.Errorf("frame: ReadJSONLines: column %q: %w", f.Name, err)
			}
			s.builders[k] = vb.b
		} else {
			s.builders[k] = array.NewBuilder(alloc, f.Type)
		}
	}
	if j.cfg.corruptCol != "" {
		s.corrupt = array.NewStringBuilder(alloc)
		s.builders[len(s.builders)-1] = s.corrupt
	}
	s.vals = make([]any, len(s.kinds))
	return s, nil
}

type jsonStream struct {
	src      *jsonSource
	lr       *lineReader
	closeFn  func()
	kinds    []jsonKind
	col      map[string]int
	builders []array.Builder
	corrupt  *array.StringBuilder
	fields   []jsonField
	vals     []any // the current line's converted values; nil means null
}

func (s *jsonStream) close() {
	for _, b := range s.builders {
		b.Release()
	}
	s.closeFn()
}

func (s *jsonStream) next() (arrow.RecordBatch, error) {
	cfg := s.src.cfg
	rows := 0
	for rows < cfg.batchRows {
		line, err := s.lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("frame: ReadJSONLines: %s: line %d: %w", s.lr.name, s.lr.line+1, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ok, err := s.parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("frame: ReadJSONLines: %s: line %d: %w", s.lr.name, s.lr.line, err)
		}
		if !ok && cfg.mode == DropMalformed {
			continue
		}
		s.appendLine(line, !ok)
		rows++
	}
	if rows == 0 {
		return nil, io.EOF
	}
	cols := make([]arrow.Array, len(s.builders))
	for k, b := range s.builders {
		cols[k] = b.NewArray()
	}
	rec := array.NewRecordBatch(s.src.out, cols, int64(rows))
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

var errMalformed = errors.New("malformed")

// parseLine converts a line's values into s.vals. ok is false for a malformed line outside
// FailFast mode; in FailFast mode the problem is returned.
func (s *jsonStream) parseLine(line []byte) (ok bool, err error) {
	clear(s.vals)
	failFast := s.src.cfg.mode == FailFast
	if !utf8.Valid(line) {
		if failFast {
			return false, fmt.Errorf("invalid UTF-8")
		}
		return false, nil
	}
	s.fields, err = parseJSONObject(line, s.fields[:0])
	if err != nil {
		if failFast {
			return false, err
		}
		return false, nil
	}
	ok = true
	for _, f := range s.fields {
		k, found := s.col[f.key]
		if !found || f.val == nil {
			continue
		}
		v, err := convertJSON(f.val, s.kinds[k], s.src.data.Field(k).Type)
		if err != nil {
			if failFast {
				return false, fmt.Errorf("key %q: %w", f.key, err)
			}
			ok = false
			continue
		}
		s.vals[k] = v
	}
	return ok, nil
}

func convertJSON(v any, kind jsonKind, dt arrow.DataType) (any, error) {
	bad := func() (any, error) {
		text, _ := json.Marshal(v)
		return nil, fmt.Errorf("cannot use %s as %s", truncate(string(text), 40), dt)
	}
	switch kind {
	case jsonInt32, jsonInt64:
		n, ok := v.(json.Number)
		if !ok {
			return bad()
		}
		i, err := n.Int64()
		if err != nil || (kind == jsonInt32 && (i < math.MinInt32 || i > math.MaxInt32)) {
			return bad()
		}
		return i, nil
	case jsonFloat32, jsonFloat64:
		n, ok := v.(json.Number)
		if !ok {
			return bad()
		}
		f, err := n.Float64()
		if err != nil {
			return bad()
		}
		return f, nil
	case jsonBool:
		b, ok := v.(bool)
		if !ok {
			return bad()
		}
		return b, nil
	case jsonString:
		if str, ok := v.(string); ok {
			return str, nil
		}
		text, err := json.Marshal(v)
		if err != nil {
			return bad()
		}
		return string(text), nil
	case jsonVector:
		arr, ok := v.([]any)
		n, _ := IsVector(dt)
		if !ok || len(arr) != n {
			return bad()
		}
		out := make([]float64, n)
		for i, e := range arr {
			num, ok := e.(json.Number)
			if !ok {
				return bad()
			}
			f, err := num.Float64()
			if err != nil {
				return bad()
			}
			out[i] = f
		}
		return out, nil
	}
	return nil, errMalformed
}

func (s *jsonStream) appendLine(line []byte, malformed bool) {
	for k, kind := range s.kinds {
		b := s.builders[k]
		v := s.vals[k]
		if v == nil {
			b.AppendNull()
			continue
		}
		switch kind {
		case jsonInt32:
			b.(*array.Int32Builder).Append(int32(v.(int64)))
		case jsonInt64:
			b.(*array.Int64Builder).Append(v.(int64))
		case jsonFloat32:
			b.(*array.Float32Builder).Append(float32(v.(float64)))
		case jsonFloat64:
			b.(*array.Float64Builder).Append(v.(float64))
		case jsonBool:
			b.(*array.BooleanBuilder).Append(v.(bool))
		case jsonString:
			b.(*array.StringBuilder).Append(v.(string))
		case jsonVector:
			fb := b.(*array.FixedSizeListBuilder)
			fb.Append(true)
			fb.ValueBuilder().(*array.Float64Builder).AppendValues(v.([]float64), nil)
		}
	}
	if s.corrupt != nil {
		if malformed {
			s.corrupt.Append(strings.ToValidUTF8(string(line), "\uFFFD"))
		} else {
			s.corrupt.AppendNull()
		}
	}
}
