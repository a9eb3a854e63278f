// Package frame holds deepframe's data frames: immutable, lazily evaluated tables on Apache
// Arrow, read from CSV, Parquet, JSON lines, image folders and IDX files, transformed batch by
// batch, split, joined and sharded, and finally turned into float32 tensors for training.
//
// A DataFrame is an Arrow schema plus a plan: a source (record batches in memory, or files that
// are read a batch at a time) and a chain of per-batch steps. Nothing runs until an action
// (Count, Collect, Iterate, Show, WriteParquet, ToDataset, Batches) executes the plan, so a frame
// larger than memory streams through in record batches. Errors from lazy steps surface at the
// action that ran them, prefixed with the step that failed.
//
// Column conventions that the ml, feature and nn packages rely on:
//
//   - numeric scalar columns are Float64, Float32, Int64 or Int32 (other integer widths and
//     Boolean are accepted wherever numbers are read);
//   - string columns are String;
//   - a vector column (Spark ML's Vector) is FixedSizeList<Float64>, see VectorType; vectors
//     become float32 only when batched into tensors;
//   - an image column is a Struct like Spark's image schema, see ImageType: origin, height,
//     width, nChannels, mode and data (HWC bytes, RGB order).
//
// Row order is deterministic: readers list files in lexical order and every step keeps the
// order of its input, so a seed fixes splits, samples and shards.
package frame

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// alloc is the allocator for every buffer the package creates. Go's allocator lets the
// garbage collector reclaim buffers, so a record a caller forgets to release is not a leak.
var alloc memory.Allocator = memory.DefaultAllocator

// DataFrame is an immutable table with an Arrow schema and a lazy plan. Methods that derive a
// new frame never run the plan; the actions do. A DataFrame is safe for concurrent use: each
// action runs its own execution of the plan.
type DataFrame struct {
	schema *arrow.Schema
	nparts int
	plan   node
}

// node is one step of a plan. open starts an independent execution: two opens never share
// state, which is what makes concurrent actions and re-running a plan safe.
type node interface {
	open(ctx context.Context) (stream, error)
	// rows is the row count when it is known without running the plan (in-memory data,
	// Parquet metadata, IDX headers), so Count and Repartition can skip a pass.
	rows() (int64, bool)
}

// batch is a record tagged with the partition it belongs to; the tag lets Collect keep
// partition boundaries without the steps in between knowing about them.
type batch struct {
	rec  arrow.RecordBatch
	part int
}

// stream yields the batches of one execution in order. next returns io.EOF at the end; the
// caller owns (and must release) every record it receives.
type stream interface {
	next() (batch, error)
	close()
}

func newFrame(schema *arrow.Schema, nparts int, plan node) *DataFrame {
	return &DataFrame{schema: schema, nparts: nparts, plan: plan}
}

// Schema returns the frame's Arrow schema. The caller must not modify it.
func (df *DataFrame) Schema() *arrow.Schema { return df.schema }

// Columns returns the column names in order.
func (df *DataFrame) Columns() []string {
	out := make([]string, df.schema.NumFields())
	for i, f := range df.schema.Fields() {
		out[i] = f.Name
	}
	return out
}

// Partitions is the number of batch sources the frame reads: one per file for file readers,
// one per record batch for FromRecords, or what Repartition set. A record batch never spans
// two partitions.
func (df *DataFrame) Partitions() int { return df.nparts }

// String describes the schema the way Spark prints a DataFrame.
func (df *DataFrame) String() string {
	var b strings.Builder
	b.WriteString("DataFrame[")
	for i, f := range df.schema.Fields() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %s", f.Name, f.Type)
	}
	b.WriteString("]")
	return b.String()
}

// ColumnError reports a column name that is not in a frame; Columns lists the ones that are.
type ColumnError struct {
	Name    string
	Columns []string
}

func (e *ColumnError) Error() string {
	return fmt.Sprintf("frame: no column %q (columns: %s)", e.Name, strings.Join(e.Columns, ", "))
}

// index returns the position of column name, or a *ColumnError.
func (df *DataFrame) index(name string) (int, error) {
	return fieldIndex(df.schema, name)
}

func fieldIndex(s *arrow.Schema, name string) (int, error) {
	if idx := s.FieldIndices(name); len(idx) > 0 {
		return idx[0], nil
	}
	cols := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		cols[i] = f.Name
	}
	return -1, &ColumnError{Name: name, Columns: cols}
}

func (df *DataFrame) indices(names []string) ([]int, error) {
	out := make([]int, len(names))
	for i, n := range names {
		j, err := df.index(n)
		if err != nil {
			return nil, err
		}
		out[i] = j
	}
	return out, nil
}

