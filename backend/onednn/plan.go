package onednn

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// A plan is one cached unit of work: one or more oneDNN primitives (a convolution, say, plus
// the reorder of its weights into the blocked layout it prefers) over a fixed list of
// buffers. The first buffers are the caller's slices, bound per call; the rest are internal
// (reordered weights, workspaces, scratchpads) and belong to an execution set.
//
// Primitives are created once per shape and reused: creating one JIT-compiles its kernel,
// which costs far more than running it on small tensors.
type plan struct {
	lib   *lib
	steps []step
	bufs  []bufSpec // user buffers first
	nUser int
	aux   int // kernel-specific: the data type of a max-pooling workspace
	// Owned C objects, destroyed with the plan.
	pds, prims []uintptr

	mu   sync.Mutex
	free []*execSet
}

type step struct {
	prim uintptr
	args []stepArg
}

type stepArg struct {
	id  int32 // DNNL_ARG_*
	buf int   // index into plan.bufs
}

type bufSpec struct {
	md   *memDesc // a copy: the plan outlives the descriptors it was built from
	size uintptr  // bytes, for internal buffers
}

// execSet is what one concurrent execution needs: a stream, a memory object per buffer and
// the argument arrays. The library's own (global, per-thread) scratchpad is not safe for
// goroutines that migrate between OS threads, so every primitive here runs with a
// user-provided scratchpad, which lives in the set with the other internal buffers.
type execSet struct {
	stream   uintptr
	mems     []uintptr
	internal [][]byte
	cargs    [][]execArg
	// call holds the arguments of the per-call C calls. purego.SyscallN heap-allocates a
	// fresh variadic slice per call, so the hot path passes this one instead.
	call [4]uintptr
}

// syscall calls fn with s.call[:n]. Any Go memory those addresses point to must be kept
// alive by the caller (run does, with runtime.KeepAlive).
func (s *execSet) syscall(fn uintptr, n int) int32 {
	r, _, _ := purego.SyscallN(fn, s.call[:n]...)
	return int32(r)
}

// execArg is dnnl_exec_arg_t: { int arg; dnnl_memory_t memory; } (16 bytes on 64-bit).
type execArg struct {
	arg int32
	_   int32
	mem uintptr
}

func (l *lib) newMD(shape []int64, tag int) (*memDesc, error) { return l.newMDType(shape, dtF32, tag) }

func (l *lib) newMDType(shape []int64, dt, tag int) (*memDesc, error) {
	md := new(memDesc)
	var d dims
	copy(d[:], shape)
	if st := l.call(l.mdInitByTag, uintptr(unsafe.Pointer(md)), uintptr(len(shape)), uintptr(unsafe.Pointer(&d)), uintptr(dt), uintptr(tag)); st != dnnlSuccess {
		return nil, fmt.Errorf("dnnl_memory_desc_init_by_tag(%v, tag %d): %s", shape, tag, statusText(st))
	}
	return md, nil
}

// copyMD copies a library-owned descriptor (from a primitive-descriptor query) into Go memory.
func copyMD(src uintptr) *memDesc {
	md := new(memDesc)
	*(*[sizeofMemoryDesc]byte)(unsafe.Pointer(md)) = *(*[sizeofMemoryDesc]byte)(cPointer(src))
	return md
}

// cPointer turns an address of C memory (which Go's collector neither tracks nor moves) into
// a pointer, without the uintptr-to-Pointer conversion vet rightly flags for Go memory.
func cPointer(addr uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&addr)) }

func (l *lib) mdSize(md *memDesc) uintptr {
	r, _, _ := purego.SyscallN(l.mdGetSize, uintptr(unsafe.Pointer(md)))
	return r
}

func (l *lib) mdEqual(a, b *memDesc) bool {
	r, _, _ := purego.SyscallN(l.mdEqualFn, uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(b)))
	return int32(r) != 0
}

// pdBuilder accumulates the C objects of a plan under construction so that a failure half
// way releases everything.
type pdBuilder struct {
	l    *lib
	p    *plan
	attr uintptr
}

