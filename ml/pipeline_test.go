package ml_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/ml"
)

func TestPipelineFitTransform(t *testing.T) {
	ctx := context.Background()
	df := testFrame(t)
	// x = 1,2,3,6. y = x+10 (mean 13); c = y - 13; z = c + 1 runs after the last estimator.
	est := center("y", "c")
	p := ml.NewPipeline(addC("x", "y", 10), est, addC("c", "z", 1))
	m, err := p.FitModel(ctx, df)
	if err != nil {
		t.Fatal(err)
	}
	if est.fits != 1 {
		t.Errorf("estimator fitted %d times, want 1", est.fits)
	}
	if m.UID() != p.UID() {
		t.Errorf("model uid %s, want the pipeline's %s", m.UID(), p.UID())
	}
	stages := m.Stages()
	if len(stages) != 3 || stages[1].ClassName() != "CenterModel" || stages[0].ClassName() != "AddConst" {
		t.Fatalf("model stages %v", stages)
	}
	out, err := m.Transform(ctx, df)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.Columns(), []string{"x", "name", "y", "c", "z"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("columns %v, want %v", got, want)
	}
	if got, want := floats(t, out, "z"), []float64{-1, 0, 1, 4}; !near(got, want) {
		t.Errorf("z = %v, want %v", got, want)
	}

	// Fit through the Estimator interface, as a nested stage.
	var e ml.Estimator = p
	tr, err := e.Fit(ctx, df)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.(*ml.PipelineModel); !ok {
		t.Errorf("Fit returned %T", tr)
	}
	outer, err := ml.NewPipeline(ml.NewPipeline(addC("x", "a", 1)), center("a", "b")).FitModel(ctx, df)
	if err != nil {
		t.Fatal(err)
	}
	o, err := outer.Transform(ctx, df)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := floats(t, o, "b"), []float64{-2, -1, 0, 3}; !near(got, want) {
		t.Errorf("nested pipeline b = %v, want %v", got, want)
	}
}

func TestPipelineEmptyAndErrors(t *testing.T) {
	ctx := context.Background()
	df := testFrame(t)
	m, err := ml.NewPipeline().FitModel(ctx, df)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Transform(ctx, df)
	if err != nil || out != df {
		t.Errorf("empty pipeline model: %v, same frame %v", err, out == df)
	}
	cases := []struct {
		name  string
		p     *ml.Pipeline
		wants []string
	}{
		{"nil stage", ml.NewPipeline(addC("x", "y", 1), nil), []string{"stage 1 is nil"}},
		{"unknown column", ml.NewPipeline(addC("nope", "y", 1), center("y", "z")), []string{"stage 0", `no column "nope"`, "columns: x, name"}},
		{"estimator error", ml.NewPipeline(center("missing", "z")), []string{"stage 0", "fit", `no column "missing"`}},
		{"params", ml.NewPipeline(newCenterer("Centerer_bad")), []string{"Centerer_bad", "param inputCol is required"}},
	}
	for _, c := range cases {
		_, err := c.p.FitModel(ctx, df)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
}

func TestParamsJSONNonFinite(t *testing.T) {
	ps := ml.NewParams("owner")
	f := ml.NewParam(ps, "f", "a float", 0.0, nil)
	s := ml.NewParam[[]float64](ps, "s", "splits", nil, nil)
	a := ml.NewParam[[][]float64](ps, "a", "splits array", nil, nil)
	f.Set(math.Inf(1))
	s.Set([]float64{math.Inf(-1), 0.5, math.NaN(), math.Inf(1)})
	a.Set([][]float64{{math.Inf(-1), 1e-300, math.Inf(1)}})
	raw, err := ps.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":[["-Infinity",1e-300,"Infinity"]],"f":"Infinity","s":["-Infinity",0.5,"NaN","Infinity"]}`
	if string(raw) != want {
		t.Errorf("JSON %s, want %s", raw, want)
	}
	qs := ml.NewParams("other")
	f2 := ml.NewParam(qs, "f", "", 0.0, nil)
	s2 := ml.NewParam[[]float64](qs, "s", "", nil, nil)
	a2 := ml.NewParam[[][]float64](qs, "a", "", nil, nil)
	if err := qs.Load(raw); err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(f2.Get(), 1) || len(s2.Get()) != 4 || !math.IsInf(s2.Get()[0], -1) || !math.IsNaN(s2.Get()[2]) ||
		a2.Get()[0][1] != 1e-300 || !math.IsInf(a2.Get()[0][2], 1) {
		t.Errorf("loaded f=%v s=%v a=%v", f2.Get(), s2.Get(), a2.Get())
	}
	for _, bad := range []string{`{"f":"Infinite"}`, `{"s":[1,"x"]}`, `{"f":[1]}`} {
		if err := qs.Load(json.RawMessage(bad)); err == nil {
			t.Errorf("Load(%s): no error", bad)
		}
	}
}

func TestParamValidationAndCopy(t *testing.T) {
	ps := ml.NewParams("Stage_1")
	mode := ml.NewParam(ps, "handleInvalid", "mode", "error", ml.OneOf("error", "skip", "keep"))
	mode.Set("bogus")
	err := ps.Validate()
	if err == nil {
		t.Fatal("no error for an invalid value")
	}
	for _, w := range []string{"Stage_1", "handleInvalid", "bogus", "error", "skip", "keep"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if mode.Get() != "error" {
		t.Errorf("invalid Set changed the value to %q", mode.Get())
	}

	src := ml.NewParams("src")
	a := ml.NewParam(src, "a", "", 1, nil)
	b := ml.NewParam(src, "b", "", "x", nil)
	_ = ml.NewParam(src, "only", "", 0, nil)
	a.Set(5)
	dst := ml.NewParams("dst")
	da := ml.NewParam(dst, "a", "", 1, nil)
	db := ml.NewParam(dst, "b", "", "y", nil)
	if err := ml.CopyParams(dst, src); err != nil {
		t.Fatal(err)
	}
	if da.Get() != 5 || db.Get() != "y" || db.IsSet() {
		t.Errorf("after copy a=%d b=%q (set %v); want 5, y (unset: defaults are not copied)", da.Get(), db.Get(), db.IsSet())
	}
	_ = b
}
