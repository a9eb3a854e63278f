package frame

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestReadCSVEdgeCases(t *testing.T) {
	cases := []struct {
		name    string
		content string
		opts    []ReadOption
		schema  string // "name:type,..." expected
		want    string // rows joined by | and \n
	}{
		{"quoted delimiter", "a,b\n\"x,y\",2\n", []ReadOption{Header(), InferSchema()}, "a:utf8,b:int32", "x,y|2\n"},
		{"embedded newline", "a,b\n\"line1\nline2\",2\nz,3\n", []ReadOption{Header(), InferSchema()}, "a:utf8,b:int32", "line1\nline2|2\nz|3\n"},
		{"embedded CRLF kept", "a,b\r\n\"p\r\nq\",1\r\n", []ReadOption{Header()}, "a:utf8,b:utf8", "p\r\nq|1\n"},
		{"doubled quotes", "a\n\"say \"\"hi\"\"\"\n", []ReadOption{Header()}, "a:utf8", "say \"hi\"\n"},
		{"empty fields", "a,b,c\n1,,3\n,x,\n", []ReadOption{Header(), InferSchema()}, "a:int32,b:utf8,c:int32", "1|null|3\nnull|x|null\n"},
		{"quoted empty is a string", "a,b\n\"\",1\n,2\n", []ReadOption{Header(), InferSchema()}, "a:utf8,b:int32", "|1\nnull|2\n"},
		{"utf-8", "名前,値\n東京,1\n\"Zürich 🚆\",2\n", []ReadOption{Header(), InferSchema()}, "名前:utf8,値:int32", "東京|1\nZürich 🚆|2\n"},
		{"crlf", "a,b\r\n1,2\r\n3,4\r\n", []ReadOption{Header(), InferSchema()}, "a:int32,b:int32", "1|2\n3|4\n"},
		{"byte order mark", "\xef\xbb\xbfa,b\n1,2\n", []ReadOption{Header(), InferSchema()}, "a:int32,b:int32", "1|2\n"},
		{"no final newline", "a,b\n1,2", []ReadOption{Header(), InferSchema()}, "a:int32,b:int32", "1|2\n"},
		{"final field empty at EOF", "a,b\n1,", []ReadOption{Header()}, "a:utf8,b:utf8", "1|null\n"},
		{"blank lines skipped", "a,b\n\n1,2\n\r\n3,4\n\n", []ReadOption{Header(), InferSchema()}, "a:int32,b:int32", "1|2\n3|4\n"},
		{"semicolon and single quote", "a;b\n'x;y';'it''s'\n", []ReadOption{Header(), Delimiter(';'), Quote('\'')}, "a:utf8,b:utf8", "x;y|it's\n"},
		{"tab", "a\tb\n1.5\ttrue\n", []ReadOption{Header(), Delimiter('\t'), InferSchema()}, "a:float64,b:bool", "1.5|true\n"},
		{"null values", "a,b\nNA,1\nx,NA\n", []ReadOption{Header(), NullValues("NA"), InferSchema()}, "a:utf8,b:int32", "null|1\nx|null\n"},
		{"no header", "1,x\n2,y\n", []ReadOption{InferSchema()}, "_c0:int32,_c1:utf8", "1|x\n2|y\n"},
		{"no header no inference", "1,x\n", nil, "_c0:utf8,_c1:utf8", "1|x\n"},
		{"duplicate and empty names", "a,a,\n1,2,3\n", []ReadOption{Header()}, "a0:utf8,a1:utf8,_c2:utf8", "1|2|3\n"},
		{"quote inside unquoted field", "a\n5\"6\n", []ReadOption{Header()}, "a:utf8", "5\"6\n"},
		{"lone CR is data", "a\nx\ry\n", []ReadOption{Header()}, "a:utf8", "x\ry\n"},
		{"spaces around numbers", "a,b\n 1 , 2.5 \n", []ReadOption{Header(), InferSchema()}, "a:int32,b:float64", "1|2.5\n"},
		{"int64 and float widening", "a,b,c\n1,1,1\n3000000000,2.5,x\n", []ReadOption{Header(), InferSchema()}, "a:int64,b:float64,c:utf8", "1|1.0|1\n3000000000|2.5|x\n"},
		{"all null column is string", "a,b\n1,\n2,\n", []ReadOption{Header(), InferSchema()}, "a:int32,b:utf8", "1|null\n2|null\n"},
		{"booleans", "a\nTrue\nfalse\n", []ReadOption{Header(), InferSchema()}, "a:bool", "true\nfalse\n"},
		{"explicit schema", "x,y\n1,2\n", []ReadOption{Header(), Schema(arrow.NewSchema([]arrow.Field{{Name: "p", Type: arrow.PrimitiveTypes.Int64}, {Name: "q", Type: arrow.PrimitiveTypes.Float32}}, nil))}, "p:int64,q:float32", "1|2.0\n"},
		{"columns projection", "a,b,c\n1,2,3\n", []ReadOption{Header(), Columns("c", "a")}, "c:utf8,a:utf8", "3|1\n"},
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, fmt.Sprintf("case%d.csv", i), c.content)
			df, err := ReadCSV(p, append(c.opts, BatchRows(1))...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range df.Schema().Fields() {
				got = append(got, f.Name+":"+f.Type.String())
			}
			if s := strings.Join(got, ","); s != c.schema {
				t.Errorf("schema %s, want %s", s, c.schema)
			}
			if g := join(rows(t, df)); g != c.want {
				t.Errorf("rows\n%q\nwant\n%q", g, c.want)
			}
		})
	}
}

