package feature

import (
	"math"
	"testing"

	"github.com/deepframe/deepframe/frame"
)

func vectorFrame(t *testing.T, rows [][]float64, valid []bool) *frame.DataFrame {
	t.Helper()
	var flat []float64
	for _, r := range rows {
		flat = append(flat, r...)
	}
	arr, err := frame.NewVectorArray(len(rows[0]), flat, valid)
	if err != nil {
		t.Fatal(err)
	}
	return mustFrame(t, frame.Col("v", arr))
}

func TestStandardScaler(t *testing.T) {
	// The last row is null: skipped when fitting, null in the output.
	df := vectorFrame(t, [][]float64{{1, 10, -1}, {2, 10, 0}, {3, 10, 1}, {6, 10, 2}, {99, 99, 99}}, []bool{true, true, true, true, false})
	// Sample standard deviations (divisor n-1 = 3): sqrt(14/3), 0, sqrt(5/3).
	mean := []float64{3, 10, 0.5}
	std := []float64{math.Sqrt(14.0 / 3), 0, math.Sqrt(5.0 / 3)}
	in := [][]float64{{1, 10, -1}, {2, 10, 0}, {3, 10, 1}, {6, 10, 2}}
	expect := func(withMean, withStd bool) [][]float64 {
		var out [][]float64
		for _, r := range in {
			o := make([]float64, 3)
			for j, x := range r {
				if withMean {
					x -= mean[j]
				}
				if withStd {
					if std[j] == 0 {
						x = 0 // Spark: a feature with zero deviation scales to 0
					} else {
						x /= std[j]
					}
				}
				o[j] = x
			}
			out = append(out, o)
		}
		return out
	}
	for _, c := range []struct{ withMean, withStd bool }{{false, true}, {true, true}, {true, false}, {false, false}} {
		m, err := NewStandardScaler().SetInputCol("v").SetOutputCol("s").SetWithMean(c.withMean).SetWithStd(c.withStd).FitModel(bg, df)
		if err != nil {
			t.Fatal(err)
		}
		if !closeTo([][]float64{m.Mean(), m.Std()}, [][]float64{mean, std}, 1e-12) {
			t.Errorf("mean %v std %v, want %v %v", m.Mean(), m.Std(), mean, std)
		}
		out, err := m.Transform(bg, df)
		if err != nil {
			t.Fatal(err)
		}
		got := vectors(t, out, "s")
		if !closeTo(got[:4], expect(c.withMean, c.withStd), 1e-12) {
			t.Errorf("withMean %v withStd %v: %v, want %v", c.withMean, c.withStd, got[:4], expect(c.withMean, c.withStd))
		}
		if cells(t, out, "s")[4] != "null" {
			t.Error("a null row did not stay null")
		}
	}
}

