package feature

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/deepframe/deepframe/frame"
)

func TestStringIndexerOrder(t *testing.T) {
	// Counts: c 3, a 2, b 2, d 1. The a/b tie breaks alphabetically in both frequency orders.
	df := mustFrame(t, frame.Col("s", []string{"a", "b", "c", "a", "b", "d", "c", "c"}))
	cases := []struct {
		order   string
		labels  []string
		indices []string
	}{
		{FrequencyDesc, []string{"c", "a", "b", "d"}, []string{"1", "2", "0", "1", "2", "3", "0", "0"}},
		{FrequencyAsc, []string{"d", "a", "b", "c"}, []string{"1", "2", "3", "1", "2", "0", "3", "3"}},
		{AlphabetDesc, []string{"d", "c", "b", "a"}, []string{"3", "2", "1", "3", "2", "0", "1", "1"}},
		{AlphabetAsc, []string{"a", "b", "c", "d"}, []string{"0", "1", "2", "0", "1", "3", "2", "2"}},
	}
	for _, c := range cases {
		si := NewStringIndexer().SetInputCol("s").SetOutputCol("i")
		if c.order != FrequencyDesc {
			si.SetStringOrderType(c.order)
		}
		m, err := si.FitModel(bg, df)
		if err != nil {
			t.Fatal(err)
		}
		if !eqStrings(m.Labels(), c.labels) {
			t.Errorf("%s: labels %v, want %v", c.order, m.Labels(), c.labels)
		}
		out, err := m.Transform(bg, df)
		if err != nil {
			t.Fatal(err)
		}
		if got := cells(t, out, "i"); !eqStrings(got, c.indices) {
			t.Errorf("%s: indices %v, want %v", c.order, got, c.indices)
		}
		if f, _ := field(out, "i"); f.Type.ID() != arrow.FLOAT64 {
			t.Errorf("%s: output type %s, want double", c.order, f.Type)
		}
	}
}

func TestStringIndexerNumericInput(t *testing.T) {
	df := mustFrame(t, frame.Col("n", []int64{3, 1, 3, 7}), frame.Col("f", []float64{1, 2.5, 2.5, 2.5}), frame.Col("b", []bool{true, false, true, true}))
	m, err := NewStringIndexer().SetInputCols("n", "f", "b").SetOutputCols("ni", "fi", "bi").FitModel(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"3", "1", "7"}, {"2.5", "1.0"}, {"true", "false"}}
	for k, l := range m.LabelsArray() {
		if !eqStrings(l, want[k]) {
			t.Errorf("column %d labels %v, want %v", k, l, want[k])
		}
	}
	out, err := m.Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	if got := cells(t, out, "fi"); !eqStrings(got, []string{"1", "0", "0", "0"}) {
		t.Errorf("fi = %v", got)
	}
}

