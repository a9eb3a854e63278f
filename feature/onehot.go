package feature

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// OneHotEncoder maps columns of category indices (non-negative integers, such as
// StringIndexer's output) to one-hot vectors, as Spark 3's OneHotEncoder does. Fit learns the
// number of categories of each column: from the column's metadata when a StringIndexerModel
// wrote it (so a category missing from the data still gets its slot), else the largest index
// plus one. With dropLast (the default) the last category maps to the all-zero vector, which
// keeps the vectors linearly independent. handleInvalid is "error" or "keep" (an index outside
// the fitted range, or a null, gets an extra category, placed last). Vectors are dense.
type OneHotEncoder struct {
	uid           string
	params        *ml.Params
	cols          columnPairs
	dropLast      *ml.Param[bool]
	handleInvalid *ml.Param[string]
}

// NewOneHotEncoder returns a OneHotEncoder with dropLast true and handleInvalid "error".
func NewOneHotEncoder() *OneHotEncoder { return newOneHotEncoder(ml.NewUID("OneHotEncoder")) }

func newOneHotEncoder(uid string) *OneHotEncoder {
	e := &OneHotEncoder{uid: uid, params: ml.NewParams(uid)}
	e.cols = newColumnPairs(e.params, uid)
	e.dropLast, e.handleInvalid = oneHotParams(e.params)
	return e
}

func oneHotParams(ps *ml.Params) (*ml.Param[bool], *ml.Param[string]) {
	return ml.NewParam(ps, "dropLast", "whether to drop the last category", true, nil),
		ml.NewParam(ps, "handleInvalid", "how to handle invalid indices and nulls: error or keep (an extra category)",
			HandleError, ml.OneOf(HandleError, HandleKeep))
}

func (e *OneHotEncoder) UID() string        { return e.uid }
func (e *OneHotEncoder) ClassName() string  { return "OneHotEncoder" }
func (e *OneHotEncoder) Params() *ml.Params { return e.params }

// SetInputCol sets the one column to encode.
func (e *OneHotEncoder) SetInputCol(c string) *OneHotEncoder { e.cols.inputCol.Set(c); return e }

// SetOutputCol sets the vector column for inputCol.
func (e *OneHotEncoder) SetOutputCol(c string) *OneHotEncoder { e.cols.outputCol.Set(c); return e }

// SetInputCols sets several columns to encode.
func (e *OneHotEncoder) SetInputCols(c ...string) *OneHotEncoder { e.cols.inputCols.Set(c); return e }

// SetOutputCols sets one vector column per input column.
func (e *OneHotEncoder) SetOutputCols(c ...string) *OneHotEncoder {
	e.cols.outputCols.Set(c)
	return e
}

// SetDropLast sets whether the last category is dropped.
func (e *OneHotEncoder) SetDropLast(v bool) *OneHotEncoder { e.dropLast.Set(v); return e }

// SetHandleInvalid sets "error" or "keep".
func (e *OneHotEncoder) SetHandleInvalid(v string) *OneHotEncoder { e.handleInvalid.Set(v); return e }

// Fit learns the number of categories of every input column.
func (e *OneHotEncoder) Fit(ctx context.Context, df *frame.DataFrame) (ml.Model, error) {
	return e.FitModel(ctx, df)
}

