package keras

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
	"github.com/deepframe/deepframe/tensor/safetensors"
)

// bundleTestTime makes saved bundles reproducible, so tests can compare bytes.
var bundleTestTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func bundleMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func bundleCompiled(t *testing.T, m *Model) *Model {
	t.Helper()
	bundleMust(t, m.Err())
	bundleMust(t, m.Compile(optim.Adam(0.01), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()))
	return m
}

func bundleMLP(t *testing.T) *Model {
	t.Helper()
	return bundleCompiled(t, Sequential(
		layers.Dense(16, layers.Activation("relu"), layers.InputShape(4), layers.Name("fc_1")),
		layers.Dense(8, layers.Activation("tanh"), layers.Name("fc_2")),
		layers.Dense(3, layers.Activation("softmax"), layers.Name("fc_3")),
	))
}

func bundleCNN(t *testing.T) *Model {
	t.Helper()
	return bundleCompiled(t, Sequential(
		layers.Conv2D(4, []int{3, 3}, layers.Activation("relu"), layers.Padding("same"), layers.InputShape(8, 8, 1), layers.Name("conv_1")),
		layers.BatchNormalization(layers.Name("bn_1")),
		layers.MaxPooling2D(layers.PoolSize(2, 2), layers.Name("pool_1")),
		layers.Flatten(layers.Name("flat")),
		layers.Dense(3, layers.Activation("softmax"), layers.Name("out")),
	))
}

func bundleTwoInput(t *testing.T) *Model {
	t.Helper()
	a := Input(4)
	b := Input(2)
	ha := layers.Dense(5, layers.Activation("relu"), layers.Name("branch_a")).Apply(a)
	hb := layers.Dense(3, layers.Activation("relu"), layers.Name("branch_b")).Apply(b)
	h := layers.Concatenate(layers.Name("join")).Apply(ha, hb)
	out := layers.Dense(3, layers.Activation("softmax"), layers.Name("head")).Apply(h)
	return bundleCompiled(t, NewModel([]*layers.Node{a, b}, []*layers.Node{out}, ModelName("two_inputs")))
}

// bundleInputs makes one batch per model input.
func bundleInputs(m *Model, rows int, seed uint64) []*tensor.Tensor {
	rng := tensor.NewRNG(seed)
	var xs []*tensor.Tensor
	for _, s := range m.InputShapes() {
		xs = append(xs, rng.RandN(append([]int{rows}, s...)...))
	}
	return xs
}

func bundleSaveTo(t *testing.T, m *Model, opts ...SaveOption) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.dfm")
	bundleMust(t, m.Save(path, append([]SaveOption{WithCreatedAt(bundleTestTime)}, opts...)...))
	data, err := os.ReadFile(path)
	bundleMust(t, err)
	return path, data
}

// bundleBitEqual compares float32 tensors by their bits, so that -0 vs 0 or a NaN payload would
// count as a difference.
func bundleBitEqual(a, b *tensor.Tensor) bool {
	if a.DType() != b.DType() || !a.Shape().Equal(b.Shape()) {
		return false
	}
	if a.DType() != tensor.Float32 {
		return tensor.Equal(a, b)
	}
	x, y := a.Float32s(), b.Float32s()
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			return false
		}
	}
	return true
}