func (l *lib) newBuilder() (*pdBuilder, error) {
	b := &pdBuilder{l: l, p: &plan{lib: l}}
	if st := l.call(l.attrCreate, uintptr(unsafe.Pointer(&b.attr))); st != dnnlSuccess {
		return nil, fmt.Errorf("dnnl_primitive_attr_create: %s", statusText(st))
	}
	if st := l.call(l.attrSetScratchpadMode, b.attr, scratchpadModeUser); st != dnnlSuccess {
		b.abort()
		return nil, fmt.Errorf("dnnl_primitive_attr_set_scratchpad_mode: %s", statusText(st))
	}
	return b, nil
}

// user declares the next caller-provided buffer; all must be declared before any internal one.
func (b *pdBuilder) user(md *memDesc) int {
	b.p.bufs = append(b.p.bufs, bufSpec{md: md})
	b.p.nUser = len(b.p.bufs)
	return len(b.p.bufs) - 1
}

func (b *pdBuilder) internal(md *memDesc) int {
	b.p.bufs = append(b.p.bufs, bufSpec{md: md, size: b.l.mdSize(md)})
	return len(b.p.bufs) - 1
}

// pd creates a primitive descriptor for op (with the hint for backward primitives).
func (b *pdBuilder) pd(op *opDesc, hint uintptr) (uintptr, error) {
	var pd uintptr
	if st := b.l.call(b.l.pdCreate, uintptr(unsafe.Pointer(&pd)), uintptr(unsafe.Pointer(op)), b.attr, b.l.engine, hint); st != dnnlSuccess {
		return 0, fmt.Errorf("dnnl_primitive_desc_create: %s", statusText(st))
	}
	b.p.pds = append(b.p.pds, pd)
	return pd, nil
}

// reorderPD creates a reorder from src to dst layout.
func (b *pdBuilder) reorderPD(src, dst *memDesc) (uintptr, error) {
	var pd uintptr
	if st := b.l.call(b.l.reorderPDCreate, uintptr(unsafe.Pointer(&pd)), uintptr(unsafe.Pointer(src)), b.l.engine, uintptr(unsafe.Pointer(dst)), b.l.engine, b.attr); st != dnnlSuccess {
		return 0, fmt.Errorf("dnnl_reorder_primitive_desc_create: %s", statusText(st))
	}
	b.p.pds = append(b.p.pds, pd)
	return pd, nil
}

// queryMD returns a copy of one of pd's memory descriptors, or nil when it has none (a zero
// descriptor: ndims 0).
func (b *pdBuilder) queryMD(pd uintptr, what int) *memDesc {
	r, _, _ := purego.SyscallN(b.l.pdQueryMD, pd, uintptr(what), 0)
	if r == 0 {
		return nil
	}
	md := copyMD(r)
	if md[0]&0xffffffff == 0 { // ndims
		return nil
	}
	return md
}

// step appends the primitive for pd with its arguments, adding pd's scratchpad (if it needs
// one) as an internal buffer.
func (b *pdBuilder) step(pd uintptr, args ...stepArg) error {
	var prim uintptr
	if st := b.l.call(b.l.primCreate, uintptr(unsafe.Pointer(&prim)), pd); st != dnnlSuccess {
		return fmt.Errorf("dnnl_primitive_create: %s", statusText(st))
	}
	b.p.prims = append(b.p.prims, prim)
	if md := b.queryMD(pd, queryScratchpadMD); md != nil && b.l.mdSize(md) > 0 {
		args = append(args, stepArg{argScratchpad, b.internal(md)})
	}
	b.p.steps = append(b.p.steps, step{prim: prim, args: args})
	return nil
}

func (b *pdBuilder) finish() *plan {
	b.l.call(b.l.attrDestroy, b.attr)
	b.attr = 0
	return b.p
}

func (b *pdBuilder) abort() {
	if b.attr != 0 {
		b.l.call(b.l.attrDestroy, b.attr)
	}
	b.p.destroy()
}

func (p *plan) destroy() {
	for _, s := range p.free {
		p.destroySet(s)
	}
	p.free = nil
	for _, pr := range p.prims {
		p.lib.call(p.lib.primDestroy, pr)
	}
	for _, pd := range p.pds {
		p.lib.call(p.lib.pdDestroy, pd)
	}
	p.prims, p.pds = nil, nil
}

func (p *plan) destroySet(s *execSet) {
	for _, m := range s.mems {
		if m != 0 {
			p.lib.call(p.lib.memoryDestroy, m)
		}
	}
	if s.stream != 0 {
		p.lib.call(p.lib.streamDestroy, s.stream)
	}
}

