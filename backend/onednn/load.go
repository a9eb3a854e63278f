package onednn

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/deepframe/deepframe/backend"
	"github.com/ebitengine/purego"
)

// AptPackage is the Debian/Ubuntu package that provides libdnnl.so.2 (oneDNN 2.x).
const AptPackage = "libdnnl2"

// Only the oneDNN 2.x C API is bound: 3.x replaced the by-value descriptors used here with
// opaque handles, under a new soname.
var libraryNames = []string{
	"libdnnl.so.2",
	"/usr/lib/x86_64-linux-gnu/libdnnl.so.2",
	"/usr/lib/aarch64-linux-gnu/libdnnl.so.2",
	"/usr/local/lib/libdnnl.so.2",
	"/usr/lib64/libdnnl.so.2",
	"/opt/intel/oneapi/dnnl/latest/lib/libdnnl.so.2",
}

// Values from oneapi/dnnl/dnnl_types.h of oneDNN 2.6, printed by a C program compiled against
// that header (not transcribed by hand).
const (
	dnnlSuccess = 0

	dtF32 = 3
	dtS32 = 4
	dtU8  = 6

	mdDataTypeOffset = 104 // offsetof(dnnl_memory_desc_t, data_type)

	tagAny  = 1
	tagA    = 2  // dnnl_a, also dnnl_x
	tagAB   = 3  // dnnl_ab, also dnnl_nc
	tagBA   = 22 // dnnl_ba: a transposed row-major matrix
	tagNHWC = 20 // dnnl_nhwc (= dnnl_acdb)
	tagHWIO = 30 // dnnl_hwio

	engineCPU = 1
	streamDef = 1 // dnnl_stream_default_flags

	propForwardTraining  = 64
	propForwardInference = 96
	propBackward         = 128
	propBackwardData     = 160

	algConvDirect        = 0x1
	algPoolMax           = 0x1ff
	algPoolAvgExcludePad = 0x3ff
	algEltRelu           = 0x1f
	algEltTanh           = 0x2f
	algEltElu            = 0x3f
	algEltSquare         = 0x4f
	algEltAbs            = 0x5f
	algEltSqrt           = 0x6f
	algEltLinear         = 0x7f
	algEltSoftRelu       = 0x9f
	algEltLogistic       = 0xaf
	algEltExp            = 0xbf
	algEltSwish          = 0xdf
	algEltLog            = 0xef
	algEltGeluErf        = 0x30
	algEltTanhUseDst     = 0x101
	algEltSqrtUseDst     = 0x103
	algEltLogisticUseDst = 0x104
	algEltExpUseDst      = 0x105
	algSoftmaxAccurate   = 0x30000
	algSoftmaxLog        = 0x30001
	bnormUseGlobalStats  = 0x1
	bnormUseScale        = 0x8
	bnormUseShift        = 0x10
	scratchpadModeUser   = 1
	queryWeightsMD       = 131
	queryDiffWeightsMD   = 132
	queryWorkspaceMD     = 135
	queryScratchpadMD    = 136
	argSrc               = 1
	argDst               = 17
	argWeights           = 33
	argBias              = 41
	argMean              = 49
	argVariance          = 50
	argScale             = 51
	argShift             = 52
	argWorkspace         = 64
	argScratchpad        = 80
	argDiffSrc           = 129
	argDiffDst           = 145
	argDiffWeights       = 161
	argDiffBias          = 169
	argDiffScale         = 255
	argDiffShift         = 256
	argFrom              = argSrc
	argTo                = argDst
	maxNDims             = 12
	sizeofMemoryDesc     = 696
	sizeofLargestOpDesc  = 5976 // dnnl_convolution_desc_t
)

// memDesc and opDesc are caller-allocated C structs (dnnl_memory_desc_t and the op
// descriptors), given room to spare so a later 2.x minor release that grows them cannot
// overrun Go memory. uint64 elements give them the 8-byte alignment the C structs need.
type (
	memDesc [1024 / 8]uint64
	opDesc  [8192 / 8]uint64
	dims    [maxNDims]int64
)

var _ = [1]struct{}{}[unsafe.Sizeof(memDesc{})/sizeofMemoryDesc-1] // compile-time: memDesc is big enough
var _ = [1]struct{}{}[unsafe.Sizeof(opDesc{})/sizeofLargestOpDesc-1]

