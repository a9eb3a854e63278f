package feature

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// everyStage is a pipeline holding each feature stage at least once.
func everyStage() *ml.Pipeline {
	inf := math.Inf(1)
	return ml.NewPipeline(
		NewStringIndexer().SetInputCol("cat").SetOutputCol("catIdx").SetHandleInvalid(HandleKeep),
		NewIndexToString().SetInputCol("catIdx").SetOutputCol("catBack"),
		NewOneHotEncoder().SetInputCol("catIdx").SetOutputCol("catVec").SetDropLast(false),
		NewBucketizer().SetInputCol("n").SetOutputCol("nBucket").SetSplits(-inf, 0, 1, inf),
		NewVectorAssembler().SetInputCols("a", "b", "catVec", "nBucket").SetOutputCol("raw"),
		NewStandardScaler().SetInputCol("raw").SetOutputCol("std").SetWithMean(true),
		NewMinMaxScaler().SetInputCol("raw").SetOutputCol("mm").SetMin(-1),
		NewNormalizer().SetInputCol("raw").SetOutputCol("norm").SetP(1),
		NewChainedPreprocessing(NewResize(6, 6), NewRandomCrop(5, 5, 11), NewHorizontalFlip(0.5, 12),
			NewCenterCrop(4, 4), NewChannelNormalize([]float64{0.5, 0.4, 0.3}, []float64{0.2, 0.2, 0.2}), NewToTensor()).
			SetOutputCol("tensor"),
		NewResize(2, 3).SetOutputCol("small"),
		NewChannelNormalize([]float64{0.1}, []float64{2}).SetInputCol("tensor").SetOutputCol("tensor2"),
	)
}

func everyStageFrame(t *testing.T) *frame.DataFrame {
	var imgs []frame.Image
	for i := 0; i < 5; i++ {
		px := make([]byte, 7*8*3)
		for j := range px {
			px[j] = byte(i*31 + j*7)
		}
		imgs = append(imgs, rgb(fmt.Sprint("im", i), 7, 8, px...))
	}
	return mustFrame(t,
		frame.Col("cat", []string{"x", "y", "x", "z", "x"}),
		frame.Col("n", []float64{-1, 0.5, 3, 0, 1}),
		frame.Col("a", []int64{1, 2, 3, 4, 5}),
		frame.Col("b", []float64{0.5, -2, 8, 1, 1}),
		frame.Col("image", imgs),
	)
}

// snapshot formats every cell and field (with metadata) of df.
func snapshot(t *testing.T, df *frame.DataFrame) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(df.Schema().String())
	for _, c := range df.Columns() {
		fmt.Fprintf(&b, "\n%s: %v", c, cells(t, df, c))
	}
	return b.String()
}

