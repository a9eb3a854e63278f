package layers

import (
	"encoding/json"
	"errors"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// inputsOK checks the variables a merge layer got.
func (b *Base) inputsOK(inputs []*autograd.Variable) error {
	if len(inputs) == 0 {
		return b.errorf("takes at least 1 input, got none")
	}
	for i, x := range inputs {
		if x == nil {
			return b.errorf("input %d is nil", i)
		}
		if err := x.Err(); err != nil {
			return b.wrap(err)
		}
	}
	return nil
}

// ConcatenateLayer joins its inputs along one axis.
type ConcatenateLayer struct {
	Base
	axis int
}

// ConcatenateConfig is the saved form of a ConcatenateLayer.
type ConcatenateConfig struct {
	BaseConfig
	Axis int `json:"axis"`
}

// Concatenate makes a layer joining its inputs along Axis (default -1, the last), counted as
// Keras counts it, with the batch axis as 0. The other axes must agree.
func Concatenate(opts ...Option) *ConcatenateLayer {
	o := Collect(opts)
	l := &ConcatenateLayer{axis: -1}
	if o.Axis != nil {
		l.axis = *o.Axis
	}
	l.Init(l, "Concatenate", o)
	l.SetErr(o.Unused("Concatenate", "axis"))
	if l.axis == 0 {
		l.SetErr(errors.New("axis 0 is the batch axis; samples cannot be concatenated along it"))
	}
	return l
}

// sampleAxis resolves the Keras axis for samples of rank r to an index into the sample shape.
func (l *ConcatenateLayer) sampleAxis(r int) (int, error) {
	a := l.axis
	if a < 0 {
		a += r + 1
	}
	if a < 1 || a > r {
		return 0, l.errorf("axis %d is out of range for inputs of rank %d (with batch)", l.axis, r+1)
	}
	return a - 1, nil
}

func (l *ConcatenateLayer) ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error) {
	if len(inputShapes) == 0 {
		return nil, l.errorf("takes at least 1 input, got none")
	}
	first := inputShapes[0]
	a, err := l.sampleAxis(len(first))
	if err != nil {
		return nil, err
	}
	out := first.Clone()
	for i, s := range inputShapes[1:] {
		if len(s) != len(first) {
			return nil, l.errorf("input %d has shape %v, input 0 has %v: ranks differ", i+1, s, first)
		}
		for j := range s {
			if j == a {
				if !knownDim(out[j]) || !knownDim(s[j]) {
					out[j] = -1
				} else {
					out[j] += s[j]
				}
				continue
			}
			if knownDim(s[j]) && knownDim(out[j]) && s[j] != out[j] {
				return nil, l.errorf("input %d has shape %v, input 0 has %v: axis %d differs and is not the concatenation axis", i+1, s, first, j+1)
			}
			if !knownDim(out[j]) {
				out[j] = s[j]
			}
		}
	}
	return out, nil
}

func (l *ConcatenateLayer) Build(inputShapes []tensor.Shape, rng *tensor.RNG) error {
	return buildStateless(&l.Base, l, inputShapes)
}

func (l *ConcatenateLayer) Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error) {
	if l.err != nil {
		return nil, l.err
	}
	if err := l.inputsOK(inputs); err != nil {
		return nil, err
	}
	r := inputs[0].Value().Rank()
	a, err := l.sampleAxis(r - 1)
	if err != nil {
		return nil, err
	}
	if len(inputs) == 1 {
		return inputs[0], nil
	}
	return l.result(autograd.Concat(a+1, inputs...))
}

func (l *ConcatenateLayer) Config() any {
	return ConcatenateConfig{BaseConfig: l.BaseConfig(), Axis: l.axis}
}

// AddLayer sums its inputs element-wise; shapes must match or broadcast.
type AddLayer struct{ Base }

// AddConfig is the saved form of an AddLayer.
type AddConfig struct{ BaseConfig }

// Add makes a layer summing its inputs (e.g. a residual connection). Options: the common ones.
func Add(opts ...Option) *AddLayer {
	o := Collect(opts)
	l := &AddLayer{}
	l.Init(l, "Add", o)
	l.SetErr(o.Unused("Add"))
	return l
}

func (l *AddLayer) ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error) {
	if len(inputShapes) == 0 {
		return nil, l.errorf("takes at least 1 input, got none")
	}
	out := inputShapes[0].Clone()
	for i, s := range inputShapes[1:] {
		b, ok := broadcastSample(out, s)
		if !ok {
			return nil, l.errorf("input %d has shape %v, which does not broadcast with %v", i+1, s, out)
		}
		out = b
	}
	return out, nil
}

// broadcastSample is NumPy broadcasting of sample shapes in which -1 (unknown) matches any
// size.
func broadcastSample(a, b tensor.Shape) (tensor.Shape, bool) {
	n := max(len(a), len(b))
	out := make(tensor.Shape, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		case !knownDim(da):
			out[i] = db
		case !knownDim(db):
			out[i] = da
		default:
			return nil, false
		}
	}
	return out, true
}

func (l *AddLayer) Build(inputShapes []tensor.Shape, rng *tensor.RNG) error {
	return buildStateless(&l.Base, l, inputShapes)
}

func (l *AddLayer) Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error) {
	if l.err != nil {
		return nil, l.err
	}
	if err := l.inputsOK(inputs); err != nil {
		return nil, err
	}
	y := inputs[0]
	for _, x := range inputs[1:] {
		y = autograd.Add(y, x)
	}
	return l.result(y)
}

func (l *AddLayer) Config() any { return AddConfig{BaseConfig: l.BaseConfig()} }

func init() {
	Register("Concatenate", func(raw json.RawMessage) (Layer, error) {
		cfg := ConcatenateConfig{BaseConfig: BaseConfig{Trainable: true}, Axis: -1}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		return built(Concatenate(append(cfg.BaseConfig.Options(), Axis(cfg.Axis))...))
	})
	Register("Add", func(raw json.RawMessage) (Layer, error) {
		cfg := AddConfig{BaseConfig: BaseConfig{Trainable: true}}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		return built(Add(cfg.BaseConfig.Options()...))
	})
}
