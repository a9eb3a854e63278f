package losses

import (
	"fmt"
	"math"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// epsilon keeps probabilities inside (0, 1) before a log, as Keras's backend.epsilon().
const epsilon = 1e-7

type ceKind uint8

const (
	sparseCE ceKind = iota
	categoricalCE
	binaryCE
)

type crossEntropy struct {
	kind ceKind
	s    settings
	err  error
}

// SparseCategoricalCrossEntropy scores class-index labels against per-class predictions:
// yTrue [N] or [N, 1] (any dtype holding whole numbers), yPred [N, C]; more leading axes work
// too ([N, T] labels against [N, T, C]). Options: FromLogits, LabelSmoothing.
//
// From probabilities it does what Keras does: rows are renormalised to sum to 1, clipped to
// [1e-7, 1−1e-7], and the loss is −log of the labelled class.
func SparseCategoricalCrossEntropy(opts ...Option) Loss {
	return newCE(sparseCE, opts)
}

// CategoricalCrossEntropy scores one-hot (or soft) targets against per-class predictions of the
// same shape [N, C]. Options: FromLogits, LabelSmoothing. From probabilities it renormalises and
// clips like SparseCategoricalCrossEntropy, then takes −Σ t·log p per row.
func CategoricalCrossEntropy(opts ...Option) Loss {
	return newCE(categoricalCE, opts)
}

// BinaryCrossEntropy scores targets in [0, 1] against probabilities (or logits, with FromLogits)
// of the same shape; [N] against [N, 1] is accepted either way round. From probabilities they
// are clipped to [1e-7, 1−1e-7] before the logs. Options: FromLogits, LabelSmoothing.
func BinaryCrossEntropy(opts ...Option) Loss {
	return newCE(binaryCE, opts)
}

func newCE(kind ceKind, opts []Option) Loss {
	l := &crossEntropy{kind: kind}
	l.s, l.err = build(l.Name(), optFromLogits|optLabelSmoothing, opts)
	return l
}

func (l *crossEntropy) Err() error { return l.err }

func (l *crossEntropy) Name() string {
	switch l.kind {
	case sparseCE:
		return "sparse_categorical_crossentropy"
	case categoricalCE:
		return "categorical_crossentropy"
	}
	return "binary_crossentropy"
}

func (l *crossEntropy) Config() Config {
	class := map[ceKind]string{sparseCE: "SparseCategoricalCrossentropy", categoricalCE: "CategoricalCrossentropy", binaryCE: "BinaryCrossentropy"}[l.kind]
	return Config{ClassName: class, Config: map[string]any{"from_logits": l.s.fromLogits, "label_smoothing": l.s.labelSmoothing}}
}

func (l *crossEntropy) fail(format string, args ...any) *autograd.Variable {
	return autograd.Errorf("losses: %s: "+format, append([]any{l.Name()}, args...)...)
}

func (l *crossEntropy) Compute(yTrue *tensor.Tensor, yPred *autograd.Variable) *autograd.Variable {
	if v := precheck(l.err, l.Name(), yTrue, yPred); v != nil {
		return v
	}
	switch l.kind {
	case sparseCE:
		return l.sparse(yTrue, yPred)
	case categoricalCE:
		ps := yPred.Shape()
		if len(ps) < 2 || ps[len(ps)-1] < 1 {
			return l.fail("predictions have shape %v, want [batch, classes]", ps)
		}
		if !yTrue.Shape().Equal(ps) {
			hint := ""
			if fitsSparse(yTrue.Shape(), ps) {
				hint = " (these look like class indices: use sparse_categorical_crossentropy)"
			}
			return l.fail("targets %v and predictions %v: want the same shape%s", yTrue.Shape(), ps, hint)
		}
		c := ps[len(ps)-1]
		rows := ps.Size() / c
		ar := yPred.Arena()
		t := asTarget(ar, yTrue, tensor.Shape{rows, c}, float32(l.s.labelSmoothing), c)
		return l.categorical(asRows(yPred, rows, c), t, rows)
	default:
		return l.binary(yTrue, yPred)
	}
}

// fitsSparse reports whether labels of shape ts can index predictions of shape ps: ts is ps
// without its class axis, optionally with a trailing 1.
func fitsSparse(ts, ps tensor.Shape) bool {
	if len(ps) < 2 {
		return false
	}
	lead := ps[:len(ps)-1]
	return ts.Equal(lead) || len(ts) == len(ps) && ts[len(ts)-1] == 1 && ts[:len(ts)-1].Equal(lead)
}

func (l *crossEntropy) sparse(yTrue *tensor.Tensor, yPred *autograd.Variable) *autograd.Variable {
	ps, ts := yPred.Shape(), yTrue.Shape()
	if len(ps) < 2 || ps[len(ps)-1] < 1 {
		return l.fail("predictions have shape %v, want [batch, classes]", ps)
	}
	lead := ps[:len(ps)-1]
	if !fitsSparse(ts, ps) {
		hint := ""
		if ts.Equal(ps) {
			hint = " (these look one-hot: use categorical_crossentropy)"
		}
		return l.fail("labels %v do not fit predictions %v: want %v or %v, one class index per row%s",
			ts, ps, lead, append(lead.Clone(), 1), hint)
	}
	c := ps[len(ps)-1]
	rows := lead.Size()
	// Checked here, not copied: autograd.SparseSoftmaxCrossEntropy reads the labels in any
	// dtype itself (into its arena), and the probabilities path writes them into its target.
	for r := 0; r < rows; r++ {
		v := yTrue.Float64Flat(r)
		if v != math.Trunc(v) {
			return l.fail("label %v in row %d is not a whole number", v, r)
		}
		if v < 0 || v >= float64(c) {
			return l.fail("label %v in row %d is out of range for %d classes (predictions %v)", v, r, c, ps)
		}
	}
	if rows == 0 {
		return l.fail("empty batch (predictions %v)", ps)
	}
	pred := asRows(yPred, rows, c)
	if l.s.fromLogits && l.s.labelSmoothing == 0 {
		labels := yTrue
		if len(ts) > 2 || len(ts) == 2 && ts[1] != 1 {
			// Labels [N, T] for predictions [N, T, C]: the fused op wants one row of labels,
			// copied into the arena as float32, which holds every class index exactly up to
			// 2²⁴ classes (beyond, a reshaped view, which allocates).
			if c <= 1<<24 {
				labels = yPred.Arena().Zeros(rows)
				lv := labels.Float32s()
				for r := range lv {
					lv[r] = float32(yTrue.Float64Flat(r))
				}
			} else {
				labels, _ = yTrue.Reshape(rows)
			}
		}
		return autograd.MeanAll(autograd.SparseSoftmaxCrossEntropy(pred, labels))
	}
	// Smoothing spreads mass over every class, so the target is a dense matrix anyway. It is
	// taken from the step's arena, which recycles it.
	ls := float32(l.s.labelSmoothing)
	t := yPred.Arena().Zeros(rows, c)
	tv := t.Float32s()
	if ls != 0 {
		t.Fill(ls / float32(c))
	}
	for r := 0; r < rows; r++ {
		tv[r*c+int(yTrue.Float64Flat(r))] += 1 - ls
	}
	return l.categorical(pred, t, rows)
}

// asTarget returns yTrue as a float32 tensor of the given shape (same element order), with
// label smoothing ls over k classes applied: yTrue itself when that changes nothing, else a
// copy from the arena (the heap when ar is nil), so a training step makes none of its own.
func asTarget(ar *autograd.Arena, yTrue *tensor.Tensor, shape tensor.Shape, ls float32, k int) *tensor.Tensor {
	if ls == 0 && yTrue.DType() == tensor.Float32 && yTrue.Shape().Equal(shape) {
		return yTrue
	}
	t := ar.Zeros(shape...)
	tv := t.Float32s()
	for i := range tv {
		tv[i] = float32(yTrue.Float64Flat(i))
	}
	if ls > 0 {
		for i, v := range tv {
			tv[i] = v*(1-ls) + ls/float32(k)
		}
	}
	return t
}

// categorical is the mean over rows of −Σ t·log p for pred [rows, c] and a float32 target of the
// same shape.
func (l *crossEntropy) categorical(pred *autograd.Variable, t *tensor.Tensor, rows int) *autograd.Variable {
	if rows == 0 {
		return l.fail("empty batch (predictions %v)", pred.Shape())
	}
	ct := pred.Arena().Constant(t)
	if l.s.fromLogits {
		return autograd.MeanAll(autograd.SoftmaxCrossEntropy(pred, ct))
	}
	p := autograd.Div(pred, autograd.Sum(pred, classAxis, true))
	p = autograd.Clip(p, epsilon, 1-epsilon)
	return autograd.MulScalar(autograd.SumAll(autograd.Mul(ct, autograd.Log(p))), -1/float32(rows))
}

// classAxis is the axis Sum normalises rows over; a literal per call would escape to the heap.
var classAxis = []int{1}

func (l *crossEntropy) binary(yTrue *tensor.Tensor, yPred *autograd.Variable) *autograd.Variable {
	ar := yPred.Arena()
	t, err := fitTarget(ar, l.Name(), yTrue, yPred.Shape(), float32(l.s.labelSmoothing), 2)
	if err != nil {
		return autograd.Failed(err)
	}
	n := t.Len()
	if n == 0 {
		return l.fail("empty batch (predictions %v)", yPred.Shape())
	}
	if l.s.fromLogits {
		return autograd.MeanAll(autograd.SigmoidCrossEntropy(yPred, ar.Constant(t)))
	}
	u := ar.Zeros(t.Shape()...) // 1 − t
	uv := u.Float32s()
	for i, v := range t.Float32s() {
		uv[i] = 1 - v
	}
	p := autograd.Clip(yPred, epsilon, 1-epsilon)
	pos := autograd.Mul(ar.Constant(t), autograd.Log(p))
	neg := autograd.Mul(ar.Constant(u), autograd.Log(autograd.AddScalar(autograd.Neg(p), 1)))
	return autograd.MulScalar(autograd.SumAll(autograd.Add(pos, neg)), -1/float32(n))
}

// asRows views predictions [..., c] as [rows, c], which is what the fused ops take.
func asRows(v *autograd.Variable, rows, c int) *autograd.Variable {
	if len(v.Shape()) == 2 {
		return v
	}
	return autograd.Reshape(v, rows, c)
}

// precheck catches what every loss must refuse before looking at shapes: a construction error,
// missing inputs, and a prediction that already carries an error (passed on unchanged, so the
// first failure is the one reported).
func precheck(err error, name string, yTrue *tensor.Tensor, yPred *autograd.Variable) *autograd.Variable {
	switch {
	case err != nil:
		return autograd.Failed(err)
	case yPred == nil:
		return autograd.Errorf("losses: %s: predictions are nil", name)
	case yPred.Err() != nil:
		return yPred
	case yPred.Value() == nil:
		return autograd.Errorf("losses: %s: predictions have no value", name)
	case yTrue == nil:
		return autograd.Errorf("losses: %s: targets are nil", name)
	}
	return nil
}

// fitTarget returns yTrue as float32 in the predictions' shape, smoothed by ls over k classes
// (see asTarget). Equal shapes fit, and so do shapes that differ only by a trailing axis of 1
// ([N] against [N, 1]), as Keras squeezes them.
func fitTarget(ar *autograd.Arena, name string, yTrue *tensor.Tensor, ps tensor.Shape, ls float32, k int) (*tensor.Tensor, error) {
	ts := yTrue.Shape()
	fits := ts.Equal(ps) ||
		len(ts) == len(ps)+1 && ts[len(ts)-1] == 1 && ts[:len(ps)].Equal(ps) ||
		len(ps) == len(ts)+1 && ps[len(ps)-1] == 1 && ps[:len(ts)].Equal(ts)
	if !fits {
		return nil, fmt.Errorf("losses: %s: targets %v and predictions %v: want the same shape", name, ts, ps)
	}
	return asTarget(ar, yTrue, ps, ls, k), nil
}

// LogitsTwin returns, for a categorical cross-entropy computed from probabilities, the same
// loss computed from logits. A model whose output is a softmax trains on the twin with the
// softmax's input instead: one fused, numerically exact softmax-cross-entropy in place of a
// softmax, a clip and a log (and their three backwards). Other losses have no twin.
func LogitsTwin(l Loss) (Loss, bool) {
	ce, ok := l.(*crossEntropy)
	if !ok || ce.err != nil || ce.s.fromLogits || ce.kind == binaryCE {
		return nil, false
	}
	twin := &crossEntropy{kind: ce.kind, s: ce.s}
	twin.s.fromLogits = true
	return twin, true
}
