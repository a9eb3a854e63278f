package frame

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/deepframe/deepframe/tensor"
)

// kerasDataset repeats keras.Dataset so the test checks the structural match without
// depending on the keras package.
type kerasDataset interface {
	Len() int
	Batch(rows []int) (x []*tensor.Tensor, y []*tensor.Tensor, err error)
}

var _ kerasDataset = (*Dataset)(nil)

func TestToDatasetNumericColumns(t *testing.T) {
	df := must[*DataFrame](t)(FromColumns(
		Col("a", []float64{1, 2, 3}),
		Col("b", []int32{10, 20, 30}),
		Col("c", []bool{true, false, true}),
		Col("label", []int64{2, 0, 1}),
		Col("target", []float64{0.5, 1.5, 2.5}),
	))
	df = must[*DataFrame](t)(df.Repartition(2))
	ds := must[*Dataset](t)(ToDataset(context.Background(), df, []string{"c", "a", "b"}, "label"))
	if ds.Len() != 3 || !slices.Equal(ds.X().Shape(), []int{3, 3}) || ds.X().DType() != tensor.Float32 {
		t.Fatalf("x %v", ds.X())
	}
	if !slices.Equal(ds.X().Float32s(), []float32{1, 1, 10, 0, 2, 20, 1, 3, 30}) {
		t.Errorf("x values %v", ds.X().Float32s())
	}
	if ds.Y().DType() != tensor.Int64 || !slices.Equal(ds.Y().Int64s(), []int64{2, 0, 1}) {
		t.Errorf("y %v", ds.Y())
	}
	x, y, err := ds.Batch([]int{2, 0})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x[0].Float32s(), []float32{1, 3, 30, 1, 1, 10}) || !slices.Equal(y[0].Int64s(), []int64{1, 2}) {
		t.Errorf("batch %v %v", x[0], y[0])
	}
	x, _, _ = ds.Batch([]int{1, 2})
	if !slices.Equal(x[0].Shape(), []int{2, 3}) || x[0].Float32s()[0] != 0 {
		t.Errorf("contiguous batch %v", x[0])
	}
	if s := ds.Stats(); s.Batches != 2 || s.Rows != 4 || s.WaitTime <= 0 {
		t.Errorf("stats %+v", s)
	}
	reg := must[*Dataset](t)(ToDataset(context.Background(), df, []string{"a"}, "target"))
	if reg.Y().DType() != tensor.Float32 || !slices.Equal(reg.Y().Float32s(), []float32{0.5, 1.5, 2.5}) {
		t.Errorf("float label %v", reg.Y())
	}
	noLabel := must[*Dataset](t)(ToDataset(context.Background(), df, []string{"a"}, ""))
	if _, y, _ := noLabel.Batch([]int{0}); y != nil || noLabel.Y() != nil {
		t.Error("a dataset without a label returned y")
	}
}

func TestToDatasetVectorsImagesAndErrors(t *testing.T) {
	df := must[*DataFrame](t)(FromColumns(
		Col("v", [][]float64{{1, 2}, {3, 4}}),
		Col("onehot", [][]float64{{0, 1}, {1, 0}}),
		Col("img", []Image{
			{Origin: "a", Height: 1, Width: 2, Channels: 3, Mode: "RGB", Data: []byte{0, 51, 102, 153, 204, 255}},
			{Origin: "b", Height: 1, Width: 2, Channels: 3, Mode: "RGB", Data: []byte{255, 255, 255, 0, 0, 0}},
		}),
		Col("s", []string{"x", "y"}),
	))
	ctx := context.Background()
	vec := must[*Dataset](t)(ToDataset(ctx, df, []string{"v"}, "onehot"))
	if !slices.Equal(vec.X().Float32s(), []float32{1, 2, 3, 4}) || !slices.Equal(vec.Y().Shape(), []int{2, 2}) || vec.Y().DType() != tensor.Float32 {
		t.Errorf("vector dataset %v %v", vec.X(), vec.Y())
	}
	nhwc := must[*Dataset](t)(ToDataset(ctx, df, []string{"img"}, ""))
	if !slices.Equal(nhwc.X().Shape(), []int{2, 1, 2, 3}) || !slices.Equal(nhwc.X().Float32s()[:6], []float32{0, 0.2, 0.4, 0.6, 0.8, 1}) {
		t.Errorf("NHWC %v", nhwc.X())
	}
	nchw := must[*Dataset](t)(ToDataset(ctx, df, []string{"img"}, "", ChannelsFirst(), PixelScale(1)))
	if !slices.Equal(nchw.X().Shape(), []int{2, 3, 1, 2}) || !slices.Equal(nchw.X().Float32s()[:6], []float32{0, 153, 51, 204, 102, 255}) {
		t.Errorf("NCHW %v", nchw.X())
	}
	flat := must[*Dataset](t)(ToDataset(ctx, df, []string{"img"}, "", Flatten()))
	if !slices.Equal(flat.X().Shape(), []int{2, 6}) {
		t.Errorf("flattened shape %v", flat.X().Shape())
	}
	_, err := ToDataset(ctx, df, []string{"v"}, "s")
	errContains(t, err, `label "s" is a string column; index it`)
	_, err = ToDataset(ctx, df, []string{"v", "onehot"}, "")
	errContains(t, err, "must be the only feature")
	_, err = ToDataset(ctx, df, []string{"s"}, "")
	errContains(t, err, `feature "s" is utf8`)
	_, err = ToDataset(ctx, df, []string{"v"}, "", Shuffle(1))
	errContains(t, err, "ToDataset does not take option Shuffle")

	withNull := must[*DataFrame](t)(FromColumns(Col("k", []int64{1, 2, 3}), Col("x", []float64{1, 2, 3})))
	withNull = must[*DataFrame](t)(withNull.Join(must[*DataFrame](t)(FromColumns(Col("k", []int64{1, 3}), Col("y", []float64{9, 9}))), []string{"k"}, Left))
	_, err = ToDataset(ctx, withNull, []string{"x", "y"}, "")
	errContains(t, err, `frame: ToDataset: column "y" is null in row 1`)
}

