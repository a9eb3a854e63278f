package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/deepframe/deepframe/tensor"
)

// tfPads sizes one axis as TensorFlow documents it, written out here independently of the code
// under test.
func tfPads(in, k, stride, dil int, same bool) (out, before int) {
	eff := (k-1)*dil + 1
	if !same {
		return (in-eff)/stride + 1, 0
	}
	out = (in + stride - 1) / stride
	total := (out-1)*stride + eff - in
	if total < 0 {
		total = 0
	}
	return out, total / 2
}

// naiveConv is the textbook seven-loop NHWC/HWIO convolution.
func naiveConv(x, k *tensor.Tensor, bias []float32, o Conv2DOptions) ([]float32, tensor.Shape) {
	xs, ks := x.Shape(), k.Shape()
	n, h, w, c := xs[0], xs[1], xs[2], xs[3]
	kh, kw, oc := ks[0], ks[1], ks[3]
	sh, sw := max(o.Strides[0], 1), max(o.Strides[1], 1)
	dh, dw := max(o.Dilation[0], 1), max(o.Dilation[1], 1)
	same := o.Padding == "same"
	oh, pt := tfPads(h, kh, sh, dh, same)
	ow, pl := tfPads(w, kw, sw, dw, same)
	X, K := x.Float32s(), k.Float32s()
	out := make([]float32, n*oh*ow*oc)
	for b := 0; b < n; b++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				for f := 0; f < oc; f++ {
					var s float64
					if bias != nil {
						s = float64(bias[f])
					}
					for u := 0; u < kh; u++ {
						for v := 0; v < kw; v++ {
							y, z := i*sh-pt+u*dh, j*sw-pl+v*dw
							if y < 0 || y >= h || z < 0 || z >= w {
								continue
							}
							for ch := 0; ch < c; ch++ {
								s += float64(X[((b*h+y)*w+z)*c+ch]) * float64(K[((u*kw+v)*c+ch)*oc+f])
							}
						}
					}
					out[((b*oh+i)*ow+j)*oc+f] = float32(s)
				}
			}
		}
	}
	return out, tensor.Shape{n, oh, ow, oc}
}

func TestConv2D(t *testing.T) {
	rng := tensor.NewRNG(14)
	cases := []struct {
		name   string
		x, k   []int // NHWC, HWIO
		opts   Conv2DOptions
		bias   bool
		wantHW [2]int
	}{
		{"valid stride 1", []int{2, 5, 5, 2}, []int{3, 3, 2, 3}, Conv2DOptions{}, true, [2]int{3, 3}},
		{"same stride 1", []int{2, 5, 4, 2}, []int{3, 3, 2, 2}, Conv2DOptions{Padding: "same"}, true, [2]int{5, 4}},
		{"same stride 2 odd input", []int{1, 5, 7, 1}, []int{3, 3, 1, 2}, Conv2DOptions{Strides: [2]int{2, 2}, Padding: "same"}, false, [2]int{3, 4}},
		{"same stride 2 even input", []int{1, 6, 6, 2}, []int{3, 3, 2, 1}, Conv2DOptions{Strides: [2]int{2, 2}, Padding: "SAME"}, true, [2]int{3, 3}},
		{"valid stride 2x1", []int{2, 6, 5, 1}, []int{2, 3, 1, 2}, Conv2DOptions{Strides: [2]int{2, 1}, Padding: "valid"}, false, [2]int{3, 3}},
		{"valid dilation 2", []int{1, 7, 6, 2}, []int{3, 2, 2, 2}, Conv2DOptions{Dilation: [2]int{2, 2}}, true, [2]int{3, 4}},
		{"same dilation 2", []int{1, 5, 5, 1}, []int{3, 3, 1, 2}, Conv2DOptions{Dilation: [2]int{2, 1}, Padding: "same"}, true, [2]int{5, 5}},
		{"same even kernel", []int{1, 4, 5, 2}, []int{2, 4, 2, 1}, Conv2DOptions{Padding: "same"}, false, [2]int{4, 5}},
		{"1x1 kernel", []int{2, 3, 3, 3}, []int{1, 1, 3, 2}, Conv2DOptions{}, true, [2]int{3, 3}},
		{"stride and dilation", []int{1, 7, 7, 1}, []int{2, 2, 1, 1}, Conv2DOptions{Strides: [2]int{2, 2}, Dilation: [2]int{2, 2}}, false, [2]int{3, 3}},
	}
	for _, c := range cases {
		x, k := normal(rng, c.x...), normal(rng, c.k...)
		var b *tensor.Tensor
		var bv *Variable
		if c.bias {
			b = normal(rng, c.k[3])
			bv = Constant(b)
		}
		y := must(t, Conv2D(Constant(x), Constant(k), bv, c.opts))
		want, ws := naiveConv(x, k, floats(b), normaliseOpts(c.opts))
		if ws[1] != c.wantHW[0] || ws[2] != c.wantHW[1] {
			t.Fatalf("%s: test reference gives %v, expected %v", c.name, ws, c.wantHW)
		}
		closeTo(t, c.name+" forward", y.Value(), want, ws, 1e-5)
		os, err := Conv2DOutputShape(tensor.Shape(c.x[1:]), c.k[0], c.k[1], c.k[3], c.opts)
		if err != nil || !os.Equal(ws[1:]) {
			t.Errorf("%s: Conv2DOutputShape = %v, %v; want %v", c.name, os, err, ws[1:])
		}
		inputs := []*tensor.Tensor{x, k}
		if b != nil {
			inputs = append(inputs, b)
		}
		checkGrad(t, "Conv2D "+c.name, func(v []*Variable) *Variable {
			var bias *Variable
			if len(v) == 3 {
				bias = v[2]
			}
			return Conv2D(v[0], v[1], bias, c.opts)
		}, inputs...)
	}
}

