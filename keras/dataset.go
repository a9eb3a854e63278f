package keras

import (
	"errors"
	"fmt"

	"github.com/deepframe/deepframe/tensor"
)

// Dataset is what Fit and Evaluate read: rows addressed by index, batched on request. Fit
// decides the order (shuffling) and batch size and asks for the rows of each batch, so a
// Dataset only has to gather rows. Data frames and other sources implement it outside this
// package. A source that cannot be read by index, or is cheaper to read in passes, also
// implements BatchStream, which Fit and Evaluate then use instead of Batch.
type Dataset interface {
	// Len is the number of rows; a BatchStream may return -1 when it does not know.
	Len() int
	// Batch returns the given rows: x holds one tensor per model input and y one per model
	// output, each with len(rows) as its first axis. A source without targets returns no y.
	Batch(rows []int) (x []*tensor.Tensor, y []*tensor.Tensor, err error)
}

type tensorDataset struct {
	xs, ys []*tensor.Tensor
	n      int
}

// NewTensorDataset serves rows of x (samples along the first axis) with targets y. y may be
// nil for data that is only predicted.
func NewTensorDataset(x, y *tensor.Tensor) (Dataset, error) {
	if x == nil {
		return nil, errors.New("keras: NewTensorDataset: x is nil")
	}
	var ys []*tensor.Tensor
	if y != nil {
		ys = []*tensor.Tensor{y}
	}
	return NewMultiTensorDataset([]*tensor.Tensor{x}, ys)
}

// NewMultiTensorDataset serves rows of several inputs xs and targets ys (one per model input
// and output, in the model's order); every tensor must have the same number of rows.
func NewMultiTensorDataset(xs, ys []*tensor.Tensor) (Dataset, error) {
	if len(xs) == 0 {
		return nil, errors.New("keras: dataset needs at least one x tensor")
	}
	d := &tensorDataset{xs: append([]*tensor.Tensor(nil), xs...), ys: append([]*tensor.Tensor(nil), ys...), n: -1}
	check := func(kind string, i int, t *tensor.Tensor) error {
		if t == nil {
			return fmt.Errorf("keras: dataset %s[%d] is nil", kind, i)
		}
		if t.Rank() == 0 {
			return fmt.Errorf("keras: dataset %s[%d] is a scalar; want rows along the first axis", kind, i)
		}
		if d.n < 0 {
			d.n = t.Dim(0)
			return nil
		}
		if t.Dim(0) != d.n {
			return fmt.Errorf("keras: dataset %s[%d] has %d rows but x[0] has %d (shapes %v and %v)", kind, i, t.Dim(0), d.n, t.Shape(), xs[0].Shape())
		}
		return nil
	}
	for i, t := range xs {
		if err := check("x", i, t); err != nil {
			return nil, err
		}
	}
	for i, t := range ys {
		if err := check("y", i, t); err != nil {
			if len(xs) == 1 && len(ys) == 1 && t != nil && t.Rank() > 0 {
				return nil, fmt.Errorf("keras: dataset x has %d rows but y has %d (shapes %v and %v)", d.n, t.Dim(0), xs[0].Shape(), t.Shape())
			}
			return nil, err
		}
	}
	return d, nil
}

func (d *tensorDataset) Len() int { return d.n }

func (d *tensorDataset) Batch(rows []int) ([]*tensor.Tensor, []*tensor.Tensor, error) {
	x := make([]*tensor.Tensor, len(d.xs))
	y := make([]*tensor.Tensor, len(d.ys))
	for i, t := range d.xs {
		b, err := gatherRows(t, rows)
		if err != nil {
			return nil, nil, fmt.Errorf("keras: dataset x[%d]: %w", i, err)
		}
		x[i] = b
	}
	for i, t := range d.ys {
		b, err := gatherRows(t, rows)
		if err != nil {
			return nil, nil, fmt.Errorf("keras: dataset y[%d]: %w", i, err)
		}
		y[i] = b
	}
	return x, y, nil
}

// gatherRows avoids a copy when rows are consecutive (unshuffled batches, Evaluate): a view
// of the source rows is enough, since training never writes into its inputs.
func gatherRows(t *tensor.Tensor, rows []int) (*tensor.Tensor, error) {
	if len(rows) > 0 {
		contiguous := true
		for i := 1; i < len(rows); i++ {
			if rows[i] != rows[0]+i {
				contiguous = false
				break
			}
		}
		if contiguous && rows[0] >= 0 && rows[0]+len(rows) <= t.Dim(0) {
			return t.Slice(rows[0], rows[0]+len(rows))
		}
	}
	return t.Gather(rows)
}

// subset is a contiguous range of another dataset's rows (ValidationSplit's two parts).
type subset struct {
	d          Dataset
	start, len int
}

func (s *subset) Len() int { return s.len }

func (s *subset) Batch(rows []int) ([]*tensor.Tensor, []*tensor.Tensor, error) {
	mapped := make([]int, len(rows))
	for i, r := range rows {
		if r < 0 || r >= s.len {
			return nil, nil, fmt.Errorf("keras: row %d out of range [0, %d)", r, s.len)
		}
		mapped[i] = s.start + r
	}
	return s.d.Batch(mapped)
}

// splitTail divides d as Keras's validation_split does: the last fraction of the rows, taken
// before any shuffling, validates; the rest trains.
func splitTail(d Dataset, fraction float64) (train, valid Dataset, err error) {
	if !(fraction > 0 && fraction < 1) {
		return nil, nil, fmt.Errorf("keras: ValidationSplit(%v): want a fraction in (0, 1)", fraction)
	}
	n := d.Len()
	cut := int(float64(n) * (1 - fraction))
	if cut <= 0 || cut >= n {
		return nil, nil, fmt.Errorf("keras: ValidationSplit(%v) of %d rows leaves %d for training and %d for validation; both need at least one", fraction, n, cut, n-cut)
	}
	return &subset{d: d, start: 0, len: cut}, &subset{d: d, start: cut, len: n - cut}, nil
}
