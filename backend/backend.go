// Package backend is deepframe's compute layer: the small set of coarse kernels that every
// differentiable op and layer lowers to, and the registry that picks an implementation at run
// time.
//
// The kernels are the ones oneDNN, cuDNN and BLAS also offer (GEMM with an epilogue, convolution
// forward and both backwards, pooling, batch normalisation, element-wise ops, reductions,
// softmax, gather/scatter), so an accelerated backend is a thin mapping onto a library. The
// pure-Go Reference backend implements all of them, is always present, and is the oracle every
// other backend is tested against.
//
// Kernels take flat row-major float32 slices plus a descriptor; outputs are written into slices
// the caller provides, so the caller decides where memory comes from (and can reuse it across
// training steps). Images are NHWC (channels last, as Keras) and convolution kernels are HWIO
// (kh, kw, in, out), Keras's kernel layout, so weights carry over without transposes.
package backend

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
)

// Activation is an element-wise function a GEMM or convolution may apply in its epilogue.
type Activation uint8

const (
	ActNone Activation = iota
	ActReLU
	ActSigmoid
	ActTanh
)

// UnaryOp names an element-wise function of one input. Alpha parameterises LeakyReLU (slope)
// and ELU (scale of the negative part).
type UnaryOp uint8

const (
	Identity UnaryOp = iota
	Neg
	Exp
	Log
	Sqrt
	Rsqrt
	Square
	Abs
	Sign
	Reciprocal
	ReLU
	LeakyReLU
	ELU
	SELU
	GELU // the exact form, 0.5*x*(1+erf(x/sqrt(2))), as Keras's default
	Sigmoid
	Tanh
	Softplus
	Softsign
	Swish
)

var unaryNames = map[UnaryOp]string{
	Identity: "identity", Neg: "neg", Exp: "exp", Log: "log", Sqrt: "sqrt", Rsqrt: "rsqrt",
	Square: "square", Abs: "abs", Sign: "sign", Reciprocal: "reciprocal", ReLU: "relu",
	LeakyReLU: "leaky_relu", ELU: "elu", SELU: "selu", GELU: "gelu", Sigmoid: "sigmoid",
	Tanh: "tanh", Softplus: "softplus", Softsign: "softsign", Swish: "swish",
}

func (op UnaryOp) String() string {
	if s, ok := unaryNames[op]; ok {
		return s
	}
	return "unary(" + strconv.Itoa(int(op)) + ")"
}

// BinaryOp names an element-wise function of two broadcast inputs.
type BinaryOp uint8

const (
	Add BinaryOp = iota
	Sub
	Mul
	Div
	Maximum
	Minimum
	Pow
	Greater // 1 where a > b else 0; not differentiable
	Equal   // 1 where a == b else 0; not differentiable
)

// ReduceOp names a reduction over axes.
type ReduceOp uint8

const (
	ReduceSum ReduceOp = iota
	ReduceMean
	ReduceMax
	ReduceMin
)

// GemmParams describes C = alpha*op(A)*op(B) + beta*C followed by the epilogue
// C[i,j] = act(C[i,j] + Bias[j]). op(A) is M×K, op(B) is K×N, C is M×N; all row-major and
// tightly packed (lda is K when A is not transposed, M when it is; likewise for B).
type GemmParams struct {
	TransA, TransB bool
	M, N, K        int
	Alpha, Beta    float32
	Bias           []float32 // length N, or nil
	Act            Activation
}

// Conv2DParams describes a 2-D convolution of an NHWC input with an HWIO kernel into an NHWC
// output. Padding is explicit per side so both Keras's "same" (extra padding at the bottom and
// right) and symmetric padding map onto it.
type Conv2DParams struct {
	N, H, W, C                           int // input
	KH, KW, OutC                         int // kernel
	StrideH, StrideW                     int
	DilationH, DilationW                 int
	PadTop, PadBottom, PadLeft, PadRight int
	OutH, OutW                           int
}

