package nn

import (
	"context"
	"fmt"
	"io"
	"strings"

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

// source is a keras.Dataset that Fit reads a frame through.
type source interface {
	keras.Dataset
	// setEpoch is called as each epoch begins, so that a cached source's row order is keyed
	// by the estimator's seed and the epoch rather than by keras's own shuffle.
	setEpoch(e int)
	// rows is the number of rows in a pass, once known: from the start when it is cheap to
	// know, else after the first pass.
	rows() int
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

func (c *cachedSource) Len() int  { return c.n }
func (c *cachedSource) rows() int { return c.n }
func (c *cachedSource) close()    {}

func (c *cachedSource) setEpoch(e int) {
	if c.shuffle {
		c.perm = epochRNG(c.seed, e).Perm(c.n)
	}
}

func (c *cachedSource) Batch(rows []int) ([]*tensor.Tensor, []*tensor.Tensor, error) {
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

func epochRNG(seed uint64, epoch int) *tensor.RNG {
	return tensor.NewRNG(seed).Derive(fmt.Sprintf("nn/epoch=%d", epoch))
}

// streamPrefetch is how many batches frame's loader prepares ahead of training: enough to
// absorb the loader's jitter without holding much memory.
const streamPrefetch = 4

// streamSource reads the frame afresh on every pass through frame.Batches, which reads,
// converts and shuffles on goroutines of its own ahead of training, so training needs memory
// for the shuffle buffer and a few batches only. It is a keras.BatchStream: Fit reads one pass
// per epoch in the order the stream makes (shuffled with the estimator's seed and the epoch),
// and never asks for rows by index.
type streamSource struct {
	df      *frame.DataFrame
	spec    *inputSpec
	label   string
	shuffle bool
	seed    uint64
	// classes, when above 0, is the classifier network's output units; labels it cannot score
	// are reported with the column's name, as the cached path does before training.
	classes int
	uid     string
	// passes is how many passes Fit will read. While more are to come, the next one starts as
	// soon as the current one has read the whole frame, so that its shuffle buffer fills while
	// training works through the rest of this epoch, not while the next epoch's first step
	// waits.
	passes int

	n      int // rows in a pass; -1 until known
	opened int
	ahead  *aheadPass
	stats  frame.Stats
}

// aheadPass is a pass started before Fit asked for it.
type aheadPass struct {
	epoch, batchSize int
	it               *frame.BatchIter
}

func newStreamSource(df *frame.DataFrame, spec *inputSpec, label string, shuffle bool, seed uint64, classes int) (*streamSource, error) {
	n := -1
	if k, ok := df.KnownCount(); ok {
		if k == 0 {
			return nil, fmt.Errorf("nn: %s: the frame has no rows", spec.uid)
		}
		n = int(k)
	}
	return &streamSource{df: df, spec: spec, label: label, shuffle: shuffle, seed: seed, classes: classes, uid: spec.uid, n: n}, nil
}

func (s *streamSource) Len() int     { return s.n }
func (s *streamSource) rows() int    { return s.n }
func (s *streamSource) setEpoch(int) {}

func (s *streamSource) close() {
	if s.ahead != nil {
		s.finish(s.ahead.it)
		s.ahead = nil
	}
}

func (s *streamSource) Batch([]int) ([]*tensor.Tensor, []*tensor.Tensor, error) {
	return nil, nil, fmt.Errorf("nn: %s: a streamed frame is read a pass at a time, not by row", s.uid)
}

// Stream starts one pass over the frame, or takes the one started ahead for it.
func (s *streamSource) Stream(ctx context.Context, epoch, batchSize int) (keras.BatchIterator, error) {
	s.opened++
	if a := s.ahead; a != nil {
		s.ahead = nil
		if a.epoch == epoch && a.batchSize == batchSize {
			return &streamPass{s: s, it: a.it, ctx: ctx, epoch: epoch, batchSize: batchSize}, nil
		}
		s.finish(a.it)
	}
	it, err := s.start(ctx, epoch, batchSize)
	if err != nil {
		return nil, err
	}
	return &streamPass{s: s, it: it, ctx: ctx, epoch: epoch, batchSize: batchSize}, nil
}

func (s *streamSource) start(ctx context.Context, epoch, batchSize int) (*frame.BatchIter, error) {
	opts := append([]frame.BatchOption{frame.BatchSize(batchSize), frame.Prefetch(streamPrefetch)}, s.spec.opts...)
	if s.shuffle {
		opts = append(opts, frame.Shuffle(s.seed), frame.Epoch(epoch))
	}
	return frame.Batches(ctx, s.df, s.spec.features, s.label, opts...)
}

// finish stops a pass and keeps its loader's figures.
func (s *streamSource) finish(it *frame.BatchIter) error {
	err := it.Close()
	st := it.Stats()
	s.stats.Batches += st.Batches
	s.stats.Rows += st.Rows
	s.stats.WaitTime += st.WaitTime
	s.stats.LoadTime += st.LoadTime
	return err
}

// streamPass is one pass of a streamSource: frame's batches, shaped for the network.
type streamPass struct {
	s                *streamSource
	it               *frame.BatchIter
	ctx              context.Context
	epoch, batchSize int
	rows             int
	closed           bool
}

func (p *streamPass) Next() ([]*tensor.Tensor, []*tensor.Tensor, error) {
	if !p.it.Next() {
		if err := p.it.Err(); err != nil {
			return nil, nil, err
		}
		if p.s.n < 0 {
			p.s.n = p.rows
		}
		p.startNext()
		return nil, nil, io.EOF
	}
	if p.it.ReadDone() {
		p.startNext()
	}
	b := p.it.Batch()
	x, err := p.s.spec.fit(b.X)
	if err != nil {
		return nil, nil, err
	}
	p.rows += b.X.Dim(0)
	if b.Y == nil {
		return []*tensor.Tensor{x}, nil, nil
	}
	if p.s.classes > 0 {
		if err := checkClasses(p.s.uid, p.s.label, b.Y, p.s.classes, true); err != nil {
			return nil, nil, err
		}
	}
	return []*tensor.Tensor{x}, []*tensor.Tensor{b.Y}, nil
}

// startNext starts the pass Fit will ask for next, when there is one to come.
func (p *streamPass) startNext() {
	s := p.s
	if s.opened >= s.passes || s.ahead != nil {
		return
	}
	// A failure to start shows again when Fit asks for the pass.
	if it, err := s.start(p.ctx, p.epoch+1, p.batchSize); err == nil {
		s.ahead = &aheadPass{epoch: p.epoch + 1, batchSize: p.batchSize, it: it}
	}
}

func (p *streamPass) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	return p.s.finish(p.it)
}
