// Package autograd is reverse-mode differentiation over tensors. Every op computes its value
// with the current backend's kernels and, when some input needs a gradient, records a node
// whose backward function maps the output's gradient to its inputs' gradients. Backward walks
// those nodes in reverse topological order, accumulates gradients into the leaves, and drops
// the graph so activations are freed.
//
// A computation that repeats (a training step) can run in an Arena, which recycles the
// tensors, variables and graph of one step for the next, so that a steady step allocates
// nothing; see Arena.
//
// Ops never panic on bad shapes. Like bufio.Scanner, a failed op returns a Variable that
// carries the error; every op given such a Variable passes the error on, so user code (a
// custom layer or loss) composes ops freely and checks Err once at the end.
package autograd

import (
	"errors"
	"fmt"
	"sync/atomic"

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
	// arena is where ops on v allocate (nil: the heap).
	arena *Arena
	// visit is the Backward pass that last reached v and slot its place in that pass's
	// order: marks on the variables themselves replace a visited set and a gradient map.
	visit uint64
	slot  int
}

// BackwardFunc maps the gradient of an op's output to the gradients of its inputs, one per
// input in order. An entry may be nil when that input needs no gradient (see NeedsGrad).
type BackwardFunc func(grad *tensor.Tensor) []*tensor.Tensor

// node records how an op's output was computed. Ops made with Record keep a BackwardFunc
// closure; this package's own ops keep a plain function and the few values it reads in the
// fields below, so recording one allocates nothing beyond what an arena recycles.
type node struct {
	inputs   []*Variable
	backward BackwardFunc
	grad     gradFunc

	// What the package's grad functions read; each op documents the fields it sets.
	out    *tensor.Tensor    // the op's output (derivatives read off it)
	vals   [3]*tensor.Tensor // input values as the forward pass saw them
	saved  [3]*tensor.Tensor // intermediates: log-probabilities, masks, statistics
	op     uint8             // the variant: a BinaryOp, UnaryOp, ReduceOp or Activation
	flag   bool              // logOut for softmax, training for batch norm
	scalar [2]float32        // alpha, a scalar factor, clip bounds
	n      [6]int            // sizes and positions
	ints   []int             // axes, permutations, sizes
	idx    []int64           // class labels, embedding ids
	argmax []int32           // max pooling's winners
	conv   backend.Conv2DParams
	pool   backend.Pool2DParams
}

// gradFunc writes into out (one entry per input, all nil on entry) the gradients of the
// inputs that need one, given g, the gradient of the node's output. New tensors come from a
// (nil: the heap). An entry may be g itself or a view of it: Backward never writes into it.
type gradFunc func(a *Arena, n *node, g *tensor.Tensor, out []*tensor.Tensor)

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
//
// The output belongs to the arena of the first input that has one, like every op's. The
// closure is the caller's own allocation; ops that run every training step are cheaper
// written inside this package.
func Record(out *tensor.Tensor, inputs []*Variable, backward BackwardFunc) *Variable {
	a := arenaOf(inputs...)
	v := a.result(out)
	for _, in := range inputs {
		if in.requiresGrad {
			v.requiresGrad = true
			break
		}
	}
	if v.requiresGrad && backward != nil {
		n := a.newNode()
		n.inputs, n.backward = inputs, backward
		v.node = n
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
	return v.BackwardWith(v.arena.full(1, v.value.Shape()...))
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
	a := v.arena
	order := topoOrder(a, v)
	// Refuse before touching any gradient, so a failed call leaves them as they were.
	for _, n := range order {
		if n.released {
			return errors.New("autograd: Backward through a graph that an earlier Backward already released (run the forward pass again)")
		}
	}
	// grads[i] is the gradient reaching order[i] so far. Backward functions may return their
	// incoming gradient itself (Add does), so the same tensor can stand for several inputs;
	// a sum is written only into a buffer owned here (owned[i]).
	grads, owned := a.backwardScratch(len(order))
	defer a.releaseScratch()
	grads[v.slot] = grad
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		g := grads[i]
		grads[i] = nil
		if g == nil {
			continue
		}
		if n.node == nil {
			if err := n.accumulate(g); err != nil {
				return err
			}
			continue
		}
		nd := n.node
		var inGrads []*tensor.Tensor
		if nd.grad != nil {
			inGrads = a.inGradScratch(len(nd.inputs))
			nd.grad(n.arena, nd, g, inGrads)
		} else {
			inGrads = nd.backward(g)
			if len(inGrads) != len(nd.inputs) {
				return fmt.Errorf("autograd: backward returned %d gradients for %d inputs", len(inGrads), len(nd.inputs))
			}
		}
		for j, in := range nd.inputs {
			ig := inGrads[j]
			if ig == nil || !in.requiresGrad {
				continue
			}
			if !ig.Shape().Equal(in.value.Shape()) {
				return fmt.Errorf("autograd: gradient of shape %v for an input of shape %v", ig.Shape(), in.value.Shape())
			}
			k := in.slot
			if prev := grads[k]; prev != nil {
				if !owned[k] {
					prev = a.clone(prev)
					grads[k], owned[k] = prev, true
				}
				addInto(prev, ig)
			} else {
				grads[k] = ig
			}
		}
		// Release the node and what it saved: the graph is used once.
		n.node = nil
		n.released = true
	}
	return nil
}

// backwardScratch returns the gradient table and its ownership flags for a pass over n
// variables, from a's scratch when there is an arena.
func (a *Arena) backwardScratch(n int) ([]*tensor.Tensor, []bool) {
	if a == nil {
		return make([]*tensor.Tensor, n), make([]bool, n)
	}
	a.grads = grow(a.grads, n)
	a.owned = grow(a.owned, n)
	return a.grads, a.owned
}

// releaseScratch drops the references Backward's scratch holds, so the arena does not keep
// a finished graph reachable through them.
func (a *Arena) releaseScratch() {
	if a == nil {
		return
	}
	clear(a.grads)
	clear(a.order)
	clear(a.inGrad)
}

// inGradScratch is the slice a node's grad function fills, cleared.
func (a *Arena) inGradScratch(n int) []*tensor.Tensor {
	if a == nil {
		return make([]*tensor.Tensor, n)
	}
	a.inGrad = grow(a.inGrad, n)
	return a.inGrad
}

// grow returns s resized to n zeroed elements, reallocating only when its capacity is short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
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

// passes numbers Backward passes, so a variable's visit mark says whether the current pass
// has reached it.
var passes atomic.Uint64

type topoFrame struct {
	v    *Variable
	next int
}

// topoOrder lists the variables v depends on (through nodes that require gradients) so that
// every variable comes after all of its inputs, and records each one's position in its slot.
// It is iterative: deep networks would overflow a recursive walk's stack only in theory, but
// long unrolled graphs do not. With an arena it reuses the arena's scratch.
func topoOrder(a *Arena, v *Variable) []*Variable {
	pass := passes.Add(1)
	var order []*Variable
	var stack []topoFrame
	if a != nil {
		order, stack = a.order[:0], a.stack[:0]
	}
	v.visit = pass
	stack = append(stack, topoFrame{v: v})
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.v.node != nil && top.next < len(top.v.node.inputs) {
			in := top.v.node.inputs[top.next]
			top.next++
			if in.requiresGrad && in.visit != pass {
				in.visit = pass
				stack = append(stack, topoFrame{v: in})
			}
			continue
		}
		top.v.slot = len(order)
		order = append(order, top.v)
		stack = stack[:len(stack)-1]
	}
	if a != nil {
		a.order, a.stack = order, stack
	}
	return order
}
