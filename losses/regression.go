package losses

import (
	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

type regKind uint8

const (
	mse regKind = iota
	mae
	huber
)

type regression struct {
	kind regKind
	s    settings
	err  error
}

// MeanSquaredError is the mean of (yPred − yTrue)² over all elements.
func MeanSquaredError() Loss { return &regression{kind: mse} }

// MeanAbsoluteError is the mean of |yPred − yTrue| over all elements.
func MeanAbsoluteError() Loss { return &regression{kind: mae} }

// Huber is quadratic for errors up to Delta (default 1) and linear beyond: with a = |yPred −
// yTrue|, ½a² when a ≤ δ, else δ·(a − ½δ); the mean over all elements.
func Huber(opts ...Option) Loss {
	l := &regression{kind: huber}
	l.s, l.err = build(l.Name(), optDelta, opts)
	return l
}

func (l *regression) Err() error { return l.err }

func (l *regression) Name() string {
	return [...]string{"mean_squared_error", "mean_absolute_error", "huber"}[l.kind]
}

func (l *regression) Config() Config {
	switch l.kind {
	case mse:
		return Config{ClassName: "MeanSquaredError"}
	case mae:
		return Config{ClassName: "MeanAbsoluteError"}
	}
	return Config{ClassName: "Huber", Config: map[string]any{"delta": l.s.delta}}
}

func (l *regression) Compute(yTrue *tensor.Tensor, yPred *autograd.Variable) *autograd.Variable {
	if v := precheck(l.err, l.Name(), yTrue, yPred); v != nil {
		return v
	}
	ar := yPred.Arena()
	t, err := fitTarget(ar, l.Name(), yTrue, yPred.Shape(), 0, 0)
	if err != nil {
		return autograd.Failed(err)
	}
	if t.Len() == 0 {
		return autograd.Errorf("losses: %s: empty batch (predictions %v)", l.Name(), yPred.Shape())
	}
	diff := autograd.Sub(yPred, ar.Constant(t))
	switch l.kind {
	case mse:
		return autograd.MeanAll(autograd.Square(diff))
	case mae:
		return autograd.MeanAll(autograd.Abs(diff))
	}
	d := float32(l.s.delta)
	a := autograd.Abs(diff)
	q := autograd.Clip(a, 0, d) // min(a, δ): the quadratic part
	lin := autograd.Sub(a, q)   // what lies beyond δ
	return autograd.MeanAll(autograd.Add(autograd.MulScalar(autograd.Square(q), 0.5), autograd.MulScalar(lin, d)))
}
