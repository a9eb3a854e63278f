package nn

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/tensor"
)

// inputSpec is how a frame's feature columns become the network's input tensor. It is worked
// out from the schema, so a column or width mistake is reported before any data is read.
type inputSpec struct {
	uid      string
	features []string
	fields   []arrow.Field
	image    bool
	width    int          // values per row; 0 for images until data shows their size
	shape    tensor.Shape // the network's per-sample input shape
	net      string
	opts     []frame.BatchOption
}

func newInputSpec(uid string, df *frame.DataFrame, features []string, net *keras.Model) (*inputSpec, error) {
	cols := df.Columns()
	schema := df.Schema()
	s := &inputSpec{uid: uid, features: features, shape: net.InputShapes()[0], net: net.Name()}
	param := "featuresCol"
	if len(features) > 1 {
		param = "featuresCols"
	}
	for _, f := range features {
		if !hasColumn(cols, f) {
			return nil, columnError(uid, param, f, cols)
		}
		s.fields = append(s.fields, schema.Field(schema.FieldIndices(f)[0]))
	}
	first := s.fields[0].Type
	n, isVec := frame.IsVector(first)
	switch {
	case isVec || frame.IsImage(first):
		if len(features) > 1 {
			return nil, fmt.Errorf("nn: %s: featuresCols %s: %q is a %s column, which must be the only feature; assemble several columns into one vector first (feature.VectorAssembler)",
				uid, strings.Join(features, ", "), features[0], kindName(first))
		}
		s.image = !isVec
		s.width = n
	default:
		for _, f := range s.fields {
			if !frame.IsNumeric(f.Type) {
				hint := ""
				if f.Type.ID() == arrow.STRING {
					hint = "; index it first (feature.StringIndexer)"
				}
				return nil, fmt.Errorf("nn: %s: %s: column %q is %s; features are numeric columns, one vector column or one image column%s",
					uid, param, f.Name, f.Type, hint)
			}
		}
		s.width = len(features)
	}
	// A flat input (Dense first) takes an image's pixels as one row.
	if s.image && len(s.shape) == 1 {
		s.opts = append(s.opts, frame.Flatten())
	}
	if s.width > 0 && known(s.shape) && s.shape.Size() != s.width {
		return nil, s.widthError(s.width)
	}
	return s, nil
}

func kindName(dt arrow.DataType) string {
	if frame.IsImage(dt) {
		return "image"
	}
	return "vector"
}

func known(s tensor.Shape) bool {
	for _, d := range s {
		if d <= 0 {
			return false
		}
	}
	return true
}

func (s *inputSpec) describeFeatures() string {
	if len(s.features) == 1 {
		return fmt.Sprintf("featuresCol %q", s.features[0])
	}
	return fmt.Sprintf("featuresCols [%s]", strings.Join(s.features, ", "))
}

func (s *inputSpec) widthError(width int) error {
	return fmt.Errorf("nn: %s: %s gives %d values per row, but network %q takes input shape %v (%d values per row)",
		s.uid, s.describeFeatures(), width, s.net, s.shape, s.shape.Size())
}

// fit gives x (rows first) the network's input shape, reshaping rows whose element count
// matches.
func (s *inputSpec) fit(x *tensor.Tensor) (*tensor.Tensor, error) {
	got := x.Shape()[1:]
	if !known(s.shape) || got.Equal(s.shape) {
		return x, nil
	}
	if got.Size() != s.shape.Size() {
		return nil, s.widthError(got.Size())
	}
	return x.Reshape(append([]int{x.Dim(0)}, s.shape...)...)
}

// tensorOf converts one record batch's feature columns to the network's input, with the same
// conversion training used (frame.ToDataset), so scoring sees exactly what training saw.
func (s *inputSpec) tensorOf(cols []arrow.Array) (*tensor.Tensor, error) {
	n := cols[0].Len()
	rec := array.NewRecordBatch(arrow.NewSchema(s.fields, nil), cols, int64(n))
	defer rec.Release()
	sub, err := frame.FromRecords(rec)
	if err != nil {
		return nil, err
	}
	ds, err := frame.ToDataset(context.Background(), sub, s.features, "", s.opts...)
	if err != nil {
		return nil, err
	}
	return s.fit(ds.X())
}

// source is a keras.Dataset that Fit drives; setEpoch is called as each epoch begins so that
// the row order is keyed by the estimator's seed and the epoch, not by keras's own shuffle.
type source interface {
	keras.Dataset
	setEpoch(e int)
	waited() time.Duration
	close()
}

// cachedSource holds every prepared sample as tensors in memory and visits them in a fresh
// permutation each epoch.
type cachedSource struct {
	d       keras.Dataset
	n       int
	shuffle bool
	seed    uint64
	perm    []int
	mapped  []int
	wait    time.Duration
}

func newCachedSource(ctx context.Context, df *frame.DataFrame, spec *inputSpec, label string, shuffle bool, seed uint64) (*cachedSource, *tensor.Tensor, error) {
	ds, err := frame.ToDataset(ctx, df, spec.features, label, spec.opts...)
	if err != nil {
		return nil, nil, err
	}
	if ds.Len() == 0 {
		return nil, nil, fmt.Errorf("nn: %s: the frame has no rows", spec.uid)
	}
	x, err := spec.fit(ds.X())
	if err != nil {
		return nil, nil, err
	}
	d, err := keras.NewTensorDataset(x, ds.Y())
	if err != nil {
		return nil, nil, err
	}
	return &cachedSource{d: d, n: ds.Len(), shuffle: shuffle, seed: seed}, ds.Y(), nil
}

func (c *cachedSource) Len() int { return c.n }

