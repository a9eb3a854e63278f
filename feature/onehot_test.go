package feature

import (
	"testing"

	"github.com/deepframe/deepframe/frame"
)

func TestOneHotEncoder(t *testing.T) {
	train := mustFrame(t, frame.Col("c", []float64{0, 1, 2, 1}))
	test := mustFrame(t, frame.Col("c", nullable([]float64{0, 1, 2, 3, nan})))
	cases := []struct {
		name     string
		dropLast bool
		mode     string
		want     []string
		errs     []string
	}{
		// Three categories: dropLast leaves two slots and sends the last category to zeros.
		{"dropLast", true, HandleError, nil, []string{"value 3", "not a category seen in fitting (0 to 2)", "handleInvalid"}},
		{"dropLast keep", true, HandleKeep, []string{"[1 0 0]", "[0 1 0]", "[0 0 1]", "[0 0 0]", "[0 0 0]"}, nil},
		{"all keep", false, HandleKeep, []string{"[1 0 0 0]", "[0 1 0 0]", "[0 0 1 0]", "[0 0 0 1]", "[0 0 0 1]"}, nil},
	}
	for _, c := range cases {
		m, err := NewOneHotEncoder().SetInputCol("c").SetOutputCol("v").SetDropLast(c.dropLast).SetHandleInvalid(c.mode).FitModel(bg, train)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.CategorySizes(); len(got) != 1 || got[0] != 3 {
			t.Errorf("%s: sizes %v, want [3]", c.name, got)
		}
		out, err := m.Transform(bg, test)
		if c.errs != nil {
			wantErr(t, c.name, runErr(out, err), c.errs...)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := cells(t, out, "v"); !eqStrings(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// On fitted categories only: dropLast true and false.
	for _, c := range []struct {
		dropLast bool
		want     []string
	}{
		{true, []string{"[1 0]", "[0 1]", "[0 0]", "[0 1]"}},
		{false, []string{"[1 0 0]", "[0 1 0]", "[0 0 1]", "[0 1 0]"}},
	} {
		m, err := NewOneHotEncoder().SetInputCols("c").SetOutputCols("v").SetDropLast(c.dropLast).Fit(bg, train)
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Transform(bg, train)
		if err != nil {
			t.Fatal(err)
		}
		if got := cells(t, out, "v"); !eqStrings(got, c.want) {
			t.Errorf("dropLast %v: %v, want %v", c.dropLast, got, c.want)
		}
	}
	null := mustFrame(t, frame.Col("c", nullable([]float64{0, nan})))
	m, _ := NewOneHotEncoder().SetInputCol("c").SetOutputCol("v").FitModel(bg, train)
	out, err := m.Transform(bg, null)
	wantErr(t, "null", runErr(out, err), "null in column", "handleInvalid")
}

func TestOneHotEncoderSizeFromMetadata(t *testing.T) {
	// The indexer knows three labels; the training rows of the encoder hold only index 0, yet
	// the encoder still makes room for all three.
	labels := mustFrame(t, frame.Col("s", []string{"a", "a", "b", "c"}))
	si, err := NewStringIndexer().SetInputCol("s").SetOutputCol("i").FitModel(bg, labels)
	if err != nil {
		t.Fatal(err)
	}
	few := mustFrame(t, frame.Col("s", []string{"a", "a"}))
	indexed, err := si.Transform(bg, few)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewOneHotEncoder().SetInputCol("i").SetOutputCol("v").FitModel(bg, indexed)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.CategorySizes(); got[0] != 3 {
		t.Errorf("size %d, want 3 from the metadata", got[0])
	}
}

func TestOneHotEncoderErrors(t *testing.T) {
	df := mustFrame(t, frame.Col("neg", []float64{-1}), frame.Col("frac", []float64{0.5}), frame.Col("s", []string{"x"}))
	cases := []struct {
		name  string
		e     *OneHotEncoder
		wants []string
	}{
		{"negative", NewOneHotEncoder().SetInputCol("neg"), []string{"value -1", "non-negative integer"}},
		{"fraction", NewOneHotEncoder().SetInputCol("frac"), []string{"value 0.5"}},
		{"string", NewOneHotEncoder().SetInputCol("s"), []string{`"s" is utf8`, "numeric"}},
		{"skip is not offered", NewOneHotEncoder().SetInputCol("neg").SetHandleInvalid(HandleSkip), []string{"param handleInvalid", "[error keep]"}},
		{"unknown column", NewOneHotEncoder().SetInputCol("zz"), []string{`no column "zz"`, "columns: neg, frac, s"}},
	}
	for _, c := range cases {
		_, err := c.e.Fit(bg, df)
		wantErr(t, c.name, err, c.wants...)
	}
}
