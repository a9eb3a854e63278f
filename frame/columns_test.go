package frame

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/deepframe/deepframe/tensor"
)

// Widths Arrow cannot represent come back as errors naming the column, never as arrow's
// panics.
func TestZeroWidthVectors(t *testing.T) {
	for _, n := range []int{0, -1, 1 << 40} {
		if _, err := VectorType(n); err == nil {
			t.Errorf("VectorType(%d) gave no error", n)
		}
		if _, err := NewVectorBuilder(n); err == nil {
			t.Errorf("NewVectorBuilder(%d) gave no error", n)
		}
	}
	if typ, err := VectorType(3); err != nil || typ.String() != "fixed_size_list<item: float64, nullable>[3]" {
		t.Errorf("VectorType(3) = %v, %v", typ, err)
	}
	_, err := NewVectorArray(0, nil, []bool{true})
	errContains(t, err, "NewVectorArray", "vector of 0 values")

	_, err = FromColumns(Col("id", []int{1, 2}), Col("v", [][]float64{{}, {}}))
	errContains(t, err, `column "v"`, "empty vector")
	_, err = FromColumns(Col("v", [][]float64{}))
	errContains(t, err, `column "v"`, "no rows")

	_, err = FromTensors([]string{"x"}, []*tensor.Tensor{tensor.Zeros(3, 0)})
	errContains(t, err, `tensor "x"`, "(3, 0)")
	_, err = FromTensors([]string{"x"}, []*tensor.Tensor{tensor.Zeros(2, 4, 0)})
	errContains(t, err, `tensor "x"`)

	// No rows but a width: an empty vector column of that width.
	df := must[*DataFrame](t)(FromTensors([]string{"x"}, []*tensor.Tensor{tensor.Zeros(0, 5)}))
	if n, ok := IsVector(df.Schema().Field(0).Type); !ok || n != 5 || count(t, df) != 0 {
		t.Errorf("FromTensors of [0 5]: %s, %d rows", df, count(t, df))
	}

	// JSON arrays that are always empty keep their text.
	p := writeFile(t, t.TempDir(), "e.jsonl", "{\"v\": [], \"a\": 1}\n{\"v\": [], \"a\": 2}\n")
	js := must[*DataFrame](t)(ReadJSONLines(p))
	if typ := js.Schema().Field(0).Type; typ.ID() != arrow.STRING {
		t.Errorf("always-empty arrays read as %s, want utf8", typ)
	}
	if got := join(rows(t, js)); got != "[]|1\n[]|2\n" {
		t.Errorf("rows %q", got)
	}
}

