package safetensors

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/deepframe/deepframe/tensor"
)

// entry is one tensor's header record after every field has been checked on its own.
type entry struct {
	name       string
	dtype      tensor.DType
	shape      tensor.Shape
	begin, end int64
}

// parseHeader checks the JSON header and returns its tensors in data order, the metadata and the
// length of the data buffer the tensors cover.
//
// The header is walked token by token rather than unmarshalled into Go maps and structs because
// encoding/json would quietly keep the last of two duplicate names, match field names without
// regard to case, and accept numbers written as strings; each of those would let two readers
// disagree about what a file holds.
func parseHeader(hdr []byte) ([]entry, map[string]string, int64, error) {
	// encoding/json replaces invalid UTF-8 with U+FFFD, which would make two different names
	// collide; the format requires UTF-8, so check it up front.
	if !utf8.Valid(hdr) {
		return nil, nil, 0, errors.New("safetensors: header is not valid UTF-8")
	}
	if hdr[0] != '{' {
		return nil, nil, 0, fmt.Errorf("safetensors: header must be a JSON object starting with '{', got %q", preview(hdr))
	}
	d := json.NewDecoder(bytes.NewReader(hdr))
	d.UseNumber()
	if _, err := d.Token(); err != nil {
		return nil, nil, 0, jsonErr("", err)
	}
	var (
		entries []entry
		meta    map[string]string
		seen    = map[string]bool{}
	)
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, nil, 0, jsonErr("", err)
		}
		name, _ := tok.(string) // Token yields only strings in key position.
		if seen[name] {
			if name == metadataKey {
				return nil, nil, 0, fmt.Errorf("safetensors: header has %q twice", metadataKey)
			}
			return nil, nil, 0, fmt.Errorf("safetensors: tensor %q appears twice in the header", name)
		}
		seen[name] = true
		if name == metadataKey {
			if meta, err = parseMetadata(d); err != nil {
				return nil, nil, 0, err
			}
			continue
		}
		e, err := parseEntry(d, name)
		if err != nil {
			return nil, nil, 0, err
		}
		entries = append(entries, e)
	}
	if _, err := d.Token(); err != nil {
		return nil, nil, 0, jsonErr("", err)
	}
	// Only whitespace (the space padding) may follow the object.
	if tok, err := d.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, 0, jsonErr("", err)
		}
		return nil, nil, 0, fmt.Errorf("safetensors: header has %s after its JSON object (only space padding may follow)", describe(tok))
	}

	dataLen, err := checkCoverage(entries)
	if err != nil {
		return nil, nil, 0, err
	}
	return entries, meta, dataLen, nil
}

// checkCoverage puts entries in data order and checks that they tile the data buffer from byte 0
// with no gap and no overlap, as the format requires; it returns the buffer's length. Holes are
// refused because bytes that belong to no tensor are a place to hide data that a checksum of
// the tensors would not cover.
func checkCoverage(entries []entry) (int64, error) {
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), strings.Compare(a.name, b.name))
	})
	var at int64
	for i, e := range entries {
		switch {
		case e.begin > at:
			return 0, fmt.Errorf("safetensors: bytes [%d, %d) of the data buffer belong to no tensor (gap before tensor %q at data_offsets [%d, %d])", at, e.begin, e.name, e.begin, e.end)
		case e.begin < at:
			p := entries[i-1]
			return 0, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] overlap tensor %q at [%d, %d]", e.name, e.begin, e.end, p.name, p.begin, p.end)
		}
		at = e.end
	}
	return at, nil
}

func parseMetadata(d *json.Decoder) (map[string]string, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, jsonErr(metadataKey, err)
	}
	if tok == nil {
		// The reference implementation writes no key at all for "no metadata" but reads null as
		// the same thing.
		return nil, nil
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("safetensors: %s must be an object of strings, got %s", metadataKey, describe(tok))
	}
	meta := map[string]string{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, jsonErr(metadataKey, err)
		}
		k, _ := tok.(string)
		if _, dup := meta[k]; dup {
			return nil, fmt.Errorf("safetensors: %s has key %q twice", metadataKey, k)
		}
		v, err := d.Token()
		if err != nil {
			return nil, jsonErr(fmt.Sprintf("%s key %q", metadataKey, k), err)
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("safetensors: %s key %q: value must be a string, got %s", metadataKey, k, describe(v))
		}
		meta[k] = s
	}
	if _, err := d.Token(); err != nil {
		return nil, jsonErr(metadataKey, err)
	}
	return meta, nil
}