func normaliseOpts(o Conv2DOptions) Conv2DOptions {
	if o.Padding == "SAME" {
		o.Padding = "same"
	}
	return o
}

func TestConv2DOutputShape(t *testing.T) {
	cases := []struct {
		in         tensor.Shape
		kh, kw, oc int
		opts       Conv2DOptions
		want       tensor.Shape
	}{
		{tensor.Shape{28, 28, 1}, 3, 3, 32, Conv2DOptions{}, tensor.Shape{26, 26, 32}},
		{tensor.Shape{28, 28, 1}, 3, 3, 32, Conv2DOptions{Padding: "same"}, tensor.Shape{28, 28, 32}},
		{tensor.Shape{28, 28, 1}, 5, 5, 8, Conv2DOptions{Strides: [2]int{2, 2}, Padding: "same"}, tensor.Shape{14, 14, 8}},
		{tensor.Shape{7, 9, 3}, 3, 3, 4, Conv2DOptions{Strides: [2]int{2, 3}}, tensor.Shape{3, 3, 4}},
		{tensor.Shape{-1, 10, 3}, 3, 3, 4, Conv2DOptions{}, tensor.Shape{-1, 8, 4}},
	}
	for _, c := range cases {
		got, err := Conv2DOutputShape(c.in, c.kh, c.kw, c.oc, c.opts)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("Conv2DOutputShape(%v, %dx%d, %d, %+v) = %v, %v; want %v", c.in, c.kh, c.kw, c.oc, c.opts, got, err, c.want)
		}
	}
	if _, err := Conv2DOutputShape(tensor.Shape{4, 4, 1}, 5, 5, 1, Conv2DOptions{}); err == nil {
		t.Error("kernel larger than a valid-padded input: no error")
	}
	if _, err := Conv2DOutputShape(tensor.Shape{4, 4, 1}, 3, 3, 1, Conv2DOptions{Padding: "full"}); err == nil {
		t.Error("unknown padding: no error")
	}
}

// naivePool pools NHWC x over in-bounds elements of each window.
func naivePool(x *tensor.Tensor, o Pool2DOptions, isMax bool) ([]float32, tensor.Shape) {
	xs := x.Shape()
	n, h, w, c := xs[0], xs[1], xs[2], xs[3]
	kh, kw := o.Size[0], o.Size[1]
	sh, sw := o.Strides[0], o.Strides[1]
	if sh == 0 {
		sh, sw = kh, kw
	}
	same := o.Padding == "same"
	oh, pt := tfPads(h, kh, sh, 1, same)
	ow, pl := tfPads(w, kw, sw, 1, same)
	X := x.Float32s()
	out := make([]float32, 0, n*oh*ow*c)
	for b := 0; b < n; b++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				for ch := 0; ch < c; ch++ {
					best, sum, cnt := math.Inf(-1), 0.0, 0
					for u := 0; u < kh; u++ {
						for v := 0; v < kw; v++ {
							y, z := i*sh-pt+u, j*sw-pl+v
							if y < 0 || y >= h || z < 0 || z >= w {
								continue
							}
							e := float64(X[((b*h+y)*w+z)*c+ch])
							best = math.Max(best, e)
							sum += e
							cnt++
						}
					}
					if isMax {
						out = append(out, float32(best))
					} else {
						out = append(out, float32(sum/float64(cnt)))
					}
				}
			}
		}
	}
	return out, tensor.Shape{n, oh, ow, c}
}

