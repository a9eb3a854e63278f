package ml_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// Small stages that exercise the pipeline machinery without package feature (which imports
// ml, so ml's tests cannot use it).

// addConst adds a constant to a Float64 column: a params-only Transformer.
type addConst struct {
	uid      string
	params   *ml.Params
	in, out  *ml.Param[string]
	constant *ml.Param[float64]
}

func newAddConst(uid string) *addConst {
	ps := ml.NewParams(uid)
	return &addConst{uid: uid, params: ps,
		in:       ml.NewRequiredParam(ps, "inputCol", "input", ml.NonEmpty),
		out:      ml.NewRequiredParam(ps, "outputCol", "output", ml.NonEmpty),
		constant: ml.NewParam(ps, "constant", "added value", 0.0, nil),
	}
}

func addC(in, out string, c float64) *addConst {
	a := newAddConst(ml.NewUID("AddConst"))
	a.in.Set(in)
	a.out.Set(out)
	a.constant.Set(c)
	return a
}

func (a *addConst) UID() string        { return a.uid }
func (a *addConst) ClassName() string  { return "AddConst" }
func (a *addConst) Params() *ml.Params { return a.params }
func (a *addConst) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	if err := a.params.Validate(); err != nil {
		return nil, err
	}
	c := a.constant.Get()
	return df.WithColumnFloat64(a.out.Get(), []string{a.in.Get()}, func(row []float64) float64 { return row[0] + c })
}

// centerer is an Estimator that learns a column's mean; its model subtracts it.
type centerer struct {
	uid     string
	params  *ml.Params
	in, out *ml.Param[string]
	fits    int
}

func newCenterer(uid string) *centerer {
	ps := ml.NewParams(uid)
	return &centerer{uid: uid, params: ps,
		in:  ml.NewRequiredParam(ps, "inputCol", "input", ml.NonEmpty),
		out: ml.NewRequiredParam(ps, "outputCol", "output", ml.NonEmpty),
	}
}

func center(in, out string) *centerer {
	c := newCenterer(ml.NewUID("Centerer"))
	c.in.Set(in)
	c.out.Set(out)
	return c
}

func (c *centerer) UID() string        { return c.uid }
func (c *centerer) ClassName() string  { return "Centerer" }
func (c *centerer) Params() *ml.Params { return c.params }
func (c *centerer) Fit(ctx context.Context, df *frame.DataFrame) (ml.Model, error) {
	if err := c.params.Validate(); err != nil {
		return nil, err
	}
	c.fits++
	sel, err := df.Select(c.in.Get())
	if err != nil {
		return nil, err
	}
	var sum, n float64
	err = sel.Iterate(ctx, func(r arrow.RecordBatch) error {
		v, err := frame.ToFloat64(nil, r.Column(0))
		for _, x := range v {
			sum += x
			n++
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	m := newCenterModel(c.uid, sum/n)
	return m, ml.CopyParams(m.params, c.params)
}

func (m *centerModel) Save(path string) error { return ml.Save(m, path) }

type centerModel struct {
	uid     string
	params  *ml.Params
	in, out *ml.Param[string]
	mean    float64
}

func newCenterModel(uid string, mean float64) *centerModel {
	ps := ml.NewParams(uid)
	return &centerModel{uid: uid, params: ps, mean: mean,
		in:  ml.NewRequiredParam(ps, "inputCol", "input", ml.NonEmpty),
		out: ml.NewRequiredParam(ps, "outputCol", "output", ml.NonEmpty),
	}
}

func (m *centerModel) UID() string        { return m.uid }
func (m *centerModel) ClassName() string  { return "CenterModel" }
func (m *centerModel) Params() *ml.Params { return m.params }
func (m *centerModel) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	mean := m.mean
	return df.WithColumnFloat64(m.out.Get(), []string{m.in.Get()}, func(row []float64) float64 { return row[0] - mean })
}

type centerData struct {
	Mean ml.Float64s `json:"mean"`
}

func (m *centerModel) WriteData(dir string) error {
	if m.mean == -999 {
		return fmt.Errorf("refusing to write the test's failure value")
	}
	return ml.WriteDataJSON(dir, "mean.json", centerData{Mean: ml.Float64s{m.mean}})
}

// notRegistered is a Transformer whose class has no loader.
type notRegistered struct{ *addConst }

func (notRegistered) ClassName() string { return "NotRegistered" }

// panicky's loader panics, as a buggy third-party loader might on hostile input.
type panicky struct{ *addConst }

func (panicky) ClassName() string { return "Panicky" }

func init() {
	ml.Register("AddConst", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		a := newAddConst(uid)
		if err := a.params.Load(params); err != nil {
			return nil, err
		}
		return a, nil
	})
	ml.Register("Centerer", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		c := newCenterer(uid)
		return c, c.params.Load(params)
	})
	ml.Register("CenterModel", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		var d centerData
		if err := ml.ReadDataJSON(dir, "mean.json", &d); err != nil {
			return nil, err
		}
		if len(d.Mean) != 1 {
			return nil, fmt.Errorf("data/mean.json: %d values, want 1", len(d.Mean))
		}
		m := newCenterModel(uid, d.Mean[0])
		if err := m.params.Load(params); err != nil {
			return nil, err
		}
		return m, nil
	})
	ml.Register("Panicky", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		var s []int
		_ = s[len(uid)] // index out of range
		return nil, nil
	})
}

func testFrame(t *testing.T) *frame.DataFrame {
	t.Helper()
	df, err := frame.FromColumns(frame.Col("x", []float64{1, 2, 3, 6}), frame.Col("name", []string{"a", "b", "c", "d"}))
	if err != nil {
		t.Fatal(err)
	}
	return df
}

func floats(t *testing.T, df *frame.DataFrame, col string) []float64 {
	t.Helper()
	sel, err := df.Select(col)
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	err = sel.Iterate(context.Background(), func(r arrow.RecordBatch) error {
		var err error
		out, err = frame.ToFloat64(out, r.Column(0))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func near(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12 {
			return false
		}
	}
	return true
}