func TestWithColumnField(t *testing.T) {
	base := must[*DataFrame](t)(FromColumns(Col("s", []string{"a", "b", "c"}), Col("x", []float64{1, 2, 3})))
	md := arrow.NewMetadata([]string{"ml_attr"}, []string{`{"type":"nominal"}`})
	calls := 0
	fail := false
	out, err := base.WithColumnField(arrow.Field{Name: "y", Type: arrow.PrimitiveTypes.Float64, Nullable: true, Metadata: md}, []string{"x"},
		func(cols []arrow.Array) (arrow.Array, error) {
			calls++
			if fail {
				return nil, errors.New("unseen label")
			}
			vals, err := ToFloat64(nil, cols[0])
			if err != nil {
				return nil, err
			}
			for i := range vals {
				vals[i] *= 10
			}
			return float64Array(vals), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	f := out.Schema().Field(2)
	if v, ok := f.Metadata.GetValue("ml_attr"); f.Name != "y" || !ok || v != `{"type":"nominal"}` {
		t.Errorf("field %v lost its metadata", f)
	}
	if got := column(t, out, "y"); strings.Join(got, ",") != "10.0,20.0,30.0" {
		t.Errorf("y = %v", got)
	}
	// Rows are kept one for one, so Count answers without running fn, even one that fails.
	fail, calls = true, 0
	if n := count(t, out); n != 3 || calls != 0 {
		t.Errorf("Count = %d after %d calls, want 3 without running the column", n, calls)
	}
	if n, ok := out.KnownCount(); !ok || n != 3 {
		t.Errorf("KnownCount = %d, %v", n, ok)
	}
	_, err = out.Collect(context.Background())
	errContains(t, err, `WithColumnField "y"`, "unseen label")

	// A non-nullable field refuses nulls.
	strict, err := base.WithColumnField(arrow.Field{Name: "z", Type: arrow.PrimitiveTypes.Float64}, []string{"x"},
		func(cols []arrow.Array) (arrow.Array, error) {
			b := array.NewFloat64Builder(alloc)
			defer b.Release()
			b.AppendValues([]float64{1, 0, 3}, []bool{true, false, true})
			return b.NewArray(), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	_, err = strict.Collect(context.Background())
	errContains(t, err, "null(s) for a non-nullable column")

	for _, bad := range []arrow.Field{{Name: "", Type: arrow.PrimitiveTypes.Float64}, {Name: "q"}} {
		if _, err := base.WithColumnField(bad, []string{"x"}, func([]arrow.Array) (arrow.Array, error) { return nil, nil }); err == nil {
			t.Errorf("field %+v accepted", bad)
		}
	}
	_, err = base.WithColumnField(arrow.Field{Name: "q", Type: arrow.PrimitiveTypes.Float64}, []string{"nope"}, func([]arrow.Array) (arrow.Array, error) { return nil, nil })
	errContains(t, err, `no column "nope"`, "s, x")

	filtered := must[*DataFrame](t)(base.Filter([]string{"x"}, func(Row) bool { return true }))
	if _, ok := filtered.KnownCount(); ok {
		t.Error("KnownCount claims to know the rows a filter keeps")
	}
}

func TestReadCSVFrom(t *testing.T) {
	const text = "a,b\n1,x\n2,y\n"
	df := must[*DataFrame](t)(ReadCSVFrom(strings.NewReader(text), "inline.csv", Header(), InferSchema()))
	if df.Schema().Field(0).Type.ID() != arrow.INT32 {
		t.Errorf("schema %s", df)
	}
	// The frame reads its copy at every action.
	for range 2 {
		if got := join(rows(t, df)); got != "1|x\n2|y\n" {
			t.Errorf("rows %q", got)
		}
	}

	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(text))
	w.Close()
	zipped := must[*DataFrame](t)(ReadCSVFrom(&gz, "inline.csv.gz", Header()))
	if got := join(rows(t, zipped)); got != "1|x\n2|y\n" {
		t.Errorf("gzip rows %q", got)
	}

	intB := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int32}, {Name: "b", Type: arrow.BinaryTypes.String}}, nil)
	bad := must[*DataFrame](t)(ReadCSVFrom(strings.NewReader("a,b\n1,x\nz,y\n"), "embedded iris", Header(), Schema(intB)))
	_, err := bad.Count(context.Background())
	errContains(t, err, "frame: ReadCSVFrom: embedded iris: line 3, column 1 (a)")
	_, err = ReadCSVFrom(strings.NewReader(""), "empty.csv", Header())
	errContains(t, err, "ReadCSVFrom", "empty.csv: no records")
	_, err = ReadCSVFrom(nil, "nil.csv")
	errContains(t, err, "nil.csv", "nil reader")
	_, err = ReadCSVFrom(iotestErr{}, "broken pipe")
	errContains(t, err, "broken pipe", "read failed")
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("read failed") }

func TestColumnFloat64s(t *testing.T) {
	vec, err := NewVectorArray(2, []float64{1, 2, 3, 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	df := must[*DataFrame](t)(FromColumns(Col("x", []int64{5, 6}), Col("s", []string{"a", "b"})))
	got := must[[]float64](t)(ColumnFloat64s(t.Context(), df, "x"))
	if len(got) != 2 || got[0] != 5 || got[1] != 6 {
		t.Errorf("numeric column read as %v, want [5 6]", got)
	}
	errContains(t, second(ColumnFloat64s(t.Context(), df, "nope")), `no column "nope"`, "columns: x, s")
	errContains(t, second(ColumnFloat64s(t.Context(), df, "s")), `column "s"`)
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: vec.DataType(), Nullable: true}}, nil)
	vdf := must[*DataFrame](t)(FromRecords(array.NewRecordBatch(schema, []arrow.Array{vec}, 2)))
	got = must[[]float64](t)(ColumnFloat64s(t.Context(), vdf, "v"))
	if len(got) != 4 || got[3] != 4 {
		t.Errorf("vector column read as %v, want [1 2 3 4]", got)
	}
}

func second[T any](_ T, err error) error { return err }