// lib holds the entry points. Functions whose arguments are all integers or pointers are
// called with purego.SyscallN, which neither reflects nor allocates; the few taking a float by
// value (descriptor initialisers, run once per cached primitive) go through purego's
// reflective RegisterFunc.
type lib struct {
	path string

	engineCreate, streamCreate, streamWait, streamDestroy uintptr
	mdInitByTag, mdGetSize, mdEqualFn                     uintptr
	memoryCreate, memorySetHandle, memoryDestroy          uintptr
	attrCreate, attrDestroy, attrSetScratchpadMode        uintptr
	pdCreate, pdDestroy, pdQueryMD                        uintptr
	primCreate, primExecute, primDestroy                  uintptr
	reorderPDCreate                                       uintptr
	convFwdInit, convBwdDataInit, convBwdWeightsInit      uintptr
	poolFwdInit, poolBwdInit                              uintptr
	softmaxFwdInit, softmaxBwdInit                        uintptr
	matmulInit                                            uintptr
	postOpsCreate, postOpsDestroy, attrSetPostOps         uintptr

	eltwiseFwdInit func(desc *opDesc, prop, alg int32, data *memDesc, alpha, beta float32) int32
	eltwiseBwdInit func(desc *opDesc, alg int32, diff, data *memDesc, alpha, beta float32) int32
	bnormFwdInit   func(desc *opDesc, prop int32, data *memDesc, eps float32, flags uint32) int32
	bnormBwdInit   func(desc *opDesc, prop int32, diff, data *memDesc, eps float32, flags uint32) int32
	postOpsEltwise func(postOps uintptr, scale float32, alg int32, alpha, beta float32) int32

	versionString    string
	isa              string
	engine           uintptr
	ompThreads       int
	ompThreadsSource string
}

type versionT struct {
	major, minor, patch int32
	_                   int32
	hash                *byte
	cpuRuntime          uint32
	gpuRuntime          uint32
}

var (
	loadOnce sync.Once
	theLib   *lib
	loadErr  error
)

func load() (*lib, error) {
	loadOnce.Do(func() { theLib, loadErr = doLoad() })
	return theLib, loadErr
}

