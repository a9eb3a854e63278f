package ml_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/ml"
)

func fittedModel(t *testing.T) *ml.PipelineModel {
	t.Helper()
	m, err := ml.NewPipeline(addC("x", "y", 10), center("y", "c"), addC("c", "z", 1)).FitModel(context.Background(), testFrame(t))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSaveLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	df := testFrame(t)
	m := fittedModel(t)
	want, err := m.Transform(ctx, df)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"model", "model.zip"} {
		path := filepath.Join(dir, name)
		if err := m.Save(path); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := ml.LoadPipelineModel(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.UID() != m.UID() || len(got.Stages()) != 3 {
			t.Fatalf("%s: loaded %s with %d stages", name, got.UID(), len(got.Stages()))
		}
		for i, s := range got.Stages() {
			if s.UID() != m.Stages()[i].UID() || s.ClassName() != m.Stages()[i].ClassName() {
				t.Errorf("%s: stage %d is %s %s, want %s %s", name, i, s.ClassName(), s.UID(), m.Stages()[i].ClassName(), m.Stages()[i].UID())
			}
		}
		out, err := got.Transform(ctx, df)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"y", "c", "z"} {
			if g, w := floats(t, out, c), floats(t, want, c); !near(g, w) {
				t.Errorf("%s: column %s = %v after loading, want %v", name, c, g, w)
			}
		}
		if _, err := ml.LoadPipeline(path); err == nil || !strings.Contains(err.Error(), "not a Pipeline") {
			t.Errorf("%s: LoadPipeline of a model: %v", name, err)
		}
	}

	// The directory layout is Spark's.
	root := filepath.Join(dir, "model")
	var meta map[string]any
	readJSON(t, filepath.Join(root, "metadata.json"), &meta)
	if meta["class"] != "PipelineModel" || meta["uid"] != m.UID() || meta["frameworkVersion"] != ml.FrameworkVersion {
		t.Errorf("top metadata %v", meta)
	}
	cm := m.Stages()[1]
	stageDir := filepath.Join(root, "stages", "01_"+cm.UID())
	var sm map[string]any
	readJSON(t, filepath.Join(stageDir, "metadata.json"), &sm)
	params, _ := sm["params"].(map[string]any)
	if sm["class"] != "CenterModel" || sm["uid"] != cm.UID() || params["inputCol"] != "y" || sm["hasData"] != true {
		t.Errorf("stage metadata %v", sm)
	}
	if _, err := os.Stat(filepath.Join(stageDir, "data", "mean.json")); err != nil {
		t.Error(err)
	}
	files, _ := meta["files"].(map[string]any)
	if _, ok := files["stages/01_"+cm.UID()+"/data/mean.json"]; !ok || len(files) != 4 {
		t.Errorf("file list %v", files)
	}
}

func TestSaveLoadUnfittedPipeline(t *testing.T) {
	p := ml.NewPipeline(addC("x", "y", 2), center("y", "c"), ml.NewPipeline(addC("c", "d", 1)))
	for _, name := range []string{"pipe", "pipe.zip"} {
		path := filepath.Join(t.TempDir(), name)
		if err := p.Save(path); err != nil {
			t.Fatal(err)
		}
		q, err := ml.LoadPipeline(path)
		if err != nil {
			t.Fatal(err)
		}
		st := q.GetStages()
		if q.UID() != p.UID() || len(st) != 3 || st[1].ClassName() != "Centerer" || st[2].ClassName() != "Pipeline" {
			t.Fatalf("loaded %s %v", q.UID(), st)
		}
		m, err := q.FitModel(context.Background(), testFrame(t))
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Transform(context.Background(), testFrame(t))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := floats(t, out, "d"), []float64{-1, 0, 1, 4}; !near(got, want) {
			t.Errorf("d = %v, want %v", got, want)
		}
		if _, err := ml.LoadPipelineModel(path); err == nil {
			t.Error("LoadPipelineModel of a Pipeline: no error")
		}
	}
}

