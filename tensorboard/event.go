package tensorboard

import (
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Event is one decoded tensorflow.Event. Fields the package does not model
// (graphs, session logs, run metadata) are skipped when reading.
type Event struct {
	WallTime    float64 // seconds since the Unix epoch
	Step        int64
	FileVersion string // set only on a file's first event, e.g. "brain.Event:2"
	Values      []Value
}

// Value is one tensorflow.Summary.Value. At most one of Simple and Histogram
// is set; a value of a kind this package does not decode (image, audio,
// tensor) has neither, so its tag is still visible.
type Value struct {
	Tag       string
	Simple    *float64 // a scalar; the file stores it as a float32
	Histogram *Histogram
}

// Histogram is a tensorflow.HistogramProto. Bucket i counts the values in
// [BucketLimit[i-1], BucketLimit[i]); bucket 0 starts at -math.MaxFloat64.
type Histogram struct {
	Min, Max, Num, Sum, SumSquares float64
	BucketLimit                    []float64
	Bucket                         []float64
}

// Field numbers from tensorflow/core/framework/summary.proto and
// tensorflow/core/util/event.proto.
const (
	eventWallTime    = 1
	eventStep        = 2
	eventFileVersion = 3
	eventSummary     = 5

	summaryValue = 1

	valueTag         = 1
	valueSimple      = 2
	valueOldHisto    = 3
	valueImage       = 4
	valueHisto       = 5
	valueAudio       = 6
	valueTensor      = 8
	histoMin         = 1
	histoMax         = 2
	histoNum         = 3
	histoSum         = 4
	histoSumSquares  = 5
	histoBucketLimit = 6
	histoBucket      = 7
)

// marshalEvent encodes e in field-number order and leaves out proto3
// defaults, the canonical form other protobuf libraries produce, so files
// are byte-comparable with TensorFlow's for the same event.
func marshalEvent(e *Event) []byte {
	var b []byte
	b = appendDouble(b, eventWallTime, e.WallTime)
	if e.Step != 0 {
		b = protowire.AppendTag(b, eventStep, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(e.Step))
	}
	if e.FileVersion != "" {
		b = protowire.AppendTag(b, eventFileVersion, protowire.BytesType)
		b = protowire.AppendString(b, e.FileVersion)
	}
	if len(e.Values) > 0 {
		var s []byte
		for i := range e.Values {
			s = protowire.AppendTag(s, summaryValue, protowire.BytesType)
			s = protowire.AppendBytes(s, marshalValue(&e.Values[i]))
		}
		b = protowire.AppendTag(b, eventSummary, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	return b
}

func marshalValue(v *Value) []byte {
	var b []byte
	if v.Tag != "" {
		b = protowire.AppendTag(b, valueTag, protowire.BytesType)
		b = protowire.AppendString(b, v.Tag)
	}
	// simple_value and histo belong to a oneof, so they are written even
	// when zero: presence is what says which kind of value this is.
	if v.Simple != nil {
		b = protowire.AppendTag(b, valueSimple, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(float32(*v.Simple)))
	}
	if v.Histogram != nil {
		b = protowire.AppendTag(b, valueHisto, protowire.BytesType)
		b = protowire.AppendBytes(b, marshalHistogram(v.Histogram))
	}
	return b
}

func marshalHistogram(h *Histogram) []byte {
	var b []byte
	b = appendDouble(b, histoMin, h.Min)
	b = appendDouble(b, histoMax, h.Max)
	b = appendDouble(b, histoNum, h.Num)
	b = appendDouble(b, histoSum, h.Sum)
	b = appendDouble(b, histoSumSquares, h.SumSquares)
	b = appendPackedDoubles(b, histoBucketLimit, h.BucketLimit)
	b = appendPackedDoubles(b, histoBucket, h.Bucket)
	return b
}

// appendDouble writes a singular proto3 double, omitted when it is +0 (a
// -0 is kept, as in the reference implementations, since its bits differ).
func appendDouble(b []byte, num protowire.Number, v float64) []byte {
	bits := math.Float64bits(v)
	if bits == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, bits)
}

func appendPackedDoubles(b []byte, num protowire.Number, vs []float64) []byte {
	if len(vs) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(8*len(vs)))
	for _, v := range vs {
		b = protowire.AppendFixed64(b, math.Float64bits(v))
	}
	return b
}

// unmarshalEvent decodes one Event. It follows protobuf's rules for
// foreign input: unknown fields, and known fields with an unexpected wire
// type, are skipped; repeated singular fields keep the last value.
func unmarshalEvent(b []byte) (Event, error) {
	var e Event
	err := forEachField(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch {
		case num == eventWallTime && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			e.WallTime = math.Float64frombits(v)
			return n, nil
		case num == eventStep && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			e.Step = int64(v)
			return n, nil
		case num == eventFileVersion && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(b)
			e.FileVersion = v
			return n, nil
		case num == eventSummary && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return n, nil
			}
			// Repeated occurrences of a message field merge, and for a
			// repeated field inside it merging means appending.
			vals, err := unmarshalSummary(v)
			if err != nil {
				return 0, fmt.Errorf("summary: %w", err)
			}
			e.Values = append(e.Values, vals...)
			return n, nil
		}
		return protowire.ConsumeFieldValue(num, typ, b), nil
	})
	return e, err
}