func doLoad() (*lib, error) {
	// libgomp sizes its pool from OMP_NUM_THREADS when it initialises, which happens while
	// libdnnl is being loaded, so the budget has to be in the C environment before dlopen. The
	// pool then shares the cores with Go's own kernels instead of adding a thread per core.
	l := &lib{}
	if v, ok := os.LookupEnv("OMP_NUM_THREADS"); ok {
		l.ompThreads, _ = strconv.Atoi(strings.Split(v, ",")[0])
		l.ompThreadsSource = "OMP_NUM_THREADS"
	} else {
		l.ompThreads = backend.NumThreads()
		l.ompThreadsSource = "deepframe"
		_ = os.Setenv("OMP_NUM_THREADS", strconv.Itoa(l.ompThreads))
	}
	var handle uintptr
	var errs []string
	names := libraryNames
	if p := os.Getenv("DEEPFRAME_ONEDNN_LIBRARY"); p != "" {
		names = append([]string{p}, names...)
	}
	for _, name := range names {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err == nil {
			handle, l.path = h, name
			break
		}
		if len(errs) < 2 {
			errs = append(errs, err.Error())
		}
	}
	if handle == 0 {
		return nil, fmt.Errorf("onednn: cannot load libdnnl.so.2 (install the %s package: apt-get install %s): %s",
			AptPackage, AptPackage, strings.Join(errs, "; "))
	}
	syms := []struct {
		name string
		addr *uintptr
	}{
		{"dnnl_engine_create", &l.engineCreate},
		{"dnnl_stream_create", &l.streamCreate},
		{"dnnl_stream_wait", &l.streamWait},
		{"dnnl_stream_destroy", &l.streamDestroy},
		{"dnnl_memory_desc_init_by_tag", &l.mdInitByTag},
		{"dnnl_memory_desc_get_size", &l.mdGetSize},
		{"dnnl_memory_desc_equal", &l.mdEqualFn},
		{"dnnl_memory_create", &l.memoryCreate},
		{"dnnl_memory_set_data_handle", &l.memorySetHandle},
		{"dnnl_memory_destroy", &l.memoryDestroy},
		{"dnnl_primitive_attr_create", &l.attrCreate},
		{"dnnl_primitive_attr_destroy", &l.attrDestroy},
		{"dnnl_primitive_attr_set_scratchpad_mode", &l.attrSetScratchpadMode},
		{"dnnl_primitive_desc_create", &l.pdCreate},
		{"dnnl_primitive_desc_destroy", &l.pdDestroy},
		{"dnnl_primitive_desc_query_md", &l.pdQueryMD},
		{"dnnl_primitive_create", &l.primCreate},
		{"dnnl_primitive_execute", &l.primExecute},
		{"dnnl_primitive_destroy", &l.primDestroy},
		{"dnnl_reorder_primitive_desc_create", &l.reorderPDCreate},
		{"dnnl_dilated_convolution_forward_desc_init", &l.convFwdInit},
		{"dnnl_dilated_convolution_backward_data_desc_init", &l.convBwdDataInit},
		{"dnnl_dilated_convolution_backward_weights_desc_init", &l.convBwdWeightsInit},
		{"dnnl_pooling_forward_desc_init", &l.poolFwdInit},
		{"dnnl_pooling_backward_desc_init", &l.poolBwdInit},
		{"dnnl_softmax_v2_forward_desc_init", &l.softmaxFwdInit},
		{"dnnl_softmax_v2_backward_desc_init", &l.softmaxBwdInit},
		{"dnnl_matmul_desc_init", &l.matmulInit},
		{"dnnl_post_ops_create", &l.postOpsCreate},
		{"dnnl_post_ops_destroy", &l.postOpsDestroy},
		{"dnnl_primitive_attr_set_post_ops", &l.attrSetPostOps},
	}
	for _, s := range syms {
		addr, err := purego.Dlsym(handle, s.name)
		if err != nil || addr == 0 {
			return nil, fmt.Errorf("onednn: %s lacks %s (need oneDNN 2.6 or later 2.x; install %s): %v", l.path, s.name, AptPackage, err)
		}
		*s.addr = addr
	}
	for _, f := range []struct {
		name string
		fn   any
	}{
		{"dnnl_eltwise_forward_desc_init", &l.eltwiseFwdInit},
		{"dnnl_eltwise_backward_desc_init", &l.eltwiseBwdInit},
		{"dnnl_batch_normalization_forward_desc_init", &l.bnormFwdInit},
		{"dnnl_batch_normalization_backward_desc_init", &l.bnormBwdInit},
		{"dnnl_post_ops_append_eltwise", &l.postOpsEltwise},
	} {
		addr, err := purego.Dlsym(handle, f.name)
		if err != nil || addr == 0 {
			return nil, fmt.Errorf("onednn: %s lacks %s: %v", l.path, f.name, err)
		}
		purego.RegisterFunc(f.fn, addr)
	}

	if addr, err := purego.Dlsym(handle, "dnnl_version"); err == nil && addr != 0 {
		var version func() *versionT
		purego.RegisterFunc(&version, addr)
		if v := version(); v != nil {
			if v.major != 2 {
				return nil, fmt.Errorf("onednn: %s is oneDNN %d.%d; this backend needs the 2.x API (%s)", l.path, v.major, v.minor, AptPackage)
			}
			l.versionString = fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch)
			if h := cString(v.hash); h != "" && h != "N/A" {
				l.versionString += " (" + h + ")"
			}
		}
	}
	if addr, err := purego.Dlsym(handle, "dnnl_get_effective_cpu_isa"); err == nil && addr != 0 {
		r, _, _ := purego.SyscallN(addr)
		l.isa = isaName(int(int32(r)))
	}
	if st := l.call(l.engineCreate, uintptr(unsafe.Pointer(&l.engine)), engineCPU, 0); st != dnnlSuccess {
		return nil, fmt.Errorf("onednn: dnnl_engine_create(cpu) failed: %s", statusText(st))
	}
	return l, nil
}

// call invokes an integer/pointer-only C function returning dnnl_status_t.
//
//go:uintptrescapes
func (l *lib) call(fn uintptr, args ...uintptr) int32 {
	r, _, _ := purego.SyscallN(fn, args...)
	return int32(r)
}

func cString(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for i := 0; i < 256; i++ {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(p), i))
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

func statusText(st int32) string {
	switch st {
	case 0:
		return "success"
	case 1:
		return "out of memory"
	case 2:
		return "invalid arguments"
	case 3:
		return "unimplemented"
	case 4:
		return "iterator ends"
	case 5:
		return "runtime error"
	case 6:
		return "not required"
	}
	return "status " + strconv.Itoa(int(st))
}

// isaName names a dnnl_cpu_isa_t value (oneDNN 2.6's dnnl_types.h).
func isaName(v int) string {
	switch v {
	case 0x0:
		return "all"
	case 0x1:
		return "sse41"
	case 0x3:
		return "avx"
	case 0x7:
		return "avx2"
	case 0xf:
		return "avx512_mic"
	case 0x1f:
		return "avx512_mic_4ops"
	case 0x27:
		return "avx512_core"
	case 0x67:
		return "avx512_core_vnni"
	case 0xe7:
		return "avx512_core_bf16"
	case 0x3e7:
		return "avx512_core_amx"
	case 0x407:
		return "avx2_vnni"
	}
	return fmt.Sprintf("isa(%#x)", v)
}
