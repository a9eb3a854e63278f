package frame

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// writeFile creates name under a test directory with the given content and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rows runs df and returns every row as formatted cells ("null" for nulls), the easiest form
// to compare in tables of cases.
func rows(t *testing.T, df *DataFrame) [][]string {
	t.Helper()
	out, err := tryRows(df)
	if err != nil {
		t.Fatalf("running the plan: %v", err)
	}
	return out
}

func tryRows(df *DataFrame) ([][]string, error) {
	var out [][]string
	err := df.Iterate(context.Background(), func(r arrow.RecordBatch) error {
		for i := 0; i < int(r.NumRows()); i++ {
			row := make([]string, r.NumCols())
			for j := range row {
				c := r.Column(j)
				if c.IsNull(i) {
					row[j] = "null"
				} else {
					row[j] = valueString(c, i)
				}
			}
			out = append(out, row)
		}
		return nil
	})
	return out, err
}

// column returns one column of rows(df).
func column(t *testing.T, df *DataFrame, name string) []string {
	t.Helper()
	j, err := df.index(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows(t, df) {
		out = append(out, r[j])
	}
	return out
}

func join(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, "|"))
		b.WriteByte('\n')
	}
	return b.String()
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func count(t *testing.T, df *DataFrame) int64 {
	t.Helper()
	n, err := df.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func errContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

const irisPath = "../../shared/data/iris.csv"

func iris(t *testing.T) *DataFrame {
	t.Helper()
	if _, err := os.Stat(irisPath); err != nil {
		t.Skipf("iris data not present at %s: %v", irisPath, err)
	}
	df, err := ReadCSV(irisPath, Header(), InferSchema())
	if err != nil {
		t.Fatal(err)
	}
	return df
}