// FitModel is Fit returning the concrete model.
func (e *OneHotEncoder) FitModel(ctx context.Context, df *frame.DataFrame) (*OneHotEncoderModel, error) {
	if err := e.params.Validate(); err != nil {
		return nil, err
	}
	ins, _, err := e.cols.resolve(e.uid)
	if err != nil {
		return nil, err
	}
	sizes := make([]int, len(ins))
	var scan []int // the input columns without metadata, whose sizes come from the data
	for k, c := range ins {
		f, err := field(df, c)
		if err != nil {
			return nil, err
		}
		if !frame.IsNumeric(f.Type) {
			return nil, fmt.Errorf("%s: input column %q is %s; want a numeric column of category indices", e.uid, c, f.Type)
		}
		if vals, ok := nominalValues(f); ok {
			if len(vals) > maxCategories {
				return nil, fmt.Errorf("%s: column %q has %d categories; dense one-hot vectors allow at most %d", e.uid, c, len(vals), maxCategories)
			}
			sizes[k] = len(vals)
		} else {
			scan = append(scan, k)
		}
	}
	if len(scan) > 0 {
		idx := make([]int, len(scan))
		for i, k := range scan {
			idx[i] = df.Schema().FieldIndices(ins[k])[0]
		}
		err := df.Iterate(ctx, func(rec arrow.RecordBatch) error {
			for i, k := range scan {
				col := rec.Column(idx[i])
				vals, err := frame.ToFloat64(nil, col)
				if err != nil {
					return err
				}
				for r, v := range vals {
					if col.IsNull(r) {
						continue
					}
					if v < 0 || v != math.Trunc(v) {
						return fmt.Errorf("%s: value %v in column %q is not a category index (want a non-negative integer)", e.uid, v, ins[k])
					}
					if v >= maxCategories {
						return fmt.Errorf("%s: category index %v in column %q: dense one-hot vectors allow at most %d categories", e.uid, v, ins[k], maxCategories)
					}
					sizes[k] = max(sizes[k], int(v)+1)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	m := newOneHotEncoderModel(e.uid, sizes)
	if err := ml.CopyParams(m.params, e.params); err != nil {
		return nil, err
	}
	return m, nil
}

// OneHotEncoderModel is a fitted OneHotEncoder.
type OneHotEncoderModel struct {
	uid           string
	params        *ml.Params
	cols          columnPairs
	dropLast      *ml.Param[bool]
	handleInvalid *ml.Param[string]
	sizes         []int
}

func newOneHotEncoderModel(uid string, sizes []int) *OneHotEncoderModel {
	m := &OneHotEncoderModel{uid: uid, params: ml.NewParams(uid), sizes: append([]int(nil), sizes...)}
	m.cols = newColumnPairs(m.params, uid)
	m.dropLast, m.handleInvalid = oneHotParams(m.params)
	return m
}

func (m *OneHotEncoderModel) UID() string        { return m.uid }
func (m *OneHotEncoderModel) ClassName() string  { return "OneHotEncoderModel" }
func (m *OneHotEncoderModel) Params() *ml.Params { return m.params }

// CategorySizes returns the number of categories of each input column.
func (m *OneHotEncoderModel) CategorySizes() []int { return append([]int(nil), m.sizes...) }

// SetDropLast changes whether the last category is dropped.
func (m *OneHotEncoderModel) SetDropLast(v bool) *OneHotEncoderModel { m.dropLast.Set(v); return m }

// SetHandleInvalid changes how invalid indices are handled.
func (m *OneHotEncoderModel) SetHandleInvalid(v string) *OneHotEncoderModel {
	m.handleInvalid.Set(v)
	return m
}

// Transform adds the vector columns.
func (m *OneHotEncoderModel) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	if err := m.params.Validate(); err != nil {
		return nil, err
	}
	ins, outs, err := m.cols.resolve(m.uid)
	if err != nil {
		return nil, err
	}
	if len(ins) != len(m.sizes) {
		return nil, fmt.Errorf("%s: %d input columns but the model knows %d", m.uid, len(ins), len(m.sizes))
	}
	keepInvalid, dropLast := m.handleInvalid.Get() == HandleKeep, m.dropLast.Get()
	widths := make([]int, len(ins))
	fields := make([]arrow.Field, len(ins))
	for k, c := range ins {
		f, err := field(df, c)
		if err != nil {
			return nil, err
		}
		if !frame.IsNumeric(f.Type) {
			return nil, fmt.Errorf("%s: input column %q is %s; want a numeric column of category indices", m.uid, c, f.Type)
		}
		if err := checkNewColumn(df, m.uid, outs[k]); err != nil {
			return nil, err
		}
		// Spark's sizes: keep adds a category for invalid values, dropLast removes the last.
		n := m.sizes[k]
		if keepInvalid {
			n++
		}
		if dropLast {
			n--
		}
		if n < 1 {
			// Spark makes empty sparse vectors here; Arrow has no zero-width vector type.
			return nil, fmt.Errorf("%s: column %q has %d categories, which leaves no slots with dropLast; set dropLast false or handleInvalid keep", m.uid, c, m.sizes[k])
		}
		widths[k] = n
		if fields[k], err = vectorField(m.uid, outs[k], n); err != nil {
			return nil, err
		}
	}
	uid, sizes := m.uid, append([]int(nil), m.sizes...)
	return addColumns(df, ins, fields, false, func(in []arrow.Array, n int) ([]arrow.Array, []bool, error) {
		out := make([]arrow.Array, 0, len(in))
		for k, col := range in {
			vals, err := frame.ToFloat64(nil, col)
			if err != nil {
				return nil, nil, err
			}
			w := widths[k]
			flat := make([]float64, n*w)
			for r, v := range vals {
				cat := int(v)
				if col.IsNull(r) || v < 0 || v != math.Trunc(v) || v >= float64(sizes[k]) {
					if !keepInvalid {
						for _, a := range out {
							a.Release()
						}
						if col.IsNull(r) {
							return nil, nil, fmt.Errorf("%s: null in column %q; set handleInvalid to keep", uid, ins[k])
						}
						return nil, nil, fmt.Errorf("%s: value %v in column %q is not a category seen in fitting (0 to %d); set handleInvalid to keep", uid, v, ins[k], sizes[k]-1)
					}
					cat = sizes[k]
				}
				if cat < w {
					flat[r*w+cat] = 1
				}
			}
			a, err := newVectors(w, n, flat, nil)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, a)
		}
		return out, nil, nil
	})
}

// maxCategories bounds the width of a dense one-hot vector: a million doubles per row is
// already 8 MB; anything wider needs sparse vectors, which deepframe does not have.
const maxCategories = 1 << 20

type oneHotData struct {
	CategorySizes []int `json:"categorySizes"`
}

// WriteData saves the category sizes.
func (m *OneHotEncoderModel) WriteData(dir string) error {
	return ml.WriteDataJSON(dir, "categorySizes.json", oneHotData{CategorySizes: m.sizes})
}

func init() {
	ml.Register("OneHotEncoder", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		return loadParams(newOneHotEncoder(uid), params)
	})
	ml.Register("OneHotEncoderModel", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		var d oneHotData
		if err := ml.ReadDataJSON(dir, "categorySizes.json", &d); err != nil {
			return nil, err
		}
		for i, s := range d.CategorySizes {
			if s < 0 || s > maxCategories {
				return nil, fmt.Errorf("data/categorySizes.json: size %d of column %d: want 0 to %d", s, i, maxCategories)
			}
		}
		m := newOneHotEncoderModel(uid, d.CategorySizes)
		if err := m.params.Load(params); err != nil {
			return nil, err
		}
		ins, _, err := m.cols.resolve(uid)
		if err != nil {
			return nil, err
		}
		if len(ins) != len(d.CategorySizes) {
			return nil, fmt.Errorf("data/categorySizes.json: %d sizes for %d input columns", len(d.CategorySizes), len(ins))
		}
		return m, nil
	})
}

// Save writes the fitted model as a bundle at path (see ml.Save).
func (m *OneHotEncoderModel) Save(path string) error { return ml.Save(m, path) }
