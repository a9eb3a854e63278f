package feature

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// IndexToString maps a column of label indices back to labels, the inverse of
// StringIndexerModel. The labels come from the labels param or, when it is not set, from the
// input column's metadata (which StringIndexerModel writes). Nulls stay null; an index with no
// label is an error.
type IndexToString struct {
	uid       string
	params    *ml.Params
	inputCol  *ml.Param[string]
	outputCol *ml.Param[string]
	labels    *ml.Param[[]string]
}

// NewIndexToString returns an IndexToString.
func NewIndexToString() *IndexToString { return newIndexToString(ml.NewUID("IndexToString")) }

func newIndexToString(uid string) *IndexToString {
	ps := ml.NewParams(uid)
	return &IndexToString{
		uid:       uid,
		params:    ps,
		inputCol:  ml.NewRequiredParam(ps, "inputCol", "input column of label indices", ml.NonEmpty),
		outputCol: ml.NewParam(ps, "outputCol", "output column of labels", uid+"__output", ml.NonEmpty),
		labels: ml.NewParam[[]string](ps, "labels",
			"labels in index order; unset means the labels in the input column's metadata", nil, nil),
	}
}

func (t *IndexToString) UID() string        { return t.uid }
func (t *IndexToString) ClassName() string  { return "IndexToString" }
func (t *IndexToString) Params() *ml.Params { return t.params }

// SetInputCol sets the column of indices.
func (t *IndexToString) SetInputCol(c string) *IndexToString { t.inputCol.Set(c); return t }

// SetOutputCol sets the column that receives the labels.
func (t *IndexToString) SetOutputCol(c string) *IndexToString { t.outputCol.Set(c); return t }

// SetLabels sets the labels, overriding the input column's metadata.
func (t *IndexToString) SetLabels(l ...string) *IndexToString { t.labels.Set(l); return t }

// Transform adds the label column.
func (t *IndexToString) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	if err := t.params.Validate(); err != nil {
		return nil, err
	}
	in, out := t.inputCol.Get(), t.outputCol.Get()
	f, err := field(df, in)
	if err != nil {
		return nil, err
	}
	if !frame.IsNumeric(f.Type) {
		return nil, fmt.Errorf("%s: input column %q is %s; want a numeric column of indices", t.uid, in, f.Type)
	}
	if err := checkNewColumn(df, t.uid, out); err != nil {
		return nil, err
	}
	labels := t.labels.Get()
	if labels == nil {
		var ok bool
		if labels, ok = nominalValues(f); !ok {
			return nil, fmt.Errorf("%s: input column %q carries no labels in its metadata (it did not come from a StringIndexerModel); set labels", t.uid, in)
		}
	}
	labels = append([]string(nil), labels...)
	uid := t.uid
	fields := []arrow.Field{{Name: out, Type: arrow.BinaryTypes.String, Nullable: true}}
	return addColumns(df, []string{in}, fields, false, func(cols []arrow.Array, n int) ([]arrow.Array, []bool, error) {
		vals, err := frame.ToFloat64(nil, cols[0])
		if err != nil {
			return nil, nil, err
		}
		b := array.NewStringBuilder(memory.DefaultAllocator)
		defer b.Release()
		b.Reserve(n)
		for r, v := range vals {
			if cols[0].IsNull(r) {
				b.AppendNull()
				continue
			}
			i := int(v)
			if v != math.Trunc(v) || v < 0 || v >= float64(len(labels)) {
				return nil, nil, fmt.Errorf("%s: index %v in column %q has no label (%d labels)", uid, v, in, len(labels))
			}
			b.Append(labels[i])
		}
		return []arrow.Array{b.NewArray()}, nil, nil
	})
}

func init() {
	ml.Register("IndexToString", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		return loadParams(newIndexToString(uid), params)
	})
}
