package frame

import (
	"bytes"
	"context"
	"fmt"
	"image"
	stddraw "image/draw"
	_ "image/jpeg" // registers the JPEG decoder for image.Decode
	_ "image/png"  // registers the PNG decoder
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	_ "golang.org/x/image/bmp" // registers the BMP decoder
	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers the WebP decoder
)

// imageType mirrors Spark's image schema (and BigDL's NNImageReader) with a string mode in
// place of OpenCV's type code: data holds height*width*nChannels bytes, rows top to bottom,
// pixels left to right, channels interleaved in R, G, B(, A) order (Spark stores BGR; deepframe
// keeps the order the files use, which is what Keras-style models expect).
var imageType = arrow.StructOf(
	arrow.Field{Name: "origin", Type: arrow.BinaryTypes.String, Nullable: true},
	arrow.Field{Name: "height", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	arrow.Field{Name: "width", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	arrow.Field{Name: "nChannels", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	arrow.Field{Name: "mode", Type: arrow.BinaryTypes.String, Nullable: true},
	arrow.Field{Name: "data", Type: arrow.BinaryTypes.Binary, Nullable: true},
)

// ImageType is the type of an image column: Struct<origin: String, height: Int32,
// width: Int32, nChannels: Int32, mode: String, data: Binary>. mode is "L" (1 channel), "RGB"
// (3) or "RGBA" (4); data is the HWC pixel bytes.
func ImageType() arrow.DataType { return imageType }

// IsImage reports whether dt is the image column type.
func IsImage(dt arrow.DataType) bool { return arrow.TypeEqual(dt, imageType) }

// Image is one decoded image as stored in an image column.
type Image struct {
	Origin   string // where it came from: a file path, or "file[index]" for IDX images
	Height   int
	Width    int
	Channels int
	Mode     string // "L", "RGB" or "RGBA"
	Data     []byte // Height*Width*Channels bytes, HWC
}

func channelsOf(mode string) int {
	switch mode {
	case "L":
		return 1
	case "RGB":
		return 3
	case "RGBA":
		return 4
	}
	return 0
}

func modeFor(channels int) string {
	switch channels {
	case 1:
		return "L"
	case 3:
		return "RGB"
	case 4:
		return "RGBA"
	}
	return ""
}

// ImageBuilder builds an image column row by row.
type ImageBuilder struct {
	b                    *array.StructBuilder
	origin, mode         *array.StringBuilder
	height, width, chans *array.Int32Builder
	data                 *array.BinaryBuilder
}

// NewImageBuilder returns an empty image column builder.
func NewImageBuilder() *ImageBuilder {
	b := array.NewStructBuilder(alloc, imageType)
	return &ImageBuilder{
		b:      b,
		origin: b.FieldBuilder(0).(*array.StringBuilder),
		height: b.FieldBuilder(1).(*array.Int32Builder),
		width:  b.FieldBuilder(2).(*array.Int32Builder),
		chans:  b.FieldBuilder(3).(*array.Int32Builder),
		mode:   b.FieldBuilder(4).(*array.StringBuilder),
		data:   b.FieldBuilder(5).(*array.BinaryBuilder),
	}
}

// reserve makes room for rows more images of dataBytes pixel bytes in all, for callers that
// know the sizes ahead (IDX files), so the pixel buffer is not regrown and recopied.
func (b *ImageBuilder) reserve(rows, dataBytes int) {
	b.b.Reserve(rows)
	for _, f := range []array.Builder{b.origin, b.mode, b.height, b.width, b.chans, b.data} {
		f.Reserve(rows)
	}
	b.data.ReserveData(dataBytes)
}

// Append adds one image; its data length must match its shape and its mode its channels.
func (b *ImageBuilder) Append(img Image) error {
	if img.Height < 0 || img.Width < 0 || img.Height*img.Width*img.Channels != len(img.Data) {
		return fmt.Errorf("frame: image %q: %d bytes for %dx%dx%d", img.Origin, len(img.Data), img.Height, img.Width, img.Channels)
	}
	if channelsOf(img.Mode) != img.Channels {
		return fmt.Errorf("frame: image %q: mode %q with %d channels (want L/1, RGB/3 or RGBA/4)", img.Origin, img.Mode, img.Channels)
	}
	b.b.Append(true)
	b.origin.Append(img.Origin)
	b.height.Append(int32(img.Height))
	b.width.Append(int32(img.Width))
	b.chans.Append(int32(img.Channels))
	b.mode.Append(img.Mode)
	b.data.Append(img.Data)
	return nil
}

// AppendInvalid adds a row for an image that could not be decoded: origin set, the rest null,
// as Permissive mode keeps unreadable files.
func (b *ImageBuilder) AppendInvalid(origin string) {
	b.b.Append(true)
	b.origin.Append(origin)
	b.height.AppendNull()
	b.width.AppendNull()
	b.chans.AppendNull()
	b.mode.AppendNull()
	b.data.AppendNull()
}

// AppendNull adds a null row.
func (b *ImageBuilder) AppendNull() { b.b.AppendNull() }

// Len is the number of rows appended since the last NewArray.
func (b *ImageBuilder) Len() int { return b.b.Len() }

// NewArray returns the column built so far and resets the builder.
func (b *ImageBuilder) NewArray() arrow.Array { return b.b.NewArray() }

// Release frees the builder's buffers.
func (b *ImageBuilder) Release() { b.b.Release() }

// ImageColumn reads the rows of an image column.
type ImageColumn struct {
	arr                  *array.Struct
	origin, mode         *array.String
	height, width, chans *array.Int32
	data                 *array.Binary
}

// Images wraps an image column for reading; the array must stay alive while it is used.
func Images(arr arrow.Array) (*ImageColumn, error) {
	if !IsImage(arr.DataType()) {
		return nil, fmt.Errorf("frame: column type %s is not an image (want %s)", arr.DataType(), imageType)
	}
	s := arr.(*array.Struct)
	return &ImageColumn{
		arr:    s,
		origin: s.Field(0).(*array.String),
		height: s.Field(1).(*array.Int32),
		width:  s.Field(2).(*array.Int32),
		chans:  s.Field(3).(*array.Int32),
		mode:   s.Field(4).(*array.String),
		data:   s.Field(5).(*array.Binary),
	}, nil
}

// Len is the number of rows.
func (c *ImageColumn) Len() int { return c.arr.Len() }

// At returns row i; ok is false for a null row or an image that failed to decode (see
// Image.Origin for which). Data aliases the column's memory: do not modify it.
func (c *ImageColumn) At(i int) (img Image, ok bool) {
	if c.arr.IsNull(i) {
		return Image{}, false
	}
	if c.origin.IsValid(i) {
		img.Origin = c.origin.Value(i)
	}
	if c.height.IsNull(i) || c.width.IsNull(i) || c.chans.IsNull(i) || c.data.IsNull(i) {
		return img, false
	}
	img.Height = int(c.height.Value(i))
	img.Width = int(c.width.Value(i))
	img.Channels = int(c.chans.Value(i))
	img.Mode = c.mode.Value(i)
	img.Data = c.data.Value(i)
	return img, true
}

// maxImagePixels bounds what one file may make ReadImages allocate: a small file that claims
// enormous dimensions is rejected before decoding.
const maxImagePixels = 1 << 28

var imageExts = []string{".png", ".jpg", ".jpeg", ".bmp", ".webp"}

// ReadImages reads every PNG, JPEG, BMP and WebP file under dir (recursively, lexical order)
// into a frame with one row per file and an "image" column (ImageType), like Spark's image
// data source and BigDL's NNImageReader. Files are decoded lazily, BatchRows at a time.
//
// Options: Resize(h, w) scales on read (bilinear); ColorMode("L"|"RGB"|"RGBA") converts every
// image to one mode; LabelFromParentDir adds a "label" String column with each file's parent
// directory name; Mode: FailFast (default) stops at an undecodable file, DropMalformed skips
// it, Permissive keeps a row with the origin and null fields; BatchRows.
func ReadImages(dir string, opts ...ReadOption) (*DataFrame, error) {
	cfg, err := newReadConfig("ReadImages", []string{"Resize", "ColorMode", "LabelFromParentDir", "Mode", "BatchRows"}, opts)
	if err != nil {
		return nil, err
	}
	if cfg.batchRows == defaultBatchRows {
		// Images are large; a batch of 4096 decoded photos would not be "a batch at a time".
		cfg.batchRows = 256
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && hasExt(d.Name(), imageExts) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("frame: ReadImages: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("frame: ReadImages: no PNG, JPEG, BMP or WebP files under %s", dir)
	}
	fields := []arrow.Field{{Name: "image", Type: imageType, Nullable: true}}
	if cfg.labelParent {
		fields = append(fields, arrow.Field{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	src := &imageSource{files: files, cfg: cfg, schema: schema}
	return newFrame(schema, 1, &sourceNode{parts: []source{src}}), nil
}

type imageSource struct {
	files  []string
	cfg    *readConfig
	schema *arrow.Schema
}

// rows is known only in Permissive mode, where every file makes a row; otherwise Count must
// decode the files to drop (or fail on) the bad ones.
func (s *imageSource) rows() (int64, bool) {
	if s.cfg.mode != Permissive {
		return 0, false
	}
	return int64(len(s.files)), true
}

func (s *imageSource) open(ctx context.Context) (recordStream, error) {
	return &imageStream{src: s}, nil
}

type imageStream struct {
	src *imageSource
	i   int
}

func (s *imageStream) close() {}

func (s *imageStream) next() (arrow.RecordBatch, error) {
	cfg := s.src.cfg
	ib := NewImageBuilder()
	defer ib.Release()
	lb := array.NewStringBuilder(alloc)
	defer lb.Release()
	for ib.Len() < cfg.batchRows && s.i < len(s.src.files) {
		path := s.src.files[s.i]
		s.i++
		img, err := decodeImageFile(path, cfg)
		if err != nil {
			switch cfg.mode {
			case FailFast:
				return nil, fmt.Errorf("frame: ReadImages: %w", err)
			case DropMalformed:
				continue
			}
			ib.AppendInvalid(path)
		} else if err := ib.Append(img); err != nil {
			return nil, err
		}
		lb.Append(filepath.Base(filepath.Dir(path)))
	}
	if ib.Len() == 0 {
		return nil, io.EOF
	}
	n := ib.Len()
	cols := []arrow.Array{ib.NewArray()}
	if cfg.labelParent {
		cols = append(cols, lb.NewArray())
	}
	rec := array.NewRecordBatch(s.src.schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

func decodeImageFile(path string, cfg *readConfig) (Image, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Image{}, err
	}
	conf, format, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return Image{}, fmt.Errorf("%s: %w", path, err)
	}
	if conf.Width <= 0 || conf.Height <= 0 || conf.Width*conf.Height > maxImagePixels {
		return Image{}, fmt.Errorf("%s: %s image of %dx%d pixels: want 1 to %d pixels", path, format, conf.Width, conf.Height, maxImagePixels)
	}
	src, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return Image{}, fmt.Errorf("%s: decoding %s: %w", path, format, err)
	}
	mode := cfg.colorMode
	if mode == "" {
		mode = naturalMode(src)
	}
	b := src.Bounds()
	h, w := b.Dy(), b.Dx()
	if cfg.resizeH > 0 {
		h, w = cfg.resizeH, cfg.resizeW
	}
	img := Image{Origin: path, Height: h, Width: w, Channels: channelsOf(mode), Mode: mode}
	switch mode {
	case "L":
		dst := image.NewGray(image.Rect(0, 0, w, h))
		render(dst, src, cfg.resizeH > 0)
		img.Data = dst.Pix
	default:
		// NRGBA keeps colours of translucent pixels as the file stores them; premultiplied
		// RGBA would darken them.
		dst := image.NewNRGBA(image.Rect(0, 0, w, h))
		render(dst, src, cfg.resizeH > 0)
		if mode == "RGBA" {
			img.Data = dst.Pix
		} else {
			img.Data = make([]byte, 0, h*w*3)
			for p := 0; p < len(dst.Pix); p += 4 {
				img.Data = append(img.Data, dst.Pix[p], dst.Pix[p+1], dst.Pix[p+2])
			}
		}
	}
	return img, nil
}

// naturalMode is the mode that loses nothing of src: gray stays gray, transparency keeps
// its alpha channel.
func naturalMode(src image.Image) string {
	switch src.(type) {
	case *image.Gray, *image.Gray16:
		return "L"
	}
	if o, ok := src.(interface{ Opaque() bool }); ok && !o.Opaque() {
		return "RGBA"
	}
	return "RGB"
}

func render(dst stddraw.Image, src image.Image, resize bool) {
	if resize {
		xdraw.BiLinear.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
		return
	}
	stddraw.Draw(dst, dst.Bounds(), src, src.Bounds().Min, stddraw.Src)
}
