// Package autograd is reverse-mode differentiation over tensors. Every op computes its value
// with the current backend's kernels and, when some input needs a gradient, records a node
// whose backward function maps the output's gradient to its inputs' gradients. Backward walks
// those nodes in reverse topological order, accumulates gradients into the leaves, and drops
// the graph so activations are freed.
//
// Ops never panic on bad shapes. Like bufio.Scanner, a failed op returns a Variable that
// carries the error; every op given such a Variable passes the error on, so user code (a
// custom layer or loss) composes ops freely and checks Err once at the end.
package autograd

import (
	"errors"
	"fmt"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// Variable is a tensor in a computation: a value, and, when it requires a gradient, the
// gradient that Backward accumulates into it.
type Variable struct {
	value        *tensor.Tensor
	grad         *tensor.Tensor
	requiresGrad bool
	node         *node
	// released marks an op's output whose graph an earlier Backward consumed: its node is
	// gone, but it must not pass for a leaf, or a second Backward would stop there silently.
	released bool
	err      error
	// Name labels the variable in error messages (parameters carry their weight's name).
	Name string
}

// BackwardFunc maps the gradient of an op's output to the gradients of its inputs, one per
// input in order. An entry may be nil when that input needs no gradient (see NeedsGrad).
type BackwardFunc func(grad *tensor.Tensor) []*tensor.Tensor

type node struct {
	inputs   []*Variable
	backward BackwardFunc
}

// NewVariable wraps t as a leaf. Parameters are leaves with requiresGrad true.
func NewVariable(t *tensor.Tensor, requiresGrad bool) *Variable {
	return &Variable{value: t, requiresGrad: requiresGrad}
}

// Constant wraps t as a leaf that never gets a gradient.
func Constant(t *tensor.Tensor) *Variable { return &Variable{value: t} }

// Errorf returns a Variable that carries an error instead of a value.
func Errorf(format string, args ...any) *Variable {
	return &Variable{err: fmt.Errorf(format, args...)}
}

// Failed returns a Variable that carries err.
func Failed(err error) *Variable { return &Variable{err: err} }

// Err is the first error met while computing v, or nil.
func (v *Variable) Err() error { return v.err }

// Value is the computed tensor (nil when Err is not nil).
func (v *Variable) Value() *tensor.Tensor { return v.value }

// Grad is the accumulated gradient, or nil before any Backward reached v.
func (v *Variable) Grad() *tensor.Tensor { return v.grad }

// Shape is the value's shape (nil when Err is not nil).
func (v *Variable) Shape() tensor.Shape {
	if v.value == nil {
		return nil
	}
	return v.value.Shape()
}

// RequiresGrad reports whether a gradient flows to v.
func (v *Variable) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad marks a leaf as trainable or frozen.
func (v *Variable) SetRequiresGrad(b bool) { v.requiresGrad = b }

// IsLeaf reports whether v was made directly rather than by an op.
func (v *Variable) IsLeaf() bool { return v.node == nil && !v.released }

// SetValue replaces the value of a leaf (optimizers update parameters in place instead).
func (v *Variable) SetValue(t *tensor.Tensor) { v.value = t }

// ZeroGrad forgets the accumulated gradient, keeping its buffer for reuse.
func (v *Variable) ZeroGrad() {
	if v.grad != nil {
		v.grad.Zero()
	}
}

// ClearGrad drops the gradient buffer.
func (v *Variable) ClearGrad() { v.grad = nil }

// Detach returns a constant that shares v's value but is cut from the graph.
func (v *Variable) Detach() *Variable {
	if v.err != nil {
		return v
	}
	return Constant(v.value)
}

// Float32s is shorthand for Value().Float32s().
func (v *Variable) Float32s() []float32 {
	if v.value == nil {
		return nil
	}
	return v.value.Float32s()
}

// Item returns the single element of a one-element value.
func (v *Variable) Item() (float64, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.value.Len() != 1 {
		return 0, fmt.Errorf("autograd: Item of a %v value, want one element", v.value.Shape())
	}
	return v.value.Float64Flat(0), nil
}

// NeedsGrad reports whether input i of an op needs a gradient; backward functions use it to
// skip work nobody will read.
func NeedsGrad(inputs []*Variable, i int) bool { return inputs[i].requiresGrad }

// FirstErr returns the first error carried by any of vs, so an op can pass it on.
func FirstErr(vs ...*Variable) error {
	for _, v := range vs {
		if v == nil {
			return errors.New("autograd: nil Variable")
		}
		if v.err != nil {
			return v.err
		}
	}
	return nil
}

// Record builds the output of an op: value out, computed from inputs, with the given backward.
// It records a node only when some input requires a gradient, so inference keeps no graph and
// no activations. Custom ops written outside this package use it too.
func Record(out *tensor.Tensor, inputs []*Variable, backward BackwardFunc) *Variable {
	v := &Variable{value: out}
	for _, in := range inputs {
		if in.requiresGrad {
			v.requiresGrad = true
			break
		}
	}
	if v.requiresGrad && backward != nil {
		v.node = &node{inputs: inputs, backward: backward}
	}
	return v
}

// Kernels is the backend the ops run on.
func Kernels() backend.Backend { return backend.Current() }

// Backward computes the gradient of v (which must hold one element) with respect to every
// variable that requires one, accumulating into their Grad.
func (v *Variable) Backward() error {
	if v.err != nil {
		return v.err
	}
	if v.value.Len() != 1 {
		return fmt.Errorf("autograd: Backward of a %v value needs an explicit gradient (use BackwardWith)", v.value.Shape())
	}
	return v.BackwardWith(tensor.Full(1, v.value.Shape()...))
}

// BackwardWith runs backward from v seeded with grad, which must have v's shape. The graph
// below v is released afterwards.
func (v *Variable) BackwardWith(grad *tensor.Tensor) error {
	if v.err != nil {
		return v.err
	}
	if grad == nil {
		return errors.New("autograd: nil seed gradient")
	}
	if grad.DType() != tensor.Float32 || !grad.Shape().Equal(v.value.Shape()) {
		return fmt.Errorf("autograd: seed gradient %s%v, want float32%v", grad.DType(), grad.Shape(), v.value.Shape())
	}
	if !v.requiresGrad {
		return errors.New("autograd: Backward of a value that depends on no variable requiring a gradient")
	}
	order := topoOrder(v)
	// Refuse before touching any gradient, so a failed call leaves them as they were.
	for _, n := range order {
		if n.released {
			return errors.New("autograd: Backward through a graph that an earlier Backward already released (run the forward pass again)")
		}
	}
	grads := make(map[*Variable]*tensor.Tensor, len(order))
	// Backward functions may return their incoming gradient itself (Add does), so the same
	// tensor can stand for several inputs; a sum is written only into a buffer owned here.
	owned := make(map[*Variable]bool, len(order))
	grads[v] = grad
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		g := grads[n]
		delete(grads, n)
		delete(owned, n)
		if g == nil {
			continue
		}
		if n.node == nil {
			if err := n.accumulate(g); err != nil {
				return err
			}
			continue
		}
		inGrads := n.node.backward(g)
		if len(inGrads) != len(n.node.inputs) {
			return fmt.Errorf("autograd: backward returned %d gradients for %d inputs", len(inGrads), len(n.node.inputs))
		}
		for j, in := range n.node.inputs {
			ig := inGrads[j]
			if ig == nil || !in.requiresGrad {
				continue
			}
			if !ig.Shape().Equal(in.value.Shape()) {
				return fmt.Errorf("autograd: gradient of shape %v for an input of shape %v", ig.Shape(), in.value.Shape())
			}
			if prev, ok := grads[in]; ok {
				if !owned[in] {
					prev = prev.Clone()
					grads[in], owned[in] = prev, true
				}
				addInto(prev, ig)
			} else {
				grads[in] = ig
			}
		}
		// Release the closure and its saved activations: the graph is used once.
		n.node = nil
		n.released = true
	}
	return nil
}