func TestReadCSVModes(t *testing.T) {
	dir := t.TempDir()
	content := "id,score,name\n" +
		"1,2.5,a\n" + // line 2: fine
		"2,abc,b\n" + // line 3: score does not parse
		"3,4.5\n" + // line 4: too few fields
		"4,5.5,d,extra\n" + // line 5: too many
		"5,6.5,\"e\"x\n" + // line 6: stray text after a closing quote
		"6,7.5,f\n" // line 7: fine
	p := writeFile(t, dir, "modes.csv", content)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	cases := []struct {
		name    string
		opts    []ReadOption
		want    string
		wantErr string
	}{
		{"failfast", []ReadOption{Mode(FailFast)}, "", `modes.csv: line 3, column 2 (score): cannot parse "abc" as float64`},
		{"dropmalformed", []ReadOption{Mode(DropMalformed)}, "1|2.5|a\n6|7.5|f\n", ""},
		{"permissive", []ReadOption{Mode(Permissive)}, "1|2.5|a\n2|null|b\n3|4.5|null\n4|5.5|d\n5|6.5|ex\n6|7.5|f\n", ""},
		{"permissive with corrupt column", []ReadOption{Mode(Permissive), CorruptRecordColumn("_corrupt")},
			"1|2.5|a|null\n2|null|b|2,abc,b\n3|4.5|null|3,4.5\n4|5.5|d|4,5.5,d,extra\n5|6.5|ex|5,6.5,\"e\"x\n6|7.5|f|null\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			df, err := ReadCSV(p, append(c.opts, Header(), Schema(schema), BatchRows(2))...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tryRows(df)
			if c.wantErr != "" {
				errContains(t, err, "frame: ReadCSV: ", c.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g := join(got); g != c.want {
				t.Errorf("rows\n%s\nwant\n%s", g, c.want)
			}
		})
	}
}

func TestReadCSVErrors(t *testing.T) {
	dir := t.TempDir()
	intB := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.BinaryTypes.String}, {Name: "b", Type: arrow.PrimitiveTypes.Int32}}, nil)
	cases := []struct {
		name, content string
		opts          []ReadOption
		want          []string
	}{
		{"parse", "a,b\nx,1\ny,z\n", []ReadOption{Schema(intB)}, []string{"bad.csv: line 3, column 2 (b): cannot parse \"z\" as int32"}},
		{"int32 overflow", "a,b\nx,3000000000\n", []ReadOption{Schema(intB)}, []string{"line 2, column 2 (b): cannot parse \"3000000000\" as int32"}},
		{"field count", "a,b\nx,1\ny\n", []ReadOption{Schema(intB)}, []string{"bad.csv: line 3: 1 fields, want 2 (a, b)"}},
		{"line after embedded newline", "a,b\n\"x\ny\",1\nz,bad\n", []ReadOption{Schema(intB)}, []string{"line 4, column 2 (b)", `"bad"`}},
		{"unterminated quote", "a,b\nx,1\n\"never closed,2\n", nil, []string{"line 3, column 1 (a): quoted field starting on line 3 is never closed"}},
		{"stray after quote", "a,b\n\"x\"y,1\n", nil, []string{"line 2, column 1 (a): unexpected 'y' after closing quote"}},
		{"invalid utf-8", "a,b\n\xff\xfe,1\n", nil, []string{"line 2, column 1 (a): invalid UTF-8"}},
		{"inference fails fast", "a,b\n1,2\n3\n", []ReadOption{InferSchema()}, []string{"bad.csv: line 3: 1 fields, want 2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, "bad.csv", c.content)
			df, err := ReadCSV(p, append(c.opts, Header())...)
			if err == nil {
				_, err = df.Count(context.Background())
			}
			errContains(t, err, c.want...)
		})
	}
	t.Run("unknown option", func(t *testing.T) {
		_, err := ReadCSV(writeFile(t, dir, "x.csv", "a\n1\n"), Resize(2, 2))
		errContains(t, err, "ReadCSV does not take option Resize")
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := ReadCSV(filepath.Join(dir, "nope.csv"))
		errContains(t, err, "frame: ReadCSV", "nope.csv")
	})
}

