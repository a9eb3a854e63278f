package autograd

import (
	"math"

	"github.com/deepframe/deepframe/tensor"
)

// Arena is a step-scoped allocator for a computation that repeats: a training step, a batch
// of inference. Everything an op makes while its inputs belong to an arena (output tensors,
// the Variables and graph nodes that record it, the gradients Backward computes, Backward's
// own bookkeeping) comes from the arena, and Reset hands it all back for the next step. A
// step with the same shapes as the previous one asks for the same things in the same order,
// so it reuses the previous step's buffers one for one and allocates nothing; a step with
// other shapes (the last, partial batch of an epoch) allocates what it lacks and keeps it
// aside, bounded, for when those shapes come back.
//
// Ops find the arena through their inputs: an op's output belongs to the arena of its first
// input that has one, so wrapping a step's inputs with Constant (or Bind) is all a caller
// does; custom ops and layers need no change, and code that never makes an arena behaves as
// if there were none. Parameters stay outside any arena: their values and accumulated
// gradients live across steps.
//
// What an arena hands out is valid until the next Reset, which recycles it: a value that must
// outlive the step (a prediction returned to a caller, a metric's input) is copied out first.
// An Arena is not safe for concurrent use; give each goroutine its own. Constant, Bind and
// Zeros work on a nil *Arena too, as if there were no arena, so code can pass one optionally.
type Arena struct {
	tensors tensorSeq
	views   viewSeq
	vars    slab[Variable]
	nodes   slab[node]
	ptrs    bufSeq[*Variable]
	ints    bufSeq[int]
	i64s    bufSeq[int64]
	i32s    bufSeq[int32]
	f32s    bufSeq[float32]
	f64s    bufSeq[float64]

	// Backward's scratch, kept between calls so that a steady step's Backward allocates
	// nothing.
	order  []*Variable
	stack  []topoFrame
	grads  []*tensor.Tensor
	owned  []bool
	inGrad []*tensor.Tensor

	// misses counts requests that had to allocate; tests read it to see the steady state.
	misses int
}

// NewArena returns an empty arena.
func NewArena() *Arena { return &Arena{} }

// Reset ends the step: everything the arena handed out since the previous Reset may be reused
// by the next request. Variables made since then must not be used any more.
func (a *Arena) Reset() {
	a.vars.reset()
	a.nodes.reset()
	a.ptrs.reset(true)
	a.ints.reset(false)
	a.i64s.reset(false)
	a.i32s.reset(false)
	a.f32s.reset(false)
	a.f64s.reset(false)
	a.views.reset()
	a.tensors.reset()
}

// Constant wraps t as a leaf of the arena that never gets a gradient: the way a step's
// inputs enter it. t itself is not copied and stays the caller's.
func (a *Arena) Constant(t *tensor.Tensor) *Variable {
	v := a.newVar()
	v.value = t
	return v
}

// Bind returns v as a variable of the arena: ops applied to the result allocate from the
// arena, and gradients that reach it flow on to v. It is how a computation that starts from
// parameters alone (a weight penalty) joins a step's arena.
func (a *Arena) Bind(v *Variable) *Variable {
	if a == nil || v == nil || v.err != nil || v.value == nil || v.arena == a {
		return v
	}
	out, _ := a.record(v.value, identityGrad, v)
	out.Name = v.Name
	return out
}

func identityGrad(_ *Arena, _ *node, g *tensor.Tensor, out []*tensor.Tensor) { out[0] = g }

// Zeros returns a float32 tensor of zeros from the arena, for custom ops that want their
// outputs recycled too. A nil arena allocates, so ops can write v.Arena().Zeros(...) whether
// or not their input has an arena.
func (a *Arena) Zeros(shape ...int) *tensor.Tensor { return a.zeros(shape...) }

// Arena is the arena v belongs to, or nil.
func (v *Variable) Arena() *Arena {
	if v == nil {
		return nil
	}
	return v.arena
}