// PoolKind selects max or average pooling.
type PoolKind uint8

const (
	MaxPool PoolKind = iota
	AvgPool
)

// Pool2DParams describes 2-D pooling over NHWC. Average pooling divides by the number of
// in-bounds elements in each window (Keras's behaviour with "same" padding).
type Pool2DParams struct {
	Kind                                 PoolKind
	N, H, W, C                           int
	KH, KW                               int
	StrideH, StrideW                     int
	PadTop, PadBottom, PadLeft, PadRight int
	OutH, OutW                           int
}

// Backend is a set of kernels. Implementations must be safe for concurrent use by several
// goroutines (a server runs several predictions at once). Shapes are validated by the caller
// (package autograd); a kernel may assume its slices are long enough.
type Backend interface {
	// Name is the registry name, e.g. "reference", "onednn".
	Name() string
	// Version describes the implementation and any library it loaded, for logs.
	Version() string

	Gemm(p GemmParams, a, b, c []float32)

	Conv2DForward(p Conv2DParams, x, kernel, bias, y []float32)
	// Conv2DBackwardData writes (overwrites) dx from dy and the kernel.
	Conv2DBackwardData(p Conv2DParams, dy, kernel, dx []float32)
	// Conv2DBackwardWeights writes (overwrites) dkernel and, when dbias is non-nil, dbias.
	Conv2DBackwardWeights(p Conv2DParams, x, dy, dkernel, dbias []float32)

	// Pool2DForward writes y; for MaxPool it also records in argmax (length len(y)) the flat
	// input index each output came from, which Pool2DBackward uses.
	Pool2DForward(p Pool2DParams, x, y []float32, argmax []int32)
	// Pool2DBackward writes (overwrites) dx.
	Pool2DBackward(p Pool2DParams, dy []float32, argmax []int32, dx []float32)

	// BatchNormForwardTraining normalises x (rows × channels) with the batch statistics and
	// returns them: mean and invStd (1/sqrt(var+eps), biased variance) per channel.
	BatchNormForwardTraining(rows, channels int, eps float32, x, gamma, beta, y, mean, invStd []float32)
	// BatchNormForwardInference normalises with the given moving statistics.
	BatchNormForwardInference(rows, channels int, eps float32, x, gamma, beta, movingMean, movingVar, y []float32)
	// BatchNormBackward writes dx, dgamma and dbeta (overwriting them).
	BatchNormBackward(rows, channels int, x, dy, gamma, mean, invStd, dx, dgamma, dbeta []float32)

	// Unary writes y = op(x).
	Unary(op UnaryOp, alpha float32, x, y []float32)
	// UnaryBackward writes dx = dy * op'(x); y is op(x) (some derivatives are cheaper from it).
	UnaryBackward(op UnaryOp, alpha float32, x, y, dy, dx []float32)
	// Binary writes y = op(a, b) with NumPy broadcasting; yShape is the broadcast shape.
	Binary(op BinaryOp, a []float32, aShape []int, b []float32, bShape []int, y []float32, yShape []int)
	// Reduce writes y = op over the given (sorted, non-negative) axes of x; y has x's shape with
	// those axes removed (or set to 1: the layout is the same).
	Reduce(op ReduceOp, x []float32, xShape []int, axes []int, y []float32)
	// Transpose writes y = x with its axes permuted: y's axis i is x's axis perm[i].
	Transpose(x []float32, xShape []int, perm []int, y []float32)

	// Softmax and LogSoftmax run over the last axis of a rows × cols matrix.
	Softmax(rows, cols int, x, y []float32)
	LogSoftmax(rows, cols int, x, y []float32)
	// SoftmaxBackward writes dx = y * (dy - sum(dy*y)) per row.
	SoftmaxBackward(rows, cols int, y, dy, dx []float32)
	// LogSoftmaxBackward writes dx = dy - exp(y) * sum(dy) per row.
	LogSoftmaxBackward(rows, cols int, y, dy, dx []float32)

	// Gather copies rows of a table (tableRows × cols) selected by idx into out (len(idx) × cols).
	// It returns an error naming the first index outside [0, tableRows).
	Gather(table []float32, tableRows, cols int, idx []int64, out []float32) error
	// ScatterAdd adds src's rows into dst's rows selected by idx (the backward of Gather).
	ScatterAdd(dst []float32, dstRows, cols int, idx []int64, src []float32)
}

