package keras

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/optim"
)

// fuzzSeedBundles are small real bundles: with and without optimizer state, Sequential and
// functional, so mutations start from every entry kind.
func fuzzSeedBundles(f *testing.F) [][]byte {
	f.Helper()
	dir := f.TempDir()
	var out [][]byte
	save := func(m *Model, opts ...SaveOption) {
		if err := m.Err(); err != nil {
			f.Fatal(err)
		}
		path := filepath.Join(dir, "seed.dfm")
		if err := m.Save(path, append(opts, WithCreatedAt(bundleTestTime))...); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	seq := Sequential(
		layers.Dense(3, layers.Activation("relu"), layers.InputShape(2), layers.Name("a")),
		layers.Dense(2, layers.Activation("softmax"), layers.Name("b")),
	)
	if err := seq.Compile(optim.Adam(0.01), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()); err != nil {
		f.Fatal(err)
	}
	save(seq)
	save(seq, WithoutOptimizer(), WithMetadata(map[string]any{"k": "v"}))

	in := Input(2)
	out1 := layers.Dense(1, layers.Name("o")).Apply(in)
	save(NewModel([]*layers.Node{in}, []*layers.Node{out1}))
	return out
}

// FuzzLoad feeds arbitrary bytes to the loader: it must return a model or an error, never panic,
// and a model it returns must be usable.
func FuzzLoad(f *testing.F) {
	for _, b := range fuzzSeedBundles(f) {
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := LoadBundleReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if b != nil {
				t.Fatal("LoadBundleReader returned a bundle and an error")
			}
			return
		}
		if b.Model == nil || b.Model.Err() != nil {
			t.Fatalf("loaded a broken model without an error")
		}
		if _, err := b.Model.Config(); err != nil {
			t.Fatalf("loaded model has no config: %v", err)
		}
	})
}
