package frame

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// ReadIDX reads MNIST-style IDX files (gzip-compressed or plain, detected from the content):
// an images file of unsigned bytes with shape [N, H, W] and, unless labelsPath is "", a labels
// file of unsigned bytes with shape [N].
//
// The frame has an "image" column of ImageType (mode "L", one channel, origin
// "<file>[<row>]") so that image stages and ToDataset treat it like any image folder, and an
// Int64 "label" column. Rows stream BatchRows at a time (option BatchRows); Count is known
// from the headers.
func ReadIDX(imagesPath, labelsPath string, opts ...ReadOption) (*DataFrame, error) {
	cfg, err := newReadConfig("ReadIDX", []string{"BatchRows"}, opts)
	if err != nil {
		return nil, err
	}
	imgDims, err := idxHeader(imagesPath)
	if err != nil {
		return nil, err
	}
	if len(imgDims) != 3 {
		return nil, fmt.Errorf("frame: ReadIDX: %s has %d dimensions %v, want 3 (images, rows, columns)", imagesPath, len(imgDims), imgDims)
	}
	fields := []arrow.Field{{Name: "image", Type: imageType, Nullable: true}}
	if labelsPath != "" {
		labDims, err := idxHeader(labelsPath)
		if err != nil {
			return nil, err
		}
		if len(labDims) != 1 {
			return nil, fmt.Errorf("frame: ReadIDX: %s has %d dimensions %v, want 1 (labels)", labelsPath, len(labDims), labDims)
		}
		if labDims[0] != imgDims[0] {
			return nil, fmt.Errorf("frame: ReadIDX: %s holds %d images but %s holds %d labels", imagesPath, imgDims[0], labelsPath, labDims[0])
		}
		fields = append(fields, arrow.Field{Name: "label", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	src := &idxSource{images: imagesPath, labels: labelsPath, n: imgDims[0], h: imgDims[1], w: imgDims[2], batchRows: cfg.batchRows, schema: schema}
	return newFrame(schema, 1, &sourceNode{parts: []source{src}}), nil
}

// idxFile is an open IDX file positioned after its header.
type idxFile struct {
	r     *bufio.Reader
	close func()
	dims  []int
}

func openIDX(path string) (*idxFile, error) {
	f, closeFn, err := openSniffGzip(path)
	if err != nil {
		return nil, fmt.Errorf("frame: ReadIDX: %w", err)
	}
	r := bufio.NewReaderSize(f, 1<<16)
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		closeFn()
		return nil, fmt.Errorf("frame: ReadIDX: %s: reading header: %w", path, err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		closeFn()
		return nil, fmt.Errorf("frame: ReadIDX: %s: not an IDX file (magic % x)", path, magic)
	}
	if magic[2] != 0x08 {
		closeFn()
		return nil, fmt.Errorf("frame: ReadIDX: %s: element type 0x%02x, only unsigned bytes (0x08) are supported", path, magic[2])
	}
	nd := int(magic[3])
	if nd < 1 || nd > 4 {
		closeFn()
		return nil, fmt.Errorf("frame: ReadIDX: %s: %d dimensions, want 1 to 4", path, nd)
	}
	dims := make([]int, nd)
	for i := range dims {
		var d [4]byte
		if _, err := io.ReadFull(r, d[:]); err != nil {
			closeFn()
			return nil, fmt.Errorf("frame: ReadIDX: %s: reading dimension %d: %w", path, i, err)
		}
		dims[i] = int(binary.BigEndian.Uint32(d[:]))
		if dims[i] > 1<<30 {
			closeFn()
			return nil, fmt.Errorf("frame: ReadIDX: %s: dimension %d is %d, too large", path, i, dims[i])
		}
	}
	return &idxFile{r: r, close: closeFn, dims: dims}, nil
}

func idxHeader(path string) ([]int, error) {
	f, err := openIDX(path)
	if err != nil {
		return nil, err
	}
	f.close()
	return f.dims, nil
}

type idxSource struct {
	images, labels string
	n, h, w        int
	batchRows      int
	schema         *arrow.Schema
}

func (s *idxSource) rows() (int64, bool) { return int64(s.n), true }

func (s *idxSource) open(ctx context.Context) (recordStream, error) {
	img, err := openIDX(s.images)
	if err != nil {
		return nil, err
	}
	st := &idxStream{src: s, img: img, base: filepath.Base(s.images)}
	if s.labels != "" {
		if st.lab, err = openIDX(s.labels); err != nil {
			img.close()
			return nil, err
		}
	}
	return st, nil
}

type idxStream struct {
	src      *idxSource
	img, lab *idxFile
	base     string
	row      int
	pix      []byte // reused: the image builder copies what it keeps
}

func (s *idxStream) close() {
	s.img.close()
	if s.lab != nil {
		s.lab.close()
	}
}

func (s *idxStream) next() (arrow.RecordBatch, error) {
	if s.row >= s.src.n {
		return nil, io.EOF
	}
	n := min(s.src.batchRows, s.src.n-s.row)
	size := s.src.h * s.src.w
	if cap(s.pix) < n*size {
		s.pix = make([]byte, n*size)
	}
	pix := s.pix[:n*size]
	if _, err := io.ReadFull(s.img.r, pix); err != nil {
		return nil, fmt.Errorf("frame: ReadIDX: %s: image %d: %w (file truncated?)", s.src.images, s.row, err)
	}
	ib := NewImageBuilder()
	defer ib.Release()
	ib.reserve(n, n*size)
	for i := 0; i < n; i++ {
		img := Image{Origin: fmt.Sprintf("%s[%d]", s.base, s.row+i), Height: s.src.h, Width: s.src.w, Channels: 1, Mode: "L", Data: pix[i*size : (i+1)*size]}
		if err := ib.Append(img); err != nil {
			return nil, err
		}
	}
	cols := []arrow.Array{ib.NewArray()}
	if s.lab != nil {
		labels := make([]byte, n)
		if _, err := io.ReadFull(s.lab.r, labels); err != nil {
			cols[0].Release()
			return nil, fmt.Errorf("frame: ReadIDX: %s: label %d: %w (file truncated?)", s.src.labels, s.row, err)
		}
		v := make([]int64, n)
		for i, l := range labels {
			v[i] = int64(l)
		}
		lb := array.NewInt64Builder(alloc)
		lb.AppendValues(v, nil)
		cols = append(cols, lb.NewArray())
		lb.Release()
	}
	s.row += n
	rec := array.NewRecordBatch(s.src.schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

// openSniffGzip opens path and decompresses it if it starts with the gzip magic bytes, so that
// both the .gz downloads and unpacked IDX files work whatever they are named.
func openSniffGzip(path string) (io.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	head, _ := br.Peek(2)
	if !bytes.Equal(head, []byte{0x1f, 0x8b}) {
		return br, func() { f.Close() }, nil
	}
	z, err := gzip.NewReader(br)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return z, func() { z.Close(); f.Close() }, nil
}