func TestPipelineModelSaveLoadEveryStage(t *testing.T) {
	df := everyStageFrame(t)
	pipe := everyStage()
	m, err := pipe.FitModel(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, out)
	if !strings.Contains(want, "catBack: [x y x z x]") {
		t.Errorf("unexpected output:\n%s", want)
	}
	// Actions on one lazily transformed frame may run concurrently (run with -race).
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := out.Collect(bg); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	dir := t.TempDir()
	for _, name := range []string{"model", "model.zip"} {
		path := filepath.Join(dir, name)
		if err := m.Save(path); err != nil {
			t.Fatal(err)
		}
		loaded, err := ml.LoadPipelineModel(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, s := range loaded.Stages() {
			orig := m.Stages()[i]
			a, _ := s.Params().MarshalJSON()
			b, _ := orig.Params().MarshalJSON()
			if s.ClassName() != orig.ClassName() || string(a) != string(b) {
				t.Errorf("%s: stage %d is %s %s, want %s %s", name, i, s.ClassName(), a, orig.ClassName(), b)
			}
		}
		again, err := loaded.Transform(bg, df)
		if err != nil {
			t.Fatal(err)
		}
		if got := snapshot(t, again); got != want {
			t.Errorf("%s: output after loading differs:\n%s\nwant\n%s", name, got, want)
		}
	}
	// The unfitted pipeline round-trips too, and fits to the same model.
	ppath := filepath.Join(dir, "pipe.zip")
	if err := pipe.Save(ppath); err != nil {
		t.Fatal(err)
	}
	p2, err := ml.LoadPipeline(ppath)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := p2.FitModel(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	out2, err := m2.Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, out2); got != want {
		t.Errorf("reloaded pipeline fits differently:\n%s\nwant\n%s", got, want)
	}
}

func TestLoadDamagedFeatureBundle(t *testing.T) {
	df := everyStageFrame(t)
	m, err := everyStage().FitModel(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	stageDir := func(i int) string { return fmt.Sprintf("stages/%02d_%s", i, m.Stages()[i].UID()) }
	cases := []struct {
		name   string
		damage func(root string)
		wants  []string
	}{
		{"truncated stats", func(root string) {
			os.Truncate(filepath.Join(root, stageDir(5), "data", "stats.json"), 5)
		}, []string{stageDir(5) + "/data/stats.json", "truncated"}},
		{"duplicate label", func(root string) {
			os.WriteFile(filepath.Join(root, stageDir(0), "data", "labels.json"), []byte(`{"labelsArray":[["x","x"]]}`), 0o644)
			resignBundle(t, root)
		}, []string{stageDir(0), "StringIndexerModel", "data/labels.json", `label "x" appears twice`}},
		{"stats lengths", func(root string) {
			os.WriteFile(filepath.Join(root, stageDir(5), "data", "stats.json"), []byte(`{"mean":[1,2],"std":[1]}`), 0o644)
			resignBundle(t, root)
		}, []string{stageDir(5), "data/stats.json: 2 means but 1 deviations"}},
		{"negative size", func(root string) {
			os.WriteFile(filepath.Join(root, stageDir(2), "data", "categorySizes.json"), []byte(`{"categorySizes":[-4]}`), 0o644)
			resignBundle(t, root)
		}, []string{stageDir(2), "data/categorySizes.json", "size -4"}},
		{"unknown field", func(root string) {
			os.WriteFile(filepath.Join(root, stageDir(6), "data", "stats.json"), []byte(`{"originalMin":[1],"originalMax":[2],"x":1}`), 0o644)
			resignBundle(t, root)
		}, []string{stageDir(6), "data/stats.json", `unknown field "x"`}},
		{"bad param value", func(root string) {
			p := filepath.Join(root, stageDir(3), "metadata.json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), `"handleInvalid": "error"`, `"handleInvalid": "maybe"`, 1)), 0o644)
			resignBundle(t, root)
		}, []string{stageDir(3), "param handleInvalid = maybe", "[error skip keep]"}},
		{"chain member unknown", func(root string) {
			p := filepath.Join(root, stageDir(8), "data", "stages.json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), `"class":"Resize"`, `"class":"Rotate"`, 1)), 0o644)
			resignBundle(t, root)
		}, []string{stageDir(8), "data/stages.json: stage 0", `unknown stage class "Rotate"`}},
	}
	for _, c := range cases {
		root := filepath.Join(t.TempDir(), "b")
		if err := m.Save(root); err != nil {
			t.Fatal(err)
		}
		c.damage(root)
		_, err := ml.Load(root)
		wantErr(t, c.name, err, c.wants...)
	}
}

// resignBundle rewrites the top metadata's checksums after a test changed files, so the
// stage loaders' own validation is what gets tested.
func resignBundle(t *testing.T, root string) {
	t.Helper()
	mp := filepath.Join(root, "metadata.json")
	b, err := os.ReadFile(mp)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	files := map[string]any{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == mp {
			return err
		}
		data, _ := os.ReadFile(p)
		sum := sha256.Sum256(data)
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = map[string]any{"size": len(data), "sha256": hex.EncodeToString(sum[:])}
		return nil
	})
	meta["files"] = files
	b, _ = json.Marshal(meta)
	if err := os.WriteFile(mp, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestNorthStarPipeline(t *testing.T) {
	// The pipeline form of the iris walkthrough, minus the network: index the class, assemble
	// and standardise the features.
	df := mustFrame(t,
		frame.Col("sepal", []float64{5.1, 4.9, 6.3, 5.8, 7.1}),
		frame.Col("petal", []float64{1.4, 1.4, 6.0, 5.1, 5.9}),
		frame.Col("class", []string{"setosa", "setosa", "virginica", "versicolor", "virginica"}),
	)
	pipe := ml.NewPipeline(
		NewStringIndexer().SetInputCol("class").SetOutputCol("label"),
		NewVectorAssembler().SetInputCols("sepal", "petal").SetOutputCol("raw"),
		NewStandardScaler().SetInputCol("raw").SetOutputCol("features"),
	)
	fitted, err := pipe.Fit(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	scored, err := fitted.Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	// setosa and virginica tie at 2; alphabetical order puts setosa first.
	if got := cells(t, scored, "label"); !eqStrings(got, []string{"0", "0", "1", "2", "1"}) {
		t.Errorf("labels %v", got)
	}
	sd := func(xs ...float64) float64 {
		var m, s float64
		for _, x := range xs {
			m += x / float64(len(xs))
		}
		for _, x := range xs {
			s += (x - m) * (x - m)
		}
		return math.Sqrt(s / float64(len(xs)-1))
	}
	s1, s2 := sd(5.1, 4.9, 6.3, 5.8, 7.1), sd(1.4, 1.4, 6.0, 5.1, 5.9)
	want := [][]float64{{5.1 / s1, 1.4 / s2}, {4.9 / s1, 1.4 / s2}, {6.3 / s1, 6.0 / s2}, {5.8 / s1, 5.1 / s2}, {7.1 / s1, 5.9 / s2}}
	if got := vectors(t, scored, "features"); !closeTo(got, want, 1e-12) {
		t.Errorf("features %v, want %v", got, want)
	}
}

// TestHostileStageData feeds every data file of a saved pipeline odd but well-formed JSON
// (with valid checksums, so the stage loaders see it): loading must fail cleanly or give a
// model whose Transform fails cleanly; no loader may panic.
func TestHostileStageData(t *testing.T) {
	df := everyStageFrame(t)
	m, err := everyStage().FitModel(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(t.TempDir(), "base")
	if err := m.Save(base); err != nil {
		t.Fatal(err)
	}
	var dataFiles []string
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(p)) == "data" {
			rel, _ := filepath.Rel(base, p)
			dataFiles = append(dataFiles, rel)
		}
		return err
	})
	if len(dataFiles) != 5 {
		t.Fatalf("data files %v", dataFiles)
	}
	contents := []string{`null`, `[]`, `{}`, `"x"`, `{"labelsArray":[null,[""]]}`, `{"mean":[1e308,"NaN"],"std":["Infinity",-0]}`,
		`{"originalMin":[],"originalMax":[]}`, `{"categorySizes":[0]}`, `{"categorySizes":[1048576]}`,
		`[{"class":"ToTensor","uid":"../x","params":{}}]`, `[{"class":"Resize","uid":"R_1","params":{"height":0,"width":1}}]`,
		`[{"class":"Resize","uid":"R_1","params":null}]`, strings.Repeat("[", 5000) + strings.Repeat("]", 5000)}
	for _, rel := range dataFiles {
		for _, c := range contents {
			root := filepath.Join(t.TempDir(), "b")
			if err := os.CopyFS(root, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(root, rel), []byte(c), 0o644)
			resignBundle(t, root)
			s, err := ml.Load(root)
			if err != nil {
				if strings.Contains(err.Error(), "panicked") {
					t.Errorf("%s = %.40s: %v", rel, c, err)
				}
				continue
			}
			out, err := s.(ml.Transformer).Transform(bg, df)
			if err == nil {
				_, err = out.Collect(bg)
			}
			_ = err // an error is fine; a panic fails the test
		}
	}
}
