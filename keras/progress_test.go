package keras

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, level: 1, term: true, total: 100, logEvery: 1}
	p.epochBegin(0, 3)
	p.step(1, 1, 40, 0.5, 0.01)
	p.step(2, 2, 80, 0.4, 0.01) // within redrawEvery of the last draw: skipped
	p.step(3, 3, 100, 0.3, 0.01)
	p.epochEnd(0, 3, map[string]float64{"loss": 0.3, "accuracy": 0.9}, []string{"loss", "accuracy"}, 1500*time.Millisecond)
	out := buf.String()
	draws := strings.Split(strings.TrimSuffix(out, "\n"), "\r")[1:]
	if len(draws) != 3 {
		t.Fatalf("%d redraws, want 2 bars and the epoch line: %q", len(draws), out)
	}
	if !strings.HasPrefix(draws[0], "epoch 1/3 [============>.................] 40/100 loss=0.5000 ") || !strings.Contains(draws[0], "samples/s ETA ") {
		t.Errorf("bar %q", draws[0])
	}
	if !strings.HasPrefix(draws[1], "epoch 1/3 [==============================] 100/100 loss=0.3000 ") {
		t.Errorf("final bar %q", draws[1])
	}
	if draws[2] != "epoch 1/3 done loss=0.3000 accuracy=0.9000 time=1.50s\x1b[K" {
		t.Errorf("epoch line %q", draws[2])
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{thousands(0), "0"},
		{thousands(999), "999"},
		{thousands(10903), "10,903"},
		{thousands(1234567), "1,234,567"},
		{formatValue(0.43119), "0.4312"},
		{formatValue(0), "0.0000"},
		{formatValue(2.5e-5), "2.5000e-05"},
		{tagName("val_top_k_accuracy"), "ValTopKAccuracy"},
		{tagName("loss"), "Loss"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	p, err := formatPath("m-{epoch:03d}-{val_loss:.3f}-{loss}.dfm", 7, map[string]float64{"val_loss": 0.12345, "loss": 0.5})
	if err != nil || p != "m-007-0.123-0.5.dfm" {
		t.Errorf("formatPath = %q, %v", p, err)
	}
}