// arenaOf is the arena an op's output belongs to: that of its first input that has one.
func arenaOf(vs ...*Variable) *Arena {
	for _, v := range vs {
		if v != nil && v.arena != nil {
			return v.arena
		}
	}
	return nil
}

// The methods below are the ops' allocator. Each works on a nil *Arena too, allocating
// from the heap as if there were no arena, so an op has one code path.

// zeros returns a float32 tensor of the given shape filled with zeros.
func (a *Arena) zeros(shape ...int) *tensor.Tensor {
	if a == nil {
		return tensor.Zeros(shape...)
	}
	t, fresh := a.tensors.get(shape)
	if fresh {
		a.misses++
	} else {
		t.Zero()
	}
	return t
}

// full returns a float32 tensor with every element set to v.
func (a *Arena) full(v float32, shape ...int) *tensor.Tensor {
	t := a.zeros(shape...)
	if v != 0 {
		t.Fill(v)
	}
	return t
}

// clone returns a copy of t (float32) that the arena owns.
func (a *Arena) clone(t *tensor.Tensor) *tensor.Tensor {
	if a == nil {
		return t.Clone()
	}
	c, fresh := a.tensors.get(t.Shape())
	if fresh {
		a.misses++
	}
	copy(c.Float32s(), t.Float32s())
	return c
}

// reshape is t.Reshape, a view sharing t's buffer. Arena views are cached by source tensor,
// which is itself recycled, so a steady step finds the view it made last time.
func (a *Arena) reshape(t *tensor.Tensor, shape ...int) (*tensor.Tensor, error) {
	if a == nil {
		return reshapeCopy(t, shape)
	}
	v, err, fresh := a.views.get(t, shape)
	if fresh {
		a.misses++
	}
	return v, err
}

// newVar returns a zeroed Variable that belongs to a.
func (a *Arena) newVar() *Variable {
	if a == nil {
		return &Variable{}
	}
	v, fresh := a.vars.get()
	if fresh {
		a.misses++
	}
	v.arena = a
	return v
}

func (a *Arena) newNode() *node {
	if a == nil {
		return &node{}
	}
	n, fresh := a.nodes.get()
	if fresh {
		a.misses++
	}
	return n
}

// varSlice copies vs into a slice the arena owns (a graph node keeps its inputs).
func (a *Arena) varSlice(vs ...*Variable) []*Variable {
	var s []*Variable
	if a == nil {
		s = make([]*Variable, len(vs))
	} else {
		s = a.ptrs.get(len(vs), &a.misses)
	}
	copy(s, vs)
	return s
}

// intBuf, int64Buf, int32Buf, f32Buf and f64Buf return zeroed scratch of length n that stays
// valid until Reset (ops keep axes, labels and argmax indices in their nodes).
func (a *Arena) intBuf(n int) []int {
	if a == nil {
		return make([]int, n)
	}
	return a.ints.get(n, &a.misses)
}

func (a *Arena) int64Buf(n int) []int64 {
	if a == nil {
		return make([]int64, n)
	}
	return a.i64s.get(n, &a.misses)
}

func (a *Arena) int32Buf(n int) []int32 {
	if a == nil {
		return make([]int32, n)
	}
	return a.i32s.get(n, &a.misses)
}

func (a *Arena) f32Buf(n int) []float32 {
	if a == nil {
		return make([]float32, n)
	}
	return a.f32s.get(n, &a.misses)
}

func (a *Arena) f64Buf(n int) []float64 {
	if a == nil {
		return make([]float64, n)
	}
	return a.f64s.get(n, &a.misses)
}

// scalarBuf returns a one-element buffer holding s, the form the kernels take a scalar
// operand in.
func (a *Arena) scalarBuf(s float32) []float32 {
	b := a.f32Buf(1)
	b[0] = s
	return b
}

// result wraps an op's output that records no node (no input needs a gradient).
func (a *Arena) result(out *tensor.Tensor) *Variable {
	v := a.newVar()
	v.value = out
	return v
}

