package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/ml"
)

// TestWalkthrough runs the whole example as a user would and holds it to the bar:
// accuracy of at least 0.90 on the eval split, 10,903 parameters, a bundle that loads and
// predicts identically (run itself fails otherwise), and TensorBoard logs in both folders.
func TestWalkthrough(t *testing.T) {
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-out", out, "-json"}, &stdout); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	text := strings.TrimSpace(stdout.String())
	if !strings.Contains(text, "Total params: 10,903") {
		t.Errorf("summary does not report Total params: 10,903:\n%s", text)
	}
	lines := strings.Split(text, "\n")
	var final struct {
		Accuracy float64 `json:"accuracy"`
		Loss     float64 `json:"loss"`
		Params   int     `json:"params"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &final); err != nil {
		t.Fatalf("last line is not JSON: %q: %v", lines[len(lines)-1], err)
	}
	if final.Accuracy < 0.90 {
		t.Errorf("eval accuracy %.4f, want >= 0.90", final.Accuracy)
	}
	if final.Params != 10903 {
		t.Errorf("params %d, want 10903", final.Params)
	}
	if _, err := os.Stat(filepath.Join(out, "model.dfm")); err != nil {
		t.Errorf("bundle: %v", err)
	}
	if _, err := ml.LoadPipelineModel(filepath.Join(out, "iris-pipeline")); err != nil {
		t.Errorf("fitted pipeline: %v", err)
	}
	for _, sub := range []string{"train", "validation"} {
		events, _ := filepath.Glob(filepath.Join(out, "tensorboard", "iris-example", sub, "events.out.tfevents.*"))
		if len(events) == 0 {
			t.Errorf("no TensorBoard event file under %s", sub)
		}
	}
}

func TestBadData(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, body, want string }{
		{"header", "a,b,c,d,e\n1,2,3,4,Iris-setosa\n", `header column 1 is "a"`},
		{"number", "sepal_len,sepal_wid,petal_len,petal_wid,class\n1,x,3,4,Iris-setosa\n", `line 2, column sepal_wid: "x" is not a number`},
		{"class", "sepal_len,sepal_wid,petal_len,petal_wid,class\n1,2,3,4,rose\n", `"rose" is not one of`},
		{"missing column", "sepal_len,sepal_wid,petal_len,class\n1,2,3,Iris-setosa\n", `header column 4 is "class", want "petal_wid"`},
		// Blank lines are skipped by the reader, so the line number must still be the file's.
		{"line after blank", "sepal_len,sepal_wid,petal_len,petal_wid,class\n\n5,3,1,0.2,Iris-setosa\n1,2,3,4,Iris-setosa\n\n6,y,1,0.2,Iris-setosa\n",
			`line 6, column sepal_wid: "y" is not a number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".csv")
			if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			err := run(context.Background(), []string{"-data", path, "-out", dir}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
