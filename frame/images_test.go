package frame

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"golang.org/x/image/bmp"
)

// webpRGB3x2 is a 3x2 lossless WebP (written once with Pillow, since x/image has no WebP
// encoder) holding the pixels of rgb3x2.
var webpRGB3x2 = []byte("\x52\x49\x46\x46\x42\x00\x00\x00\x57\x45\x42\x50\x56\x50\x38\x4c\x35\x00\x00\x00\x2f\x02\x40\x00\x00\x2f\x40\x98\x6d\xb4\x39\xdc\x7b\xfe\x96\xa7\x21\x24\x20\x74\x1f\xfc\x7f\x89\x20\xdb\x66\x17\xa9\xbf\xe5\xe7\x3f\xe0\xcf\x78\x26\x45\x01\x85\x6c\x23\xc0\xa1\x7b\x05\x4e\xe9\x22\xfa\x1f\xc3\x0b\x00")

var rgb3x2 = []byte{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90}

func nrgba3x2(alpha uint8) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	for i := 0; i < 6; i++ {
		m.Pix[4*i], m.Pix[4*i+1], m.Pix[4*i+2], m.Pix[4*i+3] = rgb3x2[3*i], rgb3x2[3*i+1], rgb3x2[3*i+2], alpha
	}
	return m
}

func encodeTo(t *testing.T, path string, enc func(*bytes.Buffer) error) {
	t.Helper()
	var b bytes.Buffer
	if err := enc(&b); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Dir(path), filepath.Base(path), b.String())
}

// imageDir writes one image of each format in two class folders.
func imageDir(t *testing.T) string {
	dir := t.TempDir()
	encodeTo(t, filepath.Join(dir, "cats", "a.png"), func(b *bytes.Buffer) error { return png.Encode(b, nrgba3x2(255)) })
	encodeTo(t, filepath.Join(dir, "cats", "b.bmp"), func(b *bytes.Buffer) error { return bmp.Encode(b, nrgba3x2(255)) })
	gray := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range gray.Pix {
		gray.Pix[i] = 128
	}
	encodeTo(t, filepath.Join(dir, "dogs", "c.JPG"), func(b *bytes.Buffer) error { return jpeg.Encode(b, gray, &jpeg.Options{Quality: 95}) })
	writeFile(t, filepath.Join(dir, "dogs"), "d.webp", string(webpRGB3x2))
	encodeTo(t, filepath.Join(dir, "dogs", "e.png"), func(b *bytes.Buffer) error { return png.Encode(b, nrgba3x2(100)) })
	writeFile(t, dir, "dogs/notes.txt", "not an image")
	return dir
}

