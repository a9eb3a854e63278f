package tensorboard

import (
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func f64(v float64) *float64 { return &v }

// goldenEvents pairs events with the TFRecords that TensorBoard's Python
// protobuf classes and RecordWriter produce for them (tensorboard 2.21.0,
// protobuf 7.36.2), so the encoder is checked against an implementation it
// shares no code with.
var goldenEvents = []struct {
	name   string
	event  Event
	record string
}{
	{
		"version",
		Event{WallTime: 1700000000.25, FileVersion: "brain.Event:2"},
		"1800000000000000a37f4b220900001040fc54d9411a0d627261696e2e4576656e743a32338d2fe9",
	},
	{
		"scalar",
		Event{WallTime: 1700000001.5, Step: 7, Values: []Value{{Tag: "loss", Simple: f64(0.125)}}},
		"1a00000000000000129bd82d0900006040fc54d94110072a0d0a0b0a046c6f7373150000003e383dea8b",
	},
	{
		// A zero scalar must still carry simple_value, or readers see a
		// value of no kind.
		"zero scalar at step 0",
		Event{WallTime: 1700000001.5, Values: []Value{{Tag: "zero", Simple: f64(0)}}},
		"1800000000000000a37f4b220900006040fc54d9412a0d0a0b0a047a65726f15000000006b6643d4",
	},
	{
		"negative step",
		Event{WallTime: 1, Step: -5, Values: []Value{{Tag: "a/b", Simple: f64(-3.5)}}},
		"220000000000000078113dfd09000000000000f03f10fbffffffffffffffff012a0c0a0a0a03612f6215000060c0a1358955",
	},
	{
		"histogram",
		Event{WallTime: 1700000002, Step: 3, Values: []Value{{Tag: "w", Histogram: &Histogram{
			Min: -1, Max: 2, Num: 3, Sum: 1.5, SumSquares: 5.25,
			BucketLimit: []float64{-0.9, 0.55, 2.2},
			Bucket:      []float64{1, 1, 1},
		}}}},
		"7500000000000000d7d941780900008040fc54d94110032a680a660a01772a6109000000000000f0bf11000000000000004019000000000000084021000000000000f83f2900000000000015403218cdccccccccccecbf9a9999999999e13f9a999999999901403a18000000000000f03f000000000000f03f000000000000f03f3284224e",
	},
}

func TestMarshalEventGolden(t *testing.T) {
	for _, tt := range goldenEvents {
		t.Run(tt.name, func(t *testing.T) {
			got := hex.EncodeToString(appendRecord(nil, marshalEvent(&tt.event)))
			if got != tt.record {
				t.Errorf("record = %s\nwant     %s", got, tt.record)
			}
		})
	}
}

func TestUnmarshalEventGolden(t *testing.T) {
	for _, tt := range goldenEvents {
		t.Run(tt.name, func(t *testing.T) {
			rec := mustHex(t, tt.record)
			got, err := unmarshalEvent(rec[recordHeaderLen : len(rec)-recordFooterLen])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.event) {
				t.Errorf("decoded %+v\nwant    %+v", got, tt.event)
			}
		})
	}
}

// Encodings that other writers may legitimately produce and that the
// decoder must accept.
func TestUnmarshalEventCompatible(t *testing.T) {
	tag := func(b []byte, num protowire.Number, typ protowire.Type) []byte {
		return protowire.AppendTag(b, num, typ)
	}
	msg := func(b []byte, num protowire.Number, m []byte) []byte {
		return protowire.AppendBytes(tag(b, num, protowire.BytesType), m)
	}
	double := func(b []byte, num protowire.Number, v float64) []byte {
		return protowire.AppendFixed64(tag(b, num, protowire.Fixed64Type), math.Float64bits(v))
	}
	simple := func(b []byte, v float32) []byte {
		return protowire.AppendFixed32(tag(b, valueSimple, protowire.Fixed32Type), math.Float32bits(v))
	}
	event := func(values ...[]byte) []byte {
		var s []byte
		for _, v := range values {
			s = msg(s, summaryValue, v)
		}
		return msg(nil, eventSummary, s)
	}

	// An unknown group (deprecated, but legal) followed by a known field.
	groupThenStep := tag(nil, 40, protowire.StartGroupType)
	groupThenStep = protowire.AppendVarint(tag(groupThenStep, 1, protowire.VarintType), 3)
	groupThenStep = tag(groupThenStep, 40, protowire.EndGroupType)
	groupThenStep = protowire.AppendVarint(tag(groupThenStep, eventStep, protowire.VarintType), 4)

	tests := []struct {
		name string
		data []byte
		want Event
	}{
		{"empty message", nil, Event{}},
		{
			"unknown fields skipped",
			msg(protowire.AppendVarint(tag(nil, 99, protowire.VarintType), 7), 6, []byte("log message")),
			Event{},
		},
		{
			"known field with another wire type is skipped",
			protowire.AppendFixed32(tag(nil, eventStep, protowire.Fixed32Type), 9),
			Event{},
		},
		{
			"last singular value wins",
			protowire.AppendVarint(tag(protowire.AppendVarint(tag(nil, eventStep, protowire.VarintType), 1), eventStep, protowire.VarintType), 2),
			Event{Step: 2},
		},
		{
			"unpacked bucket doubles",
			event(msg(msg(nil, valueTag, []byte("h")), valueHisto,
				double(double(double(nil, histoBucketLimit, 1), histoBucketLimit, 2), histoBucket, 5))),
			Event{Values: []Value{{Tag: "h", Histogram: &Histogram{BucketLimit: []float64{1, 2}, Bucket: []float64{5}}}}},
		},
		{
			"two summaries merge",
			append(event(simple(msg(nil, valueTag, []byte("a")), 1)), event(simple(msg(nil, valueTag, []byte("b")), 2))...),
			Event{Values: []Value{{Tag: "a", Simple: f64(1)}, {Tag: "b", Simple: f64(2)}}},
		},
		{
			"later oneof member replaces simple_value",
			event(msg(simple(msg(nil, valueTag, []byte("img")), 1), valueImage, []byte{})),
			Event{Values: []Value{{Tag: "img"}}},
		},
		{
			"histo replaces simple_value",
			event(msg(simple(nil, 1), valueHisto, double(nil, histoMax, 4))),
			Event{Values: []Value{{Histogram: &Histogram{Max: 4}}}},
		},
		{"group skipped", groupThenStep, Event{Step: 4}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := unmarshalEvent(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decoded %+v\nwant    %+v", got, tt.want)
			}
		})
	}
}

func TestUnmarshalEventMalformed(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string // substring of the error
	}{
		{"field number 0", []byte{0x00}, "field tag"},
		{"truncated varint", []byte{0x10, 0x80}, "field 2"},
		{"truncated double", []byte{0x09, 1, 2, 3}, "field 1"},
		{"length past end", []byte{0x1a, 0x05, 'a'}, "field 3"},
		{"reserved wire type", []byte{0x0f}, "field 1"},
		{"unmatched end group", []byte{0x0c}, "end group"},
		{"bad nested value", []byte{0x2a, 0x02, 0x0a, 0x05}, "summary: byte 0: field 1"},
		{"packed doubles not multiple of 8", []byte{0x2a, 0x09, 0x0a, 0x07, 0x2a, 0x05, 0x32, 0x03, 1, 2, 3}, "multiple of 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := unmarshalEvent(tt.data)
			if err == nil {
				t.Fatalf("no error for %x", tt.data)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if errors.Is(err, ErrMalformed) {
				t.Errorf("unmarshalEvent should leave ErrMalformed to the reader")
			}
		})
	}
}