// record builds the output of one of this package's ops: value out, computed from inputs.
// When some input needs a gradient it also records a node whose grad function computes the
// inputs' gradients, and returns it so the op can save what that function reads; otherwise
// the node is nil and nothing is kept.
func (a *Arena) record(out *tensor.Tensor, grad gradFunc, inputs ...*Variable) (*Variable, *node) {
	v := a.result(out)
	if !anyNeedsGrad(inputs...) {
		return v, nil
	}
	v.requiresGrad = true
	n := a.newNode()
	n.inputs = a.varSlice(inputs...)
	n.grad = grad
	v.node = n
	return v, n
}

// shapesEqual compares a tensor's shape with a requested one.
func shapesEqual(s tensor.Shape, want []int) bool {
	if len(s) != len(want) {
		return false
	}
	for i, d := range s {
		if d != want[i] {
			return false
		}
	}
	return true
}

// tensorSeq recycles float32 tensors in request order. slots[i] answered the i-th request of
// the previous step; a request whose shape matches its slot takes it. A mismatch (the shapes
// changed) looks among the spares, the tensors that recent mismatches displaced, and only
// then allocates, so alternating between two sets of shapes (full batches and an epoch's
// last, partial one) allocates nothing either once both sets have been seen.
type tensorSeq struct {
	slots []*tensor.Tensor
	next  int
	spare []*tensor.Tensor
	// peak is the most elements one step has used; spares are kept within it, so the arena
	// holds at most twice a step's worth.
	peak int
	// idle counts steps since a spare was last taken. Spares idle for spareIdleLimit steps
	// are let go: the shapes they fit have stopped coming (the batch size changed).
	idle int
}

const spareIdleLimit = 1024

func (s *tensorSeq) get(shape []int) (t *tensor.Tensor, fresh bool) {
	if s.next < len(s.slots) && shapesEqual(s.slots[s.next].Shape(), shape) {
		t = s.slots[s.next]
		s.next++
		return t, false
	}
	t = s.takeSpare(shape)
	if t == nil {
		t = tensor.Zeros(shape...)
		fresh = true
	}
	if s.next < len(s.slots) {
		s.spare = append(s.spare, s.slots[s.next])
		s.slots[s.next] = t
	} else {
		s.slots = append(s.slots, t)
	}
	s.next++
	return t, fresh
}

func (s *tensorSeq) takeSpare(shape []int) *tensor.Tensor {
	for i, t := range s.spare {
		if shapesEqual(t.Shape(), shape) {
			copy(s.spare[i:], s.spare[i+1:])
			s.spare[len(s.spare)-1] = nil
			s.spare = s.spare[:len(s.spare)-1]
			s.idle = 0
			return t
		}
	}
	return nil
}

// reset starts a new step. Slots the step did not reach become spares; spares beyond the
// budget are dropped, oldest first.
func (s *tensorSeq) reset() {
	if s.next < len(s.slots) {
		s.spare = append(s.spare, s.slots[s.next:]...)
		clear(s.slots[s.next:])
		s.slots = s.slots[:s.next]
	}
	s.next = 0
	used := 0
	for _, t := range s.slots {
		used += t.Len()
	}
	s.idle++
	if s.idle > spareIdleLimit {
		s.peak, s.idle = 0, 0
		clear(s.spare)
		s.spare = s.spare[:0]
	}
	s.peak = max(s.peak, used)
	budget, from := s.peak, len(s.spare)
	for from > 0 && budget >= s.spare[from-1].Len() {
		budget -= s.spare[from-1].Len()
		from--
	}
	if from > 0 {
		n := copy(s.spare, s.spare[from:])
		clear(s.spare[n:])
		s.spare = s.spare[:n]
	}
}

// viewSeq caches Reshape views in request order, keyed by source tensor and shape.
type viewSeq struct {
	slots []viewSlot
	next  int
}

type viewSlot struct {
	src, view *tensor.Tensor
}