func TestStandardScalerStability(t *testing.T) {
	// A large offset must not swamp the spread: std of 1e9+{1,2,3} is 1.
	df := vectorFrame(t, [][]float64{{1e9 + 1}, {1e9 + 2}, {1e9 + 3}}, nil)
	m, err := NewStandardScaler().SetInputCol("v").FitModel(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Std()[0]; math.Abs(s-1) > 1e-9 {
		t.Errorf("std %v, want 1", s)
	}
	// One row: the sample deviation is undefined; Spark reports 0.
	one := vectorFrame(t, [][]float64{{5}}, nil)
	m, err = NewStandardScaler().SetInputCol("v").FitModel(bg, one)
	if err != nil || m.Std()[0] != 0 {
		t.Errorf("one row: std %v, err %v", m.Std(), err)
	}
}

func TestMinMaxScaler(t *testing.T) {
	df := vectorFrame(t, [][]float64{{1, 5, math.NaN()}, {3, 5, 2}, {5, 5, 4}}, nil)
	cases := []struct {
		lo, hi float64
		want   [][]float64
	}{
		// The constant middle feature maps to 0.5*(max+min); NaN is ignored in fitting and kept.
		{0, 1, [][]float64{{0, 0.5, nan}, {0.5, 0.5, 0}, {1, 0.5, 1}}},
		{-1, 1, [][]float64{{-1, 0, nan}, {0, 0, -1}, {1, 0, 1}}},
	}
	for _, c := range cases {
		s := NewMinMaxScaler().SetInputCol("v").SetOutputCol("m")
		if c.lo != 0 || c.hi != 1 {
			s.SetMin(c.lo).SetMax(c.hi)
		}
		m, err := s.FitModel(bg, df)
		if err != nil {
			t.Fatal(err)
		}
		if !closeTo([][]float64{m.OriginalMin(), m.OriginalMax()}, [][]float64{{1, 5, 2}, {5, 5, 4}}, 0) {
			t.Errorf("original min %v max %v", m.OriginalMin(), m.OriginalMax())
		}
		out, err := m.Transform(bg, df)
		if err != nil {
			t.Fatal(err)
		}
		if got := vectors(t, out, "m"); !closeTo(got, c.want, 1e-15) {
			t.Errorf("[%v, %v]: %v, want %v", c.lo, c.hi, got, c.want)
		}
	}
	// Values beyond the fitted range are not clipped, as in Spark.
	m, _ := NewMinMaxScaler().SetInputCol("v").SetOutputCol("m").FitModel(bg, df)
	out, _ := m.Transform(bg, vectorFrame(t, [][]float64{{9, 5, 3}}, nil))
	if got := vectors(t, out, "m"); !closeTo(got, [][]float64{{2, 0.5, 0.5}}, 1e-15) {
		t.Errorf("outside the range: %v", got)
	}
	_, err := NewMinMaxScaler().SetInputCol("v").SetMin(2).SetMax(1).Fit(bg, df)
	wantErr(t, "min > max", err, "min 2 must be below max 1")
	_, err = NewMinMaxScaler().SetInputCol("v").SetMax(math.Inf(1)).Fit(bg, df)
	wantErr(t, "infinite max", err, "param max", "finite")
}

func TestScalerErrors(t *testing.T) {
	df := mustFrame(t, frame.Col("x", []float64{1}), frame.Col("v", [][]float64{{1, 2}}))
	_, err := NewStandardScaler().SetInputCol("x").Fit(bg, df)
	wantErr(t, "scalar input", err, `"x" is float64`, "want a vector column")
	_, err = NewStandardScaler().SetInputCol("nope").Fit(bg, df)
	wantErr(t, "unknown", err, `no column "nope"`, "columns: x, v")
	_, err = NewStandardScaler().Fit(bg, df)
	wantErr(t, "no input", err, "param inputCol is required")
	m, err := NewStandardScaler().SetInputCol("v").FitModel(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	other := mustFrame(t, frame.Col("v", [][]float64{{1, 2, 3}}))
	_, err = m.Transform(bg, other)
	wantErr(t, "width", err, "vectors of 3 values", "fitted on 2")
}

func TestNormalizer(t *testing.T) {
	df := vectorFrame(t, [][]float64{{3, 4}, {0, 0}, {-1, 1}}, nil)
	r2 := 1 / math.Sqrt2
	c3 := math.Cbrt(91)
	cases := []struct {
		p    float64
		want [][]float64
	}{
		{2, [][]float64{{0.6, 0.8}, {0, 0}, {-r2, r2}}},
		{1, [][]float64{{3.0 / 7, 4.0 / 7}, {0, 0}, {-0.5, 0.5}}},
		{math.Inf(1), [][]float64{{0.75, 1}, {0, 0}, {-1, 1}}},
		{3, [][]float64{{3 / c3, 4 / c3}, {0, 0}, {-1 / math.Cbrt(2), 1 / math.Cbrt(2)}}},
	}
	for _, c := range cases {
		n := NewNormalizer().SetInputCol("v").SetOutputCol("n")
		if c.p != 2 {
			n.SetP(c.p)
		}
		out, err := n.Transform(bg, df)
		if err != nil {
			t.Fatal(err)
		}
		if got := vectors(t, out, "n"); !closeTo(got, c.want, 1e-12) {
			t.Errorf("p=%v: %v, want %v", c.p, got, c.want)
		}
	}
	_, err := NewNormalizer().SetInputCol("v").SetP(0.5).Transform(bg, df)
	wantErr(t, "p < 1", err, "param p = 0.5", "want p >= 1")
	_, err = NewNormalizer().SetInputCol("v").SetP(math.NaN()).Transform(bg, df)
	wantErr(t, "p NaN", err, "param p")
}