// batchRows runs an iterator to the end and returns the ids (first feature) per batch.
func batchIDs(t *testing.T, it *BatchIter) [][]float32 {
	t.Helper()
	defer it.Close()
	var out [][]float32
	for it.Next() {
		b := it.Batch()
		n := b.X.Dim(0)
		w := b.X.Len() / n
		ids := make([]float32, n)
		for i := range ids {
			ids[i] = b.X.Float32s()[i*w]
			if b.Y != nil && float32(b.Y.Int64s()[i]) != ids[i]*2 {
				t.Fatalf("label %d does not belong to row %v", b.Y.Int64s()[i], ids[i])
			}
		}
		out = append(out, ids)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// labelled returns n rows with feature id, feature x and label 2*id, in record batches of
// the given size.
func labelled(t *testing.T, n, batch int) *DataFrame {
	df := numbered(t, n, batch)
	return must[*DataFrame](t)(df.WithColumn("label", arrow.PrimitiveTypes.Int64, []string{"id"}, func(c []arrow.Array) (arrow.Array, error) {
		v, _ := ToFloat64(nil, c[0])
		out := make([]int64, len(v))
		for i := range v {
			out[i] = int64(v[i]) * 2
		}
		return arrayOf(out)
	}))
}

func TestBatchesInOrderAndLastBatch(t *testing.T) {
	ctx := context.Background()
	df := labelled(t, 10, 3)
	keep := batchIDs(t, must[*BatchIter](t)(Batches(ctx, df, []string{"id", "x"}, "label", BatchSize(4))))
	if len(keep) != 3 || !slices.Equal(keep[2], []float32{8, 9}) || !slices.Equal(keep[0], []float32{0, 1, 2, 3}) {
		t.Errorf("kept last batch: %v", keep)
	}
	drop := batchIDs(t, must[*BatchIter](t)(Batches(ctx, df, []string{"id", "x"}, "label", BatchSize(4), DropLast(true))))
	if len(drop) != 2 {
		t.Errorf("dropped last batch: %v", drop)
	}
	it := must[*BatchIter](t)(Batches(ctx, df, []string{"id", "x"}, "label", BatchSize(5), Prefetch(0)))
	it.Next()
	b := it.Batch()
	if !slices.Equal(b.X.Shape(), []int{5, 2}) || !slices.Equal(b.Y.Shape(), []int{5}) || b.X.Float32s()[3] != 0.1 {
		t.Errorf("first batch %v %v", b.X, b.Y)
	}
	it.Close()
	it.Close()
}

func TestBatchesShuffle(t *testing.T) {
	ctx := context.Background()
	const n = 500
	run := func(batch, buffer, prefetch, epoch int, seed uint64) []float32 {
		df := labelled(t, n, batch)
		it := must[*BatchIter](t)(Batches(ctx, df, []string{"id"}, "label", BatchSize(32), Shuffle(seed), ShuffleBuffer(buffer), Prefetch(prefetch), Epoch(epoch)))
		var all []float32
		for _, b := range batchIDs(t, it) {
			all = append(all, b...)
		}
		return all
	}
	ref := run(64, 100, 2, 0, 9)
	sorted := slices.Clone(ref)
	slices.Sort(sorted)
	for i, v := range sorted {
		if v != float32(i) {
			t.Fatalf("an epoch does not hold every row exactly once: sorted[%d] = %v", i, v)
		}
	}
	if slices.IsSorted(ref) {
		t.Fatal("shuffled order is sorted")
	}
	if got := run(7, 100, 0, 0, 9); !slices.Equal(got, ref) {
		t.Error("record batch size or prefetch changed the shuffle order")
	}
	if got := run(64, 100, 2, 1, 9); slices.Equal(got, ref) {
		t.Error("two epochs gave the same order")
	}
	if got := run(64, 100, 2, 0, 10); slices.Equal(got, ref) {
		t.Error("two seeds gave the same order")
	}
	// A buffer as large as the data shuffles globally: some row travels more than half the
	// epoch. A 10-row buffer cannot move a row forward by more than its size.
	maxMove := func(order []float32) (forward, any int) {
		for pos, id := range order {
			forward = max(forward, int(id)-pos)
			any = max(any, int(id)-pos, pos-int(id))
		}
		return forward, any
	}
	if _, moved := maxMove(run(64, n, 2, 0, 9)); moved < n/2 {
		t.Errorf("full-buffer shuffle moved rows at most %d places", moved)
	}
	if forward, _ := maxMove(run(64, 10, 2, 0, 9)); forward > 10 {
		t.Errorf("a 10-row buffer moved a row %d places forward", forward)
	}
}

func TestBatchesCloseEarlyAndErrors(t *testing.T) {
	ctx := context.Background()
	before := runtime.NumGoroutine()
	for i := 0; i < 5; i++ {
		it := must[*BatchIter](t)(Batches(ctx, labelled(t, 1000, 10), []string{"id"}, "label", BatchSize(2), Prefetch(1)))
		it.Next()
		it.Close()
		if it.Next() {
			t.Error("Next after Close returned a batch")
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines after closing iterators, %d before", g, before)
	}

	boom := errors.New("disk on fire")
	bad := must[*DataFrame](t)(labelled(t, 100, 10).MapBatches(labelled(t, 1, 1).Schema(), func(r arrow.RecordBatch) (arrow.RecordBatch, error) {
		if r.Column(0).(interface{ Value(int) int64 }).Value(0) >= 50 {
			return nil, boom
		}
		return r, nil
	}))
	it := must[*BatchIter](t)(Batches(ctx, bad, []string{"id"}, "label", BatchSize(8)))
	got := 0
	for it.Next() {
		got += it.Batch().X.Dim(0)
	}
	if !errors.Is(it.Err(), boom) || got > 50 {
		t.Errorf("after %d rows: err %v", got, it.Err())
	}
	it.Close()

	cctx, cancel := context.WithCancel(ctx)
	it = must[*BatchIter](t)(Batches(cctx, labelled(t, 1000, 10), []string{"id"}, "label"))
	cancel()
	for it.Next() {
	}
	if !errors.Is(it.Err(), context.Canceled) {
		t.Errorf("cancelled stream ended with %v", it.Err())
	}
}

// TestBatchesPrefetchOverlapsConsumer checks that the loader works while the consumer
// computes: with a consumer slower than the loader, the consumer barely waits.
func TestBatchesPrefetchOverlapsConsumer(t *testing.T) {
	df := must[*DataFrame](t)(labelled(t, 4000, 500).Collect(context.Background()))
	it := must[*BatchIter](t)(Batches(context.Background(), df, []string{"id", "x"}, "label", BatchSize(200), Prefetch(4)))
	defer it.Close()
	steps := 0
	for it.Next() {
		time.Sleep(5 * time.Millisecond) // a training step
		steps++
	}
	s := it.Stats()
	if steps != 20 || s.Batches != 20 || s.Rows != 4000 {
		t.Fatalf("stats %+v after %d steps", s, steps)
	}
	t.Logf("waited %v over %d steps; loader busy %v", s.WaitTime, steps, s.LoadTime)
	if s.WaitTime > 100*time.Millisecond {
		t.Errorf("consumer waited %v for data across %d steps of 5ms; prefetch is not overlapping", s.WaitTime, steps)
	}
}

func TestFeatureTensor(t *testing.T) {
	df := must[*DataFrame](t)(FromColumns(Col("a", []float64{1, 2}), Col("b", []int64{3, 4}), Col("s", []string{"x", "y"})))
	recs := must[[]arrow.RecordBatch](t)(df.Records(context.Background()))
	defer releaseAll(recs)
	x := must[*tensor.Tensor](t)(FeatureTensor(recs[0], []string{"b", "a"}))
	if !slices.Equal(x.Shape(), []int{2, 2}) || !slices.Equal(x.Float32s(), []float32{3, 1, 4, 2}) {
		t.Errorf("FeatureTensor %v", x)
	}
	_, err := FeatureTensor(recs[0], []string{"s"})
	errContains(t, err, `frame: FeatureTensor: feature "s" is utf8`)
}
