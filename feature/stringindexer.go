package feature

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// The stringOrderType values, as in Spark.
const (
	FrequencyDesc = "frequencyDesc" // most frequent label first (index 0); ties alphabetical
	FrequencyAsc  = "frequencyAsc"  // least frequent first; ties alphabetical
	AlphabetDesc  = "alphabetDesc"
	AlphabetAsc   = "alphabetAsc"
)

// UnknownLabel is the label IndexToString gives the extra index that handleInvalid "keep"
// assigns to unseen labels, as Spark's StringIndexer records it in the column metadata.
const UnknownLabel = "__unknown"

// StringIndexer maps a column of labels to label indices (Float64, as in Spark), ordered by
// stringOrderType: by default the most frequent label gets 0, with ties broken alphabetically
// as Spark 3 does. Input columns may be strings or numbers (numbers are indexed by their
// decimal spelling). Nulls are not counted when fitting.
type StringIndexer struct {
	uid             string
	params          *ml.Params
	cols            columnPairs
	handleInvalid   *ml.Param[string]
	stringOrderType *ml.Param[string]
}

// NewStringIndexer returns a StringIndexer with Spark's defaults (handleInvalid "error",
// stringOrderType "frequencyDesc").
func NewStringIndexer() *StringIndexer { return newStringIndexer(ml.NewUID("StringIndexer")) }

func newStringIndexer(uid string) *StringIndexer {
	s := &StringIndexer{uid: uid, params: ml.NewParams(uid)}
	s.cols = newColumnPairs(s.params, uid)
	s.handleInvalid, s.stringOrderType = stringIndexerParams(s.params)
	return s
}

func stringIndexerParams(ps *ml.Params) (handleInvalid, order *ml.Param[string]) {
	handleInvalid = ml.NewParam(ps, "handleInvalid",
		"how to handle unseen labels and nulls: error, skip (drop the row) or keep (index numLabels)",
		HandleError, ml.OneOf(HandleError, HandleSkip, HandleKeep))
	order = ml.NewParam(ps, "stringOrderType",
		"label order: frequencyDesc, frequencyAsc, alphabetDesc or alphabetAsc",
		FrequencyDesc, ml.OneOf(FrequencyDesc, FrequencyAsc, AlphabetDesc, AlphabetAsc))
	return
}

func (s *StringIndexer) UID() string        { return s.uid }
func (s *StringIndexer) ClassName() string  { return "StringIndexer" }
func (s *StringIndexer) Params() *ml.Params { return s.params }

// SetInputCol sets the one column to index.
func (s *StringIndexer) SetInputCol(c string) *StringIndexer { s.cols.inputCol.Set(c); return s }

// SetOutputCol sets the column that receives the indices of inputCol.
func (s *StringIndexer) SetOutputCol(c string) *StringIndexer { s.cols.outputCol.Set(c); return s }

// SetInputCols sets several columns to index, each with its own labels.
func (s *StringIndexer) SetInputCols(c ...string) *StringIndexer { s.cols.inputCols.Set(c); return s }

// SetOutputCols sets one output column per input column.
func (s *StringIndexer) SetOutputCols(c ...string) *StringIndexer {
	s.cols.outputCols.Set(c)
	return s
}

// SetHandleInvalid sets what happens to unseen labels and nulls: "error", "skip" or "keep".
func (s *StringIndexer) SetHandleInvalid(v string) *StringIndexer { s.handleInvalid.Set(v); return s }

// SetStringOrderType sets the label order (FrequencyDesc, FrequencyAsc, AlphabetDesc,
// AlphabetAsc).
func (s *StringIndexer) SetStringOrderType(v string) *StringIndexer {
	s.stringOrderType.Set(v)
	return s
}

// Fit counts the labels of each input column.
func (s *StringIndexer) Fit(ctx context.Context, df *frame.DataFrame) (ml.Model, error) {
	return s.FitModel(ctx, df)
}

