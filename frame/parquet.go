package frame

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ReadParquet reads Parquet files into a frame that streams them a record batch at a time,
// row group after row group. path is a file, a directory (its .parquet files, one partition
// each) or a glob pattern; all files must have the same schema.
//
// Options: Columns (only the named columns' data is read), BatchRows. Count answers from the
// files' metadata without reading data.
func ReadParquet(path string, opts ...ReadOption) (*DataFrame, error) {
	cfg, err := newReadConfig("ReadParquet", []string{"Columns", "BatchRows"}, opts)
	if err != nil {
		return nil, err
	}
	paths, err := resolvePaths("ReadParquet", path, ".parquet", ".pq")
	if err != nil {
		return nil, err
	}
	var schema *arrow.Schema
	var leaves []int
	parts := make([]source, len(paths))
	for i, p := range paths {
		s, n, lv, err := parquetFileSchema(p, cfg.columns)
		if err != nil {
			return nil, fmt.Errorf("frame: ReadParquet: %s: %w", p, err)
		}
		if schema == nil {
			schema, leaves = s, lv
		} else if !sameColumns(schema, s) {
			return nil, fmt.Errorf("frame: ReadParquet: %s has schema %s but %s has %s", p, s, paths[0], schema)
		}
		parts[i] = &parquetSource{path: p, leaves: leaves, schema: schema, nrows: n, batchRows: cfg.batchRows}
	}
	return newFrame(schema, len(parts), &sourceNode{parts: parts}), nil
}

// parquetFileSchema returns a file's (projected) Arrow schema, its row count and the leaf
// column indices that the projection reads (nil for all).
func parquetFileSchema(path string, columns []string) (*arrow.Schema, int64, []int, error) {
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, 0, nil, err
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, alloc)
	if err != nil {
		return nil, 0, nil, err
	}
	full, err := fr.Schema()
	if err != nil {
		return nil, 0, nil, err
	}
	if columns == nil {
		return arrow.NewSchema(full.Fields(), nil), rdr.NumRows(), nil, nil
	}
	var fields []arrow.Field
	var leaves []int
	for _, c := range columns {
		j, err := fieldIndex(full, c)
		if err != nil {
			return nil, 0, nil, err
		}
		fields = append(fields, full.Field(j))
		leaves = appendLeaves(leaves, &fr.Manifest.Fields[j])
	}
	return arrow.NewSchema(fields, nil), rdr.NumRows(), leaves, nil
}

func appendLeaves(dst []int, f *pqarrow.SchemaField) []int {
	if f.IsLeaf() {
		return append(dst, f.ColIndex)
	}
	for i := range f.Children {
		dst = appendLeaves(dst, &f.Children[i])
	}
	return dst
}

type parquetSource struct {
	path      string
	leaves    []int
	schema    *arrow.Schema
	nrows     int64
	batchRows int
}

func (p *parquetSource) rows() (int64, bool) { return p.nrows, true }

func (p *parquetSource) open(ctx context.Context) (recordStream, error) {
	wrap := func(err error) error { return fmt.Errorf("frame: ReadParquet: %s: %w", p.path, err) }
	rdr, err := file.OpenParquetFile(p.path, false)
	if err != nil {
		return nil, wrap(err)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: int64(p.batchRows)}, alloc)
	if err != nil {
		rdr.Close()
		return nil, wrap(err)
	}
	rr, err := fr.GetRecordReader(ctx, p.leaves, nil)
	if err != nil {
		rdr.Close()
		return nil, wrap(err)
	}
	return &parquetStream{src: p, rdr: rdr, rr: rr}, nil
}

type parquetStream struct {
	src *parquetSource
	rdr *file.Reader
	rr  pqarrow.RecordReader
}

func (s *parquetStream) next() (arrow.RecordBatch, error) {
	if !s.rr.Next() {
		if err := s.rr.Err(); err != nil {
			return nil, fmt.Errorf("frame: ReadParquet: %s: %w", s.src.path, err)
		}
		return nil, io.EOF
	}
	rec := s.rr.RecordBatch()
	// Projection may return columns in the file's order; present them in the frame's order.
	cols := make([]arrow.Array, s.src.schema.NumFields())
	for i, f := range s.src.schema.Fields() {
		j := rec.Schema().FieldIndices(f.Name)
		if len(j) == 0 {
			return nil, fmt.Errorf("frame: ReadParquet: %s: column %q missing from a record batch", s.src.path, f.Name)
		}
		cols[i] = rec.Column(j[0])
	}
	return array.NewRecordBatch(s.src.schema, cols, rec.NumRows()), nil
}

func (s *parquetStream) close() {
	s.rr.Release()
	s.rdr.Close()
}