func TestBundleSaveLoadPredictBitIdentical(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(*testing.T) *Model
	}{
		{"mlp", bundleMLP},
		{"cnn", bundleCNN},
		{"two_inputs", bundleTwoInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.build(t)
			ctx := context.Background()
			xs := bundleInputs(m, 7, 42)
			// Train a little so weights, batch-norm statistics and optimizer slots are not at
			// their initial values, which a rebuild alone would reproduce.
			ys := tensor.New(tensor.Int64, 7)
			for i := range ys.Int64s() {
				ys.Int64s()[i] = int64(i % 3)
			}
			ds, err := NewMultiTensorDataset(xs, []*tensor.Tensor{ys})
			bundleMust(t, err)
			_, err = m.Fit(ctx, ds, Epochs(2), BatchSize(4), Verbose(0))
			bundleMust(t, err)

			want, err := m.PredictInputs(ctx, xs)
			bundleMust(t, err)
			path, _ := bundleSaveTo(t, m)

			b, err := LoadBundle(path)
			bundleMust(t, err)
			got, err := b.Model.PredictInputs(ctx, xs)
			bundleMust(t, err)
			for i := range want {
				if !bundleBitEqual(want[i], got[i]) {
					t.Fatalf("output %d differs after load:\nsaved  %v\nloaded %v", i, want[i], got[i])
				}
			}
			ws, lws := m.Weights(), b.Model.Weights()
			if len(ws) != len(lws) {
				t.Fatalf("%d weights after load, want %d", len(lws), len(ws))
			}
			for i := range ws {
				if ws[i].Name != lws[i].Name || !bundleBitEqual(ws[i].Value(), lws[i].Value()) {
					t.Errorf("weight %d: %s differs from %s after load", i, lws[i].Name, ws[i].Name)
				}
			}

			md := b.Metadata
			if len(md.Inputs) != len(m.InputShapes()) || len(md.Outputs) != 1 {
				t.Fatalf("metadata signature %+v / %+v", md.Inputs, md.Outputs)
			}
			for i, s := range m.InputShapes() {
				if want := append(tensor.Shape{-1}, s...); !want.Equal(md.Inputs[i].Shape) || md.Inputs[i].DType != "float32" || md.Inputs[i].Name != m.InputNames()[i] {
					t.Errorf("input %d signature %+v, want shape %v float32 named %q", i, md.Inputs[i], want, m.InputNames()[i])
				}
			}
			total, trainable := m.CountParams()
			if md.Params != (ParamCounts{total, trainable, total - trainable}) {
				t.Errorf("params %+v, want total %d trainable %d", md.Params, total, trainable)
			}
			if b.Manifest.Format != BundleFormat || b.Manifest.FormatVersion != BundleFormatVersion ||
				b.Manifest.FrameworkVersion != FrameworkVersion || !b.Manifest.CreatedAt.Equal(bundleTestTime) {
				t.Errorf("manifest %+v", b.Manifest)
			}
			if opt := b.Model.Optimizer(); opt == nil || opt.Iterations() != m.Optimizer().Iterations() {
				t.Errorf("optimizer not restored with its iteration count")
			}
		})
	}
}

func TestBundleSaveIsDeterministic(t *testing.T) {
	m := bundleMLP(t)
	_, a := bundleSaveTo(t, m)
	_, b := bundleSaveTo(t, m)
	if !bytes.Equal(a, b) {
		t.Fatal("two saves of the same model with the same time differ")
	}
	zr, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	bundleMust(t, err)
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	want := []string{entryConfig, entryMetadata, entryWeights, entryOptimizer, entryOptimizerState, entryManifest}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("entries %v, want %v", names, want)
	}
}

func TestBundleSaveWithoutOptimizer(t *testing.T) {
	m := bundleMLP(t)
	path, data := bundleSaveTo(t, m, WithoutOptimizer())
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	bundleMust(t, err)
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "optimizer") {
			t.Errorf("bundle saved WithoutOptimizer holds %s", f.Name)
		}
	}
	l, err := Load(path)
	bundleMust(t, err)
	if l.Optimizer() != nil || l.Loss() != nil {
		t.Error("model loaded from an inference bundle is compiled")
	}
	x := bundleInputs(m, 3, 1)[0]
	want, _ := m.Predict(context.Background(), x)
	got, err := l.Predict(context.Background(), x)
	bundleMust(t, err)
	if !bundleBitEqual(want, got) {
		t.Error("predictions differ")
	}
}

func TestBundleMetadataRoundTrip(t *testing.T) {
	m := bundleMLP(t)
	user := map[string]any{"dataset": "iris", "rows": 150, "tags": []any{"a", "b"}}
	h := newHistory()
	h.record(0, map[string]float64{"loss": 0.5, "val_accuracy": 0.9})
	h.record(1, map[string]float64{"loss": 0.25, "val_accuracy": 0.95})
	path, _ := bundleSaveTo(t, m, WithMetadata(user), WithHistory(h),
		WithTrainingMetrics(map[string]float64{"diverged": math.NaN(), "best": math.Inf(1)}))
	b, err := LoadBundle(path)
	bundleMust(t, err)
	tm := b.Metadata.TrainingMetrics
	if tm["loss"] != 0.25 || tm["val_accuracy"] != 0.95 || !math.IsNaN(tm["diverged"]) || !math.IsInf(tm["best"], 1) {
		t.Errorf("training metrics %v", tm)
	}
	if b.Metadata.User["dataset"] != "iris" || b.Metadata.User["rows"] != float64(150) {
		t.Errorf("user metadata %v", b.Metadata.User)
	}
	// A value JSON cannot hold fails the save before anything is written.
	dir := t.TempDir()
	err = m.Save(filepath.Join(dir, "bad.dfm"), WithMetadata(map[string]any{"f": func() {}}))
	if err == nil {
		t.Fatal("saving unencodable metadata succeeded")
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("failed save left %v behind", left)
	}
}

