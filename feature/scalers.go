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

// vectorStage holds the inputCol/outputCol pair of the stages that map one vector column to
// another.
type vectorStage struct {
	inputCol, outputCol *ml.Param[string]
}

func newVectorStage(ps *ml.Params, uid string) vectorStage {
	return vectorStage{
		inputCol:  ml.NewRequiredParam(ps, "inputCol", "input vector column", ml.NonEmpty),
		outputCol: ml.NewParam(ps, "outputCol", "output vector column", uid+"__output", ml.NonEmpty),
	}
}

// transform adds outputCol computed from inputCol by fn, row by row; in is the input width,
// which must equal want when want >= 0.
func (v vectorStage) transform(df *frame.DataFrame, uid string, want int, fn func(dst, src []float64)) (*frame.DataFrame, error) {
	in, out := v.inputCol.Get(), v.outputCol.Get()
	n, err := vectorColumn(df, uid, in)
	if err != nil {
		return nil, err
	}
	if want >= 0 && n != want {
		return nil, fmt.Errorf("%s: input column %q holds vectors of %d values; the model was fitted on %d", uid, in, n, want)
	}
	if err := checkNewColumn(df, uid, out); err != nil {
		return nil, err
	}
	vf, err := vectorField(uid, out, n)
	if err != nil {
		return nil, err
	}
	fields := []arrow.Field{vf}
	return addColumns(df, []string{in}, fields, false, func(cols []arrow.Array, rows int) ([]arrow.Array, []bool, error) {
		a, err := mapVectors(cols[0], n, n, fn)
		if err != nil {
			return nil, nil, err
		}
		return []arrow.Array{a}, nil, nil
	})
}

// scanVectors runs fn over every non-null row of a vector column.
func scanVectors(ctx context.Context, df *frame.DataFrame, col string, width int, fn func(row []float64)) error {
	j := df.Schema().FieldIndices(col)[0]
	return df.Iterate(ctx, func(rec arrow.RecordBatch) error {
		arr := rec.Column(j)
		vals, _, err := frame.VectorValues(arr)
		if err != nil {
			return err
		}
		for r := 0; r < arr.Len(); r++ {
			if arr.IsValid(r) {
				fn(vals[r*width : (r+1)*width])
			}
		}
		return nil
	})
}

// StandardScaler standardises each feature of a vector column with the column's mean and its
// sample standard deviation (divisor n-1), as Spark does. withStd (default true) scales to
// unit deviation, withMean (default false) centres first; a feature whose deviation is zero
// becomes 0 when scaled. Null rows are skipped when fitting and stay null.
type StandardScaler struct {
	uid      string
	params   *ml.Params
	cols     vectorStage
	withMean *ml.Param[bool]
	withStd  *ml.Param[bool]
}

// NewStandardScaler returns a StandardScaler with withMean false and withStd true.
func NewStandardScaler() *StandardScaler { return newStandardScaler(ml.NewUID("StandardScaler")) }

func newStandardScaler(uid string) *StandardScaler {
	s := &StandardScaler{uid: uid, params: ml.NewParams(uid)}
	s.cols = newVectorStage(s.params, uid)
	s.withMean, s.withStd = standardScalerParams(s.params)
	return s
}

func standardScalerParams(ps *ml.Params) (withMean, withStd *ml.Param[bool]) {
	return ml.NewParam(ps, "withMean", "whether to centre each feature on its mean", false, nil),
		ml.NewParam(ps, "withStd", "whether to scale each feature to unit sample standard deviation", true, nil)
}

func (s *StandardScaler) UID() string        { return s.uid }
func (s *StandardScaler) ClassName() string  { return "StandardScaler" }
func (s *StandardScaler) Params() *ml.Params { return s.params }

// SetInputCol sets the vector column to scale.
func (s *StandardScaler) SetInputCol(c string) *StandardScaler { s.cols.inputCol.Set(c); return s }

// SetOutputCol sets the scaled vector column.
func (s *StandardScaler) SetOutputCol(c string) *StandardScaler { s.cols.outputCol.Set(c); return s }

// SetWithMean sets whether to centre.
func (s *StandardScaler) SetWithMean(v bool) *StandardScaler { s.withMean.Set(v); return s }

// SetWithStd sets whether to scale.
func (s *StandardScaler) SetWithStd(v bool) *StandardScaler { s.withStd.Set(v); return s }