func unmarshalSummary(b []byte) ([]Value, error) {
	var vals []Value
	err := forEachField(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		if num == summaryValue && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return n, nil
			}
			val, err := unmarshalValue(v)
			if err != nil {
				return 0, fmt.Errorf("value %d: %w", len(vals), err)
			}
			vals = append(vals, val)
			return n, nil
		}
		return protowire.ConsumeFieldValue(num, typ, b), nil
	})
	return vals, err
}

func unmarshalValue(b []byte) (Value, error) {
	var val Value
	err := forEachField(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch {
		case num == valueTag && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(b)
			val.Tag = v
			return n, nil
		case num == valueSimple && typ == protowire.Fixed32Type:
			v, n := protowire.ConsumeFixed32(b)
			f := float64(math.Float32frombits(v))
			val.Simple, val.Histogram = &f, nil
			return n, nil
		case num == valueHisto && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return n, nil
			}
			// A second histo for the same oneof merges into the first.
			h := val.Histogram
			if h == nil {
				h = new(Histogram)
			}
			if err := unmarshalHistogram(v, h); err != nil {
				return 0, fmt.Errorf("histo: %w", err)
			}
			val.Simple, val.Histogram = nil, h
			return n, nil
		case typ == protowire.BytesType &&
			(num == valueOldHisto || num == valueImage || num == valueAudio || num == valueTensor):
			// Another member of the value oneof: it replaces ours.
			val.Simple, val.Histogram = nil, nil
		}
		return protowire.ConsumeFieldValue(num, typ, b), nil
	})
	return val, err
}

func unmarshalHistogram(b []byte, h *Histogram) error {
	return forEachField(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		var dst *float64
		switch num {
		case histoMin:
			dst = &h.Min
		case histoMax:
			dst = &h.Max
		case histoNum:
			dst = &h.Num
		case histoSum:
			dst = &h.Sum
		case histoSumSquares:
			dst = &h.SumSquares
		case histoBucketLimit:
			return consumeDoubles(b, num, typ, &h.BucketLimit)
		case histoBucket:
			return consumeDoubles(b, num, typ, &h.Bucket)
		}
		if dst != nil && typ == protowire.Fixed64Type {
			v, n := protowire.ConsumeFixed64(b)
			*dst = math.Float64frombits(v)
			return n, nil
		}
		return protowire.ConsumeFieldValue(num, typ, b), nil
	})
}

// consumeDoubles accepts a repeated double both packed (what proto3
// writers emit) and unpacked (which parsers must still accept).
func consumeDoubles(b []byte, num protowire.Number, typ protowire.Type, dst *[]float64) (int, error) {
	switch typ {
	case protowire.Fixed64Type:
		v, n := protowire.ConsumeFixed64(b)
		if n >= 0 {
			*dst = append(*dst, math.Float64frombits(v))
		}
		return n, nil
	case protowire.BytesType:
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return n, nil
		}
		if len(v)%8 != 0 {
			return 0, fmt.Errorf("field %d: packed doubles of %d bytes, not a multiple of 8", num, len(v))
		}
		// Growing by the known count is bounded by the record's size,
		// which the reader has already checked against the file.
		*dst = slices.Grow(*dst, len(v)/8)
		for ; len(v) > 0; v = v[8:] {
			bits, _ := protowire.ConsumeFixed64(v)
			*dst = append(*dst, math.Float64frombits(bits))
		}
		return n, nil
	}
	return protowire.ConsumeFieldValue(num, typ, b), nil
}

// forEachField walks the fields of one message. fn receives the bytes after
// the tag and returns how many it consumed, negative for a protowire error
// code.
func forEachField(b []byte, fn func(protowire.Number, protowire.Type, []byte) (int, error)) error {
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return fmt.Errorf("byte %d: field tag: %w", off, protowire.ParseError(n))
		}
		m, err := fn(num, typ, b[off+n:])
		if err != nil {
			return err // fn names the field
		}
		if m < 0 {
			return fmt.Errorf("byte %d: field %d (wire type %d): %w", off, num, typ, protowire.ParseError(m))
		}
		off += n + m
	}
	return nil
}
