package autograd

import (
	"fmt"
	"strings"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// Conv2DOptions configures Conv2D. Zero values mean stride 1, "valid" padding and dilation 1.
type Conv2DOptions struct {
	Strides [2]int
	// Padding is "valid" (no padding) or "same" (output size ceil(in/stride), padded as
	// TensorFlow does: any odd padding goes to the bottom and right), in any case.
	Padding  string
	Dilation [2]int
}

// Pool2DOptions configures MaxPool2D and AvgPool2D. Size is the window; zero Strides mean
// strides equal to Size (non-overlapping windows, Keras's default).
type Pool2DOptions struct {
	Size, Strides [2]int
	// Padding is "valid" or "same", as for Conv2DOptions; padded positions never win a max
	// and are not counted in an average.
	Padding string
}

// geometry is one spatial axis of a convolution or pooling window.
type geometry struct {
	out, padBefore, padAfter int
}

// parsePadding accepts "valid", "same" (any case) and "" (valid).
func parsePadding(op, p string) (same bool, err error) {
	switch strings.ToLower(p) {
	case "", "valid":
		return false, nil
	case "same":
		return true, nil
	}
	return false, opErr(op, "padding %q, want \"valid\" or \"same\"", p)
}

// axisGeometry sizes one spatial axis. An unknown input size (negative, as in a symbolic
// shape) gives an unknown output size. For "same" the output is ceil(in/stride) and the total
// padding max((out-1)*stride + (k-1)*dilation + 1 - in, 0), with the smaller half first.
func axisGeometry(in, k, stride, dilation int, same bool) (geometry, bool) {
	if in < 0 {
		return geometry{out: -1}, true
	}
	eff := (k-1)*dilation + 1
	if same {
		out := (in + stride - 1) / stride
		total := max((out-1)*stride+eff-in, 0)
		return geometry{out: out, padBefore: total / 2, padAfter: total - total/2}, out > 0
	}
	if in < eff {
		return geometry{}, false
	}
	return geometry{out: (in-eff)/stride + 1}, true
}

// resolve turns options into strides, dilations and padding mode, rejecting negatives.
func (o Conv2DOptions) resolve(op string) (sh, sw, dh, dw int, same bool, err error) {
	sh, sw, dh, dw = o.Strides[0], o.Strides[1], o.Dilation[0], o.Dilation[1]
	if sh == 0 {
		sh = 1
	}
	if sw == 0 {
		sw = 1
	}
	if dh == 0 {
		dh = 1
	}
	if dw == 0 {
		dw = 1
	}
	if sh < 0 || sw < 0 {
		return 0, 0, 0, 0, false, opErr(op, "strides %v, want positive", o.Strides)
	}
	if dh < 0 || dw < 0 {
		return 0, 0, 0, 0, false, opErr(op, "dilation %v, want positive", o.Dilation)
	}
	same, err = parsePadding(op, o.Padding)
	return
}

// convGeometry sizes a convolution of an h×w input with a kh×kw kernel.
func convGeometry(op string, h, w, kh, kw int, o Conv2DOptions) (gh, gw geometry, err error) {
	sh, sw, dh, dw, same, err := o.resolve(op)
	if err != nil {
		return gh, gw, err
	}
	if kh <= 0 || kw <= 0 {
		return gh, gw, opErr(op, "kernel size (%d, %d), want positive", kh, kw)
	}
	var okH, okW bool
	gh, okH = axisGeometry(h, kh, sh, dh, same)
	gw, okW = axisGeometry(w, kw, sw, dw, same)
	if !okH || !okW {
		pad := "valid"
		if same {
			pad = "same"
		}
		return gh, gw, opErr(op, "input %dx%d is smaller than the %dx%d kernel (dilation %dx%d) with %q padding",
			h, w, kh, kw, dh, dw, pad)
	}
	return gh, gw, nil
}

// Conv2DOutputShape is the output shape (H, W, OutC), batch axis excluded, of Conv2D applied
// to an input of shape (H, W, C) with a kh×kw kernel and outC filters. A negative (unknown)
// H or W stays unknown.
func Conv2DOutputShape(inShape tensor.Shape, kh, kw, outC int, opts Conv2DOptions) (tensor.Shape, error) {
	if len(inShape) != 3 {
		return nil, opErr("Conv2D", "input shape %v, want (height, width, channels)", inShape)
	}
	if outC <= 0 {
		return nil, opErr("Conv2D", "%d filters, want at least 1", outC)
	}
	gh, gw, err := convGeometry("Conv2D", inShape[0], inShape[1], kh, kw, opts)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{gh.out, gw.out, outC}, nil
}

// Conv2D convolves x [N, H, W, C] with kernel [KH, KW, C, OutC] (Keras's HWIO layout) and
// adds bias [OutC] when it is not nil, giving [N, OH, OW, OutC].
func Conv2D(x, kernel, bias *Variable, opts Conv2DOptions) *Variable {
	const name = "Conv2D"
	var err error
	if bias != nil {
		err = check(name, x, kernel, bias)
	} else {
		err = check(name, x, kernel)
	}
	if err != nil {
		return Failed(err)
	}
	xv, kv := x.value, kernel.value
	xs, ks := xv.Shape(), kv.Shape()
	if len(xs) != 4 {
		return opErrorf(name, "input %v, want rank 4 (batch, height, width, channels)", xs)
	}
	if len(ks) != 4 {
		return opErrorf(name, "kernel %v, want rank 4 (height, width, in channels, out channels)", ks)
	}
	if ks[2] != xs[3] {
		return opErrorf(name, "input %v has %d channels, kernel %v wants %d", xs, xs[3], ks, ks[2])
	}
	var bs []float32
	if bias != nil {
		if b := bias.value.Shape(); len(b) != 1 || b[0] != ks[3] {
			return opErrorf(name, "bias %v for kernel %v, want (%d,)", b, ks, ks[3])
		}
		bs = bias.value.Float32s()
	}
	gh, gw, err := convGeometry(name, xs[1], xs[2], ks[0], ks[1], opts)
	if err != nil {
		return Failed(fmt.Errorf("%w (input %v, kernel %v)", err, xs, ks))
	}
	sh, sw, dh, dw, _, _ := opts.resolve(name)
	p := backend.Conv2DParams{
		N: xs[0], H: xs[1], W: xs[2], C: xs[3],
		KH: ks[0], KW: ks[1], OutC: ks[3],
		StrideH: sh, StrideW: sw, DilationH: dh, DilationW: dw,
		PadTop: gh.padBefore, PadBottom: gh.padAfter, PadLeft: gw.padBefore, PadRight: gw.padAfter,
		OutH: gh.out, OutW: gw.out,
	}
	ar := arenaOf(x, kernel, bias)
	y := ar.zeros(p.N, p.OutH, p.OutW, p.OutC)
	empty := y.Len() == 0 || p.C == 0
	if !empty {
		Kernels().Conv2DForward(p, xv.Float32s(), kv.Float32s(), bs, y.Float32s())
	} else if bs != nil {
		// No input channels: every output is the bias alone.
		d := y.Float32s()
		for i := range d {
			d[i] = bs[i%p.OutC]
		}
	}
	var v *Variable
	var nd *node
	if bias != nil {
		v, nd = ar.record(y, conv2DGrad, x, kernel, bias)
	} else {
		v, nd = ar.record(y, conv2DGrad, x, kernel)
	}
	if nd != nil {
		nd.vals[0], nd.vals[1], nd.conv = xv, kv, p
	}
	return v
}

// conv2DGrad reads x and the kernel from vals and the geometry from conv.
func conv2DGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	p, xv, kv := nd.conv, nd.vals[0], nd.vals[1]
	ys := g.Shape()
	empty := ys.Size() == 0 || p.C == 0
	k := Kernels()
	if NeedsGrad(nd.inputs, 0) {
		dx := ar.zeros(xv.Shape()...)
		if !empty {
			k.Conv2DBackwardData(p, g.Float32s(), kv.Float32s(), dx.Float32s())
		}
		out[0] = dx
	}
	var db *tensor.Tensor
	if len(nd.inputs) == 3 && NeedsGrad(nd.inputs, 2) {
		db = ar.zeros(p.OutC)
		out[2] = db
	}
	if NeedsGrad(nd.inputs, 1) {
		dk := ar.zeros(kv.Shape()...)
		if !empty {
			var dbs []float32
			if db != nil {
				dbs = db.Float32s()
			}
			k.Conv2DBackwardWeights(p, xv.Float32s(), g.Float32s(), dk.Float32s(), dbs)
			db = nil // written
		}
		out[1] = dk
	}
	if db != nil && ys.Size() > 0 {
		k.Reduce(backend.ReduceSum, g.Float32s(), ys, spatialAxes, db.Float32s())
	}
}