// alignedBytes returns n bytes starting on a 64-byte boundary (oneDNN's kernels use aligned
// vector loads on their scratch buffers).
func alignedBytes(n uintptr) []byte {
	raw := make([]byte, n+64)
	off := (64 - uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%64) % 64
	return raw[off : off+n : off+n]
}

func (p *plan) newSet() (*execSet, error) {
	l := p.lib
	s := &execSet{mems: make([]uintptr, len(p.bufs))}
	if st := l.call(l.streamCreate, uintptr(unsafe.Pointer(&s.stream)), l.engine, streamDef); st != dnnlSuccess {
		return nil, fmt.Errorf("dnnl_stream_create: %s", statusText(st))
	}
	for i, b := range p.bufs {
		var handle uintptr // DNNL_MEMORY_NONE: user buffers are bound per call
		if i >= p.nUser {
			buf := alignedBytes(max(b.size, 1))
			s.internal = append(s.internal, buf)
			handle = uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
		}
		if st := l.call(l.memoryCreate, uintptr(unsafe.Pointer(&s.mems[i])), uintptr(unsafe.Pointer(b.md)), l.engine, handle); st != dnnlSuccess {
			p.destroySet(s)
			return nil, fmt.Errorf("dnnl_memory_create: %s", statusText(st))
		}
	}
	for _, st := range p.steps {
		ca := make([]execArg, len(st.args))
		for j, a := range st.args {
			ca[j] = execArg{arg: a.id, mem: s.mems[a.buf]}
		}
		s.cargs = append(s.cargs, ca)
	}
	return s, nil
}

// run binds the caller's buffers (in the order they were declared) and executes the steps.
// It reports false if they could not run; the caller then falls back, and since every kernel
// overwrites its outputs, whatever a failed step left behind does not matter.
func (p *plan) run(user ...unsafe.Pointer) bool {
	p.mu.Lock()
	var s *execSet
	if n := len(p.free); n > 0 {
		s = p.free[n-1]
		p.free = p.free[:n-1]
	}
	p.mu.Unlock()
	if s == nil {
		var err error
		if s, err = p.newSet(); err != nil {
			debugf("%v", err)
			return false
		}
	}
	l := p.lib
	for i, u := range user {
		s.call[0], s.call[1] = s.mems[i], uintptr(u)
		s.syscall(l.memorySetHandle, 2)
	}
	ok := true
	for i, st := range p.steps {
		ca := s.cargs[i]
		s.call = [4]uintptr{st.prim, s.stream, uintptr(len(ca)), uintptr(unsafe.Pointer(unsafe.SliceData(ca)))}
		if r := s.syscall(l.primExecute, 4); r != dnnlSuccess {
			debugf("dnnl_primitive_execute (step %d of %d): %s", i+1, len(p.steps), statusText(r))
			ok = false
			break
		}
	}
	s.call[0] = s.stream
	s.syscall(l.streamWait, 1)
	s.call = [4]uintptr{}
	// The memory objects keep the raw addresses until the next bind; the Go slices must live
	// until the library is done with them.
	runtime.KeepAlive(user)
	p.mu.Lock()
	p.free = append(p.free, s)
	p.mu.Unlock()
	return ok
}

// planCache maps a kernel's parameters to its plan. A nil plan records that oneDNN cannot
// run those parameters, so the fallback is taken without asking again.
type planCache[K comparable] struct {
	mu sync.RWMutex
	m  map[K]*plan
}

// maxPlans bounds each cache: a server fed ever-new batch sizes must not grow it forever.
// Beyond it, plans are built, run once and destroyed.
const maxPlans = 256

// get returns the cached plan for k, building it on first use. transient reports a plan
// that was not cached (the cache is full) and must be destroyed after use.
func (c *planCache[K]) get(b *Backend, k K, build func(*Backend, K) (*plan, error)) (p *plan, transient bool) {
	c.mu.RLock()
	p, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return p, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok = c.m[k]; ok {
		return p, false
	}
	p, err := build(b, k)
	if err != nil {
		debugf("%T %+v: %v (falling back)", k, k, err)
		p = nil
	}
	if len(c.m) >= maxPlans {
		return p, p != nil
	}
	if c.m == nil {
		c.m = map[K]*plan{}
	}
	c.m[k] = p
	return p, false
}