func TestSaveSingleStage(t *testing.T) {
	// Missing parent folders are created; a trailing separator names the same bundle.
	path := filepath.Join(t.TempDir(), "new", "sub", "stage") + string(filepath.Separator)
	a := addC("x", "y", 3)
	if err := ml.Save(a, path); err != nil {
		t.Fatal(err)
	}
	s, err := ml.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b, ok := s.(*addConst)
	if !ok || b.constant.Get() != 3 || b.UID() != a.UID() {
		t.Errorf("loaded %#v", s)
	}
}

func TestSaveReplacesAtomically(t *testing.T) {
	parent := t.TempDir()
	for _, name := range []string{"b", "b.zip"} {
		path := filepath.Join(parent, name)
		if err := ml.Save(addC("x", "y", 1), path); err != nil {
			t.Fatal(err)
		}
		second := addC("x", "y", 2)
		if err := ml.Save(second, path); err != nil {
			t.Fatalf("replacing %s: %v", name, err)
		}
		// A stage whose data cannot be written fails the save and leaves the bundle as it was.
		bad := ml.NewPipelineModel(addC("x", "y", 5), newCenterModel("CenterModel_bad", -999))
		err := ml.Save(bad, path)
		if err == nil || !strings.Contains(err.Error(), "CenterModel_bad") {
			t.Fatalf("failing save of %s: %v", name, err)
		}
		s, err := ml.Load(path)
		if err != nil {
			t.Fatalf("the old %s no longer loads: %v", name, err)
		}
		if s.UID() != second.UID() {
			t.Errorf("%s holds %s, want the second save %s", name, s.UID(), second.UID())
		}
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("left in the parent folder: %v, want only b and b.zip", names)
	}
}