func (v *Variable) accumulate(g *tensor.Tensor) error {
	if v.grad == nil {
		v.grad = g.Clone()
		return nil
	}
	if !v.grad.Shape().Equal(g.Shape()) {
		return fmt.Errorf("autograd: gradient of shape %v for %s of shape %v", g.Shape(), v.Name, v.grad.Shape())
	}
	addInto(v.grad, g)
	return nil
}

// addInto adds src into dst element-wise; both have the same shape. Gradient sums are
// memory-bound, so a plain loop is as fast as a kernel call.
func addInto(dst, src *tensor.Tensor) {
	d, s := dst.Float32s(), src.Float32s()
	for i := range d {
		d[i] += s[i]
	}
}

// topoOrder lists the variables v depends on (through nodes that require gradients) so that
// every variable comes after all of its inputs. It is iterative: deep networks would overflow
// a recursive walk's stack only in theory, but long unrolled graphs do not.
func topoOrder(v *Variable) []*Variable {
	var order []*Variable
	seen := map[*Variable]bool{v: true}
	type frame struct {
		v    *Variable
		next int
	}
	stack := []frame{{v: v}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.v.node != nil && top.next < len(top.v.node.inputs) {
			in := top.v.node.inputs[top.next]
			top.next++
			if in.requiresGrad && !seen[in] {
				seen[in] = true
				stack = append(stack, frame{v: in})
			}
			continue
		}
		order = append(order, top.v)
		stack = stack[:len(stack)-1]
	}
	return order
}