func (c *cachedSource) setEpoch(e int) {
	if c.shuffle {
		c.perm = epochRNG(c.seed, e).Perm(c.n)
	}
}

func (c *cachedSource) Batch(rows []int) ([]*tensor.Tensor, []*tensor.Tensor, error) {
	start := time.Now()
	defer func() { c.wait += time.Since(start) }()
	if c.perm == nil {
		return c.d.Batch(rows)
	}
	c.mapped = c.mapped[:0]
	for _, r := range rows {
		if r < 0 || r >= c.n {
			return nil, nil, fmt.Errorf("row %d out of range [0, %d)", r, c.n)
		}
		c.mapped = append(c.mapped, c.perm[r])
	}
	return c.d.Batch(c.mapped)
}

func (c *cachedSource) waited() time.Duration { return c.wait }
func (c *cachedSource) close()                {}

func epochRNG(seed uint64, epoch int) *tensor.RNG {
	return tensor.NewRNG(seed).Derive(fmt.Sprintf("nn/epoch=%d", epoch))
}

// streamSource reads the frame afresh on every pass through frame.Batches (prefetching in the
// background, shuffling through frame's buffer), so training needs memory for a few batches
// only. keras.Dataset is random access, but Fit run without its own shuffle asks for rows
// 0, 1, 2, ... in order on every pass, which is what lets a stream stand behind it; any other
// order is reported rather than served wrongly.
type streamSource struct {
	ctx     context.Context
	df      *frame.DataFrame
	spec    *inputSpec
	label   string
	batch   int
	shuffle bool
	seed    uint64
	epoch   int
	n       int

	it   *frame.BatchIter
	cur  frame.Batch
	off  int
	pos  int
	wait time.Duration
}

func newStreamSource(ctx context.Context, df *frame.DataFrame, spec *inputSpec, label string, batch int, shuffle bool, seed uint64) (*streamSource, error) {
	n, err := df.Count(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("nn: %s: the frame has no rows", spec.uid)
	}
	return &streamSource{ctx: ctx, df: df, spec: spec, label: label, batch: batch, shuffle: shuffle, seed: seed, n: int(n)}, nil
}

func (s *streamSource) Len() int       { return s.n }
func (s *streamSource) setEpoch(e int) { s.epoch = e }
func (s *streamSource) waited() time.Duration {
	w := s.wait
	if s.it != nil {
		w += s.it.Stats().WaitTime
	}
	return w
}

func (s *streamSource) close() {
	if s.it != nil {
		s.wait += s.it.Stats().WaitTime
		_ = s.it.Close()
		s.it = nil
	}
}

func (s *streamSource) restart() error {
	s.close()
	opts := append([]frame.BatchOption{frame.BatchSize(s.batch)}, s.spec.opts...)
	if s.shuffle {
		opts = append(opts, frame.Shuffle(s.seed), frame.Epoch(s.epoch))
	}
	it, err := frame.Batches(s.ctx, s.df, s.spec.features, s.label, opts...)
	if err != nil {
		return err
	}
	s.it, s.cur, s.off, s.pos = it, frame.Batch{}, 0, 0
	return nil
}

func (s *streamSource) Batch(rows []int) ([]*tensor.Tensor, []*tensor.Tensor, error) {
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("empty batch")
	}
	if rows[0] == 0 || s.it == nil {
		if err := s.restart(); err != nil {
			return nil, nil, err
		}
	}
	for i, r := range rows {
		if r != s.pos+i {
			return nil, nil, fmt.Errorf("a streamed frame is read in order, but row %d was asked for where row %d comes next; enable caching for random access", r, s.pos+i)
		}
	}
	var xs, ys []*tensor.Tensor
	for need := len(rows); need > 0; {
		if s.cur.X == nil || s.off == s.cur.X.Dim(0) {
			if !s.it.Next() {
				if err := s.it.Err(); err != nil {
					return nil, nil, err
				}
				return nil, nil, fmt.Errorf("the frame ended after %d rows but counted %d; was it changed while training?", s.pos, s.n)
			}
			s.cur, s.off = s.it.Batch(), 0
		}
		take := min(need, s.cur.X.Dim(0)-s.off)
		x, err := s.cur.X.Slice(s.off, s.off+take)
		if err != nil {
			return nil, nil, err
		}
		xs = append(xs, x)
		if s.cur.Y != nil {
			y, err := s.cur.Y.Slice(s.off, s.off+take)
			if err != nil {
				return nil, nil, err
			}
			ys = append(ys, y)
		}
		s.off += take
		need -= take
	}
	s.pos += len(rows)
	x, err := concatRows(xs)
	if err != nil {
		return nil, nil, err
	}
	if x, err = s.spec.fit(x); err != nil {
		return nil, nil, err
	}
	if len(ys) == 0 {
		return []*tensor.Tensor{x}, nil, nil
	}
	y, err := concatRows(ys)
	if err != nil {
		return nil, nil, err
	}
	return []*tensor.Tensor{x}, []*tensor.Tensor{y}, nil
}

// concatRows joins tensors along the first axis; one tensor comes back as it is, which is the
// usual case because the stream's batches have the size Fit asks for.
func concatRows(ts []*tensor.Tensor) (*tensor.Tensor, error) {
	if len(ts) == 1 {
		return ts[0], nil
	}
	n := 0
	for _, t := range ts {
		n += t.Dim(0)
	}
	out := tensor.New(ts[0].DType(), append([]int{n}, ts[0].Shape()[1:]...)...)
	at := 0
	for _, t := range ts {
		dst, err := out.Slice(at, at+t.Dim(0))
		if err != nil {
			return nil, err
		}
		if err := dst.CopyFrom(t); err != nil {
			return nil, err
		}
		at += t.Dim(0)
	}
	return out, nil
}