// bundleFitData is a fixed classification problem for the resume tests.
func bundleFitData(t *testing.T) Dataset {
	rng := tensor.NewRNG(7)
	x := rng.RandN(40, 4)
	y := tensor.New(tensor.Int64, 40)
	for i := range y.Int64s() {
		if x.Float32s()[4*i]+x.Float32s()[4*i+1] > 0 {
			y.Int64s()[i] = 1
		}
		if x.Float32s()[4*i+2] > 1 {
			y.Int64s()[i] = 2
		}
	}
	ds, err := NewTensorDataset(x, y)
	bundleMust(t, err)
	return ds
}

func bundleResumeModel(t *testing.T) *Model {
	SetRandomSeed(99)
	defer SetRandomSeed(DefaultSeed)
	m := Sequential(
		layers.Dense(16, layers.Activation("relu"), layers.InputShape(4), layers.Name("fc_1")),
		// Dropout makes the result depend on the step counter too, not only the epoch.
		layers.Dropout(0.3, layers.Name("drop")),
		layers.Dense(3, layers.Activation("softmax"), layers.Name("fc_2")),
	)
	bundleMust(t, m.Err())
	bundleMust(t, m.Compile(optim.Adam(0.01), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()))
	return m
}

// TestBundleResumeTraining: 2 epochs, save, load, 1 epoch gives the same weights, to the bit, as 3
// epochs straight. That needs the weights, the optimizer's slots and iteration count, and the
// epoch and step counters that key shuffling and dropout.
func TestBundleResumeTraining(t *testing.T) {
	ctx := context.Background()
	ds := bundleFitData(t)
	fit := func(m *Model, epochs int) {
		t.Helper()
		_, err := m.Fit(ctx, ds, Epochs(epochs), BatchSize(8), Verbose(0))
		bundleMust(t, err)
	}

	straight := bundleResumeModel(t)
	fit(straight, 3)

	first := bundleResumeModel(t)
	fit(first, 2)
	path, _ := bundleSaveTo(t, first)
	// A different global seed at load time must not matter: the bundle carries the model's.
	SetRandomSeed(12345)
	resumed, err := Load(path)
	SetRandomSeed(DefaultSeed)
	bundleMust(t, err)
	fit(resumed, 1)

	if a, b := straight.Optimizer().Iterations(), resumed.Optimizer().Iterations(); a != b {
		t.Fatalf("iterations: straight %d, resumed %d", a, b)
	}
	ws, rws := straight.Weights(), resumed.Weights()
	for i := range ws {
		if !bundleBitEqual(ws[i].Value(), rws[i].Value()) {
			t.Errorf("weight %s differs between 3 epochs straight and 2 + save/load + 1", ws[i].Name)
		}
	}
}

// A checkpoint saved by a callback during Fit resumes like a bundle saved after it.
func TestBundleCheckpointFromCallback(t *testing.T) {
	ctx := context.Background()
	ds := bundleFitData(t)
	straight := bundleResumeModel(t)
	_, err := straight.Fit(ctx, ds, Epochs(3), BatchSize(8), Verbose(0))
	bundleMust(t, err)

	path := filepath.Join(t.TempDir(), "ckpt.dfm")
	m := bundleResumeModel(t)
	save := CallbackFuncs{EpochEnd: func(epoch int, logs map[string]float64) error {
		if epoch == 1 {
			return m.Save(path, WithTrainingMetrics(logs))
		}
		return nil
	}}
	_, err = m.Fit(ctx, ds, Epochs(3), BatchSize(8), Verbose(0), Callbacks(save))
	bundleMust(t, err)

	b, err := LoadBundle(path)
	bundleMust(t, err)
	if _, ok := b.Metadata.TrainingMetrics["loss"]; !ok {
		t.Errorf("checkpoint metadata lacks the epoch's loss: %v", b.Metadata.TrainingMetrics)
	}
	_, err = b.Model.Fit(ctx, ds, Epochs(1), BatchSize(8), Verbose(0))
	bundleMust(t, err)
	for i, w := range straight.Weights() {
		if !bundleBitEqual(w.Value(), b.Model.Weights()[i].Value()) {
			t.Errorf("weight %s differs between 3 epochs straight and checkpoint after 2 + 1", w.Name)
		}
		if !bundleBitEqual(w.Value(), m.Weights()[i].Value()) {
			t.Errorf("weight %s: saving from a callback changed training", w.Name)
		}
	}
}