// resolve validates pooling options and fills in default strides.
func (o Pool2DOptions) resolve(op string) (kh, kw, sh, sw int, same bool, err error) {
	kh, kw, sh, sw = o.Size[0], o.Size[1], o.Strides[0], o.Strides[1]
	if kh <= 0 || kw <= 0 {
		return 0, 0, 0, 0, false, opErr(op, "pool size %v, want positive", o.Size)
	}
	if sh == 0 && sw == 0 {
		sh, sw = kh, kw
	}
	if sh <= 0 || sw <= 0 {
		return 0, 0, 0, 0, false, opErr(op, "strides %v, want positive (or both zero for the pool size)", o.Strides)
	}
	same, err = parsePadding(op, o.Padding)
	return
}

func poolGeometry(op string, h, w int, o Pool2DOptions) (kh, kw, sh, sw int, gh, gw geometry, err error) {
	kh, kw, sh, sw, same, err := o.resolve(op)
	if err != nil {
		return
	}
	var okH, okW bool
	gh, okH = axisGeometry(h, kh, sh, 1, same)
	gw, okW = axisGeometry(w, kw, sw, 1, same)
	if !okH || !okW {
		err = opErr(op, "input %dx%d is smaller than the %dx%d pool window", h, w, kh, kw)
	}
	return
}