// Iterate runs the plan and calls fn with each record batch in order. The record is valid only
// during the call; fn must Retain it to keep it longer. An error from fn stops the run and is
// returned as is.
func (df *DataFrame) Iterate(ctx context.Context, fn func(arrow.RecordBatch) error) error {
	s, err := df.plan.open(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	for {
		b, err := s.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		err = fn(b.rec)
		b.rec.Release()
		if err != nil {
			return err
		}
	}
}

// Count returns the number of rows. Like Spark's count, it runs only what can change the row
// count: when the count is known from the source (in-memory data, Parquet metadata, IDX
// headers) and the steps since keep rows one for one (Select, WithColumn, ...), it returns
// without reading data, so an error in such a step surfaces at Collect or Iterate instead.
func (df *DataFrame) Count(ctx context.Context) (int64, error) {
	if n, ok := df.plan.rows(); ok {
		return n, nil
	}
	var n int64
	err := df.Iterate(ctx, func(r arrow.RecordBatch) error {
		n += r.NumRows()
		return nil
	})
	return n, err
}

// KnownCount returns the number of rows when it is known without reading data (in-memory
// frames, Parquet metadata, IDX headers, and row-preserving steps on them), and false
// otherwise. It never runs the plan: a consumer that streams a frame can show totals when they
// are free without paying Count's extra pass for them.
func (df *DataFrame) KnownCount() (int64, bool) { return df.plan.rows() }

// Collect runs the plan and returns an in-memory frame with the same rows, schema and
// partitions. Use it to cache a frame that several actions will read.
func (df *DataFrame) Collect(ctx context.Context) (*DataFrame, error) {
	parts := make([][]arrow.RecordBatch, df.nparts)
	s, err := df.plan.open(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	for {
		b, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			for _, p := range parts {
				releaseAll(p)
			}
			return nil, err
		}
		parts[b.part] = append(parts[b.part], b.rec)
	}
	return newFrame(df.schema, df.nparts, &memNode{schema: df.schema, parts: parts}), nil
}

// Records runs the plan and returns its record batches; the caller owns them and should
// Release them when done.
func (df *DataFrame) Records(ctx context.Context) ([]arrow.RecordBatch, error) {
	var out []arrow.RecordBatch
	err := df.Iterate(ctx, func(r arrow.RecordBatch) error {
		r.Retain()
		out = append(out, r)
		return nil
	})
	if err != nil {
		releaseAll(out)
		return nil, err
	}
	return out, nil
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// memNode serves records held in memory, one slice of records per partition.
type memNode struct {
	schema *arrow.Schema
	parts  [][]arrow.RecordBatch
}

func (m *memNode) rows() (int64, bool) {
	var n int64
	for _, p := range m.parts {
		for _, r := range p {
			n += r.NumRows()
		}
	}
	return n, true
}

func (m *memNode) open(ctx context.Context) (stream, error) {
	return &memStream{ctx: ctx, parts: m.parts}, nil
}

type memStream struct {
	ctx     context.Context
	parts   [][]arrow.RecordBatch
	part, i int
}

func (s *memStream) next() (batch, error) {
	if err := s.ctx.Err(); err != nil {
		return batch{}, err
	}
	for s.part < len(s.parts) {
		if s.i < len(s.parts[s.part]) {
			r := s.parts[s.part][s.i]
			s.i++
			r.Retain()
			return batch{rec: r, part: s.part}, nil
		}
		s.part++
		s.i = 0
	}
	return batch{}, io.EOF
}

func (s *memStream) close() {}

// source is one partition of a file-backed frame.
type source interface {
	open(ctx context.Context) (recordStream, error)
	// rows reports the partition's row count when it is known without reading the data.
	rows() (int64, bool)
}

// recordStream is a partition's reader: next returns io.EOF at the end and the caller owns
// each record.
type recordStream interface {
	next() (arrow.RecordBatch, error)
	close()
}

// sourceNode reads its partitions one after another, opening each only when the previous one
// is exhausted so that at most one file is open at a time.
type sourceNode struct {
	parts []source
}

func (n *sourceNode) rows() (int64, bool) {
	var total int64
	for _, p := range n.parts {
		r, ok := p.rows()
		if !ok {
			return 0, false
		}
		total += r
	}
	return total, true
}

func (n *sourceNode) open(ctx context.Context) (stream, error) {
	return &sourceStream{ctx: ctx, parts: n.parts}, nil
}

type sourceStream struct {
	ctx   context.Context
	parts []source
	part  int
	cur   recordStream
}

func (s *sourceStream) next() (batch, error) {
	for {
		if err := s.ctx.Err(); err != nil {
			return batch{}, err
		}
		if s.cur == nil {
			if s.part >= len(s.parts) {
				return batch{}, io.EOF
			}
			cur, err := s.parts[s.part].open(s.ctx)
			if err != nil {
				return batch{}, err
			}
			s.cur = cur
		}
		rec, err := s.cur.next()
		if err == io.EOF {
			s.cur.close()
			s.cur = nil
			s.part++
			continue
		}
		if err != nil {
			return batch{}, err
		}
		if rec.NumRows() == 0 {
			rec.Release()
			continue
		}
		return batch{rec: rec, part: s.part}, nil
	}
}

func (s *sourceStream) close() {
	if s.cur != nil {
		s.cur.close()
		s.cur = nil
	}
}

// stepFunc is one execution's instance of a per-batch step. It borrows in and returns a record
// the caller owns (nil when no rows remain). done reports that the step needs no more input,
// which lets Limit stop reading a file early.
type stepFunc func(in arrow.RecordBatch) (out arrow.RecordBatch, done bool, err error)

// stepNode applies a per-batch step. newStep is called once per execution so that steps that
// count rows (RandomSplit, Sample, Shard, Limit) start from zero every time the plan runs.
type stepNode struct {
	parent    node
	name      string
	newStep   func() stepFunc
	keepsRows bool // the step never adds or removes rows, so the parent's count stands
}

func (n *stepNode) rows() (int64, bool) {
	if !n.keepsRows {
		return 0, false
	}
	return n.parent.rows()
}

func (n *stepNode) open(ctx context.Context) (stream, error) {
	p, err := n.parent.open(ctx)
	if err != nil {
		return nil, err
	}
	return &stepStream{parent: p, name: n.name, step: n.newStep()}, nil
}

type stepStream struct {
	parent stream
	name   string
	step   stepFunc
	done   bool
}

func (s *stepStream) next() (batch, error) {
	for !s.done {
		b, err := s.parent.next()
		if err != nil {
			return batch{}, err
		}
		out, done, err := s.step(b.rec)
		b.rec.Release()
		if err != nil {
			if out != nil {
				out.Release()
			}
			return batch{}, fmt.Errorf("frame: %s: %w", s.name, err)
		}
		s.done = done
		if out == nil {
			continue
		}
		if out.NumRows() == 0 {
			out.Release()
			continue
		}
		return batch{rec: out, part: b.part}, nil
	}
	return batch{}, io.EOF
}

func (s *stepStream) close() { s.parent.close() }

// derive returns a frame that applies a step to df.
func (df *DataFrame) derive(name string, schema *arrow.Schema, keepsRows bool, newStep func() stepFunc) *DataFrame {
	return newFrame(schema, df.nparts, &stepNode{parent: df.plan, name: name, newStep: newStep, keepsRows: keepsRows})
}

// Repartition returns a frame with n partitions of near-equal row counts that keeps the row
// order: partition i holds rows [i*N/n, (i+1)*N/n). It needs the row count N, which costs one
// extra pass over the plan when the count is not already known (it is for in-memory frames and
// Parquet, IDX and unfiltered memory sources). Use it on a collected frame to control record
// batch sizes or to hand partitions to workers.
func (df *DataFrame) Repartition(n int) (*DataFrame, error) {
	if n < 1 {
		return nil, fmt.Errorf("frame: Repartition(%d): want at least one partition", n)
	}
	return newFrame(df.schema, n, &repartNode{parent: df.plan, n: n}), nil
}

type repartNode struct {
	parent node
	n      int

	mu    sync.Mutex
	count int64
	known bool
}

func (r *repartNode) rows() (int64, bool) { return r.parent.rows() }

func (r *repartNode) total(ctx context.Context) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known {
		return r.count, nil
	}
	n, ok := r.parent.rows()
	if !ok {
		s, err := r.parent.open(ctx)
		if err != nil {
			return 0, err
		}
		defer s.close()
		for {
			b, err := s.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return 0, fmt.Errorf("frame: Repartition: counting rows: %w", err)
			}
			n += b.rec.NumRows()
			b.rec.Release()
		}
	}
	r.count, r.known = n, true
	return n, nil
}

