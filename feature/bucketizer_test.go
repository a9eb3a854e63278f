package feature

import (
	"math"
	"testing"

	"github.com/deepframe/deepframe/frame"
)

func TestBucketizer(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		name   string
		splits []float64
		values []float64
		want   []string
		errs   []string
	}{
		{"infinite ends", []float64{-inf, 0, 10, inf}, []float64{-5, 0, 5, 10, 100, -inf, inf, -0.0001},
			[]string{"0", "1", "1", "2", "2", "0", "2", "0"}, nil},
		// Buckets are [0,10) and [10,20]: the last bucket holds its upper bound.
		{"upper bound", []float64{0, 10, 20}, []float64{0, 9.999, 10, 20}, []string{"0", "0", "1", "1"}, nil},
		{"above", []float64{0, 10, 20}, []float64{5, 20.5}, nil, []string{"value 20.5 is outside the splits [0, 20]"}},
		{"below", []float64{0, 10, 20}, []float64{-1}, nil, []string{"value -1 is outside the splits"}},
	}
	for _, c := range cases {
		df := mustFrame(t, frame.Col("x", c.values))
		out, err := NewBucketizer().SetInputCol("x").SetOutputCol("b").SetSplits(c.splits...).Transform(bg, df)
		if c.errs != nil {
			wantErr(t, c.name, runErr(out, err), c.errs...)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := cells(t, out, "b"); !eqStrings(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestBucketizerHandleInvalid(t *testing.T) {
	inf := math.Inf(1)
	df := mustFrame(t, frame.Col("x", nullable([]float64{-1, 1, 5, nan})), frame.Col("y", []float64{math.NaN(), 1, 2, 3}), frame.Col("id", []int64{0, 1, 2, 3}))
	splits := []float64{-inf, 0, 2, inf}
	cases := []struct {
		mode string
		col  string
		want []string
		ids  []string
		errs []string
	}{
		{HandleError, "y", nil, nil, []string{`NaN in column "y"`, "handleInvalid"}},
		{HandleKeep, "y", []string{"3", "1", "2", "2"}, []string{"0", "1", "2", "3"}, nil},
		{HandleSkip, "y", []string{"1", "2", "2"}, []string{"1", "2", "3"}, nil},
		// Nulls stay null in error and keep modes and are dropped by skip.
		{HandleError, "x", []string{"0", "1", "2", "null"}, []string{"0", "1", "2", "3"}, nil},
		{HandleSkip, "x", []string{"0", "1", "2"}, []string{"0", "1", "2"}, nil},
	}
	for _, c := range cases {
		out, err := NewBucketizer().SetInputCol(c.col).SetOutputCol("b").SetSplits(splits...).SetHandleInvalid(c.mode).Transform(bg, df)
		if c.errs != nil {
			wantErr(t, c.mode, runErr(out, err), c.errs...)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := cells(t, out, "b"); !eqStrings(got, c.want) {
			t.Errorf("%s on %s: %v, want %v", c.mode, c.col, got, c.want)
		}
		if got := cells(t, out, "id"); !eqStrings(got, c.ids) {
			t.Errorf("%s on %s: rows %v, want %v", c.mode, c.col, got, c.ids)
		}
	}
}

func TestBucketizerMultiAndErrors(t *testing.T) {
	df := mustFrame(t, frame.Col("a", []float64{1, 5}), frame.Col("b", []int64{0, 100}))
	out, err := NewBucketizer().SetInputCols("a", "b").SetOutputCols("ab", "bb").
		SetSplitsArray([]float64{0, 2, 10}, []float64{math.Inf(-1), 50, math.Inf(1)}).Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	if got := append(cells(t, out, "ab"), cells(t, out, "bb")...); !eqStrings(got, []string{"0", "1", "0", "1"}) {
		t.Errorf("multi-column: %v", got)
	}
	cases := []struct {
		name  string
		b     *Bucketizer
		wants []string
	}{
		{"not increasing", NewBucketizer().SetInputCol("a").SetSplits(0, 5, 5), []string{"param splits", "strictly increasing"}},
		{"too few", NewBucketizer().SetInputCol("a").SetSplits(0, 1), []string{"param splits", "at least 3"}},
		{"NaN split", NewBucketizer().SetInputCol("a").SetSplits(0, math.NaN(), 2), []string{"param splits", "NaN"}},
		{"no splits", NewBucketizer().SetInputCol("a"), []string{"splits is required"}},
		{"array length", NewBucketizer().SetInputCols("a", "b").SetOutputCols("x", "y").SetSplitsArray([]float64{0, 1, 2}), []string{"2 inputCols but 1 entries in splitsArray"}},
		{"unknown column", NewBucketizer().SetInputCol("c").SetSplits(0, 1, 2), []string{`no column "c"`, "columns: a, b"}},
		{"bad mode", NewBucketizer().SetInputCol("a").SetSplits(0, 1, 2).SetHandleInvalid("nan"), []string{"param handleInvalid = nan", "[error skip keep]"}},
	}
	for _, c := range cases {
		_, err := c.b.Transform(bg, df)
		wantErr(t, c.name, err, c.wants...)
	}
}
