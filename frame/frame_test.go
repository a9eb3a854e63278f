package frame

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/deepframe/deepframe/tensor"
)

// numbered returns a frame with an int64 column "id" 0..n-1 and a float column "x" = id/10,
// split into record batches of the given size (so tests can vary batch boundaries).
func numbered(t *testing.T, n, batch int) *DataFrame {
	t.Helper()
	ids := make([]int64, n)
	xs := make([]float64, n)
	for i := range ids {
		ids[i] = int64(i)
		xs[i] = float64(i) / 10
	}
	df := must[*DataFrame](t)(FromColumns(Col("id", ids), Col("x", xs)))
	parts := max(1, (n+batch-1)/batch)
	return must[*DataFrame](t)(df.Repartition(parts))
}

func ids(t *testing.T, df *DataFrame) []int64 {
	t.Helper()
	var out []int64
	err := df.Iterate(context.Background(), func(r arrow.RecordBatch) error {
		j := r.Schema().FieldIndices("id")[0]
		out = append(out, r.Column(j).(*array.Int64).Int64Values()...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUnknownColumnErrors(t *testing.T) {
	df := iris(t)
	want := `frame: no column "clas" (columns: sepal_len, sepal_wid, petal_len, petal_wid, class)`
	calls := map[string]func() error{
		"Select":            func() error { _, err := df.Select("clas"); return err },
		"Drop":              func() error { _, err := df.Drop("clas"); return err },
		"WithColumnFloat64": func() error { _, err := df.WithColumnFloat64("y", []string{"clas"}, nil); return err },
		"Filter":            func() error { _, err := df.Filter([]string{"clas"}, nil); return err },
		"Join":              func() error { _, err := df.Join(df, []string{"clas"}, Inner); return err },
		"WithColumnRenamed": func() error { _, err := df.WithColumnRenamed("clas", "c"); return err },
		"ToDataset":         func() error { _, err := ToDataset(context.Background(), df, []string{"sepal_len"}, "clas"); return err },
		"Batches":           func() error { _, err := Batches(context.Background(), df, []string{"clas"}, ""); return err },
		"ReadCSV Columns":   func() error { _, err := ReadCSV(irisPath, Header(), Columns("clas")); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			errContains(t, err, want)
			var ce *ColumnError
			if !errors.As(err, &ce) || ce.Name != "clas" || len(ce.Columns) != 5 {
				t.Errorf("error %v is not a *ColumnError for clas", err)
			}
		})
	}
}

func TestSelectDropRenameWithColumn(t *testing.T) {
	df := must[*DataFrame](t)(FromColumns(
		Col("a", []int64{1, 2, 3}),
		Col("b", []float64{0.5, math.NaN(), 2}),
		Col("s", []string{"x", "y", "z"}),
	))
	sel := must[*DataFrame](t)(df.Select("s", "a"))
	if g := join(rows(t, sel)); g != "x|1\ny|2\nz|3\n" {
		t.Errorf("Select: %q", g)
	}
	if _, err := df.Select("a", "a"); err == nil {
		t.Error("Select of a column twice gave no error")
	}
	drop := must[*DataFrame](t)(df.Drop("b"))
	if got := drop.Columns(); !slices.Equal(got, []string{"a", "s"}) {
		t.Errorf("Drop: columns %v", got)
	}
	ren := must[*DataFrame](t)(df.WithColumnRenamed("a", "id"))
	if got := ren.Columns(); !slices.Equal(got, []string{"id", "b", "s"}) {
		t.Errorf("rename: columns %v", got)
	}
	if _, err := df.WithColumnRenamed("a", "s"); err == nil {
		t.Error("renaming onto an existing column gave no error")
	}
	sum := must[*DataFrame](t)(df.WithColumnFloat64("sum", []string{"a", "b"}, func(r []float64) float64 { return r[0] + r[1] }))
	if got := column(t, sum, "sum"); !slices.Equal(got, []string{"1.5", "NaN", "5.0"}) {
		t.Errorf("WithColumnFloat64: %v", got)
	}
	// Replacing a column keeps its position.
	rep := must[*DataFrame](t)(df.WithColumnString("a", []string{"s", "a"}, func(r []string) string { return r[0] + r[1] }))
	if g := join(rows(t, rep)); g != "x1|0.5|x\ny2|NaN|y\nz3|2.0|z\n" {
		t.Errorf("WithColumnString: %q", g)
	}
	if _, err := df.WithColumnFloat64("bad", []string{"s"}, nil); err == nil {
		t.Error("WithColumnFloat64 over a string column gave no error")
	}
	vec := must[*DataFrame](t)(df.WithColumn("v", must[arrow.DataType](t)(VectorType(2)), []string{"a", "b"}, func(cols []arrow.Array) (arrow.Array, error) {
		a, _ := ToFloat64(nil, cols[0])
		b, _ := ToFloat64(nil, cols[1])
		vb, err := NewVectorBuilder(2)
		if err != nil {
			return nil, err
		}
		defer vb.Release()
		for i := range a {
			if err := vb.Append([]float64{a[i], b[i] * 2}); err != nil {
				return nil, err
			}
		}
		return vb.NewArray(), nil
	}))
	if got := column(t, vec, "v"); !slices.Equal(got, []string{"[1.0,1.0]", "[2.0,NaN]", "[3.0,4.0]"}) {
		t.Errorf("vector column: %v", got)
	}
}

func TestLazyErrorsSurfaceAtTheAction(t *testing.T) {
	df := numbered(t, 10, 3)
	boom := errors.New("boom")
	bad := must[*DataFrame](t)(df.WithColumn("y", arrow.PrimitiveTypes.Float64, []string{"x"}, func([]arrow.Array) (arrow.Array, error) {
		return nil, boom
	}))
	_, err := bad.Collect(context.Background())
	if !errors.Is(err, boom) {
		t.Fatalf("Collect: %v, want boom", err)
	}
	errContains(t, err, `frame: WithColumn "y": boom`)
	wrongType := must[*DataFrame](t)(df.WithColumn("y", arrow.PrimitiveTypes.Float64, []string{"id"}, func(c []arrow.Array) (arrow.Array, error) {
		c[0].Retain()
		return c[0], nil
	}))
	_, err = wrongType.Collect(context.Background())
	errContains(t, err, "function returned int64, want float64")
	mb := must[*DataFrame](t)(df.MapBatches(arrow.NewSchema([]arrow.Field{{Name: "z", Type: arrow.PrimitiveTypes.Int64}}, nil), func(r arrow.RecordBatch) (arrow.RecordBatch, error) {
		return r, nil
	}))
	_, err = mb.Count(context.Background())
	errContains(t, err, "frame: MapBatches: function returned schema")
}

func TestMapBatchesAndFilter(t *testing.T) {
	df := numbered(t, 24, 6)
	even := must[*DataFrame](t)(df.Filter([]string{"id"}, func(r Row) bool { return r.Int64(0)%2 == 0 }))
	if got := ids(t, even); !slices.Equal(got, []int64{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22}) {
		t.Errorf("Filter: %v", got)
	}
	onlyID := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	firstRow := must[*DataFrame](t)(df.MapBatches(onlyID, func(r arrow.RecordBatch) (arrow.RecordBatch, error) {
		cols := []arrow.Array{r.Column(0)}
		return array.NewRecordBatch(onlyID, cols, r.NumRows()).NewSlice(0, 1), nil
	}))
	if got := ids(t, firstRow); !slices.Equal(got, []int64{0, 6, 12, 18}) {
		t.Errorf("MapBatches: %v", got)
	}
	s := must[*DataFrame](t)(FromColumns(Col("s", []string{"a", "bb", "ccc"}), Col("v", [][]float64{{1, 2}, {3, 4}, {5, 6}}), Col("ok", []bool{true, false, true})))
	f := must[*DataFrame](t)(s.Filter([]string{"s", "v", "ok"}, func(r Row) bool {
		return len(r.String(0)) > 1 && r.Vector(1)[1] > 3 && r.Bool(2)
	}))
	if g := join(rows(t, f)); g != "ccc|[5.0,6.0]|true\n" {
		t.Errorf("Filter over strings and vectors: %q", g)
	}
}

func TestRandomSplit(t *testing.T) {
	const n = 2000
	weights := []float64{0.7, 0.2, 0.1}
	var reference [][]int64
	for _, batch := range []int{n, 7, 128, 1} {
		df := numbered(t, n, batch)
		parts := must[[]*DataFrame](t)(df.RandomSplit(weights, 42))
		var got [][]int64
		seen := map[int64]int{}
		for k, p := range parts {
			rowsK := ids(t, p)
			got = append(got, rowsK)
			for _, id := range rowsK {
				seen[id]++
			}
			frac := float64(len(rowsK)) / n
			if math.Abs(frac-weights[k]) > 0.05 {
				t.Errorf("batch %d: split %d holds %.3f of the rows, want about %.1f", batch, k, frac, weights[k])
			}
		}
		if len(seen) != n {
			t.Errorf("batch %d: splits cover %d of %d rows", batch, len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("batch %d: row %d is in %d splits", batch, id, c)
			}
		}
		if reference == nil {
			reference = got
		} else {
			for k := range got {
				if !slices.Equal(got[k], reference[k]) {
					t.Errorf("batch size %d changed split %d", batch, k)
				}
			}
		}
	}
	again := must[[]*DataFrame](t)(numbered(t, n, 50).RandomSplit(weights, 42))
	if !slices.Equal(ids(t, again[0]), reference[0]) {
		t.Error("same seed gave a different split")
	}
	other := must[[]*DataFrame](t)(numbered(t, n, 50).RandomSplit(weights, 43))
	if slices.Equal(ids(t, other[0]), reference[0]) {
		t.Error("different seeds gave the same split")
	}
	// Streamed from a file, the split matches the in-memory one.
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	csvDF := must[*DataFrame](t)(ReadCSV(writeFile(t, dir, "ids.csv", b.String()), Header(), Schema(arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)), BatchRows(333)))
	streamed := must[[]*DataFrame](t)(csvDF.RandomSplit(weights, 42))
	for k := range streamed {
		if !slices.Equal(ids(t, streamed[k]), reference[k]) {
			t.Errorf("split %d of a streamed CSV differs from the in-memory split", k)
		}
	}
	for _, w := range [][]float64{nil, {1, -1}, {0, 0}, {math.NaN()}} {
		if _, err := numbered(t, 3, 3).RandomSplit(w, 1); err == nil {
			t.Errorf("weights %v gave no error", w)
		}
	}
}

func TestSampleShardLimit(t *testing.T) {
	const n = 1000
	df := numbered(t, n, 64)
	s1 := ids(t, must[*DataFrame](t)(df.Sample(0.3, 7)))
	s2 := ids(t, must[*DataFrame](t)(numbered(t, n, 5).Sample(0.3, 7)))
	if !slices.Equal(s1, s2) {
		t.Error("Sample depends on batch size")
	}
	if f := float64(len(s1)) / n; math.Abs(f-0.3) > 0.05 {
		t.Errorf("Sample(0.3) kept %.3f", f)
	}
	if _, err := df.Sample(1.5, 1); err == nil {
		t.Error("Sample(1.5) gave no error")
	}

	seen := map[int64]bool{}
	sizes := []int{}
	for rank := 0; rank < 3; rank++ {
		sh := ids(t, must[*DataFrame](t)(df.Shard(rank, 3)))
		sizes = append(sizes, len(sh))
		for _, id := range sh {
			if seen[id] {
				t.Fatalf("row %d in two shards", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != n || slices.Max(sizes)-slices.Min(sizes) > 1 {
		t.Errorf("shards cover %d rows with sizes %v", len(seen), sizes)
	}
	if _, err := df.Shard(3, 3); err == nil {
		t.Error("Shard(3, 3) gave no error")
	}

	lim := must[*DataFrame](t)(df.Limit(100))
	if got := ids(t, lim); len(got) != 100 || got[99] != 99 {
		t.Errorf("Limit(100): %d rows", len(got))
	}
	if c := count(t, lim); c != 100 {
		t.Errorf("Count after Limit: %d", c)
	}
	if c := count(t, must[*DataFrame](t)(df.Limit(5000))); c != n {
		t.Errorf("Limit beyond the end: %d", c)
	}
}

// TestLimitStopsReading checks that Limit does not read the rest of a stream.
func TestLimitStopsReading(t *testing.T) {
	df := numbered(t, 1000, 10)
	read := 0
	counted := must[*DataFrame](t)(df.MapBatches(df.Schema(), func(r arrow.RecordBatch) (arrow.RecordBatch, error) {
		read++
		return r, nil
	}))
	if got := ids(t, must[*DataFrame](t)(counted.Limit(25))); len(got) != 25 {
		t.Fatalf("%d rows", len(got))
	}
	if read != 3 {
		t.Errorf("Limit(25) over batches of 10 read %d batches, want 3", read)
	}
}

func TestUnionJoin(t *testing.T) {
	a := must[*DataFrame](t)(FromColumns(Col("k", []int64{1, 2, 3, 4}), Col("v", []string{"a", "b", "c", "d"})))
	b := must[*DataFrame](t)(FromColumns(Col("k", []int64{5}), Col("v", []string{"e"})))
	u := must[*DataFrame](t)(a.Union(b))
	if g := join(rows(t, u)); g != "1|a\n2|b\n3|c\n4|d\n5|e\n" || u.Partitions() != 2 || count(t, u) != 5 {
		t.Errorf("Union: %q, %d partitions", g, u.Partitions())
	}
	if _, err := a.Union(must[*DataFrame](t)(FromColumns(Col("k", []float64{1}), Col("v", []string{"x"})))); err == nil {
		t.Error("Union of int64 and float64 columns gave no error")
	}

	right := must[*DataFrame](t)(FromColumns(Col("key", []float64{2, 3, 3, 9}), Col("w", []float64{20, 30, 31, 90})))
	right = must[*DataFrame](t)(right.WithColumnRenamed("key", "k"))
	inner := must[*DataFrame](t)(a.Join(right, []string{"k"}, Inner))
	if g := join(rows(t, inner)); g != "2|b|20.0\n3|c|30.0\n3|c|31.0\n" {
		t.Errorf("inner join: %q", g)
	}
	left := must[*DataFrame](t)(a.Join(right, []string{"k"}, Left))
	if g := join(rows(t, left)); g != "1|a|null\n2|b|20.0\n3|c|30.0\n3|c|31.0\n4|d|null\n" {
		t.Errorf("left join: %q", g)
	}
	if got := left.Columns(); !slices.Equal(got, []string{"k", "v", "w"}) {
		t.Errorf("join columns %v", got)
	}
	// Multi-column string keys, null keys never matching, batches of the left side.
	l2 := must[*DataFrame](t)(FromColumns(Col("a", []string{"x", "x", "y"}), Col("b", []int32{1, 2, 1}), Col("n", []int64{10, 20, 30})))
	l2 = must[*DataFrame](t)(l2.Repartition(3))
	r2 := must[*DataFrame](t)(FromColumns(Col("a", []string{"x", "y"}), Col("b", []int64{2, 1}), Col("label", []string{"x2", "y1"})))
	j2 := must[*DataFrame](t)(l2.Join(r2, []string{"a", "b"}, Left))
	if g := join(rows(t, j2)); g != "x|1|10|null\nx|2|20|x2\ny|1|30|y1\n" {
		t.Errorf("two-key join: %q", g)
	}
	if _, err := a.Join(a, []string{"k"}, Inner); err == nil {
		t.Error("join with a clashing column name gave no error")
	}
	if _, err := a.Join(l2, []string{"a"}, Inner); err == nil {
		t.Error("join on a missing key gave no error")
	}
	strKey := must[*DataFrame](t)(FromColumns(Col("k", []string{"1"})))
	if _, err := a.Join(strKey, []string{"k"}, Inner); err == nil {
		t.Error("join of int64 and string keys gave no error")
	}
}

func TestRepartitionCollectCount(t *testing.T) {
	df := numbered(t, 10, 10)
	r := must[*DataFrame](t)(df.Repartition(3))
	if r.Partitions() != 3 {
		t.Fatalf("%d partitions", r.Partitions())
	}
	var sizes []int64
	err := r.Iterate(context.Background(), func(rec arrow.RecordBatch) error {
		sizes = append(sizes, rec.NumRows())
		return nil
	})
	if err != nil || !slices.Equal(sizes, []int64{3, 3, 4}) {
		t.Errorf("batch sizes %v (%v), want [3 3 4]", sizes, err)
	}
	// Repartitioning a filtered (count unknown) frame counts it first.
	f := must[*DataFrame](t)(numbered(t, 100, 7).Filter([]string{"id"}, func(r Row) bool { return r.Int64(0) < 50 }))
	f4 := must[*DataFrame](t)(f.Repartition(4))
	c := must[*DataFrame](t)(f4.Collect(context.Background()))
	if c.Partitions() != 4 || !slices.Equal(ids(t, c), ids(t, f)) {
		t.Errorf("collected %d partitions", c.Partitions())
	}
	if n := count(t, c); n != 50 {
		t.Errorf("count %d", n)
	}
	if _, err := df.Repartition(0); err == nil {
		t.Error("Repartition(0) gave no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := numbered(t, 10, 2).Collect(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Collect with a cancelled context: %v", err)
	}
}

func TestShow(t *testing.T) {
	df := must[*DataFrame](t)(FromColumns(
		Col("name", []string{"a", "a much longer name than twenty", "日本"}),
		Col("x", []float64{1, 1e-5, 12345678}),
		Col("v", [][]float64{{1, 2}, {3, 4}, {5, 6}}),
	))
	var b bytes.Buffer
	if err := df.Show(context.Background(), &b, 2); err != nil {
		t.Fatal(err)
	}
	want := `+--------------------+------+---------+
|                name|     x|        v|
+--------------------+------+---------+
|                   a|   1.0|[1.0,2.0]|
|a much longer name...|1.0E-5|[3.0,4.0]|
+--------------------+------+---------+
only showing top 2 rows
`
	// The truncated cell is 20 characters wide.
	want = strings.Replace(want, "|a much longer name...|", "|a much longer nam...|", 1)
	if b.String() != want {
		t.Errorf("Show:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := df.Show(context.Background(), &b, 10); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "only showing") || !strings.Contains(b.String(), "|                  日本|1.2345678E7|") {
		t.Errorf("Show all:\n%s", b.String())
	}
}

func TestFromTensorsAndRecords(t *testing.T) {
	x, _ := tensor.FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 3, 2)
	y, _ := tensor.FromInt64([]int64{0, 1, 0}, 3)
	img := tensor.New(tensor.Uint8, 3, 2, 2)
	for i := range img.Uint8s() {
		img.Uint8s()[i] = uint8(i)
	}
	df := must[*DataFrame](t)(FromTensors([]string{"x", "y", "img"}, []*tensor.Tensor{x, y, img}))
	if got := fmt.Sprint(df); got != "DataFrame[x: fixed_size_list<item: float64, nullable>[2], y: int64, img: "+imageType.String()+"]" {
		t.Errorf("schema %s", got)
	}
	if got := column(t, df, "x"); !slices.Equal(got, []string{"[1.0,2.0]", "[3.0,4.0]", "[5.0,6.0]"}) {
		t.Errorf("x %v", got)
	}
	if got := column(t, df, "img")[1]; got != "{img[1], 2, 2, 1, L, [04 05 06 07]}" {
		t.Errorf("img %v", got)
	}
	recs := must[[]arrow.RecordBatch](t)(df.Records(context.Background()))
	defer releaseAll(recs)
	again := must[*DataFrame](t)(FromRecords(recs[0], recs[0]))
	if again.Partitions() != 2 || count(t, again) != 6 {
		t.Errorf("FromRecords: %d partitions, %d rows", again.Partitions(), count(t, again))
	}
	if _, err := FromColumns(Col("a", []int64{1}), Col("b", []int64{1, 2})); err == nil {
		t.Error("columns of different lengths gave no error")
	}
	if _, err := FromColumns(Col("a", []complex64{1})); err == nil {
		t.Error("unsupported data gave no error")
	}
	if v, err := strconv.ParseFloat(formatDouble(0.1, 64), 64); err != nil || v != 0.1 {
		t.Errorf("formatDouble(0.1) = %s", formatDouble(0.1, 64))
	}
}

// TestSlicedNestedColumns runs vector and image columns whose record batches are slices
// (non-zero offsets) through filter, join and batching, where offset bugs would show.
func TestSlicedNestedColumns(t *testing.T) {
	n := 100
	ids := make([]int64, n)
	vecs := make([][]float64, n)
	imgs := make([]Image, n)
	for i := range ids {
		ids[i] = int64(i)
		vecs[i] = []float64{float64(i), float64(i) + 0.5}
		imgs[i] = Image{Origin: fmt.Sprint(i), Height: 1, Width: 1, Channels: 1, Mode: "L", Data: []byte{byte(i)}}
	}
	df := must[*DataFrame](t)(FromColumns(Col("id", ids), Col("v", vecs), Col("img", imgs)))
	df = must[*DataFrame](t)(df.Repartition(7))
	check := func(name string, d *DataFrame) {
		for _, r := range rows(t, d) {
			id := r[0]
			if r[1] != fmt.Sprintf("[%s.0,%s.5]", id, id) || r[2][:len(id)+2] != "{"+id+"," {
				t.Errorf("%s: row %v", name, r)
				return
			}
		}
	}
	check("repartition", df)
	parts := must[[]*DataFrame](t)(df.RandomSplit([]float64{1, 1}, 5))
	check("split", parts[0])
	right := must[*DataFrame](t)(FromColumns(Col("id", []int64{3, 50, 99, 1}), Col("w", []float64{1, 2, 3, 4})))
	right = must[*DataFrame](t)(right.Repartition(2))
	j := must[*DataFrame](t)(df.Join(right, []string{"id"}, Inner))
	check("join", j)
	if len(rows(t, j)) != 4 {
		t.Errorf("join kept %d rows, want 4", len(rows(t, j)))
	}
	j2 := must[*DataFrame](t)(right.Join(df, []string{"id"}, Left))
	for _, r := range rows(t, j2) {
		if r[2] != fmt.Sprintf("[%s.0,%s.5]", r[0], r[0]) {
			t.Errorf("join right vectors: %v", r)
		}
	}
	ds := must[*Dataset](t)(ToDataset(context.Background(), parts[1], []string{"v"}, "id"))
	for i := 0; i < ds.Len(); i++ {
		if float32(ds.Y().Int64s()[i]) != ds.X().Float32s()[2*i] {
			t.Fatalf("dataset row %d", i)
		}
	}
}
