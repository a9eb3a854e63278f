package layers

import (
	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/backend"
)

// LogitsCaller is implemented by layers whose output can end in a softmax. A model trained
// with a cross-entropy on probabilities asks its softmax output layers for their logits
// instead and trains on the fused softmax-cross-entropy (see losses.LogitsTwin): faster, and
// exact where probabilities underflow.
type LogitsCaller interface {
	// CallLogits runs the layer without its final softmax. ok is false when the layer's
	// output is not a softmax of what it would return (another activation, or an activity
	// regularizer that must see the probabilities); the caller then uses Call.
	CallLogits(ctx *Context, inputs []*autograd.Variable) (logits *autograd.Variable, ok bool, err error)
}

func (l *DenseLayer) CallLogits(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, bool, error) {
	if l.activation != "softmax" || l.activityReg != nil {
		return nil, false, nil
	}
	if err := l.needBuilt(); err != nil {
		return nil, false, err
	}
	x, err := l.oneInput(inputs)
	if err != nil {
		return nil, false, err
	}
	var b *autograd.Variable
	if l.bias != nil {
		b = ctx.Param(l.bias)
	}
	y, err := l.result(autograd.Dense(x, ctx.Param(l.kernel), b, backend.ActNone))
	return y, err == nil, err
}

func (l *ActivationLayer) CallLogits(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, bool, error) {
	if l.ActivationName() != "softmax" {
		return nil, false, nil
	}
	x, err := l.oneInput(inputs)
	if err != nil {
		return nil, false, err
	}
	return x, true, nil
}
