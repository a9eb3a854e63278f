package frame

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/deepframe/deepframe/tensor"
)

// BatchOption configures ToDataset and Batches.
type BatchOption struct {
	name string
	set  func(*batchConfig) error
}

type batchConfig struct {
	batchSize     int
	shuffle       bool
	seed          uint64
	shuffleBuffer int
	epoch         int
	dropLast      bool
	prefetch      int
	scale         float64
	channelsFirst bool
	flatten       bool
}

func newBatchConfig(caller string, allowed []string, opts []BatchOption) (*batchConfig, error) {
	c := &batchConfig{batchSize: 32, shuffleBuffer: 10000, prefetch: 2, scale: 1.0 / 255}
	for _, o := range opts {
		if o.set == nil {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == o.name
		}
		if !ok {
			return nil, fmt.Errorf("frame: %s does not take option %s (it takes %s)", caller, o.name, strings.Join(allowed, ", "))
		}
		if err := o.set(c); err != nil {
			return nil, fmt.Errorf("frame: %s: %s: %w", caller, o.name, err)
		}
	}
	return c, nil
}

// BatchSize sets the rows per batch; the default is 32 (Batches).
func BatchSize(n int) BatchOption {
	return BatchOption{"BatchSize", func(c *batchConfig) error {
		if n < 1 {
			return fmt.Errorf("%d: want at least 1", n)
		}
		c.batchSize = n
		return nil
	}}
}

// Shuffle shuffles rows with a generator seeded from seed and the epoch, through a buffer of
// ShuffleBuffer rows (Batches). The order depends only on the seed, the epoch and the rows, not
// on record batch sizes or prefetching.
func Shuffle(seed uint64) BatchOption {
	return BatchOption{"Shuffle", func(c *batchConfig) error { c.shuffle, c.seed = true, seed; return nil }}
}

// ShuffleBuffer sets how many rows the shuffle holds; the default is 10000. Each batch row is
// drawn at random from the buffer, which refills from the stream, as in tf.data. A buffer at
// least as large as the frame gives a uniform shuffle; a smaller one bounds memory at the cost
// of keeping rows near their original neighbourhood (Batches).
func ShuffleBuffer(rows int) BatchOption {
	return BatchOption{"ShuffleBuffer", func(c *batchConfig) error {
		if rows < 1 {
			return fmt.Errorf("%d rows: want at least 1", rows)
		}
		c.shuffleBuffer = rows
		return nil
	}}
}

// Epoch selects the epoch whose shuffle order to produce, so that every epoch differs but each
// is repeatable (Batches).
func Epoch(e int) BatchOption {
	return BatchOption{"Epoch", func(c *batchConfig) error { c.epoch = e; return nil }}
}

// DropLast drops a final batch smaller than BatchSize when drop is true; by default it is kept
// (Batches).
func DropLast(drop bool) BatchOption {
	return BatchOption{"DropLast", func(c *batchConfig) error { c.dropLast = drop; return nil }}
}

// Prefetch sets how many batches the loader goroutine prepares ahead of the consumer; the
// default is 2 (Batches).
func Prefetch(n int) BatchOption {
	return BatchOption{"Prefetch", func(c *batchConfig) error {
		if n < 0 {
			return fmt.Errorf("%d: want n >= 0", n)
		}
		c.prefetch = n
		return nil
	}}
}

// PixelScale multiplies image bytes when they become float32; the default is 1/255, giving
// values in [0, 1] (ToDataset, Batches).
func PixelScale(s float64) BatchOption {
	return BatchOption{"PixelScale", func(c *batchConfig) error { c.scale = s; return nil }}
}

// ChannelsFirst lays image features out as [N, C, H, W] instead of deepframe's default
// channels-last [N, H, W, C] (ToDataset, Batches).
func ChannelsFirst() BatchOption {
	return BatchOption{"ChannelsFirst", func(c *batchConfig) error { c.channelsFirst = true; return nil }}
}