func TestSaveRefuses(t *testing.T) {
	parent := t.TempDir()
	notBundle := filepath.Join(parent, "home")
	if err := os.MkdirAll(filepath.Join(notBundle, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	zipDir := filepath.Join(parent, "x.zip")
	if err := os.Mkdir(zipDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		stage ml.Stage
		path  string
		want  string
	}{
		{"non-bundle directory", addC("x", "y", 1), notBundle, "not a bundle"},
		{"zip path is a directory", addC("x", "y", 1), zipDir, "is a directory"},
		{"unregistered class", ml.NewPipelineModel(notRegistered{addC("x", "y", 1)}), filepath.Join(parent, "n"), `class "NotRegistered" is not registered`},
		{"bad uid", newAddConst("../evil"), filepath.Join(parent, "u"), "uid"},
		{"nil stage", nil, filepath.Join(parent, "nil"), "nil stage"},
	}
	for _, c := range cases {
		err := ml.Save(c.stage, c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(notBundle, "docs")); err != nil {
		t.Errorf("the non-bundle directory was touched: %v", err)
	}
	for _, n := range []string{"n", "u", "nil"} {
		if _, err := os.Stat(filepath.Join(parent, n)); err == nil {
			t.Errorf("refused save left %s behind", n)
		}
	}
}

// resign recomputes the top metadata's file list, so a test can damage a bundle in ways the
// checksums alone would not catch.
func resign(t *testing.T, root string) {
	t.Helper()
	var meta map[string]any
	readJSON(t, filepath.Join(root, "metadata.json"), &meta)
	files := map[string]any{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "metadata.json" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		files[filepath.ToSlash(rel)] = map[string]any{"size": len(b), "sha256": hex.EncodeToString(sum[:])}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	meta["files"] = files
	writeJSON(t, filepath.Join(root, "metadata.json"), meta)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func editJSON(t *testing.T, path string, edit func(m map[string]any)) {
	t.Helper()
	var m map[string]any
	readJSON(t, path, &m)
	edit(m)
	writeJSON(t, path, m)
}

func TestLoadDamagedBundle(t *testing.T) {
	m := fittedModel(t)
	cm := m.Stages()[1].UID()
	s0 := "stages/00_" + m.Stages()[0].UID()
	s1 := "stages/01_" + cm
	dataFile := s1 + "/data/mean.json"
	cases := []struct {
		name   string
		damage func(t *testing.T, root string)
		wants  []string
	}{
		{"data file removed", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, dataFile))
		}, []string{dataFile, "missing"}},
		{"data file corrupted", func(t *testing.T, root string) {
			p := filepath.Join(root, dataFile)
			b, _ := os.ReadFile(p)
			b[len(b)-3] ^= 1
			os.WriteFile(p, b, 0o644)
		}, []string{dataFile, "corrupted"}},
		{"data file truncated", func(t *testing.T, root string) {
			os.Truncate(filepath.Join(root, dataFile), 3)
		}, []string{dataFile, "3 bytes", "truncated"}},
		{"file added", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, s1, "data", "extra.bin"), []byte("x"), 0o644)
		}, []string{s1 + "/data/extra.bin", "not listed"}},
		{"stage metadata removed", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, s0, "metadata.json"))
		}, []string{s0 + "/metadata.json", "missing"}},
		{"top metadata removed", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, "metadata.json"))
		}, []string{"metadata.json: missing"}},
		{"top metadata not JSON", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, "metadata.json"), []byte(`{"class": "Pipeli`), 0o644)
		}, []string{"metadata.json:", "unexpected end"}},
		{"newer format", func(t *testing.T, root string) {
			editJSON(t, filepath.Join(root, "metadata.json"), func(m map[string]any) { m["formatVersion"] = 99 })
		}, []string{"metadata.json", "format version 99", "newer"}},
		{"unknown class", func(t *testing.T, root string) {
			editJSON(t, filepath.Join(root, s0, "metadata.json"), func(m map[string]any) { m["class"] = "Bogus" })
			resign(t, root)
		}, []string{s0, `unknown stage class "Bogus"`, "AddConst"}},
		{"bad data", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, dataFile), []byte(`{"mean":[1,2]}`), 0o644)
			resign(t, root)
		}, []string{s1, "CenterModel", "data/mean.json: 2 values"}},
		{"data not JSON", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, dataFile), []byte(`{"mean":[1,`), 0o644)
			resign(t, root)
		}, []string{s1, "data/mean.json"}},
		{"unknown param", func(t *testing.T, root string) {
			editJSON(t, filepath.Join(root, s0, "metadata.json"), func(m map[string]any) {
				m["params"].(map[string]any)["colour"] = "red"
			})
			resign(t, root)
		}, []string{s0, `unknown param "colour"`, "inputCol, outputCol, constant"}},
		{"stage folder escapes", func(t *testing.T, root string) {
			editJSON(t, filepath.Join(root, "metadata.json"), func(m map[string]any) {
				m["stages"].([]any)[0] = "../../etc"
			})
		}, []string{"not a plain name"}},
		{"stage folder renamed", func(t *testing.T, root string) {
			os.Rename(filepath.Join(root, s0), filepath.Join(root, "stages", "00_Other_1"))
			editJSON(t, filepath.Join(root, "metadata.json"), func(m map[string]any) { m["stages"].([]any)[0] = "00_Other_1" })
			resign(t, root)
		}, []string{"stages/00_Other_1", "does not match stage 0"}},
		{"data folder missing", func(t *testing.T, root string) {
			os.RemoveAll(filepath.Join(root, s1, "data"))
			resign(t, root)
		}, []string{s1 + "/data: missing"}},
		{"estimator in a model", func(t *testing.T, root string) {
			editJSON(t, filepath.Join(root, s1, "metadata.json"), func(m map[string]any) {
				m["class"], m["hasData"] = "Centerer", false
			})
			os.RemoveAll(filepath.Join(root, s1, "data"))
			resign(t, root)
		}, []string{"stage 1 (Centerer", "not a Transformer"}},
		{"panicking loader", func(t *testing.T, root string) {
			editJSON(t, filepath.Join(root, s0, "metadata.json"), func(m map[string]any) { m["class"] = "Panicky" })
			resign(t, root)
		}, []string{s0, "loader panicked"}},
		{"symbolic link", func(t *testing.T, root string) {
			os.Symlink("/etc/passwd", filepath.Join(root, s1, "data", "link"))
		}, []string{s1 + "/data/link", "not a regular file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "bundle")
			if err := m.Save(root); err != nil {
				t.Fatal(err)
			}
			c.damage(t, root)
			for _, form := range []string{"dir", "zip"} {
				path := root
				if form == "zip" {
					path = root + ".zip"
					zipDir(t, root, path)
				}
				_, err := ml.Load(path)
				if err == nil {
					t.Fatalf("%s: no error", form)
				}
				for _, w := range append([]string{"ml: load " + path}, c.wants...) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: error %q does not mention %q", form, err, w)
					}
				}
			}
		})
	}
}