// compact returns rows [lo, hi) of rec under schema, copying the columns that pqarrow cannot
// write from an offset (those holding a FixedSizeList) so that they start at offset 0.
func compact(schema *arrow.Schema, rec arrow.RecordBatch, lo, hi int64) (arrow.RecordBatch, error) {
	sliced := rec
	if lo != 0 || hi != rec.NumRows() {
		sliced = rec.NewSlice(lo, hi)
		defer sliced.Release()
	}
	cols := make([]arrow.Array, sliced.NumCols())
	var owned []arrow.Array
	defer func() {
		for _, c := range owned {
			c.Release()
		}
	}()
	for i, c := range sliced.Columns() {
		cols[i] = c
		if c.Data().Offset() != 0 && hasFixedSizeList(c.DataType()) {
			copied, err := array.Concatenate([]arrow.Array{c}, alloc)
			if err != nil {
				return nil, fmt.Errorf("column %q: %w", schema.Field(i).Name, err)
			}
			owned = append(owned, copied)
			cols[i] = copied
		}
	}
	return array.NewRecordBatch(schema, cols, hi-lo), nil
}

func hasFixedSizeList(dt arrow.DataType) bool {
	switch t := dt.(type) {
	case *arrow.FixedSizeListType:
		return true
	case arrow.NestedType:
		for _, f := range t.Fields() {
			if hasFixedSizeList(f.Type) {
				return true
			}
		}
	}
	return false
}

// WriteOption configures WriteParquet.
type WriteOption struct {
	name string
	set  func(*writeConfig) error
}

type writeConfig struct {
	rowGroupRows int64
	codec        compress.Compression
}

// RowGroupRows sets the most rows per row group; the default is 65536. Readers stream a row
// group at a time, so smaller groups lower their peak memory.
func RowGroupRows(n int) WriteOption {
	return WriteOption{"RowGroupRows", func(c *writeConfig) error {
		if n < 1 {
			return fmt.Errorf("%d rows: want at least 1", n)
		}
		c.rowGroupRows = int64(n)
		return nil
	}}
}

// Compression selects the codec: "snappy" (default), "zstd", "gzip" or "none".
func Compression(codec string) WriteOption {
	return WriteOption{"Compression", func(c *writeConfig) error {
		switch strings.ToLower(codec) {
		case "snappy":
			c.codec = compress.Codecs.Snappy
		case "zstd":
			c.codec = compress.Codecs.Zstd
		case "gzip":
			c.codec = compress.Codecs.Gzip
		case "none", "uncompressed":
			c.codec = compress.Codecs.Uncompressed
		default:
			return fmt.Errorf("codec %q: want snappy, zstd, gzip or none", codec)
		}
		return nil
	}}
}

// WriteParquet runs df's plan and writes its rows to one Parquet file at path, streaming
// batch by batch. It writes to a temporary file in the same directory and renames it into
// place only when everything succeeded, so path never holds a partial file. The Arrow schema
// is stored in the file, so vector (FixedSizeList) columns read back as vectors.
func WriteParquet(ctx context.Context, df *DataFrame, path string, opts ...WriteOption) (err error) {
	cfg := &writeConfig{rowGroupRows: 1 << 16, codec: compress.Codecs.Snappy}
	for _, o := range opts {
		if o.set == nil {
			continue
		}
		if err := o.set(cfg); err != nil {
			return fmt.Errorf("frame: WriteParquet: %s: %w", o.name, err)
		}
	}
	wrap := func(e error) error { return fmt.Errorf("frame: WriteParquet: %s: %w", path, e) }
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return wrap(err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// Row groups are cut here rather than by pqarrow, whose writer (v18.8.0) ignores the
	// offset of sliced FixedSizeList arrays and would write the wrong vectors; see compact.
	props := parquet.NewWriterProperties(
		parquet.WithCompression(cfg.codec),
		parquet.WithMaxRowGroupLength(math.MaxInt64),
		parquet.WithAllocator(alloc),
	)
	schema := df.Schema()
	// Hide tmp's Close from pqarrow so the file can be synced before it is closed.
	fw, err := pqarrow.NewFileWriter(schema, struct{ io.Writer }{tmp}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(alloc)))
	if err != nil {
		return wrap(err)
	}
	var groupRows int64
	err = df.Iterate(ctx, func(rec arrow.RecordBatch) error {
		for off := int64(0); off < rec.NumRows(); {
			if groupRows == cfg.rowGroupRows {
				if err := fw.NewBufferedRowGroupChecked(); err != nil {
					return wrap(err)
				}
				groupRows = 0
			}
			take := min(rec.NumRows()-off, cfg.rowGroupRows-groupRows)
			piece, err := compact(schema, rec, off, off+take)
			if err != nil {
				return wrap(err)
			}
			err = fw.WriteBuffered(piece)
			piece.Release()
			if err != nil {
				return wrap(err)
			}
			groupRows += take
			off += take
		}
		return nil
	})
	if cerr := fw.Close(); err == nil && cerr != nil {
		err = wrap(cerr)
	}
	if err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return wrap(err)
	}
	if err = tmp.Close(); err != nil {
		return wrap(err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return wrap(err)
	}
	return nil
}