// Flatten makes each row's features one axis, [N, H*W*C] for images, for models that start
// with Dense layers (ToDataset, Batches).
func Flatten() BatchOption {
	return BatchOption{"Flatten", func(c *batchConfig) error { c.flatten = true; return nil }}
}

type featureKind int

const (
	numericFeatures featureKind = iota // several numeric columns → [N, k]
	vectorFeature                      // one vector column → [N, n]
	imageFeature                       // one image column → [N, H, W, C]
)

type labelKind int

const (
	noLabel labelKind = iota
	intLabel
	floatLabel
	vectorLabel
)

// converter turns record batches into row-major float32 features and int64 or float32
// labels. It is built from the schema, so column mistakes are reported before any data is
// read.
type converter struct {
	kind     featureKind
	features []string
	fidx     []int
	width    int   // floats per row; for images 0 until the first row fixes it
	rowShape []int // the per-row tensor shape
	img      [3]int
	lut      *[256]float32 // byte → scaled float32, built when the first image is seen
	label    string
	lidx     int
	lkind    labelKind
	lwidth   int
	cfg      *batchConfig
}

func newConverter(schema *arrow.Schema, features []string, label string, cfg *batchConfig) (*converter, error) {
	if len(features) == 0 {
		return nil, fmt.Errorf("no feature columns named")
	}
	idx := make([]int, len(features))
	for i, f := range features {
		j, err := fieldIndex(schema, f)
		if err != nil {
			return nil, err
		}
		idx[i] = j
	}
	var err error
	c := &converter{features: features, fidx: idx, label: label, lidx: -1, cfg: cfg}
	first := schema.Field(idx[0]).Type
	if n, ok := IsVector(first); ok || IsImage(first) {
		if len(features) > 1 {
			return nil, fmt.Errorf("features %s: a vector or image column must be the only feature; assemble several columns into one vector first", strings.Join(features, ", "))
		}
		if ok {
			c.kind, c.width, c.rowShape = vectorFeature, n, []int{n}
		} else {
			c.kind = imageFeature
		}
	} else {
		c.kind, c.width, c.rowShape = numericFeatures, len(features), []int{len(features)}
		for i, j := range idx {
			if t := schema.Field(j).Type; !IsNumeric(t) {
				return nil, fmt.Errorf("feature %q is %s; features are numeric columns, one vector column or one image column", features[i], t)
			}
		}
	}
	if label == "" {
		return c, nil
	}
	if c.lidx, err = fieldIndex(schema, label); err != nil {
		return nil, err
	}
	lt := schema.Field(c.lidx).Type
	switch {
	case lt.ID() == arrow.FLOAT32 || lt.ID() == arrow.FLOAT64:
		c.lkind, c.lwidth = floatLabel, 1
	case IsNumeric(lt):
		c.lkind, c.lwidth = intLabel, 1
	default:
		if n, ok := IsVector(lt); ok {
			c.lkind, c.lwidth = vectorLabel, n
			break
		}
		if lt.ID() == arrow.STRING {
			return nil, fmt.Errorf("label %q is a string column; index it into numbers first (feature.StringIndexer)", label)
		}
		return nil, fmt.Errorf("label %q is %s; want a numeric or vector column", label, lt)
	}
	return c, nil
}

// chunk is one record batch converted to rows.
type chunk struct {
	n  int
	x  []float32
	yi []int64
	yf []float32
}