func (s *viewSeq) get(src *tensor.Tensor, shape []int) (v *tensor.Tensor, err error, fresh bool) {
	if s.next < len(s.slots) {
		sl := s.slots[s.next]
		if sl.src == src && viewMatches(sl.view.Shape(), shape) {
			s.next++
			return sl.view, nil, false
		}
	}
	v, err = reshapeCopy(src, shape)
	if err != nil {
		return nil, err, false
	}
	if s.next < len(s.slots) {
		s.slots[s.next] = viewSlot{src: src, view: v}
	} else {
		s.slots = append(s.slots, viewSlot{src: src, view: v})
	}
	s.next++
	return v, nil, true
}

// reshapeCopy is t.Reshape on a copy of shape. Reshape's error messages keep its argument,
// which would make every shape handed to an op escape to the heap, the one in a steady
// step's cached view included; the copy escapes instead, and only when a view is made.
func reshapeCopy(t *tensor.Tensor, shape []int) (*tensor.Tensor, error) {
	return t.Reshape(append([]int(nil), shape...)...)
}

// viewMatches reports whether a view of shape s answers a Reshape request for want, which may
// hold one -1 (inferred): over the same buffer, the other dimensions fix it.
func viewMatches(s tensor.Shape, want []int) bool {
	if len(s) != len(want) {
		return false
	}
	for i, d := range s {
		if want[i] != d && want[i] != -1 {
			return false
		}
	}
	return true
}

func (s *viewSeq) reset() {
	if s.next < len(s.slots) {
		clear(s.slots[s.next:])
		s.slots = s.slots[:s.next]
	}
	s.next = 0
}

// slab recycles structs in request order.
type slab[T any] struct {
	items []*T
	next  int
}

func (s *slab[T]) get() (p *T, fresh bool) {
	if s.next < len(s.items) {
		p = s.items[s.next]
	} else {
		p = new(T)
		s.items = append(s.items, p)
		fresh = true
	}
	s.next++
	return p, fresh
}

// reset zeroes what the step used, so recycled structs hold no stale references (to a
// caller's tensors, to closures and what they captured) between steps.
func (s *slab[T]) reset() {
	var zero T
	for _, p := range s.items[:s.next] {
		*p = zero
	}
	s.next = 0
}

// bufSeq recycles slices in request order; a request takes its slot when the slot's capacity
// suffices, so a smaller batch reuses a larger one's buffers.
type bufSeq[T any] struct {
	bufs [][]T
	next int
}

func (s *bufSeq[T]) get(n int, misses *int) []T {
	if s.next < len(s.bufs) && cap(s.bufs[s.next]) >= n {
		b := s.bufs[s.next][:n]
		clear(b)
		s.next++
		return b
	}
	*misses++
	b := make([]T, n)
	if s.next < len(s.bufs) {
		s.bufs[s.next] = b
	} else {
		s.bufs = append(s.bufs, b)
	}
	s.next++
	return b
}

// reset starts a new step; clearRefs drops what pointer buffers hold, so a recycled buffer
// does not keep a finished step's graph reachable.
func (s *bufSeq[T]) reset(clearRefs bool) {
	if clearRefs {
		for _, b := range s.bufs[:s.next] {
			clear(b[:cap(b)])
		}
	}
	if s.next < len(s.bufs) {
		// Buffers the step did not reach are dropped: the step's needs shrank.
		clear(s.bufs[s.next:])
		s.bufs = s.bufs[:s.next]
	}
	s.next = 0
}

// scribble fills every tensor the arena holds with NaN. Tests call it before Reset: an op
// that read a recycled buffer before writing it would then differ from its heap twin.
func (a *Arena) scribble() {
	nan := float32(math.NaN())
	for _, t := range a.tensors.slots {
		t.Fill(nan)
	}
	for _, t := range a.tensors.spare {
		t.Fill(nan)
	}
	for _, b := range a.f32s.bufs {
		for i := range b[:cap(b)] {
			b[:cap(b)][i] = nan
		}
	}
}