// TestBundleResumeOptimizerSteps checks resumption below Fit: identical models, one saved and loaded
// mid-way, take the same manual optimizer steps on fixed gradients.
func TestBundleResumeOptimizerSteps(t *testing.T) {
	for _, opt := range []func() optim.Optimizer{
		func() optim.Optimizer { return optim.Adam(0.01) },
		func() optim.Optimizer { return optim.SGD(0.1, optim.Momentum(0.9)) },
		func() optim.Optimizer { return optim.RMSprop(0.01) },
	} {
		t.Run(opt().Config().ClassName, func(t *testing.T) {
			mk := func() *Model {
				SetRandomSeed(5)
				defer SetRandomSeed(DefaultSeed)
				m := Sequential(layers.Dense(3, layers.InputShape(2), layers.Name("d")))
				bundleMust(t, m.Compile(opt(), losses.SparseCategoricalCrossEntropy()))
				return m
			}
			step := func(m *Model, k int) {
				t.Helper()
				var ps []*autograd.Variable
				for i, w := range m.Weights() {
					g := tensor.Zeros(w.Value().Shape()...)
					for j := range g.Float32s() {
						g.Float32s()[j] = float32(math.Sin(float64(k*31 + i*7 + j)))
					}
					// The gradient of sum(w*g) with respect to w is g.
					w.Var.ClearGrad()
					w.Var.SetRequiresGrad(true)
					bundleMust(t, autograd.SumAll(autograd.Mul(w.Var, autograd.Constant(g))).Backward())
					ps = append(ps, w.Var)
				}
				bundleMust(t, m.Optimizer().Step(ps))
			}
			a, b := mk(), mk()
			for k := 0; k < 3; k++ {
				step(a, k)
				step(b, k)
			}
			path, _ := bundleSaveTo(t, b)
			b, err := Load(path)
			bundleMust(t, err)
			for k := 3; k < 6; k++ {
				step(a, k)
				step(b, k)
			}
			for i, w := range a.Weights() {
				if !bundleBitEqual(w.Value(), b.Weights()[i].Value()) {
					t.Errorf("weight %s differs after resuming", w.Name)
				}
			}
		})
	}
}

// bundleEntryRange returns where an entry's stored bytes lie in the bundle.
func bundleEntryRange(t *testing.T, data []byte, name string) (off, n int64) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	bundleMust(t, err)
	for _, f := range zr.File {
		if f.Name == name {
			off, err := f.DataOffset()
			bundleMust(t, err)
			return off, int64(f.CompressedSize64)
		}
	}
	t.Fatalf("no entry %s", name)
	return 0, 0
}

func bundleLoadBytes(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	_, err := Load(path)
	return err
}

func TestBundleLoadCorruptEntry(t *testing.T) {
	_, data := bundleSaveTo(t, bundleMLP(t))
	path := filepath.Join(t.TempDir(), "model.dfm")
	for _, name := range []string{entryConfig, entryMetadata, entryWeights, entryOptimizer, entryOptimizerState, entryManifest} {
		off, n := bundleEntryRange(t, data, name)
		for _, at := range []int64{0, n / 2, n - 1} {
			bad := bytes.Clone(data)
			bad[off+at] ^= 0x20
			err := bundleLoadBytes(path, bad)
			if err == nil {
				t.Errorf("%s: byte %d flipped: load succeeded", name, at)
				continue
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "keras: load "+path+": ") || !strings.Contains(msg, name) {
				t.Errorf("%s: byte %d flipped: error %q does not name the file and the entry", name, at, msg)
			}
		}
	}
	// A stored entry's damage is reported as a checksum mismatch naming both checksums.
	off, n := bundleEntryRange(t, data, entryWeights)
	bad := bytes.Clone(data)
	bad[off+n-1] ^= 1
	err := bundleLoadBytes(path, bad)
	if err == nil || !strings.Contains(err.Error(), "model.safetensors: checksum mismatch (manifest sha256 ") {
		t.Errorf("weights damage: %v", err)
	}
}

