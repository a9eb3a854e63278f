package openblas

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/deepframe/deepframe/backend/internal/par"
	"github.com/ebitengine/purego"
)

// AptPackage is the Debian/Ubuntu package that provides the library this backend loads.
const AptPackage = "libopenblas0-pthread"

// libraryNames are tried in order. The bare sonames go through the dynamic loader's search
// path (LD_LIBRARY_PATH, ld.so.cache); the absolute paths catch Debian's alternatives layout
// when the cache has not been refreshed, e.g. inside a freshly built container.
var libraryNames = []string{
	"libopenblas.so.0",
	"libopenblas.so",
	"/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
	"/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
	"/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
	"/usr/lib64/libopenblas.so.0",
	"/usr/local/lib/libopenblas.so.0",
	"/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
	"/usr/local/opt/openblas/lib/libopenblas.dylib",
}

// Library is a loaded OpenBLAS: the entry points deepframe uses and what it reported about
// itself. Exported so the oneDNN backend can borrow its GEMM without loading it twice.
type Library struct {
	Path     string
	Config   string // openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64"
	CoreName string // openblas_get_corename(), the kernel family actually in use
	// CoreTypeSet says that deepframe chose OPENBLAS_CORETYPE itself (the user had not).
	CoreTypeSet bool

	sgemm         uintptr // the Fortran sgemm_: every argument by pointer, see sgemm
	setNumThreads uintptr
	getNumThreads uintptr

	threadsMu sync.Mutex
	threads   int // what openblas_set_num_threads was last given
}

var (
	loadOnce sync.Once
	loaded   *Library
	loadErr  error
)

// Load opens OpenBLAS once per process. Later calls return the same library or error.
func Load() (*Library, error) {
	loadOnce.Do(func() { loaded, loadErr = load() })
	return loaded, loadErr
}

func load() (*Library, error) {
	// OpenBLAS reads OPENBLAS_CORETYPE once, in its constructor, so it has to be in the C
	// environment before dlopen. Debian's 0.3.21 does not know Zen 4/5 and would fall back to
	// its Haswell (AVX2) kernels on them; the SkylakeX kernels run correctly there and are
	// about 1.8x faster. A user's own setting always wins.
	coreTypeSet := false
	if _, ok := os.LookupEnv("OPENBLAS_CORETYPE"); !ok && hasAVX512() {
		if err := os.Setenv("OPENBLAS_CORETYPE", "SkylakeX"); err == nil {
			coreTypeSet = true
		}
	}
	var handle uintptr
	var path string
	var errs []string
	names := libraryNames
	if p := os.Getenv("DEEPFRAME_OPENBLAS_LIBRARY"); p != "" {
		names = append([]string{p}, names...)
	}
	for _, name := range names {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err == nil {
			handle, path = h, name
			break
		}
		if len(errs) < 3 {
			errs = append(errs, err.Error())
		}
	}
	if handle == 0 {
		return nil, fmt.Errorf("openblas: cannot load libopenblas.so.0 (install the %s package: apt-get install %s): %s",
			AptPackage, AptPackage, strings.Join(errs, "; "))
	}
	lib := &Library{Path: path, CoreTypeSet: coreTypeSet}
	for _, s := range []struct {
		name string
		addr *uintptr
	}{
		{"sgemm_", &lib.sgemm},
		{"openblas_set_num_threads", &lib.setNumThreads},
		{"openblas_get_num_threads", &lib.getNumThreads},
	} {
		addr, err := purego.Dlsym(handle, s.name)
		if err != nil || addr == 0 {
			return nil, fmt.Errorf("openblas: %s has no symbol %s (is it OpenBLAS? install %s): %v", path, s.name, AptPackage, err)
		}
		*s.addr = addr
	}
	lib.Config = cString(handle, "openblas_get_config")
	lib.CoreName = cString(handle, "openblas_get_corename")
	return lib, nil
}

// cString calls a no-argument C function returning a const char* and copies the string; ""
// when the symbol is missing. Only used while loading, so purego's reflective call is fine.
func cString(handle uintptr, name string) string {
	addr, err := purego.Dlsym(handle, name)
	if err != nil || addr == 0 {
		return ""
	}
	var fn func() string
	purego.RegisterFunc(&fn, addr)
	return fn()
}