// convert appends rec's rows to ch. base is the global index of rec's first row, for
// messages.
func (c *converter) convert(rec arrow.RecordBatch, base int64, ch *chunk) error {
	n := int(rec.NumRows())
	switch c.kind {
	case numericFeatures:
		start := len(ch.x)
		ch.x = grow(ch.x, n*c.width)
		x := ch.x[start:]
		cols := make([]scatterer, len(c.fidx))
		for k, j := range c.fidx {
			col := rec.Column(j)
			if col.NullN() > 0 {
				return c.nullError(c.features[k], col, base)
			}
			sc, err := scattererOf(col)
			if err != nil {
				return fmt.Errorf("feature %q: %w", c.features[k], err)
			}
			cols[k] = sc
		}
		// Columns become rows: going a block of rows at a time keeps the rows being written in
		// cache (a 785-column Fashion-MNIST row is 3 KB; a whole batch is megabytes).
		const block = 32
		for lo := 0; lo < n; lo += block {
			hi := min(lo+block, n)
			for k, sc := range cols {
				sc.scatter(x, c.width, k, lo, hi)
			}
		}
	case vectorFeature:
		col := rec.Column(c.fidx[0])
		if col.NullN() > 0 {
			return c.nullError(c.features[0], col, base)
		}
		vals, err := vectorFloats(col)
		if err != nil {
			return fmt.Errorf("feature %q: %w", c.features[0], err)
		}
		start := len(ch.x)
		ch.x = grow(ch.x, len(vals))
		for i, v := range vals {
			ch.x[start+i] = float32(v)
		}
	case imageFeature:
		if err := c.convertImages(rec.Column(c.fidx[0]), base, ch); err != nil {
			return err
		}
	}
	if c.lkind == noLabel {
		ch.n += n
		return nil
	}
	col := rec.Column(c.lidx)
	if col.NullN() > 0 {
		return c.nullError(c.label, col, base)
	}
	switch c.lkind {
	case intLabel:
		for i := 0; i < n; i++ {
			v, _ := int64At(col, i)
			ch.yi = append(ch.yi, v)
		}
	case floatLabel:
		vals, err := ToFloat64(nil, col)
		if err != nil {
			return err
		}
		for _, v := range vals {
			ch.yf = append(ch.yf, float32(v))
		}
	case vectorLabel:
		vals, err := vectorFloats(col)
		if err != nil {
			return fmt.Errorf("label %q: %w", c.label, err)
		}
		for _, v := range vals {
			ch.yf = append(ch.yf, float32(v))
		}
	}
	ch.n += n
	return nil
}

func (c *converter) nullError(name string, col arrow.Array, base int64) error {
	for i := 0; i < col.Len(); i++ {
		if col.IsNull(i) {
			return fmt.Errorf("column %q is null in row %d; drop or fill nulls before batching", name, base+int64(i))
		}
	}
	return nil
}

func grow(s []float32, n int) []float32 {
	if cap(s)-len(s) < n {
		t := make([]float32, len(s), max(2*cap(s), len(s)+n))
		copy(t, s)
		s = t
	}
	return s[:len(s)+n]
}

// scatterer writes rows [lo, hi) of one numeric column into column k of a row-major block
// of the given width.
type scatterer interface {
	scatter(x []float32, width, k, lo, hi int)
}

type typedColumn[T number] []T

func (c typedColumn[T]) scatter(x []float32, width, k, lo, hi int) {
	for i := lo; i < hi; i++ {
		x[i*width+k] = float32(c[i])
	}
}

func scattererOf(col arrow.Array) (scatterer, error) {
	switch a := col.(type) {
	case *array.Float64:
		return typedColumn[float64](a.Float64Values()), nil
	case *array.Float32:
		return typedColumn[float32](a.Float32Values()), nil
	case *array.Int64:
		return typedColumn[int64](a.Int64Values()), nil
	case *array.Int32:
		return typedColumn[int32](a.Int32Values()), nil
	case *array.Uint8:
		return typedColumn[uint8](a.Uint8Values()), nil
	}
	vals, err := ToFloat64(nil, col)
	if err != nil {
		return nil, err
	}
	return typedColumn[float64](vals), nil
}