// collectImages returns the images of column "image" and, if present, the labels.
func collectImages(t *testing.T, df *DataFrame) (imgs []Image, valid []bool, labels []string) {
	t.Helper()
	err := df.Iterate(context.Background(), func(r arrow.RecordBatch) error {
		col, err := Images(r.Column(0))
		if err != nil {
			return err
		}
		for i := 0; i < col.Len(); i++ {
			img, ok := col.At(i)
			img.Data = append([]byte(nil), img.Data...)
			imgs = append(imgs, img)
			valid = append(valid, ok)
			if r.NumCols() > 1 {
				labels = append(labels, r.Column(1).(*array.String).Value(i))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return imgs, valid, labels
}

func TestReadImages(t *testing.T) {
	dir := imageDir(t)
	df := must[*DataFrame](t)(ReadImages(dir, LabelFromParentDir(), BatchRows(2)))
	if got := df.Columns(); !slices.Equal(got, []string{"image", "label"}) {
		t.Fatalf("columns %v", got)
	}
	if n := count(t, df); n != 5 {
		t.Fatalf("%d rows, want 5", n)
	}
	imgs, _, labels := collectImages(t, df)
	if !slices.Equal(labels, []string{"cats", "cats", "dogs", "dogs", "dogs"}) {
		t.Errorf("labels %v", labels)
	}
	wantOrigin := []string{"cats/a.png", "cats/b.bmp", "dogs/c.JPG", "dogs/d.webp", "dogs/e.png"}
	for i, img := range imgs {
		if rel, _ := filepath.Rel(dir, img.Origin); rel != wantOrigin[i] {
			t.Errorf("row %d origin %s, want %s", i, rel, wantOrigin[i])
		}
	}
	for _, i := range []int{0, 1, 3} { // PNG, BMP and lossless WebP are exact
		if img := imgs[i]; img.Mode != "RGB" || img.Height != 2 || img.Width != 3 || img.Channels != 3 || !bytes.Equal(img.Data, rgb3x2) {
			t.Errorf("%s: %s %dx%dx%d %v, want RGB 2x3x3 %v", wantOrigin[i], img.Mode, img.Height, img.Width, img.Channels, img.Data, rgb3x2)
		}
	}
	if img := imgs[2]; img.Mode != "L" || img.Height != 4 || img.Width != 4 || len(img.Data) != 16 {
		t.Errorf("gray JPEG: %s %dx%dx%d", img.Mode, img.Height, img.Width, img.Channels)
	} else {
		for _, p := range img.Data {
			if p < 126 || p > 130 {
				t.Errorf("gray JPEG pixel %d, want about 128", p)
				break
			}
		}
	}
	if img := imgs[4]; img.Mode != "RGBA" || img.Channels != 4 || img.Data[3] != 100 || img.Data[0] != 255 {
		t.Errorf("translucent PNG: %s, first pixel %v", img.Mode, img.Data[:4])
	}

	// Resize and ColorMode make every image the same shape, so the folder batches.
	same := must[*DataFrame](t)(ReadImages(dir, Resize(5, 4), ColorMode("RGB"), LabelFromParentDir()))
	imgs, _, _ = collectImages(t, same)
	for _, img := range imgs {
		if img.Height != 5 || img.Width != 4 || img.Channels != 3 || img.Mode != "RGB" || len(img.Data) != 60 {
			t.Errorf("%s: %s %dx%dx%d", img.Origin, img.Mode, img.Height, img.Width, img.Channels)
		}
	}
	if g := imgs[2].Data; g[0] < 126 || g[0] > 130 || g[0] != g[1] || g[1] != g[2] {
		t.Errorf("resized gray JPEG as RGB starts %v", g[:3])
	}
	ds, err := ToDataset(context.Background(), same, []string{"image"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := ds.X().Shape(); !slices.Equal(got, []int{5, 5, 4, 3}) {
		t.Errorf("dataset shape %v", got)
	}
	_, err = ToDataset(context.Background(), df, []string{"image"}, "")
	errContains(t, err, "dogs/c.JPG) is 4x4x1 but earlier rows are 2x3x3; read with Resize and ColorMode")

	gray := must[*DataFrame](t)(ReadImages(filepath.Join(dir, "cats"), ColorMode("L")))
	imgs, _, _ = collectImages(t, gray)
	// Go's gray conversion: (19595*R + 38470*G + 7471*B + 1<<15) >> 24 on 16-bit values.
	if d := imgs[0].Data; imgs[0].Mode != "L" || len(d) != 6 || d[0] != 76 || d[1] != 150 || d[2] != 29 {
		t.Errorf("gray conversion %v", d)
	}
}

func TestReadImagesModes(t *testing.T) {
	dir := imageDir(t)
	writeFile(t, dir, "cats/broken.png", "\x89PNG\r\n\x1a\n but not really")
	_, err := tryRows(must[*DataFrame](t)(ReadImages(dir)))
	errContains(t, err, "frame: ReadImages: ", "broken.png")
	drop := must[*DataFrame](t)(ReadImages(dir, Mode(DropMalformed)))
	if n := count(t, drop); n != 5 {
		t.Errorf("DropMalformed kept %d rows, want 5", n)
	}
	perm := must[*DataFrame](t)(ReadImages(dir, Mode(Permissive), LabelFromParentDir()))
	imgs, valid, labels := collectImages(t, perm)
	if len(imgs) != 6 || valid[2] || filepath.Base(imgs[2].Origin) != "broken.png" || labels[2] != "cats" || !valid[0] {
		t.Errorf("Permissive rows: valid %v, origin %s", valid, imgs[2].Origin)
	}
	_, err = ToDataset(context.Background(), perm, []string{"image"}, "")
	errContains(t, err, "broken.png) holds no image")
	_, err = ReadImages(t.TempDir())
	errContains(t, err, "no PNG, JPEG, BMP or WebP files")
	_, err = ReadImages(dir, ColorMode("CMYK"))
	errContains(t, err, `mode "CMYK"`)
	// A file that claims enormous dimensions is refused before decoding.
	huge := image.NewGray(image.Rect(0, 0, 1, 1))
	var b bytes.Buffer
	png.Encode(&b, huge)
	raw := b.Bytes()
	raw[16], raw[17], raw[18], raw[19] = 0, 1, 0, 0 // width 65536
	raw[20], raw[21], raw[22], raw[23] = 0, 1, 0, 0 // height 65536
	binary.BigEndian.PutUint32(raw[29:33], crc32.ChecksumIEEE(raw[12:29]))
	hugeDir := t.TempDir()
	writeFile(t, hugeDir, "huge.png", string(raw))
	_, err = tryRows(must[*DataFrame](t)(ReadImages(hugeDir)))
	errContains(t, err, "65536x65536 pixels")
}
