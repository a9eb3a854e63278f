package ml

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// JSON has no NaN or infinities, yet stage state needs them: Bucketizer splits start at -Inf,
// a Normalizer may use p = +Inf, and statistics of a column holding NaN are NaN. Like Spark's
// param JSON, these values are written as the strings "NaN", "Infinity" and "-Infinity"; every
// finite value stays a JSON number with the shortest decimal that round-trips.

// Float64s is a []float64 whose JSON form keeps NaN and infinities (as the strings "NaN",
// "Infinity" and "-Infinity"). Use it in the JSON a DataWriter writes.
type Float64s []float64

// MarshalJSON writes the slice as a JSON array.
func (f Float64s) MarshalJSON() ([]byte, error) {
	if f == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 2+len(f)*8)
	b = append(b, '[')
	for i, v := range f {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloat(b, v)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads a JSON array of numbers and the special strings.
func (f *Float64s) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*f = nil
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make([]float64, len(raw))
	for i, r := range raw {
		v, err := parseFloat(r)
		if err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
		out[i] = v
	}
	*f = out
	return nil
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(v, -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func parseFloat(raw json.RawMessage) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
		switch s {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return 0, fmt.Errorf("string %q is not a number (want a number, \"NaN\", \"Infinity\" or \"-Infinity\")", s)
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, err
	}
	return v, nil
}

// marshalValue is json.Marshal with the non-finite floats of float64, []float64 and
// [][]float64 values spelled as strings.
func marshalValue(v any) ([]byte, error) {
	switch x := v.(type) {
	case float64:
		return appendFloat(nil, x), nil
	case []float64:
		return Float64s(x).MarshalJSON()
	case [][]float64:
		if x == nil {
			return []byte("null"), nil
		}
		rows := make([]Float64s, len(x))
		for i, r := range x {
			rows[i] = r
		}
		return json.Marshal(rows)
	}
	return json.Marshal(v)
}

// unmarshalSpecial decodes raw into dst when dst is one of the float types marshalValue
// special-cases; handled is false for every other type.
func unmarshalSpecial(raw []byte, dst any) (handled bool, err error) {
	switch d := dst.(type) {
	case *float64:
		v, err := parseFloat(raw)
		if err == nil {
			*d = v
		}
		return true, err
	case *[]float64:
		var f Float64s
		err := f.UnmarshalJSON(raw)
		if err == nil {
			*d = f
		}
		return true, err
	case *[][]float64:
		if string(bytes.TrimSpace(raw)) == "null" {
			*d = nil
			return true, nil
		}
		var rows []Float64s
		if err := json.Unmarshal(raw, &rows); err != nil {
			return true, err
		}
		out := make([][]float64, len(rows))
		for i, r := range rows {
			out[i] = r
		}
		*d = out
		return true, nil
	}
	return false, nil
}