func TestPool2D(t *testing.T) {
	rng := tensor.NewRNG(15)
	cases := []struct {
		name string
		x    []int
		opts Pool2DOptions
	}{
		{"2x2 valid", []int{2, 4, 4, 2}, Pool2DOptions{Size: [2]int{2, 2}}},
		{"2x2 valid odd input", []int{1, 5, 5, 1}, Pool2DOptions{Size: [2]int{2, 2}, Padding: "valid"}},
		{"2x2 same odd input", []int{1, 5, 3, 2}, Pool2DOptions{Size: [2]int{2, 2}, Padding: "same"}},
		{"3x3 stride 2 same", []int{2, 5, 6, 1}, Pool2DOptions{Size: [2]int{3, 3}, Strides: [2]int{2, 2}, Padding: "same"}},
		{"3x3 stride 1 valid", []int{1, 5, 4, 2}, Pool2DOptions{Size: [2]int{3, 3}, Strides: [2]int{1, 1}}},
		{"2x3 stride 1x2 same", []int{1, 4, 5, 1}, Pool2DOptions{Size: [2]int{2, 3}, Strides: [2]int{1, 2}, Padding: "same"}},
	}
	for _, c := range cases {
		for _, kind := range []string{"max", "avg"} {
			name := fmt.Sprintf("%sPool2D %s", kind, c.name)
			x := distinct(rng, c.x...)
			op := MaxPool2D
			if kind == "avg" {
				op = AvgPool2D
			}
			y := must(t, op(Constant(x), c.opts))
			want, ws := naivePool(x, c.opts, kind == "max")
			closeTo(t, name+" forward", y.Value(), want, ws, 1e-5)
			os, err := Pool2DOutputShape(tensor.Shape(c.x[1:]), c.opts)
			if err != nil || !os.Equal(ws[1:]) {
				t.Errorf("%s: Pool2DOutputShape = %v, %v; want %v", name, os, err, ws[1:])
			}
			checkGrad(t, name, func(v []*Variable) *Variable { return op(v[0], c.opts) }, x)
		}
	}
	if _, err := Pool2DOutputShape(tensor.Shape{1, 4, 1}, Pool2DOptions{Size: [2]int{2, 2}}); err == nil {
		t.Error("window larger than a valid-padded input: no error")
	}
	if _, err := Pool2DOutputShape(tensor.Shape{4, 4, 1}, Pool2DOptions{}); err == nil {
		t.Error("zero pool size: no error")
	}
}

func TestGlobalAvgPool2D(t *testing.T) {
	rng := tensor.NewRNG(16)
	d := randDims(rng, 4, 1, 4)
	x := normal(rng, d...)
	y := must(t, GlobalAvgPool2D(Constant(x)))
	want := make([]float32, d[0]*d[3])
	for b := 0; b < d[0]; b++ {
		for c := 0; c < d[3]; c++ {
			s := 0.0
			for i := 0; i < d[1]*d[2]; i++ {
				s += float64(x.Float32s()[(b*d[1]*d[2]+i)*d[3]+c])
			}
			want[b*d[3]+c] = float32(s / float64(d[1]*d[2]))
		}
	}
	closeTo(t, "GlobalAvgPool2D", y.Value(), want, tensor.Shape{d[0], d[3]}, 1e-5)
	checkGrad(t, "GlobalAvgPool2D", func(v []*Variable) *Variable { return GlobalAvgPool2D(v[0]) }, x)
	wantErr(t, "GlobalAvgPool2D rank", GlobalAvgPool2D(Constant(normal(rng, 2, 3))), "GlobalAvgPool2D", "(2, 3)")
}