// FitModel is Fit returning the concrete model.
func (s *StringIndexer) FitModel(ctx context.Context, df *frame.DataFrame) (*StringIndexerModel, error) {
	if err := s.params.Validate(); err != nil {
		return nil, err
	}
	ins, _, err := s.cols.resolve(s.uid)
	if err != nil {
		return nil, err
	}
	idx := make([]int, len(ins))
	for i, c := range ins {
		f, err := field(df, c)
		if err != nil {
			return nil, err
		}
		if err := checkLabelType(s.uid, c, f.Type); err != nil {
			return nil, err
		}
		idx[i] = df.Schema().FieldIndices(c)[0]
	}
	counts := make([]map[string]int64, len(ins))
	for i := range counts {
		counts[i] = map[string]int64{}
	}
	err = df.Iterate(ctx, func(rec arrow.RecordBatch) error {
		for k, j := range idx {
			get, err := labelReader(rec.Column(j))
			if err != nil {
				return err
			}
			m := counts[k]
			for r := 0; r < int(rec.NumRows()); r++ {
				v, ok := get(r)
				if !ok {
					continue
				}
				if _, seen := m[v]; seen {
					m[v]++
				} else {
					// Arrow strings alias the batch's buffers; a map key must own its bytes.
					m[strings.Clone(v)] = 1
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.uid, err)
	}
	labels := make([][]string, len(ins))
	for k, m := range counts {
		labels[k] = sortLabels(m, s.stringOrderType.Get())
	}
	m := newStringIndexerModel(s.uid, labels)
	if err := ml.CopyParams(m.params, s.params); err != nil {
		return nil, err
	}
	return m, nil
}

func sortLabels(counts map[string]int64, order string) []string {
	labels := make([]string, 0, len(counts))
	for l := range counts {
		labels = append(labels, l)
	}
	sort.Slice(labels, func(i, j int) bool {
		a, b := labels[i], labels[j]
		switch order {
		case FrequencyAsc:
			if counts[a] != counts[b] {
				return counts[a] < counts[b]
			}
			return a < b
		case AlphabetDesc:
			return a > b
		case AlphabetAsc:
			return a < b
		}
		if counts[a] != counts[b] {
			return counts[a] > counts[b]
		}
		return a < b
	})
	return labels
}

func checkLabelType(uid, col string, t arrow.DataType) error {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING:
		return nil
	}
	if frame.IsNumeric(t) {
		return nil
	}
	return fmt.Errorf("%s: input column %q is %s; want a string or numeric column", uid, col, t)
}

// labelReader returns a function reading row r of arr as a label; ok is false for nulls.
func labelReader(arr arrow.Array) (func(r int) (string, bool), error) {
	switch a := arr.(type) {
	case *array.String:
		return func(r int) (string, bool) { return a.Value(r), a.IsValid(r) }, nil
	case *array.LargeString:
		return func(r int) (string, bool) { return a.Value(r), a.IsValid(r) }, nil
	case *array.Boolean:
		return func(r int) (string, bool) {
			if a.IsNull(r) {
				return "", false
			}
			if a.Value(r) {
				return "true", true
			}
			return "false", true
		}, nil
	}
	vals, err := frame.ToFloat64(nil, arr)
	if err != nil {
		return nil, err
	}
	integer := arr.DataType().ID() != arrow.FLOAT32 && arr.DataType().ID() != arrow.FLOAT64
	return func(r int) (string, bool) {
		if arr.IsNull(r) {
			return "", false
		}
		return formatNumber(vals[r], integer), true
	}, nil
}

// StringIndexerModel is a fitted StringIndexer. Transform adds Float64 index columns whose
// field metadata records the labels (Spark's "ml_attr" nominal attribute), which
// IndexToString and OneHotEncoder read.
type StringIndexerModel struct {
	uid             string
	params          *ml.Params
	cols            columnPairs
	handleInvalid   *ml.Param[string]
	stringOrderType *ml.Param[string]
	labels          [][]string
}

// NewStringIndexerModel builds a model from known labels, one list per input column.
func NewStringIndexerModel(labels ...[]string) *StringIndexerModel {
	return newStringIndexerModel(ml.NewUID("StringIndexer"), labels)
}

func newStringIndexerModel(uid string, labels [][]string) *StringIndexerModel {
	m := &StringIndexerModel{uid: uid, params: ml.NewParams(uid)}
	m.cols = newColumnPairs(m.params, uid)
	m.handleInvalid, m.stringOrderType = stringIndexerParams(m.params)
	m.labels = make([][]string, len(labels))
	for i, l := range labels {
		m.labels[i] = append([]string(nil), l...)
	}
	return m
}

func (m *StringIndexerModel) UID() string        { return m.uid }
func (m *StringIndexerModel) ClassName() string  { return "StringIndexerModel" }
func (m *StringIndexerModel) Params() *ml.Params { return m.params }

// Labels returns the labels of the first input column in index order.
func (m *StringIndexerModel) Labels() []string {
	if len(m.labels) == 0 {
		return nil
	}
	return append([]string(nil), m.labels[0]...)
}

// LabelsArray returns the labels of every input column.
func (m *StringIndexerModel) LabelsArray() [][]string {
	out := make([][]string, len(m.labels))
	for i, l := range m.labels {
		out[i] = append([]string(nil), l...)
	}
	return out
}

// SetInputCol, SetOutputCol, SetInputCols, SetOutputCols and SetHandleInvalid change how the
// fitted model is applied, as in Spark.
func (m *StringIndexerModel) SetInputCol(c string) *StringIndexerModel {
	m.cols.inputCol.Set(c)
	return m
}
func (m *StringIndexerModel) SetOutputCol(c string) *StringIndexerModel {
	m.cols.outputCol.Set(c)
	return m
}
func (m *StringIndexerModel) SetInputCols(c ...string) *StringIndexerModel {
	m.cols.inputCols.Set(c)
	return m
}
func (m *StringIndexerModel) SetOutputCols(c ...string) *StringIndexerModel {
	m.cols.outputCols.Set(c)
	return m
}
func (m *StringIndexerModel) SetHandleInvalid(v string) *StringIndexerModel {
	m.handleInvalid.Set(v)
	return m
}

// Transform adds the index columns.
func (m *StringIndexerModel) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	if err := m.params.Validate(); err != nil {
		return nil, err
	}
	ins, outs, err := m.cols.resolve(m.uid)
	if err != nil {
		return nil, err
	}
	if len(ins) != len(m.labels) {
		return nil, fmt.Errorf("%s: %d input columns but the model has labels for %d", m.uid, len(ins), len(m.labels))
	}
	mode := m.handleInvalid.Get()
	fields := make([]arrow.Field, len(ins))
	index := make([]map[string]float64, len(ins))
	for k, c := range ins {
		f, err := field(df, c)
		if err != nil {
			return nil, err
		}
		if err := checkLabelType(m.uid, c, f.Type); err != nil {
			return nil, err
		}
		if err := checkNewColumn(df, m.uid, outs[k]); err != nil {
			return nil, err
		}
		vals := m.labels[k]
		if mode == HandleKeep {
			vals = append(append([]string(nil), vals...), UnknownLabel)
		}
		fields[k] = arrow.Field{Name: outs[k], Type: arrow.PrimitiveTypes.Float64, Nullable: true,
			Metadata: nominalMetadata(outs[k], vals)}
		index[k] = make(map[string]float64, len(m.labels[k]))
		for i, l := range m.labels[k] {
			index[k][l] = float64(i)
		}
	}
	uid := m.uid
	return addColumns(df, ins, fields, mode == HandleSkip, func(in []arrow.Array, n int) ([]arrow.Array, []bool, error) {
		var keep []bool
		out := make([]arrow.Array, 0, len(in))
		release := func() {
			for _, a := range out {
				a.Release()
			}
		}
		for k, col := range in {
			get, err := labelReader(col)
			if err != nil {
				release()
				return nil, nil, err
			}
			vals := make([]float64, n)
			for r := 0; r < n; r++ {
				v, ok := get(r)
				idx, known := index[k][v]
				if ok && known {
					vals[r] = idx
					continue
				}
				switch mode {
				case HandleKeep:
					vals[r] = float64(len(m.labels[k]))
				case HandleSkip:
					if keep == nil {
						keep = make([]bool, n)
						for i := range keep {
							keep[i] = true
						}
					}
					keep[r] = false
				default:
					release()
					if !ok {
						return nil, nil, fmt.Errorf("%s: null in column %q; set handleInvalid to skip or keep to handle nulls", uid, ins[k])
					}
					return nil, nil, fmt.Errorf("%s: unseen label %q in column %q; set handleInvalid to keep (index %d) or skip", uid, v, ins[k], len(m.labels[k]))
				}
			}
			out = append(out, float64Array(vals, nil))
		}
		return out, keep, nil
	})
}

type stringIndexerData struct {
	LabelsArray [][]string `json:"labelsArray"`
}

// WriteData saves the labels.
func (m *StringIndexerModel) WriteData(dir string) error {
	return ml.WriteDataJSON(dir, "labels.json", stringIndexerData{LabelsArray: m.labels})
}

func loadStringIndexerModel(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
	var d stringIndexerData
	if err := ml.ReadDataJSON(dir, "labels.json", &d); err != nil {
		return nil, err
	}
	for k, labels := range d.LabelsArray {
		seen := make(map[string]bool, len(labels))
		for _, l := range labels {
			if seen[l] {
				return nil, fmt.Errorf("data/labels.json: label %q appears twice in list %d", l, k)
			}
			seen[l] = true
		}
	}
	m := newStringIndexerModel(uid, d.LabelsArray)
	if err := m.params.Load(params); err != nil {
		return nil, err
	}
	ins, _, err := m.cols.resolve(uid)
	if err != nil {
		return nil, err
	}
	if len(ins) != len(d.LabelsArray) {
		return nil, fmt.Errorf("data/labels.json: %d label lists for %d input columns", len(d.LabelsArray), len(ins))
	}
	return m, nil
}

func init() {
	ml.Register("StringIndexer", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		return loadParams(newStringIndexer(uid), params)
	})
	ml.Register("StringIndexerModel", loadStringIndexerModel)
}

// Save writes the fitted model as a bundle at path (see ml.Save).
func (m *StringIndexerModel) Save(path string) error { return ml.Save(m, path) }
