package keras

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/deepframe/deepframe/tensor"
)

// BatchStream is an optional interface for a Dataset that is read in passes, a batch at a
// time, rather than by row: a frame larger than memory, a generator, a reader of files. It
// plays the part io.WriterTo plays for io.Copy: Fit and Evaluate look for it, and when the
// dataset has it they read each pass from Stream in the stream's own order instead of asking
// Batch for rows, so the dataset needs memory for a few batches only. Batch is then never
// called and may simply return an error; Len may return -1 when the number of rows is not
// known in advance (progress then shows no totals and no ETA).
//
// Fit opens one stream per epoch. epoch counts every epoch the model has trained, across Fit
// calls, as the model's own shuffle does; a stream that shuffles should derive its order
// from its own seed and epoch alone, which keeps training deterministic. Evaluate, and the
// validation after each epoch, open one stream with epoch 0. batchSize is the BatchSize
// option: every batch should have that many rows except perhaps the last, since a step on a
// batch shaped like the previous one reuses its buffers, but Fit trains on whatever non-empty
// batches it is given.
//
// The Shuffle option does not apply: the stream decides the order. ValidationSplit needs
// random access to hold rows out, so a streaming training set takes ValidationData instead.
type BatchStream interface {
	Stream(ctx context.Context, epoch, batchSize int) (BatchIterator, error)
}

// BatchIterator is one pass of a BatchStream.
type BatchIterator interface {
	// Next returns the next batch: x holds one tensor per model input and y one per model
	// output, all with the batch's rows along the first axis. After the last batch it returns
	// io.EOF. Fit may keep the tensors after the next call (metrics may hold targets), so
	// each batch must be the caller's to keep.
	Next() (x, y []*tensor.Tensor, err error)
	// Close ends the pass and releases what the iterator holds (a loader goroutine, open
	// files). Fit calls it once, also when it stops before the end of the pass.
	Close() error
}

// DataWaitKey is the log and history key under which Fit reports, for every epoch, the
// seconds its training steps spent waiting for their batches: inside Dataset.Batch or
// BatchIterator.Next. An input pipeline that keeps up keeps it near zero; see
// History.DataWait and History.StepTime for the totals.
const DataWaitKey = "data_wait_s"

// NewStreamDataset makes a streaming Dataset from open, which starts one pass (see
// BatchStream). rows is the number of rows in a pass, or -1 when unknown.
func NewStreamDataset(rows int, open func(ctx context.Context, epoch, batchSize int) (BatchIterator, error)) Dataset {
	return &funcStream{rows: rows, open: open}
}

type funcStream struct {
	rows int
	open func(ctx context.Context, epoch, batchSize int) (BatchIterator, error)
}

func (f *funcStream) Len() int { return f.rows }

func (f *funcStream) Batch([]int) ([]*tensor.Tensor, []*tensor.Tensor, error) {
	return nil, nil, errors.New("keras: a stream dataset is read with Stream, not by row")
}

func (f *funcStream) Stream(ctx context.Context, epoch, batchSize int) (BatchIterator, error) {
	if f.open == nil {
		return nil, errors.New("keras: NewStreamDataset: nil open function")
	}
	return f.open(ctx, epoch, batchSize)
}

// streamOf returns d's BatchStream, or nil when d is read by row.
func streamOf(d Dataset) BatchStream {
	s, _ := d.(BatchStream)
	return s
}

// batchReader hands out the batches of one pass over a dataset: rows in the given order
// through Batch, or a stream's batches as they come. One reader serves every pass of a Fit
// or an evaluation, so the random-access path allocates nothing for it per step.
type batchReader struct {
	data      Dataset
	batchSize int
	// Random access: the rows of a pass in visiting order, or with order nil rows 0..n-1 in
	// turn, gathered into buf.
	order []int
	n     int
	buf   []int
	pos   int
	it    BatchIterator // streaming: the open pass
}

// open starts a pass. For random access, order (when not nil) holds the rows to visit, which
// the caller fills; for a stream, open opens the stream for epoch.
func (r *batchReader) open(ctx context.Context, epoch int) error {
	r.pos = 0
	s := streamOf(r.data)
	if s == nil {
		return nil
	}
	it, err := s.Stream(ctx, epoch, r.batchSize)
	if err != nil {
		return fmt.Errorf("opening the stream: %w", err)
	}
	if it == nil {
		return errors.New("opening the stream: Stream returned no iterator")
	}
	r.it = it
	return nil
}

// next returns the next batch and its row count, or io.EOF at the end of the pass.
func (r *batchReader) next() (x, y []*tensor.Tensor, rows int, err error) {
	if r.it == nil {
		if r.pos >= r.n {
			return nil, nil, 0, io.EOF
		}
		end := min(r.pos+r.batchSize, r.n)
		var rs []int
		if r.order != nil {
			rs = r.order[r.pos:end]
		} else {
			rs = r.buf[:0]
			for i := r.pos; i < end; i++ {
				rs = append(rs, i)
			}
			r.buf = rs
		}
		r.pos = end
		x, y, err = r.data.Batch(rs)
		return x, y, len(rs), err
	}
	x, y, err = r.it.Next()
	if err != nil {
		return nil, nil, 0, err
	}
	if len(x) == 0 || x[0] == nil || x[0].Rank() == 0 {
		return nil, nil, 0, errors.New("the stream returned a batch with no input tensor with rows")
	}
	if rows = x[0].Dim(0); rows == 0 {
		return nil, nil, 0, errors.New("the stream returned an empty batch")
	}
	return x, y, rows, nil
}

// close ends a streamed pass; reading by row needs nothing.
func (r *batchReader) close() error {
	if r.it == nil {
		return nil
	}
	err := r.it.Close()
	r.it = nil
	return err
}
