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

// TestWalkthroughSmall runs the whole example on a few thousand images for a few epochs, with
// a bar to match; the full run's 0.85 is the example's own check. The Fashion-MNIST files
// live beside the repository, not in it, so the test skips without them.
func TestWalkthroughSmall(t *testing.T) {
	if _, err := findData(""); err != nil {
		t.Skipf("no Fashion-MNIST data: %v", err)
	}
	out := t.TempDir()
	var stdout bytes.Buffer
	args := []string{"-out", out, "-rows", "4000", "-epochs", "3", "-min-accuracy", "0.75", "-json"}
	if err := run(context.Background(), args, &stdout); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var final struct {
		Accuracy  float64 `json:"accuracy"`
		Epochs    int     `json:"epochs"`
		TrainRows int     `json:"train_rows"`
		TestRows  int     `json:"test_rows"`
		Seconds   float64 `json:"seconds"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &final); err != nil {
		t.Fatalf("last line is not JSON: %q: %v", lines[len(lines)-1], err)
	}
	if final.Epochs != 3 || final.TrainRows+final.TestRows != 4000 || final.TestRows == 0 || final.Seconds <= 0 {
		t.Errorf("summary %+v: want 3 epochs over 4000 rows split in two", final)
	}
	if !strings.Contains(stdout.String(), "Total params: 932,362") {
		t.Errorf("no model summary with 932,362 parameters:\n%s", stdout.String())
	}
	parquet := filepath.Join(out, "fashion-mnist-4000.parquet")
	if _, err := os.Stat(parquet); err != nil {
		t.Errorf("Parquet copy: %v", err)
	}
	saved, err := ml.LoadPipelineModel(filepath.Join(out, "fashion-pipeline"))
	if err != nil {
		t.Fatalf("saved pipeline: %v", err)
	}
	if n := len(saved.Stages()); n != 4 {
		t.Errorf("saved pipeline has %d stages, want 4", n)
	}

	// A second run reads the Parquet file the first one wrote rather than rebuilding it.
	stdout.Reset()
	args = []string{"-out", out, "-rows", "4000", "-epochs", "1", "-min-accuracy", "0"}
	if err := run(context.Background(), args, &stdout); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if !strings.Contains(stdout.String(), parquet+" read back") {
		t.Errorf("second run did not reuse %s:\n%s", parquet, stdout.String())
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-data", t.TempDir()}, "Fashion-MNIST not found"},
		{[]string{"-data", t.TempDir()}, "pass -data DIR"},
		{[]string{"-rows", "-1"}, "-rows -1"},
		{[]string{"-test-fraction", "1"}, "-test-fraction 1"},
		{[]string{"-epochs", "0"}, "-epochs 0"},
		{[]string{"stray"}, "unexpected arguments"},
	} {
		err := run(context.Background(), append(tc.args, "-out", t.TempDir()), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}