// Factory opens a backend. It returns an error when the backend cannot run here (a library is
// missing, no device), which makes the registry fall back to the next one.
type Factory func() (Backend, error)

type entry struct {
	name     string
	priority int
	open     Factory
}

var (
	registryMu sync.Mutex
	registry   = map[string]entry{}
	current    Backend
	chosenErr  []string
	// fast holds current once chosen, so the per-op lookup on hot paths takes no lock.
	fast atomic.Pointer[Backend]
)

// Register makes a backend available under name. Higher priority wins when no backend is
// forced; the reference backend has priority 0. Drivers call Register from init, as
// database/sql drivers do.
func Register(name string, priority int, open Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("backend: Register called twice for " + name)
	}
	registry[name] = entry{name: name, priority: priority, open: open}
}

// Names lists the registered backends, highest priority first.
func Names() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	return sortedNames()
}

func sortedNames() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := registry[names[i]], registry[names[j]]
		if a.priority != b.priority {
			return a.priority > b.priority
		}
		return a.name < b.name
	})
	return names
}

// Open opens the named backend.
func Open(name string) (Backend, error) {
	registryMu.Lock()
	e, ok := registry[name]
	known := sortedNames()
	registryMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("backend: unknown backend %q (registered: %v)", name, known)
	}
	b, err := e.open()
	if err != nil {
		return nil, fmt.Errorf("backend: open %q: %w", name, err)
	}
	return b, nil
}

// Current returns the process's backend: the one DEEPFRAME_BACKEND names, else the
// highest-priority backend that opens. If a forced backend cannot open, Current falls back to
// the reference backend and Skipped reports why.
func Current() Backend {
	if b := fast.Load(); b != nil {
		return *b
	}
	b := choose()
	fast.Store(&b)
	return b
}

func choose() Backend {
	registryMu.Lock()
	defer registryMu.Unlock()
	if current != nil {
		return current
	}
	if forced := os.Getenv("DEEPFRAME_BACKEND"); forced != "" {
		if e, ok := registry[forced]; ok {
			if b, err := e.open(); err == nil {
				current = b
				return current
			} else {
				chosenErr = append(chosenErr, fmt.Sprintf("%s: %v", forced, err))
			}
		} else {
			chosenErr = append(chosenErr, fmt.Sprintf("DEEPFRAME_BACKEND=%q is not registered (registered: %v)", forced, sortedNames()))
		}
	}
	for _, n := range sortedNames() {
		b, err := registry[n].open()
		if err != nil {
			chosenErr = append(chosenErr, fmt.Sprintf("%s: %v", n, err))
			continue
		}
		current = b
		return current
	}
	current = Reference()
	return current
}

// SetCurrent replaces the process's backend (tests use it to run the same model on two
// backends) and returns the previous one.
func SetCurrent(b Backend) Backend {
	prev := Current()
	registryMu.Lock()
	current = b
	fast.Store(&b)
	registryMu.Unlock()
	return prev
}

// Skipped lists the backends Current tried and could not open, with the reason, for logs.
func Skipped() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	return append([]string(nil), chosenErr...)
}

// NumThreads is the process's intra-op thread budget: DEEPFRAME_NUM_THREADS when set to a
// positive integer, else GOMAXPROCS. Go kernels and any loaded library share this one budget so
// they never oversubscribe the cores.
func NumThreads() int {
	if s := os.Getenv("DEEPFRAME_NUM_THREADS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return runtime.GOMAXPROCS(0)
}

func init() {
	Register("reference", 0, func() (Backend, error) { return Reference(), nil })
}
