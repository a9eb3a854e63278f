package frame

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

func idxBytes(typ byte, dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, typ, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func TestReadIDX(t *testing.T) {
	dir := t.TempDir()
	const n, h, w = 10, 3, 2
	pix := make([]byte, n*h*w)
	for i := range pix {
		pix[i] = byte(i)
	}
	labels := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	imgPath := writeFile(t, dir, "img-idx3-ubyte", string(idxBytes(0x08, []int{n, h, w}, pix)))
	labPath := writeFile(t, dir, "lab-idx1-ubyte.gz", string(gz(idxBytes(0x08, []int{n}, labels))))
	df := must[*DataFrame](t)(ReadIDX(imgPath, labPath, BatchRows(4)))
	if n, ok := df.plan.rows(); !ok || n != 10 {
		t.Errorf("count from header: %d %v", n, ok)
	}
	imgs, valid, _ := collectImages(t, must[*DataFrame](t)(df.Select("image")))
	if len(imgs) != n || !valid[9] {
		t.Fatalf("%d images", len(imgs))
	}
	if img := imgs[7]; img.Origin != "img-idx3-ubyte[7]" || img.Height != h || img.Width != w || img.Mode != "L" || !bytes.Equal(img.Data, pix[42:48]) {
		t.Errorf("image 7: %+v", img)
	}
	if got := column(t, df, "label"); !slices.Equal(got, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}) {
		t.Errorf("labels %v", got)
	}
	noLabels := must[*DataFrame](t)(ReadIDX(imgPath, ""))
	if got := noLabels.Columns(); !slices.Equal(got, []string{"image"}) {
		t.Errorf("columns without labels %v", got)
	}

	cases := []struct {
		name       string
		img, lab   []byte
		want       string
		atReadTime bool
	}{
		{"count mismatch", idxBytes(0x08, []int{n, h, w}, pix), idxBytes(0x08, []int{9}, labels[:9]), "holds 10 images but", true},
		{"not idx", []byte("PK\x03\x04zipfile"), idxBytes(0x08, []int{n}, labels), "not an IDX file", true},
		{"float type", idxBytes(0x0D, []int{n, h, w}, pix), idxBytes(0x08, []int{n}, labels), "element type 0x0d", true},
		{"wrong rank", idxBytes(0x08, []int{n, h * w}, pix), idxBytes(0x08, []int{n}, labels), "has 2 dimensions", true},
		{"truncated", idxBytes(0x08, []int{n, h, w}, pix[:50]), idxBytes(0x08, []int{n}, labels), "bad-img: image 8: unexpected EOF (file truncated?)", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ip := writeFile(t, dir, "bad-img", string(c.img))
			lp := writeFile(t, dir, "bad-lab", string(c.lab))
			df, err := ReadIDX(ip, lp, BatchRows(4))
			if !c.atReadTime {
				if err != nil {
					t.Fatal(err)
				}
				_, err = df.Collect(context.Background())
			}
			errContains(t, err, "frame: ReadIDX: ", c.want)
		})
	}
}

const fashionDir = "../../shared/data/fashion-mnist"

func TestReadIDXFashionMNIST(t *testing.T) {
	imgPath := filepath.Join(fashionDir, "train-images-idx3-ubyte.gz")
	labPath := filepath.Join(fashionDir, "train-labels-idx1-ubyte.gz")
	if _, err := os.Stat(imgPath); err != nil {
		t.Skipf("Fashion-MNIST not present at %s: %v", fashionDir, err)
	}
	df := must[*DataFrame](t)(ReadIDX(imgPath, labPath, BatchRows(8192)))
	counts := map[int64]int{}
	rowsSeen := 0
	err := df.Iterate(context.Background(), func(r arrow.RecordBatch) error {
		imgs, err := Images(r.Column(0))
		if err != nil {
			return err
		}
		first, _ := imgs.At(0)
		last, _ := imgs.At(imgs.Len() - 1)
		for _, img := range []Image{first, last} {
			if img.Height != 28 || img.Width != 28 || img.Channels != 1 || len(img.Data) != 784 {
				t.Errorf("%s is %dx%dx%d", img.Origin, img.Height, img.Width, img.Channels)
			}
		}
		for _, l := range r.Column(1).(*array.Int64).Int64Values() {
			counts[l]++
		}
		rowsSeen += int(r.NumRows())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rowsSeen != 60000 || len(counts) != 10 {
		t.Fatalf("%d rows, %d classes", rowsSeen, len(counts))
	}
	for l, c := range counts {
		if c != 6000 {
			t.Errorf("class %d has %d images, want 6000", l, c)
		}
	}
	test := must[*DataFrame](t)(ReadIDX(filepath.Join(fashionDir, "t10k-images-idx3-ubyte.gz"), filepath.Join(fashionDir, "t10k-labels-idx1-ubyte.gz")))
	if n := count(t, test); n != 10000 {
		t.Errorf("test set has %d rows", n)
	}
	// The first 2000 test images are enough to check batching (and keep -race runs short).
	ds, err := ToDataset(context.Background(), must[*DataFrame](t)(test.Limit(2000)), []string{"image"}, "label", Flatten())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ds.X().Shape(), []int{2000, 784}) || !slices.Equal(ds.Y().Shape(), []int{2000}) {
		t.Errorf("test set shapes %v %v", ds.X().Shape(), ds.Y().Shape())
	}
	lo, hi := float32(1), float32(0)
	for _, v := range ds.X().Float32s() {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo != 0 || hi != 1 {
		t.Errorf("pixels scaled to [%v, %v], want [0, 1]", lo, hi)
	}
}