// Pool2DOutputShape is the output shape (H, W, C), batch axis excluded, of pooling an input
// of shape (H, W, C). A negative (unknown) H or W stays unknown.
func Pool2DOutputShape(inShape tensor.Shape, opts Pool2DOptions) (tensor.Shape, error) {
	if len(inShape) != 3 {
		return nil, opErr("Pool2D", "input shape %v, want (height, width, channels)", inShape)
	}
	_, _, _, _, gh, gw, err := poolGeometry("Pool2D", inShape[0], inShape[1], opts)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{gh.out, gw.out, inShape[2]}, nil
}

// MaxPool2D takes the maximum of each window of x [N, H, W, C]. The gradient goes to the
// window's first maximal element (in row-major order); padding never wins.
func MaxPool2D(x *Variable, opts Pool2DOptions) *Variable {
	return pool2D("MaxPool2D", backend.MaxPool, x, opts)
}

// AvgPool2D averages each window of x [N, H, W, C]. With "same" padding a window is averaged
// over its in-bounds elements only, as Keras does.
func AvgPool2D(x *Variable, opts Pool2DOptions) *Variable {
	return pool2D("AvgPool2D", backend.AvgPool, x, opts)
}

func pool2D(name string, kind backend.PoolKind, x *Variable, opts Pool2DOptions) *Variable {
	if err := check(name, x); err != nil {
		return Failed(err)
	}
	xv := x.value
	xs := xv.Shape()
	if len(xs) != 4 {
		return opErrorf(name, "input %v, want rank 4 (batch, height, width, channels)", xs)
	}
	kh, kw, sh, sw, gh, gw, err := poolGeometry(name, xs[1], xs[2], opts)
	if err != nil {
		return Failed(fmt.Errorf("%w (input %v)", err, xs))
	}
	p := backend.Pool2DParams{
		Kind: kind, N: xs[0], H: xs[1], W: xs[2], C: xs[3], KH: kh, KW: kw,
		StrideH: sh, StrideW: sw,
		PadTop: gh.padBefore, PadBottom: gh.padAfter, PadLeft: gw.padBefore, PadRight: gw.padAfter,
		OutH: gh.out, OutW: gw.out,
	}
	ar := x.arena
	y := ar.zeros(p.N, p.OutH, p.OutW, p.C)
	var argmax []int32
	if kind == backend.MaxPool {
		argmax = ar.int32Buf(y.Len())
	}
	if y.Len() > 0 {
		Kernels().Pool2DForward(p, xv.Float32s(), y.Float32s(), argmax)
	}
	v, nd := ar.record(y, pool2DGrad, x)
	if nd != nil {
		// Inference keeps no argmax.
		nd.vals[0], nd.pool, nd.argmax = xv, p, argmax
	}
	return v
}

// pool2DGrad reads x from vals[0], the geometry from pool and max pooling's winners from
// argmax.
func pool2DGrad(ar *Arena, nd *node, g *tensor.Tensor, out []*tensor.Tensor) {
	dx := ar.zeros(nd.vals[0].Shape()...)
	if g.Len() > 0 {
		Kernels().Pool2DBackward(nd.pool, g.Float32s(), nd.argmax, dx.Float32s())
	}
	out[0] = dx
}

// spatialHW is the height and width axes of an NHWC tensor; reductions only read it.
var spatialHW = []int{1, 2}

// GlobalAvgPool2D averages x [N, H, W, C] over its spatial axes, giving [N, C].
func GlobalAvgPool2D(x *Variable) *Variable {
	if err := check("GlobalAvgPool2D", x); err != nil {
		return Failed(err)
	}
	if xs := x.value.Shape(); len(xs) != 4 {
		return opErrorf("GlobalAvgPool2D", "input %v, want rank 4 (batch, height, width, channels)", xs)
	}
	return Mean(x, spatialHW, false)
}