func parseEntry(d *json.Decoder, name string) (entry, error) {
	e := entry{name: name}
	fail := func(format string, args ...any) (entry, error) {
		return entry{}, fmt.Errorf("safetensors: tensor %q: "+format, append([]any{name}, args...)...)
	}
	where := fmt.Sprintf("tensor %q", name)
	tok, err := d.Token()
	if err != nil {
		return entry{}, jsonErr(where, err)
	}
	if tok != json.Delim('{') {
		return fail("want an object with dtype, shape and data_offsets, got %s", describe(tok))
	}
	var haveDType, haveShape, haveOffsets bool
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return entry{}, jsonErr(where, err)
		}
		field, _ := tok.(string)
		switch field {
		case "dtype":
			if haveDType {
				return fail("dtype given twice")
			}
			haveDType = true
			v, err := d.Token()
			if err != nil {
				return entry{}, jsonErr(where, err)
			}
			s, ok := v.(string)
			if !ok {
				return fail("dtype must be a string, got %s", describe(v))
			}
			dt, ok := nameDType[s]
			if !ok {
				return fail("dtype %q is not supported (want F32, I64, I32 or U8)", s)
			}
			e.dtype = dt
		case "shape":
			if haveShape {
				return fail("shape given twice")
			}
			haveShape = true
			nums, err := intArray(d, where, "shape")
			if err != nil {
				return entry{}, err
			}
			e.shape = make(tensor.Shape, len(nums))
			for i, s := range nums {
				v, err := strconv.ParseInt(s, 10, strconv.IntSize)
				if err != nil || v < 0 {
					return fail("shape dimension %d is %s, want a non-negative integer", i, s)
				}
				e.shape[i] = int(v)
			}
			if err := e.shape.Validate(); err != nil {
				return fail("%s", strings.TrimPrefix(err.Error(), "tensor: "))
			}
		case "data_offsets":
			if haveOffsets {
				return fail("data_offsets given twice")
			}
			haveOffsets = true
			nums, err := intArray(d, where, "data_offsets")
			if err != nil {
				return entry{}, err
			}
			if len(nums) != 2 {
				return fail("data_offsets has %d numbers, want 2: [begin, end]", len(nums))
			}
			var off [2]int64
			for i, s := range nums {
				v, err := strconv.ParseInt(s, 10, 64)
				if err != nil || v < 0 {
					return fail("data_offsets [%s, %s]: %s is not a non-negative integer that fits in 63 bits", nums[0], nums[1], s)
				}
				off[i] = v
			}
			e.begin, e.end = off[0], off[1]
		default:
			// Unknown fields are refused rather than skipped: a misspelt "data_offset" should be
			// an error, not a tensor that silently lacks its offsets.
			return fail("unknown field %q (want dtype, shape and data_offsets)", field)
		}
	}
	if _, err := d.Token(); err != nil {
		return entry{}, jsonErr(where, err)
	}
	switch {
	case !haveDType:
		return fail("missing dtype")
	case !haveShape:
		return fail("missing shape")
	case !haveOffsets:
		return fail("missing data_offsets")
	case e.end < e.begin:
		return fail("data_offsets [%d, %d] end before they begin", e.begin, e.end)
	}
	// Validate capped the element count at 2^40, so with at most 8 bytes an element the product
	// cannot overflow.
	want := int64(e.shape.Size()) * int64(e.dtype.Size())
	if got := e.end - e.begin; got != want {
		return fail("data_offsets [%d, %d] hold %d bytes, want %d for %s %v", e.begin, e.end, got, want, dtypeName[e.dtype], e.shape)
	}
	return e, nil
}

// intArray reads a JSON array of numbers and returns their literal text, leaving it to the caller
// to decide what range is acceptable.
func intArray(d *json.Decoder, where, field string) ([]string, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, jsonErr(where, err)
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("safetensors: %s: %s must be an array of integers, got %s", where, field, describe(tok))
	}
	var out []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, jsonErr(where, err)
		}
		n, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("safetensors: %s: %s must be an array of integers, got element %s", where, field, describe(tok))
		}
		out = append(out, n.String())
	}
	if _, err := d.Token(); err != nil {
		return nil, jsonErr(where, err)
	}
	return out, nil
}

// describe names a JSON value for an error message. Composite values are not read further: the
// caller is about to fail anyway.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case json.Number:
		return "number " + v.String()
	case string:
		return fmt.Sprintf("string %q", preview([]byte(v)))
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	}
	return fmt.Sprintf("%v", tok)
}

// jsonErr reports a JSON syntax error, saying where in the header it happened when that is known.
func jsonErr(where string, err error) error {
	if where != "" {
		where += ": "
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("safetensors: %sheader JSON ends early", where)
	}
	return fmt.Errorf("safetensors: %sheader is not valid JSON: %v", where, err)
}

// preview cuts long input down for error messages, which should name the problem without
// echoing megabytes of hostile data back.
func preview(b []byte) string {
	const n = 40
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