func (r *repartNode) open(ctx context.Context) (stream, error) {
	total, err := r.total(ctx)
	if err != nil {
		return nil, err
	}
	p, err := r.parent.open(ctx)
	if err != nil {
		return nil, err
	}
	return &repartStream{parent: p, n: int64(r.n), total: total}, nil
}

type repartStream struct {
	parent   stream
	n, total int64
	row      int64 // global index of the next row
	pending  arrow.RecordBatch
	offset   int64 // rows of pending already emitted
}

// boundary is the first row of partition i.
func (s *repartStream) boundary(i int64) int64 { return i * s.total / s.n }

func (s *repartStream) partOf(row int64) int64 {
	// Partition sizes differ by at most one, so start from the proportional guess and adjust.
	if s.total == 0 {
		return 0
	}
	p := row * s.n / s.total
	for p+1 < s.n && s.boundary(p+1) <= row {
		p++
	}
	for p > 0 && s.boundary(p) > row {
		p--
	}
	return p
}

func (s *repartStream) next() (batch, error) {
	for s.pending == nil {
		b, err := s.parent.next()
		if err != nil {
			return batch{}, err
		}
		s.pending, s.offset = b.rec, 0
	}
	n := s.pending.NumRows()
	p := s.partOf(s.row)
	end := n
	if p+1 < s.n {
		if lim := s.boundary(p+1) - s.row + s.offset; lim < end {
			end = lim
		}
	}
	var out arrow.RecordBatch
	if s.offset == 0 && end == n {
		out = s.pending
		s.pending = nil
	} else {
		out = s.pending.NewSlice(s.offset, end)
		if end == n {
			s.pending.Release()
			s.pending = nil
		}
	}
	s.row += end - s.offset
	s.offset = end
	return batch{rec: out, part: int(p)}, nil
}

