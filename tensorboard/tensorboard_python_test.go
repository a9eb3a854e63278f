package tensorboard

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"reflect"
	"testing"
)

// loadScript reads an event file with TensorBoard's own Python code, which
// shares nothing with this package: the record reader that checks both
// CRCs, the protobuf parser, the legacy EventAccumulator (scalars and
// histograms as written) and the plugin EventAccumulator (after TensorBoard
// converts legacy summaries to the tensors its dashboards use).
const loadScript = `
import json, sys
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import plugin_event_accumulator as pea
from tensorboard.util import tensor_util

path = sys.argv[1]
reader = pywrap_tensorflow.PyRecordReader_New(path)
records = 0
while True:
    try:
        reader.GetNext()
    except Exception as e:  # the stub ends with OutOfRangeError, fails with DataLossError
        if type(e).__name__ != "OutOfRangeError":
            raise
        break
    event_pb2.Event.FromString(reader.record())
    records += 1

acc = ea.EventAccumulator(path, size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0})
acc.Reload()
out = {"records": records, "file_version": acc.file_version, "scalars": {}, "histograms": {}, "tensors": {}}
for tag in acc.Tags()["scalars"]:
    out["scalars"][tag] = [[e.step, e.value] for e in acc.Scalars(tag)]
for tag in acc.Tags()["histograms"]:
    out["histograms"][tag] = [
        dict(step=e.step, min=h.min, max=h.max, num=h.num, sum=h.sum, sum_squares=h.sum_squares,
             bucket_limit=list(h.bucket_limit), bucket=list(h.bucket))
        for e in acc.Histograms(tag) for h in [e.histogram_value]]

pacc = pea.EventAccumulator(path, size_guidance={pea.TENSORS: 0})
pacc.Reload()
for tag in pacc.Tags()["tensors"]:
    out["tensors"][tag] = [
        dict(step=e.step, plugin=pacc.SummaryMetadata(tag).plugin_data.plugin_name,
             value=tensor_util.make_ndarray(e.tensor_proto).tolist())
        for e in pacc.Tensors(tag)]
json.dump(out, sys.stdout)
`

type pyHistogram struct {
	Step               int64
	Min, Max, Num, Sum float64
	SumSquares         float64   `json:"sum_squares"`
	BucketLimit        []float64 `json:"bucket_limit"`
	Bucket             []float64
}

type pyTensor struct {
	Step   int64
	Plugin string
	Value  json.RawMessage
}

// TestTensorBoardReadsOurFiles runs only where DEEPFRAME_TB_PYTHON names a
// Python interpreter with the tensorboard package installed (for example
// python3 -m venv /tmp/tb && /tmp/tb/bin/pip install tensorboard, then
// DEEPFRAME_TB_PYTHON=/tmp/tb/bin/python).
func TestTensorBoardReadsOurFiles(t *testing.T) {
	python := os.Getenv("DEEPFRAME_TB_PYTHON")
	if python == "" {
		t.Skip("DEEPFRAME_TB_PYTHON is not set; set it to a Python with the tensorboard package to check files with TensorBoard's own reader")
	}
	w, err := NewWriter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	scalars := []scalar{{"loss", 0, 2.302585}, {"loss", 1, 0.5}, {"loss", 2, 0}, {"accuracy", 2, 0.9375}, {"lr", -1, 1e-3}}
	for _, s := range scalars {
		if err := w.AddScalar(s.tag, s.step, s.value); err != nil {
			t.Fatal(err)
		}
	}
	weights := make([]float32, 1000)
	for i := range weights {
		weights[i] = float32(math.Sin(float64(i))) * 0.1
	}
	weights[0] = 0
	weights[1] = 7
	hists := map[int64][]float32{3: weights, 4: {-1, 2, 2, 5e-13}}
	for _, step := range []int64{3, 4} {
		if err := w.AddHistogram("fc_1/kernel", step, hists[step]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(python, "-c", loadScript, w.Path())
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s could not load %s: %v", python, w.Path(), err)
	}
	var got struct {
		Records     int
		FileVersion float64 `json:"file_version"` // the accumulator parses "brain.Event:2" to 2
		Scalars     map[string][][2]float64
		Histograms  map[string][]pyHistogram
		Tensors     map[string][]pyTensor
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("decoding the script's output: %v\n%s", err, raw)
	}

	if want := 1 + len(scalars) + len(hists); got.Records != want {
		t.Errorf("TensorBoard's record reader saw %d records, want %d", got.Records, want)
	}
	if got.FileVersion != 2 {
		t.Errorf("file version %v, want 2", got.FileVersion)
	}
	wantScalars := map[string][][2]float64{}
	for _, s := range scalars {
		wantScalars[s.tag] = append(wantScalars[s.tag], [2]float64{float64(s.step), float64(float32(s.value))})
	}
	if !reflect.DeepEqual(got.Scalars, wantScalars) {
		t.Errorf("scalars %v\nwant    %v", got.Scalars, wantScalars)
	}
	var wantHists []pyHistogram
	for _, step := range []int64{3, 4} {
		h, err := newHistogram(hists[step])
		if err != nil {
			t.Fatal(err)
		}
		wantHists = append(wantHists, pyHistogram{step, h.Min, h.Max, h.Num, h.Sum, h.SumSquares, h.BucketLimit, h.Bucket})
	}
	if !reflect.DeepEqual(got.Histograms["fc_1/kernel"], wantHists) {
		t.Errorf("histograms %+v\nwant       %+v", got.Histograms, wantHists)
	}

	// After TensorBoard's conversion to tensors, a histogram is a k×3 array
	// of [left, right, count] whose outer edges are the data's min and max.
	for i, tensor := range got.Tensors["fc_1/kernel"] {
		var buckets [][3]float64
		if err := json.Unmarshal(tensor.Value, &buckets); err != nil {
			t.Fatalf("histogram tensor %s: %v", tensor.Value, err)
		}
		h := wantHists[i]
		if tensor.Plugin != "histograms" || len(buckets) != len(h.Bucket) ||
			buckets[0][0] != float64(float32(h.Min)) || buckets[len(buckets)-1][1] != float64(float32(h.Max)) {
			t.Errorf("histogram tensor at step %d: plugin %q, buckets %v; want %d buckets from %v to %v",
				tensor.Step, tensor.Plugin, buckets, len(h.Bucket), h.Min, h.Max)
		}
	}
	if n := len(got.Tensors["loss"]); n != 3 || got.Tensors["loss"][0].Plugin != "scalars" {
		t.Errorf("loss as tensors: %+v, want 3 scalars-plugin tensors", got.Tensors["loss"])
	}
}