// Fit computes each feature's mean and sample standard deviation.
func (s *StandardScaler) Fit(ctx context.Context, df *frame.DataFrame) (ml.Model, error) {
	return s.FitModel(ctx, df)
}

// FitModel is Fit returning the concrete model.
func (s *StandardScaler) FitModel(ctx context.Context, df *frame.DataFrame) (*StandardScalerModel, error) {
	if err := s.params.Validate(); err != nil {
		return nil, err
	}
	in := s.cols.inputCol.Get()
	width, err := vectorColumn(df, s.uid, in)
	if err != nil {
		return nil, err
	}
	// Welford's update keeps the variance accurate when the mean is large next to the spread.
	var n float64
	mean, m2 := make([]float64, width), make([]float64, width)
	err = scanVectors(ctx, df, in, width, func(row []float64) {
		n++
		for j, x := range row {
			d := x - mean[j]
			mean[j] += d / n
			m2[j] += d * (x - mean[j])
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.uid, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: column %q has no non-null rows to fit on", s.uid, in)
	}
	std := make([]float64, width)
	if n > 1 {
		for j := range std {
			std[j] = math.Sqrt(math.Max(m2[j]/(n-1), 0))
		}
	}
	m := newStandardScalerModel(s.uid, mean, std)
	if err := ml.CopyParams(m.params, s.params); err != nil {
		return nil, err
	}
	return m, nil
}

// StandardScalerModel is a fitted StandardScaler.
type StandardScalerModel struct {
	uid       string
	params    *ml.Params
	cols      vectorStage
	withMean  *ml.Param[bool]
	withStd   *ml.Param[bool]
	mean, std []float64
}

// NewStandardScalerModel builds a model from known statistics.
func NewStandardScalerModel(mean, std []float64) (*StandardScalerModel, error) {
	if len(mean) != len(std) {
		return nil, fmt.Errorf("feature: NewStandardScalerModel: %d means and %d deviations", len(mean), len(std))
	}
	return newStandardScalerModel(ml.NewUID("StandardScaler"), mean, std), nil
}

func newStandardScalerModel(uid string, mean, std []float64) *StandardScalerModel {
	m := &StandardScalerModel{uid: uid, params: ml.NewParams(uid),
		mean: append([]float64(nil), mean...), std: append([]float64(nil), std...)}
	m.cols = newVectorStage(m.params, uid)
	m.withMean, m.withStd = standardScalerParams(m.params)
	return m
}

func (m *StandardScalerModel) UID() string        { return m.uid }
func (m *StandardScalerModel) ClassName() string  { return "StandardScalerModel" }
func (m *StandardScalerModel) Params() *ml.Params { return m.params }

// Mean returns the fitted mean of each feature.
func (m *StandardScalerModel) Mean() []float64 { return append([]float64(nil), m.mean...) }

// Std returns the fitted sample standard deviation of each feature.
func (m *StandardScalerModel) Std() []float64 { return append([]float64(nil), m.std...) }

// SetInputCol changes the input column.
func (m *StandardScalerModel) SetInputCol(c string) *StandardScalerModel {
	m.cols.inputCol.Set(c)
	return m
}

// SetOutputCol changes the output column.
func (m *StandardScalerModel) SetOutputCol(c string) *StandardScalerModel {
	m.cols.outputCol.Set(c)
	return m
}

// Transform adds the scaled column: (x - mean) / std per feature, each part as configured.
func (m *StandardScalerModel) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	if err := m.params.Validate(); err != nil {
		return nil, err
	}
	withMean, withStd := m.withMean.Get(), m.withStd.Get()
	shift := make([]float64, len(m.mean))
	if withMean {
		copy(shift, m.mean)
	}
	// Spark multiplies by the reciprocal; doing the same keeps results bit-identical to it.
	factor := make([]float64, len(m.std))
	for j, s := range m.std {
		switch {
		case !withStd:
			factor[j] = 1
		case s != 0:
			factor[j] = 1 / s
		}
	}
	return m.cols.transform(df, m.uid, len(m.mean), func(dst, src []float64) {
		for j, x := range src {
			dst[j] = (x - shift[j]) * factor[j]
		}
	})
}

type standardScalerData struct {
	Mean ml.Float64s `json:"mean"`
	Std  ml.Float64s `json:"std"`
}

// WriteData saves the mean and deviation.
func (m *StandardScalerModel) WriteData(dir string) error {
	return ml.WriteDataJSON(dir, "stats.json", standardScalerData{Mean: m.mean, Std: m.std})
}

// MinMaxScaler rescales each feature of a vector column linearly to [min, max] (default
// [0, 1]) using the feature's minimum and maximum seen when fitting, as Spark does: a feature
// that was constant maps to 0.5*(max+min). NaN is ignored when fitting and stays NaN.
type MinMaxScaler struct {
	uid      string
	params   *ml.Params
	cols     vectorStage
	min, max *ml.Param[float64]
}

// NewMinMaxScaler returns a MinMaxScaler to [0, 1].
func NewMinMaxScaler() *MinMaxScaler { return newMinMaxScaler(ml.NewUID("MinMaxScaler")) }

func newMinMaxScaler(uid string) *MinMaxScaler {
	s := &MinMaxScaler{uid: uid, params: ml.NewParams(uid)}
	s.cols = newVectorStage(s.params, uid)
	s.min, s.max = minMaxParams(s.params)
	return s
}

func minMaxParams(ps *ml.Params) (lo, hi *ml.Param[float64]) {
	return ml.NewParam(ps, "min", "lower bound of the output range", 0.0, checkFinite),
		ml.NewParam(ps, "max", "upper bound of the output range", 1.0, checkFinite)
}

func checkRange(uid string, lo, hi float64) error {
	if !(lo < hi) {
		return fmt.Errorf("%s: min %v must be below max %v", uid, lo, hi)
	}
	return nil
}

func (s *MinMaxScaler) UID() string        { return s.uid }
func (s *MinMaxScaler) ClassName() string  { return "MinMaxScaler" }
func (s *MinMaxScaler) Params() *ml.Params { return s.params }

// SetInputCol sets the vector column to rescale.
func (s *MinMaxScaler) SetInputCol(c string) *MinMaxScaler { s.cols.inputCol.Set(c); return s }

// SetOutputCol sets the rescaled vector column.
func (s *MinMaxScaler) SetOutputCol(c string) *MinMaxScaler { s.cols.outputCol.Set(c); return s }

// SetMin sets the lower bound of the output range.
func (s *MinMaxScaler) SetMin(v float64) *MinMaxScaler { s.min.Set(v); return s }

// SetMax sets the upper bound of the output range.
func (s *MinMaxScaler) SetMax(v float64) *MinMaxScaler { s.max.Set(v); return s }

// Fit finds each feature's minimum and maximum.
func (s *MinMaxScaler) Fit(ctx context.Context, df *frame.DataFrame) (ml.Model, error) {
	return s.FitModel(ctx, df)
}

// FitModel is Fit returning the concrete model.
func (s *MinMaxScaler) FitModel(ctx context.Context, df *frame.DataFrame) (*MinMaxScalerModel, error) {
	if err := s.params.Validate(); err != nil {
		return nil, err
	}
	if err := checkRange(s.uid, s.min.Get(), s.max.Get()); err != nil {
		return nil, err
	}
	in := s.cols.inputCol.Get()
	width, err := vectorColumn(df, s.uid, in)
	if err != nil {
		return nil, err
	}
	lo, hi := make([]float64, width), make([]float64, width)
	for j := range lo {
		lo[j], hi[j] = math.Inf(1), math.Inf(-1)
	}
	rows := 0
	err = scanVectors(ctx, df, in, width, func(row []float64) {
		rows++
		for j, x := range row {
			// Comparisons with NaN are false, so NaN never becomes a bound.
			if x < lo[j] {
				lo[j] = x
			}
			if x > hi[j] {
				hi[j] = x
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.uid, err)
	}
	if rows == 0 {
		return nil, fmt.Errorf("%s: column %q has no non-null rows to fit on", s.uid, in)
	}
	for j := range lo {
		if lo[j] > hi[j] { // only NaN seen
			lo[j], hi[j] = math.NaN(), math.NaN()
		}
	}
	m := newMinMaxScalerModel(s.uid, lo, hi)
	if err := ml.CopyParams(m.params, s.params); err != nil {
		return nil, err
	}
	return m, nil
}

// MinMaxScalerModel is a fitted MinMaxScaler.
type MinMaxScalerModel struct {
	uid                      string
	params                   *ml.Params
	cols                     vectorStage
	min, max                 *ml.Param[float64]
	originalMin, originalMax []float64
}

func newMinMaxScalerModel(uid string, lo, hi []float64) *MinMaxScalerModel {
	m := &MinMaxScalerModel{uid: uid, params: ml.NewParams(uid),
		originalMin: append([]float64(nil), lo...), originalMax: append([]float64(nil), hi...)}
	m.cols = newVectorStage(m.params, uid)
	m.min, m.max = minMaxParams(m.params)
	return m
}

func (m *MinMaxScalerModel) UID() string        { return m.uid }
func (m *MinMaxScalerModel) ClassName() string  { return "MinMaxScalerModel" }
func (m *MinMaxScalerModel) Params() *ml.Params { return m.params }

// OriginalMin returns each feature's minimum seen when fitting.
func (m *MinMaxScalerModel) OriginalMin() []float64 { return append([]float64(nil), m.originalMin...) }

// OriginalMax returns each feature's maximum seen when fitting.
func (m *MinMaxScalerModel) OriginalMax() []float64 { return append([]float64(nil), m.originalMax...) }

// SetMin changes the lower bound of the output range.
func (m *MinMaxScalerModel) SetMin(v float64) *MinMaxScalerModel { m.min.Set(v); return m }

// SetMax changes the upper bound of the output range.
func (m *MinMaxScalerModel) SetMax(v float64) *MinMaxScalerModel { m.max.Set(v); return m }

// Transform adds the rescaled column.
func (m *MinMaxScalerModel) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	if err := m.params.Validate(); err != nil {
		return nil, err
	}
	lo, hi := m.min.Get(), m.max.Get()
	if err := checkRange(m.uid, lo, hi); err != nil {
		return nil, err
	}
	scale := hi - lo
	emin := append([]float64(nil), m.originalMin...)
	// Spark 3 precomputes scale/range per feature; zero marks a constant feature.
	factor := make([]float64, len(emin))
	for j := range factor {
		if r := m.originalMax[j] - emin[j]; r != 0 {
			factor[j] = scale / r
		}
	}
	return m.cols.transform(df, m.uid, len(emin), func(dst, src []float64) {
		for j, x := range src {
			switch {
			case math.IsNaN(x):
				dst[j] = x
			case factor[j] != 0:
				dst[j] = (x-emin[j])*factor[j] + lo
			default:
				dst[j] = 0.5*scale + lo
			}
		}
	})
}

type minMaxData struct {
	OriginalMin ml.Float64s `json:"originalMin"`
	OriginalMax ml.Float64s `json:"originalMax"`
}

// WriteData saves the fitted minima and maxima.
func (m *MinMaxScalerModel) WriteData(dir string) error {
	return ml.WriteDataJSON(dir, "stats.json", minMaxData{OriginalMin: m.originalMin, OriginalMax: m.originalMax})
}

func init() {
	ml.Register("StandardScaler", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		return loadParams(newStandardScaler(uid), params)
	})
	ml.Register("StandardScalerModel", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		var d standardScalerData
		if err := ml.ReadDataJSON(dir, "stats.json", &d); err != nil {
			return nil, err
		}
		if len(d.Mean) != len(d.Std) {
			return nil, fmt.Errorf("data/stats.json: %d means but %d deviations", len(d.Mean), len(d.Std))
		}
		for j, s := range d.Std {
			if s < 0 {
				return nil, fmt.Errorf("data/stats.json: deviation %d is negative (%v)", j, s)
			}
		}
		return loadParams(newStandardScalerModel(uid, d.Mean, d.Std), params)
	})
	ml.Register("MinMaxScaler", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		return loadParams(newMinMaxScaler(uid), params)
	})
	ml.Register("MinMaxScalerModel", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		var d minMaxData
		if err := ml.ReadDataJSON(dir, "stats.json", &d); err != nil {
			return nil, err
		}
		if len(d.OriginalMin) != len(d.OriginalMax) {
			return nil, fmt.Errorf("data/stats.json: %d minima but %d maxima", len(d.OriginalMin), len(d.OriginalMax))
		}
		return loadParams(newMinMaxScalerModel(uid, d.OriginalMin, d.OriginalMax), params)
	})
}

// Save writes the fitted model as a bundle at path (see ml.Save).
func (m *StandardScalerModel) Save(path string) error { return ml.Save(m, path) }

// Save writes the fitted model as a bundle at path (see ml.Save).
func (m *MinMaxScalerModel) Save(path string) error { return ml.Save(m, path) }