func (s *repartStream) close() {
	if s.pending != nil {
		s.pending.Release()
		s.pending = nil
	}
	s.parent.close()
}

// unionNode streams a, then b, numbering b's partitions after a's.
type unionNode struct {
	a, b   node
	aParts int
	schema *arrow.Schema
}

func (u *unionNode) rows() (int64, bool) {
	x, ok1 := u.a.rows()
	y, ok2 := u.b.rows()
	return x + y, ok1 && ok2
}

func (u *unionNode) open(ctx context.Context) (stream, error) {
	a, err := u.a.open(ctx)
	if err != nil {
		return nil, err
	}
	return &unionStream{ctx: ctx, u: u, cur: a}, nil
}

type unionStream struct {
	ctx    context.Context
	u      *unionNode
	cur    stream
	second bool
}

func (s *unionStream) next() (batch, error) {
	for {
		b, err := s.cur.next()
		if err == io.EOF && !s.second {
			s.cur.close()
			s.cur, err = s.u.b.open(s.ctx)
			if err != nil {
				s.cur = emptyStream{}
				return batch{}, err
			}
			s.second = true
			continue
		}
		if err != nil {
			return batch{}, err
		}
		// Both sides may differ in nullability or metadata; the union's schema is the one
		// consumers were promised.
		rec := array.NewRecordBatch(s.u.schema, b.rec.Columns(), b.rec.NumRows())
		b.rec.Release()
		part := b.part
		if s.second {
			part += s.u.aParts
		}
		return batch{rec: rec, part: part}, nil
	}
}

func (s *unionStream) close() { s.cur.close() }

type emptyStream struct{}

func (emptyStream) next() (batch, error) { return batch{}, io.EOF }
func (emptyStream) close()               {}

// Union returns the rows of df followed by the rows of other. Both must have the same column
// names and types in the same order (Spark's union is positional; requiring the names too
// catches swapped columns).
func (df *DataFrame) Union(other *DataFrame) (*DataFrame, error) {
	a, b := df.schema, other.schema
	if a.NumFields() != b.NumFields() {
		return nil, fmt.Errorf("frame: Union: %d columns (%s) and %d columns (%s)", a.NumFields(), strings.Join(df.Columns(), ", "), b.NumFields(), strings.Join(other.Columns(), ", "))
	}
	fields := make([]arrow.Field, a.NumFields())
	for i := range fields {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || !arrow.TypeEqual(fa.Type, fb.Type) {
			return nil, fmt.Errorf("frame: Union: column %d is %s %s in the first frame and %s %s in the second", i+1, fa.Name, fa.Type, fb.Name, fb.Type)
		}
		fields[i] = fa
		fields[i].Nullable = fa.Nullable || fb.Nullable
	}
	s := arrow.NewSchema(fields, nil)
	return newFrame(s, df.nparts+other.nparts, &unionNode{a: df.plan, b: other.plan, aParts: df.nparts, schema: s}), nil
}