func TestReadCSVDirectoryGzipAndIris(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "d/part-0.csv", "a,b\n1,x\n2,y\n")
	writeFile(t, dir, "d/part-1.csv", "a,b\n3,z\n")
	writeFile(t, dir, "d/_SUCCESS", "")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("a,b\n4,w\n"))
	zw.Close()
	writeFile(t, dir, "d/part-2.csv.gz", gz.String())
	df := must[*DataFrame](t)(ReadCSV(filepath.Join(dir, "d"), Header(), InferSchema()))
	if df.Partitions() != 3 {
		t.Errorf("%d partitions, want 3", df.Partitions())
	}
	if g := join(rows(t, df)); g != "1|x\n2|y\n3|z\n4|w\n" {
		t.Errorf("rows %q", g)
	}
	glob := must[*DataFrame](t)(ReadCSV(filepath.Join(dir, "d", "part-[01].csv"), Header()))
	if n := count(t, glob); n != 3 {
		t.Errorf("glob read %d rows, want 3", n)
	}

	ir := iris(t)
	if n := count(t, ir); n != 150 {
		t.Errorf("iris has %d rows, want 150", n)
	}
	want := "sepal_len:float64,sepal_wid:float64,petal_len:float64,petal_wid:float64,class:utf8"
	var got []string
	for _, f := range ir.Schema().Fields() {
		got = append(got, f.Name+":"+f.Type.String())
	}
	if strings.Join(got, ",") != want {
		t.Errorf("iris schema %v", got)
	}
}

// TestReadCSVStreamsInBoundedMemory reads a file many batches long and checks that the live
// heap stays far below the size of the data: nothing accumulates across batches.
func TestReadCSVStreamsInBoundedMemory(t *testing.T) {
	dir := t.TempDir()
	const nrows, ncols = 60000, 8
	var b bytes.Buffer
	for c := 0; c < ncols; c++ {
		if c > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "c%d", c)
	}
	b.WriteByte('\n')
	for r := 0; r < nrows; r++ {
		for c := 0; c < ncols; c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d.%03d", r, c)
		}
		b.WriteByte('\n')
	}
	p := writeFile(t, dir, "big.csv", b.String())
	fileSize := b.Len()
	b = bytes.Buffer{}
	schema := make([]arrow.Field, ncols)
	for c := range schema {
		schema[c] = arrow.Field{Name: fmt.Sprintf("c%d", c), Type: arrow.PrimitiveTypes.Float64, Nullable: true}
	}
	df := must[*DataFrame](t)(ReadCSV(p, Header(), Schema(arrow.NewSchema(schema, nil)), BatchRows(500)))
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	batches, total := 0, int64(0)
	err := df.Iterate(context.Background(), func(r arrow.RecordBatch) error {
		batches++
		total += r.NumRows()
		if batches%20 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != nrows || batches != nrows/500 {
		t.Fatalf("%d rows in %d batches, want %d in %d", total, batches, nrows, nrows/500)
	}
	arrowSize := nrows * ncols * 8
	growth := int64(peak) - int64(base)
	t.Logf("file %d bytes, data %d bytes as Arrow, live heap growth while streaming %d bytes", fileSize, arrowSize, growth)
	if growth > int64(arrowSize)/4 {
		t.Errorf("live heap grew by %d bytes while streaming %d bytes of data; batches are being kept", growth, arrowSize)
	}
}

// TestCSVPandasCrossCheck reads CSV files that pandas and pyarrow wrote (quoted delimiters,
// embedded line breaks, quotes, empty and missing values, UTF-8, CRLF line ends); it runs only
// when DEEPFRAME_PYTHON names a Python with pyarrow and pandas.
func TestCSVPandasCrossCheck(t *testing.T) {
	py := pythonForTests(t)
	dir := t.TempDir()
	script := `
import sys, csv, pandas as pd, pyarrow as pa, pyarrow.csv as pc
df = pd.DataFrame({
    "id": [1, 2, 3, 4],
    "text": ["plain", "comma, inside", "line\nbreak", 'say "hi"'],
    "score": [0.5, None, -2.25, 1e-7],
    "city": ["Zürich", "東京", "", None],
})
df.to_csv(sys.argv[1] + "/pandas.csv", index=False, lineterminator="\r\n")
pc.write_csv(pa.Table.from_pandas(df, preserve_index=False), sys.argv[1] + "/pyarrow.csv")
`
	if out, err := exec.Command(py, "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	for _, name := range []string{"pandas.csv", "pyarrow.csv"} {
		t.Run(name, func(t *testing.T) {
			df := must[*DataFrame](t)(ReadCSV(filepath.Join(dir, name), Header(), InferSchema()))
			var types []string
			for _, f := range df.Schema().Fields() {
				types = append(types, f.Type.String())
			}
			if got := strings.Join(types, ","); got != "int32,utf8,float64,utf8" {
				t.Errorf("types %s", got)
			}
			got := join(rows(t, df))
			want := "1|plain|0.5|Zürich\n2|comma, inside|null|東京\n3|line\nbreak|-2.25|null\n4|say \"hi\"|1.0E-7|null\n"
			if name == "pyarrow.csv" {
				// pyarrow quotes the empty string (""), which stays an empty string.
				want = strings.Replace(want, "-2.25|null", "-2.25|", 1)
			}
			if got != want {
				t.Errorf("rows\n%q\nwant\n%q", got, want)
			}
		})
	}
}