// vectorFloats returns the values of a FixedSizeList column of any numeric element type as
// float64, row-major.
func vectorFloats(col arrow.Array) ([]float64, error) {
	if vals, _, err := VectorValues(col); err == nil {
		return vals, nil
	}
	fl, ok := col.(*array.FixedSizeList)
	if !ok {
		return nil, fmt.Errorf("type %s is not a vector", col.DataType())
	}
	if fl.Len() == 0 {
		return nil, nil
	}
	lo, _ := fl.ValueOffsets(0)
	_, hi := fl.ValueOffsets(fl.Len() - 1)
	sub := array.NewSlice(fl.ListValues(), lo, hi)
	defer sub.Release()
	return ToFloat64(nil, sub)
}

func (c *converter) convertImages(col arrow.Array, base int64, ch *chunk) error {
	imgs, err := Images(col)
	if err != nil {
		return fmt.Errorf("feature %q: %w", c.features[0], err)
	}
	for i := 0; i < imgs.Len(); i++ {
		img, ok := imgs.At(i)
		if !ok {
			return fmt.Errorf("feature %q: row %d (%s) holds no image; drop unreadable images first", c.features[0], base+int64(i), img.Origin)
		}
		if c.width == 0 {
			c.img = [3]int{img.Height, img.Width, img.Channels}
			c.width = img.Height * img.Width * img.Channels
			switch {
			case c.cfg.flatten:
				c.rowShape = []int{c.width}
			case c.cfg.channelsFirst:
				c.rowShape = []int{img.Channels, img.Height, img.Width}
			default:
				c.rowShape = []int{img.Height, img.Width, img.Channels}
			}
		}
		if [3]int{img.Height, img.Width, img.Channels} != c.img {
			return fmt.Errorf("feature %q: row %d (%s) is %dx%dx%d but earlier rows are %dx%dx%d; read with Resize and ColorMode to make them agree",
				c.features[0], base+int64(i), img.Origin, img.Height, img.Width, img.Channels, c.img[0], c.img[1], c.img[2])
		}
		start := len(ch.x)
		ch.x = grow(ch.x, c.width)
		x := ch.x[start:]
		if c.lut == nil {
			// A table is exact (float32(b*scale) rounded once) and cheaper than a multiply.
			c.lut = new([256]float32)
			for b := range c.lut {
				c.lut[b] = float32(float64(b) * c.cfg.scale)
			}
		}
		lut := c.lut
		if !c.cfg.channelsFirst || img.Channels == 1 {
			for p, b := range img.Data {
				x[p] = lut[b]
			}
			continue
		}
		hw, cs := img.Height*img.Width, img.Channels
		for p := 0; p < hw; p++ {
			for q := 0; q < cs; q++ {
				x[q*hw+p] = lut[img.Data[p*cs+q]]
			}
		}
	}
	return nil
}

// Stats measures a data source from the consumer's side.
type Stats struct {
	Batches int
	Rows    int64
	// WaitTime is how long the consumer was blocked waiting for data: inside Next for
	// Batches, inside Batch for a Dataset. It is the figure that says whether the input
	// pipeline starves training.
	WaitTime time.Duration
	// LoadTime is how long the loader spent reading, converting and shuffling (Batches
	// only), summed over its goroutines and excluding time they were blocked on each other or
	// on a full prefetch queue.
	LoadTime time.Duration
}

// Dataset holds a frame's features and labels as tensors in memory, for random access. It
// satisfies keras.Dataset (Len, Batch) without this package importing keras.
type Dataset struct {
	x, y *tensor.Tensor
	n    int

	mu    sync.Mutex
	stats Stats
}