// zipDir zips a directory tree as it is, links included, so damaged trees can be tried as
// zip bundles too.
func zipDir(t *testing.T, root, out string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			_, err := zw.Create(name + "/")
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			h := &zip.FileHeader{Name: name}
			h.SetMode(fs.ModeSymlink | 0o777)
			w, err := zw.CreateHeader(h)
			if err != nil {
				return err
			}
			target, _ := os.Readlink(p)
			_, err = w.Write([]byte(target))
			return err
		}
		w, err := zw.Create(name)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadHostileZip(t *testing.T) {
	dir := t.TempDir()
	n := 0
	entries := func(files map[string]string) string {
		n++
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, content := range files {
			w, err := zw.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(content))
		}
		zw.Close()
		p := filepath.Join(dir, fmt.Sprintf("h%d.zip", n))
		os.WriteFile(p, buf.Bytes(), 0o644)
		return p
	}
	cases := []struct {
		name  string
		path  string
		wants []string
	}{
		{"escaping name", entries(map[string]string{"../evil": "x"}), []string{"relative path inside the bundle"}},
		{"absolute name", entries(map[string]string{"/etc/evil": "x"}), []string{"relative path inside the bundle"}},
		{"no metadata", entries(map[string]string{"other.txt": "x"}), []string{"metadata.json: missing"}},
		{"not a zip", func() string {
			p := filepath.Join(dir, "n.zip")
			os.WriteFile(p, []byte("hello, not a zip"), 0o644)
			return p
		}(), []string{"not a zip bundle"}},
		{"missing path", filepath.Join(dir, "nothing.zip"), []string{"no such file"}},
	}
	for _, c := range cases {
		_, err := ml.Load(c.path)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "evil")); err == nil {
		t.Error("an escaping entry was written")
	}
}

// TestLoadCorruptedZipNeverPanics flips and truncates bytes of a valid zip bundle: every load
// must return a stage or an error.
func TestLoadCorruptedZipNeverPanics(t *testing.T) {
	m := fittedModel(t)
	path := filepath.Join(t.TempDir(), "m.zip")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	bad := filepath.Join(t.TempDir(), "bad.zip")
	loaded := 0
	for i := 0; i < 200; i++ {
		b := append([]byte(nil), good...)
		switch i % 3 {
		case 0:
			b = b[:rng.IntN(len(b))]
		default:
			for k := 0; k < 1+rng.IntN(4); k++ {
				b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
			}
		}
		os.WriteFile(bad, b, 0o644)
		s, err := ml.Load(bad)
		if err == nil {
			loaded++
			if s == nil {
				t.Fatal("nil stage without an error")
			}
		}
	}
	// A flip inside zip padding or an unused header field can leave the bundle intact; most
	// damage must be caught.
	if loaded > 40 {
		t.Errorf("%d of 200 damaged bundles loaded", loaded)
	}
}
