package frame

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

func sampleFrame(t *testing.T, n int) *DataFrame {
	t.Helper()
	ids := make([]int64, n)
	f32 := make([]float32, n)
	names := make([]string, n)
	vecs := make([][]float64, n)
	flags := make([]bool, n)
	imgs := make([]Image, n)
	for i := range ids {
		ids[i] = int64(i)
		f32[i] = float32(i) / 4
		names[i] = fmt.Sprintf("näme-%d", i)
		vecs[i] = []float64{float64(i), -float64(i), 0.5}
		flags[i] = i%3 == 0
		imgs[i] = Image{Origin: fmt.Sprintf("img%d.png", i), Height: 1, Width: 2, Channels: 3, Mode: "RGB", Data: []byte{byte(i), 1, 2, 3, 4, 5}}
	}
	return must[*DataFrame](t)(FromColumns(Col("id", ids), Col("f", f32), Col("name", names), Col("vec", vecs), Col("flag", flags), Col("image", imgs)))
}

func TestParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := sampleFrame(t, 1000)
	// Add nulls by a left join that misses half the rows.
	half := must[*DataFrame](t)(FromColumns(Col("id", []int64{0, 2, 4}), Col("extra", []float64{1, 2, 3})))
	src = must[*DataFrame](t)(src.Join(half, []string{"id"}, Left))
	p := filepath.Join(dir, "out.parquet")
	if err := WriteParquet(context.Background(), src, p, RowGroupRows(300)); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	back := must[*DataFrame](t)(ReadParquet(p, BatchRows(128)))
	if !sameColumns(back.Schema(), src.Schema()) {
		t.Fatalf("schema\n%s\nwant\n%s", back.Schema(), src.Schema())
	}
	if n := count(t, back); n != 1000 {
		t.Errorf("count %d", n)
	}
	if g, w := rows(t, back), rows(t, src); join(g) != join(w) {
		for i := range g {
			if strings.Join(g[i], "|") != strings.Join(w[i], "|") {
				t.Fatalf("round trip changed row %d:\n%v\nwant\n%v", i, g[i], w[i])
			}
		}
	}
	// Batches stream: no batch is larger than BatchRows.
	err := back.Iterate(context.Background(), func(r arrow.RecordBatch) error {
		if r.NumRows() > 128 {
			return fmt.Errorf("batch of %d rows", r.NumRows())
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	proj := must[*DataFrame](t)(ReadParquet(p, Columns("vec", "id")))
	if got := proj.Columns(); !slices.Equal(got, []string{"vec", "id"}) {
		t.Errorf("projection columns %v", got)
	}
	if got := rows(t, proj)[3]; !slices.Equal(got, []string{"[3.0,-3.0,0.5]", "3"}) {
		t.Errorf("projected row %v", got)
	}
	_, err = ReadParquet(p, Columns("nope"))
	errContains(t, err, `no column "nope" (columns: id, f, name, vec, flag, image, extra)`)

	// A directory of files reads as one frame with a partition per file.
	sub := filepath.Join(dir, "many")
	os.Mkdir(sub, 0o755)
	for i, part := range must[[]*DataFrame](t)(src.RandomSplit([]float64{1, 1}, 3)) {
		if err := WriteParquet(context.Background(), part, filepath.Join(sub, fmt.Sprintf("part-%d.parquet", i))); err != nil {
			t.Fatal(err)
		}
	}
	all := must[*DataFrame](t)(ReadParquet(sub))
	if all.Partitions() != 2 || count(t, all) != 1000 {
		t.Errorf("directory: %d partitions, %d rows", all.Partitions(), count(t, all))
	}
}

func TestWriteParquetKeepsOldFileOnError(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "keep.parquet", "old contents")
	df := numbered(t, 10, 2)
	bad := must[*DataFrame](t)(df.WithColumn("y", arrow.PrimitiveTypes.Float64, []string{"x"}, func([]arrow.Array) (arrow.Array, error) {
		return nil, fmt.Errorf("step failed")
	}))
	errContains(t, WriteParquet(context.Background(), bad, p), "step failed")
	if b, _ := os.ReadFile(p); string(b) != "old contents" {
		t.Errorf("file changed to %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only the old file", len(ents))
	}
	errContains(t, WriteParquet(context.Background(), df, p, Compression("lzw")), "codec")
}

// pythonForTests returns the Python with pyarrow named by DEEPFRAME_PYTHON, or skips.
func pythonForTests(t *testing.T) string {
	py := os.Getenv("DEEPFRAME_PYTHON")
	if py == "" {
		t.Skip("set DEEPFRAME_PYTHON to a python3 with pyarrow (e.g. python3 -m venv /tmp/pa && /tmp/pa/bin/pip install pyarrow pandas) to cross-check Parquet with pyarrow")
	}
	if out, err := exec.Command(py, "-c", "import pyarrow").CombinedOutput(); err != nil {
		t.Skipf("DEEPFRAME_PYTHON=%s cannot import pyarrow: %v\n%s", py, err, out)
	}
	return py
}

// TestParquetPyarrowCrossCheck reads a file pyarrow wrote and has pyarrow read a file
// deepframe wrote; it runs only when DEEPFRAME_PYTHON names a Python with pyarrow.
func TestParquetPyarrowCrossCheck(t *testing.T) {
	py := pythonForTests(t)
	dir := t.TempDir()
	fromPy := filepath.Join(dir, "py.parquet")
	script := `
import sys, pyarrow as pa, pyarrow.parquet as pq
n = 2500
t = pa.table({
    "i": pa.array(range(n), pa.int64()),
    "f": pa.array([x / 8 if x % 7 else None for x in range(n)], pa.float64()),
    "s": pa.array(["r%d-ü" % x for x in range(n)]),
    "v": pa.array([[float(x), 1.0, -2.5] for x in range(n)], pa.list_(pa.float64(), 3)),
    "b": pa.array([x % 2 == 0 for x in range(n)]),
})
pq.write_table(t, sys.argv[1], row_group_size=1000)
`
	if out, err := exec.Command(py, "-c", script, fromPy).CombinedOutput(); err != nil {
		t.Fatalf("pyarrow write: %v\n%s", err, out)
	}
	df := must[*DataFrame](t)(ReadParquet(fromPy, BatchRows(400)))
	if n := count(t, df); n != 2500 {
		t.Fatalf("read %d rows from pyarrow's file", n)
	}
	r := rows(t, df)
	if got := strings.Join(r[7], "|"); got != "7|null|r7-ü|[7.0,1.0,-2.5]|false" {
		t.Errorf("row 7 = %s", got)
	}
	if got := strings.Join(r[2498], "|"); got != "2498|312.25|r2498-ü|[2498.0,1.0,-2.5]|true" {
		t.Errorf("row 2498 = %s", got)
	}
	if _, ok := IsVector(df.Schema().Field(3).Type); !ok {
		t.Errorf("pyarrow's fixed_size_list read as %s, not a vector", df.Schema().Field(3).Type)
	}

	fromGo := filepath.Join(dir, "go.parquet")
	if err := WriteParquet(context.Background(), sampleFrame(t, 300), fromGo, RowGroupRows(100)); err != nil {
		t.Fatal(err)
	}
	check := `
import sys, pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
t = f.read()
assert f.metadata.num_row_groups == 3, f.metadata.num_row_groups
assert t.num_rows == 300, t.num_rows
assert t.column_names == ["id", "f", "name", "vec", "flag", "image"], t.column_names
vt = t.schema.field("vec").type
assert str(vt).startswith("fixed_size_list<") and str(vt).endswith(": double>[3]"), vt
row = t.slice(299, 1).to_pylist()[0]
assert row["id"] == 299 and row["name"] == "näme-299", row
assert row["vec"] == [299.0, -299.0, 0.5], row["vec"]
assert abs(row["f"] - 74.75) < 1e-6, row["f"]
assert row["image"] == {"origin": "img299.png", "height": 1, "width": 2, "nChannels": 3, "mode": "RGB", "data": bytes([299 % 256, 1, 2, 3, 4, 5])}, row["image"]
df = t.to_pandas()
assert int(df["flag"].sum()) == 100
print("ok")
`
	out, err := exec.Command(py, "-c", check, fromGo).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("pyarrow read of deepframe's file: %v\n%s", err, out)
	}
}

func TestReadParquetCountFromMetadata(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "n.parquet")
	if err := WriteParquet(context.Background(), numbered(t, 777, 100), p); err != nil {
		t.Fatal(err)
	}
	df := must[*DataFrame](t)(ReadParquet(p))
	if n, ok := df.plan.rows(); !ok || n != 777 {
		t.Errorf("metadata count %d, %v", n, ok)
	}
	x := must[*DataFrame](t)(df.Select("x"))
	vals := must[[]arrow.RecordBatch](t)(x.Records(context.Background()))
	defer releaseAll(vals)
	if v := vals[len(vals)-1].Column(0).(*array.Float64).Float64Values(); v[len(v)-1] != 77.6 {
		t.Errorf("last x %v", v[len(v)-1])
	}
}
