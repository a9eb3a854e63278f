package frame

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestReadJSONLines(t *testing.T) {
	dir := t.TempDir()
	content := `{"id": 1, "x": 1.5, "name": "a", "v": [1, 2], "ok": true, "meta": {"k": 1}}
{"id": 2, "x": 2, "name": "ünï", "v": [3, 4.5], "ok": false, "extra": "late key"}

{"id": 3, "name": null, "v": [5, 6], "meta": [1, "two"]}` + "\r\n"
	p := writeFile(t, dir, "d.jsonl", content)
	df := must[*DataFrame](t)(ReadJSONLines(p, BatchRows(2)))
	var schema []string
	for _, f := range df.Schema().Fields() {
		schema = append(schema, f.Name+":"+f.Type.String())
	}
	want := "id:int64,x:float64,name:utf8,v:fixed_size_list<item: float64, nullable>[2],ok:bool,meta:utf8,extra:utf8"
	if got := strings.Join(schema, ","); got != want {
		t.Errorf("schema %s\nwant   %s", got, want)
	}
	wantRows := "1|1.5|a|[1.0,2.0]|true|{\"k\":1}|null\n" +
		"2|2.0|ünï|[3.0,4.5]|false|null|late key\n" +
		"3|null|null|[5.0,6.0]|null|[1,\"two\"]|null\n"
	if got := join(rows(t, df)); got != wantRows {
		t.Errorf("rows\n%s\nwant\n%s", got, wantRows)
	}

	explicit := arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "id", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "missing", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	sub := must[*DataFrame](t)(ReadJSONLines(p, Schema(explicit)))
	if got := join(rows(t, sub)); got != "a|1|null\nünï|2|null\nnull|3|null\n" {
		t.Errorf("explicit schema rows %q", got)
	}
}

func TestReadJSONLinesModes(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "m.jsonl", `{"a": 1, "b": "x"}
{"a": "oops", "b": "y"}
not json
[1, 2]
{"a": 4, "b": "z"}
`)
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "b", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	cases := []struct {
		name    string
		opts    []ReadOption
		want    string
		wantErr string
	}{
		{"failfast", nil, "", `frame: ReadJSONLines: m.jsonl: line 2: key "a": cannot use "oops" as int64`},
		{"drop", []ReadOption{Mode(DropMalformed)}, "1|x\n4|z\n", ""},
		{"permissive", []ReadOption{Mode(Permissive), CorruptRecordColumn("bad")},
			"1|x|null\nnull|y|{\"a\": \"oops\", \"b\": \"y\"}\nnull|null|not json\nnull|null|[1, 2]\n4|z|null\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			df := must[*DataFrame](t)(ReadJSONLines(p, append(c.opts, Schema(schema))...))
			got, err := tryRows(df)
			if c.wantErr != "" {
				errContains(t, err, c.wantErr)
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
	// Inference fails fast on a line that is not JSON, naming it.
	_, err := ReadJSONLines(p)
	errContains(t, err, "m.jsonl: line 3: invalid JSON")
	df := must[*DataFrame](t)(ReadJSONLines(p, Mode(DropMalformed)))
	if n, err := df.Count(context.Background()); err != nil || n != 3 {
		// Inference saw "a" as both a number and a string, so it is a String column and
		// only the non-objects are malformed.
		t.Errorf("count %d, %v", n, err)
	}
}
