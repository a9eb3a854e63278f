package keras

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
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

// FuzzBundleEntries fuzzes what the checksums normally keep away from the decoders: one entry
// of a real bundle is replaced by the fuzzer's bytes and the manifest is rewritten to match,
// as a buggy or hostile writer would do. config.json is left out: a config can ask for layers
// of any size, and rebuilding the model allocates them before their weights can be checked
// against model.safetensors (see the note at loadBundle).
func FuzzBundleEntries(f *testing.F) {
	base := fuzzSeedBundles(f)[0]
	entries := bundleEntries(f, base)
	var man BundleManifest
	if err := json.Unmarshal(entries[entryManifest], &man); err != nil {
		f.Fatal(err)
	}
	editable := []string{entryMetadata, entryWeights, entryOptimizer, entryOptimizerState}
	for i, name := range editable {
		f.Add(uint8(i), entries[name])
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		name := editable[int(which)%len(editable)]
		var parts []bundlePart
		for _, e := range man.Entries {
			b := entries[e.Name]
			if e.Name == name {
				b = data
			}
			// Stored, not deflated: compressing every input would cost more than loading it.
			parts = append(parts, bundlePart{name: e.Name, method: zip.Store, data: b})
		}
		var buf bytes.Buffer
		if err := writeBundle(&buf, man.CreatedAt, parts); err != nil {
			t.Fatal(err)
		}
		b, err := LoadBundleReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			if b != nil {
				t.Fatal("LoadBundleReader returned a bundle and an error")
			}
			return
		}
		if b.Model == nil || b.Model.Err() != nil {
			t.Fatalf("loaded a broken model without an error")
		}
	})
}

func bundleEntries(tb testing.TB, data []byte) map[string][]byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatal(err)
		}
		out[f.Name] = b
	}
	return out
}