func TestStringIndexerHandleInvalid(t *testing.T) {
	train := mustFrame(t, frame.Col("s", []string{"x", "y", "x"}))
	// The vector and image columns ride along to check that skipping rows keeps every column.
	test := mustFrame(t, frame.Col("s", nullableStrings([]string{"y", "z", "<null>", "x"})), frame.Col("id", []int64{1, 2, 3, 4}),
		frame.Col("v", [][]float64{{1}, {2}, {3}, {4}}),
		frame.Col("img", []frame.Image{gray("a", 1, 1, 1), gray("b", 1, 1, 2), gray("c", 1, 1, 3), gray("d", 1, 1, 4)}))
	cases := []struct {
		mode    string
		indices []string
		ids     []string
		errs    []string
	}{
		{HandleError, nil, nil, []string{`unseen label "z"`, `column "s"`, "handleInvalid"}},
		{HandleSkip, []string{"1", "0"}, []string{"1", "4"}, nil},
		{HandleKeep, []string{"1", "2", "2", "0"}, []string{"1", "2", "3", "4"}, nil},
	}
	for _, c := range cases {
		m, err := NewStringIndexer().SetInputCol("s").SetOutputCol("i").SetHandleInvalid(c.mode).FitModel(bg, train)
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Transform(bg, test)
		if c.errs != nil {
			wantErr(t, c.mode, runErr(out, err), c.errs...)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := cells(t, out, "i"); !eqStrings(got, c.indices) {
			t.Errorf("%s: indices %v, want %v", c.mode, got, c.indices)
		}
		if got := cells(t, out, "id"); !eqStrings(got, c.ids) {
			t.Errorf("%s: rows %v, want %v", c.mode, got, c.ids)
		}
		if c.mode == HandleSkip {
			if got := append(cells(t, out, "v"), cells(t, out, "img")...); !eqStrings(got, []string{"[1]", "[4]", "1x1x1[1]", "1x1x1[4]"}) {
				t.Errorf("skip: other columns %v", got)
			}
		}
	}
	// A null alone, in error mode, names the problem too.
	m, _ := NewStringIndexer().SetInputCol("s").SetOutputCol("i").FitModel(bg, train)
	nulls := mustFrame(t, frame.Col("s", nullableStrings([]string{"x", "<null>"})))
	out, err := m.Transform(bg, nulls)
	wantErr(t, "null", runErr(out, err), "null in column", "handleInvalid")
}

func TestStringIndexerMetadataAndIndexToString(t *testing.T) {
	df := mustFrame(t, frame.Col("s", []string{"b", "a", "b"}))
	m, err := NewStringIndexer().SetInputCol("s").SetOutputCol("i").SetHandleInvalid(HandleKeep).FitModel(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := field(out, "i")
	vals, ok := nominalValues(f)
	if !ok || !eqStrings(vals, []string{"b", "a", UnknownLabel}) {
		t.Errorf("ml_attr values %v (%v), want b, a, %s; metadata %v", vals, ok, UnknownLabel, f.Metadata)
	}
	// Indexing keeps rows one for one, so counting an indexed frame reads no data: here an
	// unseen label that would fail the pass does not fail Count.
	unseen, err := m.SetHandleInvalid(HandleError).Transform(bg, mustFrame(t, frame.Col("s", []string{"a", "zzz"})))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := unseen.Count(bg); err != nil || n != 2 {
		t.Errorf("Count of an indexed frame: %d, %v; want 2 without running the indexer", n, err)
	}
	if f, _ := field(unseen, "i"); f.Metadata.Len() == 0 {
		t.Error("error mode lost the ml_attr metadata")
	}
	m.SetHandleInvalid(HandleKeep)
	back, err := NewIndexToString().SetInputCol("i").SetOutputCol("s2").Transform(bg, out)
	if err != nil {
		t.Fatal(err)
	}
	if got := cells(t, back, "s2"); !eqStrings(got, []string{"b", "a", "b"}) {
		t.Errorf("IndexToString from metadata: %v", got)
	}
	// The labels param wins over the metadata; nulls stay null; a missing label is an error.
	idx := mustFrame(t, frame.Col("k", nullable([]float64{2, 0, nan})))
	lab, err := NewIndexToString().SetInputCol("k").SetOutputCol("l").SetLabels("p", "q", "r").Transform(bg, idx)
	if err != nil {
		t.Fatal(err)
	}
	if got := cells(t, lab, "l"); !eqStrings(got, []string{"r", "p", "null"}) {
		t.Errorf("IndexToString with labels: %v", got)
	}
	bad, err := NewIndexToString().SetInputCol("k").SetOutputCol("l").SetLabels("p").Transform(bg, idx)
	wantErr(t, "index out of range", runErr(bad, err), "index 2", "no label", "1 labels")
	_, err = NewIndexToString().SetInputCol("k").SetOutputCol("l").Transform(bg, idx)
	wantErr(t, "no metadata", err, "no labels in its metadata", "set labels")
}

func TestStringIndexerErrors(t *testing.T) {
	df := mustFrame(t, frame.Col("s", []string{"a"}), frame.Col("v", [][]float64{{1}}))
	cases := []struct {
		name  string
		si    *StringIndexer
		wants []string
	}{
		{"unknown column", NewStringIndexer().SetInputCol("nope").SetOutputCol("i"), []string{`no column "nope"`, "columns: s, v"}},
		{"bad handleInvalid", NewStringIndexer().SetInputCol("s").SetHandleInvalid("ignore"), []string{"param handleInvalid", "ignore", "[error skip keep]"}},
		{"bad order", NewStringIndexer().SetInputCol("s").SetStringOrderType("random"), []string{"param stringOrderType", "frequencyDesc"}},
		{"both forms", NewStringIndexer().SetInputCol("s").SetInputCols("s").SetOutputCols("i"), []string{"inputCol or inputCols, not both"}},
		{"no input", NewStringIndexer(), []string{"set inputCol"}},
		{"lengths", NewStringIndexer().SetInputCols("s", "s").SetOutputCols("i"), []string{"2 inputCols but 1 outputCols"}},
		{"vector input", NewStringIndexer().SetInputCol("v"), []string{`"v"`, "want a string or numeric column"}},
	}
	for _, c := range cases {
		_, err := c.si.Fit(bg, df)
		wantErr(t, c.name, err, c.wants...)
	}
	m, err := NewStringIndexer().SetInputCol("s").SetOutputCol("s").FitModel(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Transform(bg, df)
	wantErr(t, "output exists", err, `output column "s" already exists`)
}