// hasAVX512 reports whether the CPU has the AVX-512 subsets OpenBLAS's SkylakeX kernels
// use (F, CD, BW, DQ, VL), read from /proc/cpuinfo so no assembly is needed.
func hasAVX512() bool {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "flags") {
			continue
		}
		have := map[string]bool{}
		for _, w := range strings.Fields(line) {
			have[w] = true
		}
		return have["avx512f"] && have["avx512cd"] && have["avx512bw"] && have["avx512dq"] && have["avx512vl"]
	}
	return false
}

// SetThreads sizes OpenBLAS's pool to n when it differs from the last setting. Calls from
// several goroutines are serialised because OpenBLAS resizes its pool without a lock.
func (l *Library) SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	l.threadsMu.Lock()
	if l.threads != n {
		purego.SyscallN(l.setNumThreads, uintptr(n))
		l.threads = n
	}
	l.threadsMu.Unlock()
}

// Threads is the size of OpenBLAS's pool as OpenBLAS reports it.
func (l *Library) Threads() int {
	r, _, _ := purego.SyscallN(l.getNumThreads)
	return int(int32(r))
}

// sgemmArgs holds sgemm_'s by-reference scalars. The Fortran interface takes every scalar
// by pointer, which purego.SyscallN can pass without the reflection (and the per-call
// allocations) that a float-by-value C signature like cblas_sgemm's would need.
type sgemmArgs struct {
	transA, transB byte
	m, n, k        int32
	lda, ldb, ldc  int32
	alpha, beta    float32
	// call is the argument list itself: handing SyscallN an existing slice avoids the
	// variadic slice it would otherwise allocate on every call.
	call [13]uintptr
}

var sgemmArgPool par.FreeList[sgemmArgs]

var errTooLarge = errors.New("openblas: matrix dimension exceeds 32-bit BLAS integers")

// Sgemm computes the row-major C = alpha·op(A)·op(B) + beta·C, op(A) m×k, op(B) k×n, all
// tightly packed. It returns an error (and leaves C alone) only when a dimension does not fit
// OpenBLAS's 32-bit integers.
func (l *Library) Sgemm(transA, transB bool, m, n, k int, alpha float32, a, b []float32, beta float32, c []float32) error {
	const maxInt32 = 1<<31 - 1
	if m > maxInt32 || n > maxInt32 || k > maxInt32 || m*n > maxInt32 || m*k > maxInt32 || k*n > maxInt32 {
		return errTooLarge
	}
	// Row-major C (m×n) is column-major Cᵀ (n×m), and Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands,
	// keep each one's transpose flag, and pass the row-major leading dimensions unchanged.
	s := sgemmArgPool.Get()
	if s == nil {
		s = new(sgemmArgs)
	}
	*s = sgemmArgs{transA: 'N', transB: 'N', m: int32(n), n: int32(m), k: int32(k),
		lda: int32(max(n, 1)), ldb: int32(max(k, 1)), ldc: int32(max(n, 1)), alpha: alpha, beta: beta}
	if transB {
		s.transA, s.lda = 'T', int32(max(k, 1))
	}
	if transA {
		s.transB, s.ldb = 'T', int32(max(m, 1))
	}
	s.call = [13]uintptr{
		uintptr(unsafe.Pointer(&s.transA)), uintptr(unsafe.Pointer(&s.transB)),
		uintptr(unsafe.Pointer(&s.m)), uintptr(unsafe.Pointer(&s.n)), uintptr(unsafe.Pointer(&s.k)),
		uintptr(unsafe.Pointer(&s.alpha)),
		uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(&s.lda)),
		uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(&s.ldb)),
		uintptr(unsafe.Pointer(&s.beta)),
		uintptr(unsafe.Pointer(unsafe.SliceData(c))), uintptr(unsafe.Pointer(&s.ldc)),
	}
	purego.SyscallN(l.sgemm, s.call[:]...)
	// The addresses above were taken from s and the three slices; nothing else keeps those
	// alive until sgemm returns.
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
	s.call = [13]uintptr{}
	sgemmArgPool.Put(s)
	return nil
}
