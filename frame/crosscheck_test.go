package frame

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// pythonWith returns the Python named by DEEPFRAME_PYTHON when it can import every module
// given, or skips the test naming what is missing (make test provides one in .venv-test).
func pythonWith(t *testing.T, modules ...string) string {
	t.Helper()
	py := os.Getenv("DEEPFRAME_PYTHON")
	if py == "" {
		t.Skipf("set DEEPFRAME_PYTHON to a python3 with %v (make test does) to cross-check with them", modules)
	}
	for _, m := range modules {
		if out, err := exec.Command(py, "-c", "import "+m).CombinedOutput(); err != nil {
			t.Skipf("DEEPFRAME_PYTHON=%s cannot import %s: %v\n%s", py, m, err, out)
		}
	}
	return py
}

// TestJSONLinesPandasCrossCheck reads JSON lines written by pandas, an independent writer.
func TestJSONLinesPandasCrossCheck(t *testing.T) {
	py := pythonWith(t, "pandas")
	path := filepath.Join(t.TempDir(), "pandas.jsonl")
	script := `
import sys, pandas as pd
n = 1200
pd.DataFrame({
    "id": range(n),
    "x": [None if i % 5 == 0 else i / 4 for i in range(n)],
    "s": ["zeile %d \u00fc \"q\", \u65e5" % i for i in range(n)],
    "b": [i % 3 == 0 for i in range(n)],
}).to_json(sys.argv[1], orient="records", lines=True, force_ascii=False)
`
	if out, err := exec.Command(py, "-c", script, path).CombinedOutput(); err != nil {
		t.Fatalf("pandas write: %v\n%s", err, out)
	}
	df := must[*DataFrame](t)(ReadJSONLines(path, BatchRows(500)))
	got := rows(t, df)
	if len(got) != 1200 {
		t.Fatalf("read %d rows from pandas' file, want 1200", len(got))
	}
	for _, i := range []int{0, 1, 7, 599, 1199} {
		wantX := "null"
		if i%5 != 0 {
			wantX = strconv.FormatFloat(float64(i)/4, 'g', -1, 64)
		}
		want := []string{strconv.Itoa(i), wantX, fmt.Sprintf("zeile %d ü \"q\", 日", i), strconv.FormatBool(i%3 == 0)}
		for j := range want {
			if !sameValue(got[i][j], want[j]) {
				t.Errorf("row %d column %s = %q, want %q", i, df.Columns()[j], got[i][j], want[j])
			}
		}
	}
}

// sameValue compares the text of a read value with the expected one, numerically when both
// are numbers (pandas may write 2 as 2.0).
func sameValue(got, want string) bool {
	if got == want {
		return true
	}
	a, errA := strconv.ParseFloat(got, 64)
	b, errB := strconv.ParseFloat(want, 64)
	return errA == nil && errB == nil && a == b
}

// TestImagesPillowCrossCheck decodes PNG, BMP, WebP and JPEG files written by Pillow, an
// independent encoder, and compares the pixels with what was encoded.
func TestImagesPillowCrossCheck(t *testing.T) {
	py := pythonWith(t, "PIL")
	dir := t.TempDir()
	const h, w = 9, 13
	script := `
import sys, os
from PIL import Image
h, w = 9, 13
rgb = bytes(v for y in range(h) for x in range(w) for v in ((x*7 + y*3) % 256, (x*11) % 256, (y*13) % 256))
img = Image.frombytes("RGB", (w, h), rgb)
d = sys.argv[1]
img.save(os.path.join(d, "a.png"))
img.save(os.path.join(d, "b.bmp"))
img.save(os.path.join(d, "c.webp"), lossless=True)
img.save(os.path.join(d, "d.jpg"), quality=100, subsampling=0)
`
	if out, err := exec.Command(py, "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("Pillow write: %v\n%s", err, out)
	}
	want := make([]byte, 0, h*w*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			want = append(want, byte((x*7+y*3)%256), byte((x*11)%256), byte((y*13)%256))
		}
	}
	df := must[*DataFrame](t)(ReadImages(dir))
	recs, err := df.Records(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var seen int
	for _, r := range recs {
		col, err := Images(r.Column(df.Schema().FieldIndices("image")[0]))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < int(r.NumRows()); i++ {
			img, ok := col.At(i)
			if !ok {
				t.Fatalf("row %d has no image", seen)
			}
			seen++
			if img.Height != h || img.Width != w || img.Channels != 3 {
				t.Errorf("%s: %dx%dx%d, want %dx%dx3", img.Origin, img.Height, img.Width, img.Channels, h, w)
				continue
			}
			// JPEG is lossy even at quality 100; the others must match exactly.
			tol := 0.0
			if filepath.Ext(img.Origin) == ".jpg" {
				tol = 3
			}
			if d := meanAbsDiff(img.Data, want); d > tol {
				t.Errorf("%s: pixels differ from what Pillow encoded by %.2f on average (tolerance %.0f)", img.Origin, d, tol)
			}
		}
	}
	if seen != 4 {
		t.Errorf("read %d images, want 4 (png, bmp, webp, jpg)", seen)
	}
}

func meanAbsDiff(a, b []byte) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var s float64
	for i := range a {
		s += math.Abs(float64(a[i]) - float64(b[i]))
	}
	return s / float64(len(a))
}