// ToDataset runs df's plan and gathers features and label into tensors: x is float32
// [N, k] for k numeric columns, [N, n] for a vector column, or [N, H, W, C] for an image
// column (bytes times PixelScale; ChannelsFirst and Flatten change the layout); y is int64 [N]
// for an integer or Boolean label, float32 [N] for a float label, float32 [N, n] for a vector
// label, and absent when label is "". Nulls in the used columns are an error naming the row.
//
// Options: PixelScale, ChannelsFirst, Flatten.
func ToDataset(ctx context.Context, df *DataFrame, features []string, label string, opts ...BatchOption) (*Dataset, error) {
	cfg, err := newBatchConfig("ToDataset", []string{"PixelScale", "ChannelsFirst", "Flatten"}, opts)
	if err != nil {
		return nil, err
	}
	conv, err := newConverter(df.schema, features, label, cfg)
	if err != nil {
		return nil, fmt.Errorf("frame: ToDataset: %w", err)
	}
	var ch chunk
	if n, ok := df.plan.rows(); ok && conv.width > 0 {
		ch.x = make([]float32, 0, int(n)*conv.width)
	}
	err = df.Iterate(ctx, func(rec arrow.RecordBatch) error {
		if err := conv.convert(rec, int64(ch.n), &ch); err != nil {
			return fmt.Errorf("frame: ToDataset: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if conv.rowShape == nil {
		// No rows: the image shape is unknown, so the dataset is [0, 0].
		conv.rowShape = []int{0}
	}
	x, err := tensor.FromFloat32(ch.x[:len(ch.x):len(ch.x)], append([]int{ch.n}, conv.rowShape...)...)
	if err != nil {
		return nil, fmt.Errorf("frame: ToDataset: %w", err)
	}
	d := &Dataset{x: x, n: ch.n}
	if d.y, err = conv.labelTensor(ch.n, ch.yi, ch.yf); err != nil {
		return nil, fmt.Errorf("frame: ToDataset: %w", err)
	}
	return d, nil
}

// FeatureTensor converts one record batch's feature columns into a float32 tensor shaped as
// ToDataset's x. It is the per-batch form for stages that score a frame batch by batch (an
// nn model's Transform inside MapBatches or WithColumn).
//
// Options: PixelScale, ChannelsFirst, Flatten.
func FeatureTensor(rec arrow.RecordBatch, features []string, opts ...BatchOption) (*tensor.Tensor, error) {
	cfg, err := newBatchConfig("FeatureTensor", []string{"PixelScale", "ChannelsFirst", "Flatten"}, opts)
	if err != nil {
		return nil, err
	}
	conv, err := newConverter(rec.Schema(), features, "", cfg)
	if err != nil {
		return nil, fmt.Errorf("frame: FeatureTensor: %w", err)
	}
	var ch chunk
	if err := conv.convert(rec, 0, &ch); err != nil {
		return nil, fmt.Errorf("frame: FeatureTensor: %w", err)
	}
	if conv.rowShape == nil {
		conv.rowShape = []int{0}
	}
	return tensor.FromFloat32(ch.x[:len(ch.x):len(ch.x)], append([]int{ch.n}, conv.rowShape...)...)
}

func (c *converter) labelTensor(n int, yi []int64, yf []float32) (*tensor.Tensor, error) {
	switch c.lkind {
	case intLabel:
		return tensor.FromInt64(yi, n)
	case floatLabel:
		return tensor.FromFloat32(yf, n)
	case vectorLabel:
		return tensor.FromFloat32(yf, n, c.lwidth)
	}
	return nil, nil
}

// Len is the number of rows.
func (d *Dataset) Len() int { return d.n }

// X is the feature tensor, rows along the first axis.
func (d *Dataset) X() *tensor.Tensor { return d.x }

// Y is the label tensor, or nil when the dataset has no label.
func (d *Dataset) Y() *tensor.Tensor { return d.y }

// Batch returns the given rows as one x tensor and, if there is a label, one y tensor.
// Consecutive rows come back as views that share the dataset's memory; callers must not
// write into them.
func (d *Dataset) Batch(rows []int) (x, y []*tensor.Tensor, err error) {
	start := time.Now()
	defer func() {
		d.mu.Lock()
		d.stats.WaitTime += time.Since(start)
		if err == nil {
			d.stats.Batches++
			d.stats.Rows += int64(len(rows))
		}
		d.mu.Unlock()
	}()
	bx, err := gather(d.x, rows)
	if err != nil {
		return nil, nil, fmt.Errorf("frame: Dataset.Batch: %w", err)
	}
	if d.y == nil {
		return []*tensor.Tensor{bx}, nil, nil
	}
	by, err := gather(d.y, rows)
	if err != nil {
		return nil, nil, fmt.Errorf("frame: Dataset.Batch: %w", err)
	}
	return []*tensor.Tensor{bx}, []*tensor.Tensor{by}, nil
}

// Stats reports the batches served and the time spent serving them, which is time the caller
// (a training loop) waited for data.
func (d *Dataset) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

func gather(t *tensor.Tensor, rows []int) (*tensor.Tensor, error) {
	if len(rows) > 0 {
		contiguous := rows[0] >= 0 && rows[0]+len(rows) <= t.Dim(0)
		for i := 1; contiguous && i < len(rows); i++ {
			contiguous = rows[i] == rows[0]+i
		}
		if contiguous {
			return t.Slice(rows[0], rows[0]+len(rows))
		}
	}
	return t.Gather(rows)
}

// Batch is one batch of rows from Batches: X holds the features, Y the labels (nil without a
// label column).
type Batch struct {
	X, Y *tensor.Tensor
}

// BatchIter streams batches from a frame; two background goroutines work ahead of the
// consumer, one reading and converting record batches, the other shuffling rows and
// assembling batches. Use it from one goroutine:
//
//	it, err := frame.Batches(ctx, df, features, "label", frame.BatchSize(64), frame.Shuffle(seed), frame.Epoch(e))
//	defer it.Close()
//	for it.Next() {
//		b := it.Batch()
//		...
//	}
//	err = it.Err()
type BatchIter struct {
	ch     chan Batch
	cancel context.CancelFunc
	done   chan struct{}
	perr   error // the producer's error, written before ch is closed
	cur    Batch
	err    error
	stats  Stats
	load   atomic.Int64 // producer's busy nanoseconds
	read   atomic.Bool  // the plan has been read to the end
}

// Batches starts streaming df as batches of tensors (shapes as in ToDataset, with BatchSize
// rows each). Each call reads the frame once, in the background; rows keep the frame's order
// unless Shuffle is given. Memory holds the shuffle buffer, Prefetch batches and a couple of
// converted record batches.
//
// Options: BatchSize, Shuffle, ShuffleBuffer, Epoch, DropLast, Prefetch, PixelScale,
// ChannelsFirst, Flatten.
func Batches(ctx context.Context, df *DataFrame, features []string, label string, opts ...BatchOption) (*BatchIter, error) {
	cfg, err := newBatchConfig("Batches", []string{"BatchSize", "Shuffle", "ShuffleBuffer", "Epoch", "DropLast", "Prefetch", "PixelScale", "ChannelsFirst", "Flatten"}, opts)
	if err != nil {
		return nil, err
	}
	conv, err := newConverter(df.schema, features, label, cfg)
	if err != nil {
		return nil, fmt.Errorf("frame: Batches: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	it := &BatchIter{ch: make(chan Batch, cfg.prefetch), cancel: cancel, done: make(chan struct{})}
	p := &producer{it: it, conv: conv, cfg: cfg, ctx: ctx, bufRows: cfg.shuffleBuffer}
	if cfg.shuffle {
		p.rng = tensor.NewRNG(cfg.seed).Derive(fmt.Sprintf("frame.Batches/epoch=%d", cfg.epoch))
		if n, ok := df.KnownCount(); ok && n < int64(p.bufRows) {
			p.bufRows = int(n)
		}
	}
	go p.run(df)
	return it, nil
}

// Next waits for the next batch; false means the stream ended or failed (see Err).
func (it *BatchIter) Next() bool {
	if it.err != nil {
		return false
	}
	start := time.Now()
	b, ok := <-it.ch
	it.stats.WaitTime += time.Since(start)
	if !ok {
		<-it.done
		it.err = it.perr
		it.cur = Batch{}
		return false
	}
	it.cur = b
	it.stats.Batches++
	it.stats.Rows += int64(b.X.Dim(0))
	return true
}

// Batch returns the batch Next prepared. Its tensors are the caller's to keep.
func (it *BatchIter) Batch() Batch { return it.cur }

// Err returns the error that ended the stream, if any.
func (it *BatchIter) Err() error { return it.err }

// Close stops the loader and waits for its goroutine to exit. It is safe to call more than
// once and after the stream ended.
func (it *BatchIter) Close() error {
	it.cancel()
	for range it.ch {
	}
	<-it.done
	return nil
}

// ReadDone reports whether the loader has read the whole frame, so that what is left of the
// pass is already in memory (the shuffle buffer and the prefetch queue). A consumer that will
// read the frame again, for the next epoch, can start that pass now: its shuffle buffer then
// fills while this pass drains, instead of while the next one's first batch is awaited.
func (it *BatchIter) ReadDone() bool { return it.read.Load() }

// Stats reports what the consumer has received and how long it waited.
func (it *BatchIter) Stats() Stats {
	s := it.stats
	s.LoadTime = time.Duration(it.load.Load())
	return s
}

type producer struct {
	it   *BatchIter
	conv *converter
	cfg  *batchConfig
	ctx  context.Context
	rng  *tensor.RNG

	// The shuffle buffer, row-major like a chunk, and the rows it will hold when full (fewer
	// than ShuffleBuffer for a frame known to be smaller).
	buf     chunk
	bufRows int
	// The batch being assembled.
	out chunk
}

// readAhead is how many converted record batches the reading goroutine may hold ready for
// the shuffling one. Reading a record batch (decompressing, decoding, converting) takes far
// longer than a training step; one in hand hides that behind the batches being assembled
// from the previous one, where a single goroutine would stall training at every record batch.
const readAhead = 1

func (p *producer) run(df *DataFrame) {
	defer close(p.it.done)
	defer close(p.it.ch)
	// Two stages: one goroutine runs the plan and converts record batches into rows, this one
	// shuffles and assembles batches. Chunks go round between them, so steady state allocates
	// no row storage.
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	chunks := make(chan *chunk, readAhead)
	free := make(chan *chunk, readAhead+2)
	var readErr error
	var readBusy time.Duration
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(chunks)
		start := time.Now()
		var blocked time.Duration
		var rows int64
		readErr = df.Iterate(ctx, func(rec arrow.RecordBatch) error {
			var ch *chunk
			select {
			case ch = <-free:
				*ch = chunk{x: ch.x[:0], yi: ch.yi[:0], yf: ch.yf[:0]}
			default:
				ch = &chunk{}
			}
			if err := p.conv.convert(rec, rows, ch); err != nil {
				return fmt.Errorf("frame: Batches: %w", err)
			}
			rows += int64(ch.n)
			t := time.Now()
			defer func() { blocked += time.Since(t) }()
			select {
			case chunks <- ch:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		readBusy = time.Since(start) - blocked
	}()

	start := time.Now()
	var idle time.Duration // waiting for a chunk or for room in the prefetch queue
	p.it.perr = func() error {
		for {
			t := time.Now()
			ch, ok := <-chunks
			idle += time.Since(t)
			if !ok {
				break
			}
			for r := 0; r < ch.n; r++ {
				if err := p.add(ch, r, &idle); err != nil {
					return err
				}
			}
			select {
			case free <- ch:
			default:
			}
		}
		<-readDone
		if readErr != nil {
			return readErr
		}
		p.it.read.Store(true)
		if p.rng != nil {
			// Drain the buffer in random order.
			for _, r := range p.rng.Perm(p.buf.n) {
				if err := p.emit(&p.buf, r, &idle); err != nil {
					return err
				}
			}
		}
		if p.out.n > 0 && !p.cfg.dropLast {
			return p.send(&idle)
		}
		return nil
	}()
	// Stop the reader (when this stage failed) and wait for it before reporting.
	cancel()
	for range chunks {
	}
	<-readDone
	p.it.load.Store(int64(time.Since(start) - idle + readBusy))
}

// add passes row r of ch through the shuffle buffer (or straight on without shuffling).
func (p *producer) add(ch *chunk, r int, wait *time.Duration) error {
	if p.rng == nil {
		return p.emit(ch, r, wait)
	}
	if p.buf.n < p.cfg.shuffleBuffer {
		if p.buf.n == 0 && p.buf.x == nil {
			// Sized once: growing by doubling would copy a large buffer several times over
			// while the first batch is awaited.
			p.buf.x = make([]float32, 0, p.bufRows*p.conv.width)
			switch p.conv.lkind {
			case intLabel:
				p.buf.yi = make([]int64, 0, p.bufRows)
			case floatLabel, vectorLabel:
				p.buf.yf = make([]float32, 0, p.bufRows*p.conv.lwidth)
			}
		}
		p.buf.appendRow(ch, r, p.conv)
		return nil
	}
	j := p.rng.IntN(p.buf.n)
	if err := p.emit(&p.buf, j, wait); err != nil {
		return err
	}
	p.buf.setRow(j, ch, r, p.conv)
	return nil
}

func (c *chunk) appendRow(src *chunk, r int, conv *converter) {
	w, lw := conv.width, conv.lwidth
	c.x = append(c.x, src.x[r*w:(r+1)*w]...)
	switch conv.lkind {
	case intLabel:
		c.yi = append(c.yi, src.yi[r])
	case floatLabel, vectorLabel:
		c.yf = append(c.yf, src.yf[r*lw:(r+1)*lw]...)
	}
	c.n++
}

func (c *chunk) setRow(i int, src *chunk, r int, conv *converter) {
	w, lw := conv.width, conv.lwidth
	copy(c.x[i*w:(i+1)*w], src.x[r*w:(r+1)*w])
	switch conv.lkind {
	case intLabel:
		c.yi[i] = src.yi[r]
	case floatLabel, vectorLabel:
		copy(c.yf[i*lw:(i+1)*lw], src.yf[r*lw:(r+1)*lw])
	}
}

// emit appends row r of src to the batch being assembled and sends the batch when full.
func (p *producer) emit(src *chunk, r int, wait *time.Duration) error {
	if p.out.n == 0 {
		bs := p.cfg.batchSize
		p.out = chunk{x: make([]float32, 0, bs*p.conv.width)}
		switch p.conv.lkind {
		case intLabel:
			p.out.yi = make([]int64, 0, bs)
		case floatLabel, vectorLabel:
			p.out.yf = make([]float32, 0, bs*p.conv.lwidth)
		}
	}
	p.out.appendRow(src, r, p.conv)
	if p.out.n == p.cfg.batchSize {
		return p.send(wait)
	}
	return nil
}

func (p *producer) send(wait *time.Duration) error {
	n := p.out.n
	x, err := tensor.FromFloat32(p.out.x, append([]int{n}, p.conv.rowShape...)...)
	if err != nil {
		return fmt.Errorf("frame: Batches: %w", err)
	}
	y, err := p.conv.labelTensor(n, p.out.yi, p.out.yf)
	if err != nil {
		return fmt.Errorf("frame: Batches: %w", err)
	}
	p.out = chunk{}
	start := time.Now()
	defer func() { *wait += time.Since(start) }()
	select {
	case p.it.ch <- Batch{X: x, Y: y}:
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}
