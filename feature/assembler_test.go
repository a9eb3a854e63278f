package feature

import (
	"math"
	"testing"

	"github.com/deepframe/deepframe/frame"
)

func TestVectorAssembler(t *testing.T) {
	df := mustFrame(t,
		frame.Col("i", []int64{1, 2}),
		frame.Col("v", [][]float64{{10, 20}, {30, 40}}),
		frame.Col("b", []bool{true, false}),
		frame.Col("f", []float32{0.5, 1.5}),
	)
	out, err := NewVectorAssembler().SetInputCols("i", "v", "b", "f").SetOutputCol("x").Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{{1, 10, 20, 1, 0.5}, {2, 30, 40, 0, 1.5}}
	if got := vectors(t, out, "x"); !closeTo(got, want, 0) {
		t.Errorf("assembled %v, want %v", got, want)
	}
	if n, _ := frame.IsVector(out.Schema().Field(4).Type); n != 5 {
		t.Errorf("vector width %d, want 5", n)
	}
}

func TestVectorAssemblerHandleInvalid(t *testing.T) {
	vec, err := frame.NewVectorArray(2, []float64{1, 2, 3, math.NaN(), 5, 6, 7, 8}, []bool{true, true, true, false})
	if err != nil {
		t.Fatal(err)
	}
	df := mustFrame(t,
		frame.Col("a", nullable([]float64{1, nan, 3, 4})),
		frame.Col("v", vec),
		frame.Col("id", []int64{0, 1, 2, 3}),
	)
	cases := []struct {
		mode string
		ids  []string
		want [][]float64
		errs []string
	}{
		{HandleError, nil, nil, []string{"null", `column "a"`, "handleInvalid"}},
		{HandleSkip, []string{"0", "2"}, [][]float64{{1, 1, 2}, {3, 5, 6}}, nil},
		{HandleKeep, []string{"0", "1", "2", "3"}, [][]float64{{1, 1, 2}, {nan, 3, nan}, {3, 5, 6}, {4, nan, nan}}, nil},
	}
	for _, c := range cases {
		out, err := NewVectorAssembler().SetInputCols("a", "v").SetOutputCol("x").SetHandleInvalid(c.mode).Transform(bg, df)
		if c.errs != nil {
			wantErr(t, c.mode, runErr(out, err), c.errs...)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := cells(t, out, "id"); !eqStrings(got, c.ids) {
			t.Errorf("%s: rows %v, want %v", c.mode, got, c.ids)
		}
		if got := vectors(t, out, "x"); !closeTo(got, c.want, 0) {
			t.Errorf("%s: %v, want %v", c.mode, got, c.want)
		}
	}
	// NaN inside a vector is invalid too.
	nanOnly := mustFrame(t, frame.Col("v", [][]float64{{1, math.NaN()}}))
	out, err := NewVectorAssembler().SetInputCols("v").SetOutputCol("x").Transform(bg, nanOnly)
	wantErr(t, "NaN in a vector", runErr(out, err), "NaN", `column "v"`)
}

func TestVectorAssemblerErrors(t *testing.T) {
	df := mustFrame(t, frame.Col("a", []float64{1}), frame.Col("s", []string{"x"}))
	cases := []struct {
		name  string
		a     *VectorAssembler
		wants []string
	}{
		{"string input", NewVectorAssembler().SetInputCols("a", "s"), []string{`"s" is utf8`, "numeric, Boolean or vector"}},
		{"unknown column", NewVectorAssembler().SetInputCols("a", "b"), []string{`no column "b"`, "columns: a, s"}},
		{"no inputs", NewVectorAssembler(), []string{"param inputCols is required"}},
		{"empty inputs", NewVectorAssembler().SetInputCols(), []string{"param inputCols", "at least one column"}},
		{"bad mode", NewVectorAssembler().SetInputCols("a").SetHandleInvalid("drop"), []string{"param handleInvalid = drop", "[error skip keep]"}},
		{"output exists", NewVectorAssembler().SetInputCols("a").SetOutputCol("s"), []string{`output column "s" already exists`}},
	}
	for _, c := range cases {
		_, err := c.a.Transform(bg, df)
		wantErr(t, c.name, err, c.wants...)
	}
}