func TestBundleLoadTruncated(t *testing.T) {
	_, data := bundleSaveTo(t, bundleMLP(t), WithoutOptimizer())
	step := 1
	if testing.Short() {
		step = 37
	}
	for n := 0; n < len(data); n += step {
		_, err := LoadReader(bytes.NewReader(data[:n]), int64(n))
		if err == nil {
			t.Fatalf("bundle cut to %d of %d bytes loaded", n, len(data))
		}
	}
	path := filepath.Join(t.TempDir(), "cut.dfm")
	err := bundleLoadBytes(path, data[:len(data)/2])
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("half a bundle: %v", err)
	}
}

func TestBundleLoadNotABundle(t *testing.T) {
	dir := t.TempDir()
	zipWith := func(files map[string]string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, body := range files {
			w, _ := zw.Create(name)
			io.WriteString(w, body)
		}
		zw.Close()
		return buf.Bytes()
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a deepframe bundle (empty file)"},
		{"text", []byte("hello, this is not a zip file at all"), "not a deepframe bundle (not a zip archive"},
		{"zip without manifest", zipWith(map[string]string{"a.txt": "x"}), "not a deepframe bundle (no manifest.json)"},
		{"other format", zipWith(map[string]string{"manifest.json": `{"format":"other","format_version":1}`}), `not a deepframe bundle (manifest.json names format "other"`},
		{"manifest not json", zipWith(map[string]string{"manifest.json": `{`}), "manifest.json: unexpected end of JSON input"},
	} {
		path := filepath.Join(dir, "x.dfm")
		err := bundleLoadBytes(path, tc.data)
		if err == nil || !strings.Contains(err.Error(), "keras: load "+path+": "+tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.dfm")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}

// rewrite rebuilds a bundle, letting edit change, drop (return nil) or add entries, and
// recomputes the manifest so that the checksums match: it models a file written by a buggy or
// hostile program rather than damaged in transit. editManifest, when set, changes the manifest
// afterwards.
func bundleRewrite(t *testing.T, data []byte, edit func(entries map[string][]byte), editManifest func(m map[string]any)) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	bundleMust(t, err)
	entries := map[string][]byte{}
	var order []string
	for _, f := range zr.File {
		rc, err := f.Open()
		bundleMust(t, err)
		b, err := io.ReadAll(rc)
		bundleMust(t, err)
		entries[f.Name] = b
		if f.Name != entryManifest {
			order = append(order, f.Name)
		}
	}
	var man map[string]any
	bundleMust(t, json.Unmarshal(entries[entryManifest], &man))
	delete(entries, entryManifest)
	if edit != nil {
		edit(entries)
	}
	var listed []any
	var names []string
	for _, n := range order {
		if _, ok := entries[n]; ok {
			names = append(names, n)
		}
	}
	for n := range entries {
		if !bundleContains(order, n) {
			names = append(names, n)
		}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		b := entries[n]
		sum := sha256.Sum256(b)
		listed = append(listed, map[string]any{"name": n, "size": len(b), "sha256": hex.EncodeToString(sum[:])})
		w, err := zw.Create(n)
		bundleMust(t, err)
		w.Write(b)
	}
	man["entries"] = listed
	if editManifest != nil {
		editManifest(man)
	}
	mb, err := json.Marshal(man)
	bundleMust(t, err)
	w, err := zw.Create(entryManifest)
	bundleMust(t, err)
	w.Write(mb)
	bundleMust(t, zw.Close())
	return buf.Bytes()
}

func bundleContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func bundleEditWeights(t *testing.T, edit func(ts map[string]*tensor.Tensor)) func(map[string][]byte) {
	return func(e map[string][]byte) {
		ts, _, err := safetensors.Unmarshal(e[entryWeights])
		bundleMust(t, err)
		edit(ts)
		e[entryWeights], err = safetensors.Marshal(ts, nil)
		bundleMust(t, err)
	}
}

func TestBundleLoadRejects(t *testing.T) {
	_, data := bundleSaveTo(t, bundleMLP(t))
	path := filepath.Join(t.TempDir(), "model.dfm")
	for _, tc := range []struct {
		name         string
		edit         func(map[string][]byte)
		editManifest func(map[string]any)
		want         string
	}{
		{
			name:         "newer format version",
			editManifest: func(m map[string]any) { m["format_version"] = 2; m["framework_version"] = "9.0.0" },
			want:         "bundle format version 2 (written by deepframe 9.0.0) is newer than this deepframe " + FrameworkVersion + " reads (up to 1); upgrade deepframe",
		},
		{
			// A later version may reshape the manifest; its version must still be recognised.
			name:         "newer format version with a different manifest",
			editManifest: func(m map[string]any) { m["format_version"] = 3; m["entries"] = map[string]any{"config": 1} },
			want:         "bundle format version 3 (written by deepframe " + FrameworkVersion + ") is newer",
		},
		{
			name:         "zero format version",
			editManifest: func(m map[string]any) { m["format_version"] = 0 },
			want:         "manifest.json: invalid format version 0",
		},
		{
			// A hostile author recomputes the checksums; the build must refuse to allocate
			// weights the file cannot hold before it allocates them.
			name: "config asks for a huge layer",
			edit: func(e map[string][]byte) {
				huge := regexp.MustCompile(`"units":\s*16`).ReplaceAll(e[entryConfig], []byte(`"units": 274877906944`))
				if bytes.Equal(huge, e[entryConfig]) {
					t.Fatal("config.json has no units of 16 to enlarge")
				}
				e[entryConfig] = huge
			},
			want: "more than the",
		},
		{
			name: "missing weight",
			edit: bundleEditWeights(t, func(ts map[string]*tensor.Tensor) { delete(ts, "fc_2/bias") }),
			want: `model.safetensors: missing weight "fc_2/bias"`,
		},
		{
			name: "wrong weight shape",
			edit: bundleEditWeights(t, func(ts map[string]*tensor.Tensor) { ts["fc_1/kernel"] = tensor.Zeros(4, 15) }),
			want: "model.safetensors: weight fc_1/kernel has shape (4, 15), but the model needs (4, 16)",
		},
		{
			name: "wrong weight dtype",
			edit: bundleEditWeights(t, func(ts map[string]*tensor.Tensor) { ts["fc_3/bias"] = tensor.New(tensor.Int32, 3) }),
			want: "model.safetensors: weight fc_3/bias is int32, but the model needs float32",
		},
		{
			name: "extra weight",
			edit: bundleEditWeights(t, func(ts map[string]*tensor.Tensor) { ts["fc_9/kernel"] = tensor.Zeros(1) }),
			want: `model.safetensors: weight "fc_9/kernel" not in the model built from config.json`,
		},
		{
			name: "missing weights entry",
			edit: func(e map[string][]byte) { delete(e, entryWeights) },
			want: "model.safetensors is missing",
		},
		{
			name: "missing config",
			edit: func(e map[string][]byte) { delete(e, entryConfig) },
			want: "config.json is missing",
		},
		{
			name: "unknown layer class",
			edit: func(e map[string][]byte) {
				e[entryConfig] = bytes.Replace(e[entryConfig], []byte(`"class_name": "Dense"`), []byte(`"class_name": "NoSuchLayer"`), 1)
			},
			want: `: config.json: model config "`,
		},
		{
			name: "state without optimizer config",
			edit: func(e map[string][]byte) { delete(e, entryOptimizer) },
			want: "optimizer.safetensors is present without optimizer.json",
		},
		{
			name: "bad optimizer config",
			edit: func(e map[string][]byte) {
				e[entryOptimizer] = []byte(`{"optimizer":{"class_name":"NoSuchOpt"},"loss":{"class_name":"MeanSquaredError"}}`)
			},
			want: "optimizer.json: optimizer: ",
		},
		{
			name: "metadata disagrees with config",
			edit: func(e map[string][]byte) {
				var md map[string]any
				json.Unmarshal(e[entryMetadata], &md)
				md["inputs"].([]any)[0].(map[string]any)["shape"] = []int{-1, 5}
				e[entryMetadata], _ = json.Marshal(md)
			},
			want: "metadata.json: input 0 (fc_1_input) has shape (None, 5), but the model built from config.json takes (None, 4)",
		},
		{
			name: "entry not in manifest",
			editManifest: func(m map[string]any) {
				m["entries"] = m["entries"].([]any)[1:]
			},
			want: "config.json: entry is not listed in manifest.json",
		},
		{
			name: "manifest lists absent entry",
			editManifest: func(m map[string]any) {
				m["entries"] = append(m["entries"].([]any), map[string]any{"name": "extra.bin", "size": 1, "sha256": strings.Repeat("0", 64)})
			},
			want: "extra.bin: listed in manifest.json but missing from the archive",
		},
		{
			name: "size mismatch",
			editManifest: func(m map[string]any) {
				m["entries"].([]any)[0].(map[string]any)["size"] = 3
			},
			want: "config.json: size mismatch (manifest 3 bytes, archive ",
		},
		{
			name: "path in name",
			edit: func(e map[string][]byte) { e["../evil.json"] = []byte("{}") },
			want: `entry name "../evil.json" is not a plain file name`,
		},
		{
			name: "slash in name",
			edit: func(e map[string][]byte) { e["dir/x"] = []byte("{}") },
			want: `entry name "dir/x" is not a plain file name`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := bundleLoadBytes(path, bundleRewrite(t, data, tc.edit, tc.editManifest))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
			if err != nil && strings.Count(err.Error(), "keras: ") != 1 {
				t.Errorf("error stutters: %v", err)
			}
		})
	}
}

// An entry this version does not know, listed in the manifest with a good checksum, is a later
// minor revision's addition and is skipped.
func TestBundleLoadIgnoresListedUnknownEntry(t *testing.T) {
	_, data := bundleSaveTo(t, bundleMLP(t))
	bad := bundleRewrite(t, data, func(e map[string][]byte) { e["preprocessing.json"] = []byte(`{"scaler":"standard"}`) }, nil)
	path := filepath.Join(t.TempDir(), "model.dfm")
	if err := bundleLoadBytes(path, bad); err != nil {
		t.Fatal(err)
	}
}

// bundleCraftZip writes a zip whose central directory makes claims archive/zip's writer would never
// make: it lets the tests declare sizes, methods and flags directly.
func bundleCraftZip(name string, method uint16, flags uint16, body []byte, declaredSize uint32) []byte {
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	// local file header
	le(uint32(0x04034b50))
	le(uint16(20))
	le(flags)
	le(method)
	le(uint32(0)) // time, date
	le(uint32(0)) // crc
	le(uint32(len(body)))
	le(declaredSize)
	le(uint16(len(name)))
	le(uint16(0))
	b.WriteString(name)
	b.Write(body)
	cdStart := b.Len()
	le(uint32(0x02014b50))
	le(uint16(20))
	le(uint16(20))
	le(flags)
	le(method)
	le(uint32(0))
	le(uint32(0))
	le(uint32(len(body)))
	le(declaredSize)
	le(uint16(len(name)))
	le(uint16(0))
	le(uint16(0))
	le(uint16(0))
	le(uint16(0))
	le(uint32(0))
	le(uint32(0)) // local header offset
	b.WriteString(name)
	cdEnd := b.Len()
	le(uint32(0x06054b50))
	le(uint16(0))
	le(uint16(0))
	le(uint16(1))
	le(uint16(1))
	le(uint32(cdEnd - cdStart))
	le(uint32(cdStart))
	le(uint16(0))
	return b.Bytes()
}

func TestBundleLoadHostileZip(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"zip bomb", bundleCraftZip("manifest.json", zip.Deflate, 0, []byte{3, 0}, 1<<31), "manifest.json: 2147483648 bytes deflated to 2 is a suspicious ratio"},
		{"stored size lie", bundleCraftZip("manifest.json", zip.Store, 0, []byte("{}"), 1<<20), "manifest.json: stored entry claims 1048576 bytes but holds 2"},
		{"encrypted", bundleCraftZip("manifest.json", zip.Store, 1, []byte("{}"), 2), "manifest.json: entry is encrypted"},
		{"unknown method", bundleCraftZip("manifest.json", 12, 0, []byte("{}"), 2), "manifest.json: unsupported compression method 12"},
		{"big manifest", bundleCraftZip("manifest.json", zip.Deflate, 0, make([]byte, 40000), 2<<20), "manifest.json: 2097152 bytes, over the 1048576-byte limit"},
		{"control character", bundleCraftZip("a\x01b", zip.Store, 0, nil, 0), `entry name "a\x01b" has a control character`},
	} {
		_, err := LoadReader(bytes.NewReader(tc.data), int64(len(tc.data)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestBundleLoadDuplicateEntry(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < 2; i++ {
		w, _ := zw.Create("config.json")
		w.Write([]byte("{}"))
	}
	zw.Close()
	_, err := LoadReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err == nil || !strings.Contains(err.Error(), `entry "config.json" appears twice`) {
		t.Errorf("got %v", err)
	}
}

// bundleFailingState makes Save fail after some entries are already in the temporary file.
type bundleFailingState struct{ optim.Optimizer }

func (f bundleFailingState) State() map[string]*tensor.Tensor {
	s := f.Optimizer.State()
	s["\xff"] = tensor.Zeros(1) // safetensors refuses names that are not UTF-8
	return s
}

func TestBundleFailedSaveKeepsExistingFile(t *testing.T) {
	m := bundleMLP(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "model.dfm")
	bundleMust(t, m.Save(path))
	before, err := os.ReadFile(path)
	bundleMust(t, err)

	bundleMust(t, m.Compile(bundleFailingState{optim.Adam(0.01)}, losses.SparseCategoricalCrossEntropy()))
	err = m.Save(path)
	if err == nil || !strings.Contains(err.Error(), "keras: save "+path+": optimizer.safetensors: ") {
		t.Fatalf("save with a bad optimizer state: %v", err)
	}
	after, err := os.ReadFile(path)
	bundleMust(t, err)
	if !bytes.Equal(before, after) {
		t.Error("a failed save changed the existing bundle")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("a failed save left files behind: %v", entries)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("the old bundle no longer loads: %v", err)
	}

	// An unwritable directory: only meaningful for a user the permission bits bind.
	if os.Geteuid() != 0 {
		bundleMust(t, os.Chmod(dir, 0o555))
		defer os.Chmod(dir, 0o755)
		m2 := bundleMLP(t)
		if err := m2.Save(path); err == nil {
			t.Error("save into a read-only directory succeeded")
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(before, after) {
			t.Error("a failed save changed the existing bundle")
		}
	}
	if err := m.Save(filepath.Join(dir, "no-such-dir", "m.dfm")); err == nil {
		t.Error("save into a missing directory succeeded")
	}
}

func TestBundleWriteAtomicFailureMidway(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	bundleMust(t, os.WriteFile(path, []byte("old"), 0o644))
	err := writeAtomic(path, func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte("new"), 1000))
		return errors.New("disk on fire")
	})
	if err == nil || err.Error() != "disk on fire" {
		t.Fatalf("got %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("file now holds %d bytes", len(b))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary file left behind: %v", entries)
	}
}

func TestBundleJSONFloat(t *testing.T) {
	for _, v := range []float64{0, -1.5, 1e300, math.Inf(1), math.Inf(-1), math.NaN()} {
		b, err := json.Marshal(jsonFloat(v))
		bundleMust(t, err)
		var back jsonFloat
		bundleMust(t, json.Unmarshal(b, &back))
		if !(float64(back) == v || math.IsNaN(v) && math.IsNaN(float64(back))) {
			t.Errorf("%v -> %s -> %v", v, b, float64(back))
		}
	}
	var f jsonFloat
	if err := json.Unmarshal([]byte(`"lots"`), &f); err == nil {
		t.Error(`"lots" decoded as a number`)
	}
}

func ExampleModel_Save() {
	model := Sequential(
		layers.Dense(8, layers.Activation("relu"), layers.InputShape(4), layers.Name("fc_1")),
		layers.Dense(3, layers.Activation("softmax"), layers.Name("fc_2")),
	)
	model.Compile(optim.SGD(0.01), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy())
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "iris.dfm")
	if err := model.Save(path, WithMetadata(map[string]any{"dataset": "iris"})); err != nil {
		fmt.Println(err)
		return
	}
	b, err := LoadBundle(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.Metadata.Inputs[0].Shape, b.Metadata.Params.Total, b.Model.Optimizer().Config().ClassName)
	// Output: [-1 4] 67 SGD
}
