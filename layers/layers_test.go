package layers

import (
	"fmt"
	"math"
	"testing"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// layerCase is one configured layer with the sample shapes it is fed.
type layerCase struct {
	name   string
	make   func() Layer
	inputs []tensor.Shape
	// gen makes one input batch; nil means standard normal values.
	gen func(rng *tensor.RNG, shape []int) *tensor.Tensor
	// noInputGrad: the input is not differentiable (ids) or the check would cross kinks.
	noInputGrad bool
	training    bool
}

func normalGen(rng *tensor.RNG, shape []int) *tensor.Tensor { return rng.RandN(shape...) }

func awayGen(rng *tensor.RNG, shape []int) *tensor.Tensor { return away(rng, 0.1, shape...) }

func distinctGen(rng *tensor.RNG, shape []int) *tensor.Tensor { return distinct(rng, shape...) }

func idsGen(n int) func(rng *tensor.RNG, shape []int) *tensor.Tensor {
	return func(rng *tensor.RNG, shape []int) *tensor.Tensor { return ids(rng, n, shape...) }
}

// layerCases covers every built-in layer with math, with odd sizes and several option sets.
func layerCases() []layerCase {
	img := func(h, w, c int) []tensor.Shape { return []tensor.Shape{{h, w, c}} }
	return []layerCase{
		{name: "dense", make: func() Layer { return Dense(3) }, inputs: []tensor.Shape{{4}}},
		{name: "dense_relu", make: func() Layer { return Dense(5, Activation("relu")) }, inputs: []tensor.Shape{{3}}, gen: awayGen},
		{name: "dense_sigmoid_nobias", make: func() Layer { return Dense(2, Activation("sigmoid"), UseBias(false)) }, inputs: []tensor.Shape{{5}}},
		{name: "dense_tanh", make: func() Layer { return Dense(3, Activation("tanh")) }, inputs: []tensor.Shape{{2}}},
		{name: "dense_softmax", make: func() Layer { return Dense(4, Activation("softmax")) }, inputs: []tensor.Shape{{3}}},
		{name: "dense_gelu", make: func() Layer { return Dense(3, Activation("gelu")) }, inputs: []tensor.Shape{{3}}},
		{name: "dense_rank3", make: func() Layer { return Dense(3, Activation("elu")) }, inputs: []tensor.Shape{{2, 5}}},
		{name: "activation_softmax", make: func() Layer { return Activation("softmax") }, inputs: []tensor.Shape{{2, 3}}},
		{name: "activation_swish", make: func() Layer { return Activation("swish") }, inputs: []tensor.Shape{{7}}},
		{name: "flatten", make: func() Layer { return Flatten() }, inputs: []tensor.Shape{{2, 3, 2}}},
		{name: "flatten_cf", make: func() Layer { return Flatten(DataFormat("channels_first")) }, inputs: []tensor.Shape{{2, 3, 2}}},
		{name: "reshape", make: func() Layer { return Reshape(3, -1) }, inputs: []tensor.Shape{{2, 3, 2}}},
		{name: "conv_valid", make: func() Layer { return Conv2D(3, []int{3}) }, inputs: img(5, 4, 2)},
		{name: "conv_same_stride", make: func() Layer { return Conv2D(2, []int{3, 2}, Padding("same"), Strides(2), Activation("tanh")) }, inputs: img(5, 5, 3)},
		{name: "conv_dilated", make: func() Layer { return Conv2D(2, []int{2}, DilationRate(2), UseBias(false)) }, inputs: img(5, 6, 1)},
		{name: "conv_cf", make: func() Layer {
			return Conv2D(2, []int{2, 3}, DataFormat("channels_first"), Padding("same"), Activation("sigmoid"))
		}, inputs: img(3, 4, 5)},
		{name: "maxpool", make: func() Layer { return MaxPooling2D() }, inputs: img(4, 5, 2), gen: distinctGen},
		{name: "maxpool_same", make: func() Layer { return MaxPooling2D(PoolSize(3), Strides(2), Padding("same")) }, inputs: img(5, 4, 2), gen: distinctGen},
		{name: "avgpool", make: func() Layer { return AveragePooling2D(PoolSize(2, 3), Padding("same")) }, inputs: img(5, 5, 2)},
		{name: "avgpool_cf", make: func() Layer { return AveragePooling2D(DataFormat("channels_first")) }, inputs: img(2, 4, 4)},
		{name: "global_avg", make: func() Layer { return GlobalAveragePooling2D() }, inputs: img(3, 2, 4)},
		{name: "global_avg_cf", make: func() Layer { return GlobalAveragePooling2D(DataFormat("channels_first")) }, inputs: img(3, 2, 4)},
		{name: "global_max", make: func() Layer { return GlobalMaxPooling2D() }, inputs: img(3, 3, 2), gen: distinctGen},
		{name: "bn_infer", make: func() Layer { return BatchNormalization() }, inputs: []tensor.Shape{{3}}},
		{name: "bn_train", make: func() Layer { return BatchNormalization(Momentum(0.9)) }, inputs: []tensor.Shape{{4}}, training: true},
		{name: "bn_train_image", make: func() Layer { return BatchNormalization() }, inputs: img(2, 3, 3), training: true},
		{name: "bn_axis1", make: func() Layer { return BatchNormalization(Axis(1), Center(false)) }, inputs: img(3, 2, 2), training: true},
		{name: "bn_noscale", make: func() Layer { return BatchNormalization(Scale(false), Epsilon(0.01)) }, inputs: []tensor.Shape{{2}}, training: true},
		{name: "embedding", make: func() Layer { return Embedding(7, 3) }, inputs: []tensor.Shape{{4}}, gen: idsGen(7), noInputGrad: true},
		{name: "embedding_2d", make: func() Layer { return Embedding(5, 2) }, inputs: []tensor.Shape{{2, 3}}, gen: idsGen(5), noInputGrad: true},
		{name: "concat", make: func() Layer { return Concatenate() }, inputs: []tensor.Shape{{2, 3}, {2, 1}}},
		{name: "concat_axis1", make: func() Layer { return Concatenate(Axis(1)) }, inputs: []tensor.Shape{{2, 3}, {1, 3}, {3, 3}}},
		{name: "add", make: func() Layer { return Add() }, inputs: []tensor.Shape{{2, 3}, {2, 3}, {2, 3}}},
		{name: "add_broadcast", make: func() Layer { return Add() }, inputs: []tensor.Shape{{2, 3}, {1, 3}}},
		{name: "dropout_train", make: func() Layer { return Dropout(0.4) }, inputs: []tensor.Shape{{6}}, training: true},
	}
}

func (c layerCase) batch(rng *tensor.RNG, n int) []*tensor.Tensor {
	gen := c.gen
	if gen == nil {
		gen = normalGen
	}
	xs := make([]*tensor.Tensor, len(c.inputs))
	for i, s := range c.inputs {
		xs[i] = gen(rng, batchShape(n, s))
	}
	return xs
}

func TestOutputShapesMatchComputeOutputShape(t *testing.T) {
	for _, c := range layerCases() {
		t.Run(c.name, func(t *testing.T) {
			l := c.make()
			mustBuild(t, l, 1, c.inputs...)
			want, err := l.ComputeOutputShape(c.inputs)
			if err != nil {
				t.Fatal(err)
			}
			rng := tensor.NewRNG(2)
			for _, n := range []int{1, 3} {
				ctx := &Context{Training: c.training, RNG: tensor.NewRNG(3)}
				y := call(t, l, ctx, c.batch(rng, n)...)
				if got := y.Shape(); !got.Equal(tensor.Shape(batchShape(n, want))) {
					t.Fatalf("batch %d: output %v, ComputeOutputShape says %v", n, got, want)
				}
			}
		})
	}
}

func TestGradients(t *testing.T) {
	for _, c := range layerCases() {
		t.Run(c.name, func(t *testing.T) {
			l := c.make()
			mustBuild(t, l, 4, c.inputs...)
			// Non-default weights, so that a gamma of ones or a zero bias cannot hide a
			// wrong gradient.
			rng := tensor.NewRNG(5)
			for _, w := range l.Weights() {
				if w.Trainable {
					rng.FillUniform(w.Value(), 0.5, 1.5)
				}
			}
			for _, n := range []int{1, 3} {
				if c.training && n == 1 && l.ClassName() == "BatchNormalization" {
					continue // one sample of one position has no batch variance
				}
				ctx := &Context{Training: c.training, Grad: true, RNG: tensor.NewRNG(6)}
				gradCheck(t, l, ctx, c.batch(rng, n), !c.noInputGrad, autograd.GradCheckOptions{Seed: 7})
			}
		})
	}
}

func TestConfigRoundTripSameOutput(t *testing.T) {
	for _, c := range layerCases() {
		t.Run(c.name, func(t *testing.T) {
			l := c.make()
			l2 := roundTrip(t, l)
			if l2.Name() != l.Name() || l2.ClassName() != l.ClassName() {
				t.Fatalf("rebuilt %s (%s), want %s (%s)", l2.Name(), l2.ClassName(), l.Name(), l.ClassName())
			}
			mustBuild(t, l, 8, c.inputs...)
			mustBuild(t, l2, 9, c.inputs...)
			w1, w2 := l.Weights(), l2.Weights()
			if len(w1) != len(w2) {
				t.Fatalf("%d weights after rebuild, want %d", len(w2), len(w1))
			}
			for i := range w1 {
				if w1[i].Name != w2[i].Name || !w1[i].Value().Shape().Equal(w2[i].Value().Shape()) {
					t.Fatalf("weight %d: %s%v, want %s%v", i, w2[i].Name, w2[i].Value().Shape(), w1[i].Name, w1[i].Value().Shape())
				}
				if err := w2[i].Value().CopyFrom(w1[i].Value()); err != nil {
					t.Fatal(err)
				}
			}
			xs := c.batch(tensor.NewRNG(10), 3)
			y1 := call(t, l, &Context{}, xs...)
			y2 := call(t, l2, &Context{}, xs...)
			if !tensor.Equal(y1, y2) {
				t.Fatalf("outputs differ after a config round trip: %v vs %v", y1, y2)
			}
		})
	}
}

func TestParamCountsMatchKeras(t *testing.T) {
	cases := []struct {
		name                string
		l                   Layer
		in                  tensor.Shape
		total, nonTrainable int
	}{
		{"dense 4->100", Dense(100), tensor.Shape{4}, 500, 0},
		{"dense no bias", Dense(10, UseBias(false)), tensor.Shape{7}, 70, 0},
		{"conv 5x5 1->32", Conv2D(32, []int{5, 5}), tensor.Shape{28, 28, 1}, 832, 0},
		{"conv 3x3 16->8 no bias", Conv2D(8, []int{3}, UseBias(false)), tensor.Shape{9, 9, 16}, 1152, 0},
		{"batchnorm 32", BatchNormalization(), tensor.Shape{10, 10, 32}, 128, 64},
		{"batchnorm no center", BatchNormalization(Center(false)), tensor.Shape{6}, 18, 12},
		{"embedding 1000x64", Embedding(1000, 64), tensor.Shape{10}, 64000, 0},
		{"pool", MaxPooling2D(), tensor.Shape{4, 4, 3}, 0, 0},
	}
	for _, c := range cases {
		mustBuild(t, c.l, 1, c.in)
		if got := ParamCount(c.l); got != c.total {
			t.Errorf("%s: ParamCount %d, want %d", c.name, got, c.total)
		}
		if got := NonTrainableParamCount(c.l); got != c.nonTrainable {
			t.Errorf("%s: NonTrainableParamCount %d, want %d", c.name, got, c.nonTrainable)
		}
		if got := TrainableParamCount(c.l); got != c.total-c.nonTrainable {
			t.Errorf("%s: TrainableParamCount %d, want %d", c.name, got, c.total-c.nonTrainable)
		}
	}

	// The iris network of the design's north-star program: 4-100-100-3.
	iris := []Layer{
		Dense(100, Activation("relu"), InputShape(4), Name("fc_1")),
		Dense(100, Activation("relu"), Name("fc_2")),
		Dense(3, Activation("softmax"), Name("fc_3")),
	}
	shape := DeclaredInputShape(iris[0])
	if !shape.Equal(tensor.Shape{4}) {
		t.Fatalf("DeclaredInputShape %v, want (4,)", shape)
	}
	total := 0
	root := tensor.NewRNG(31)
	for _, l := range iris {
		if err := l.Build([]tensor.Shape{shape}, root.Split()); err != nil {
			t.Fatal(err)
		}
		total += ParamCount(l)
		var err error
		if shape, err = l.ComputeOutputShape([]tensor.Shape{shape}); err != nil {
			t.Fatal(err)
		}
	}
	if total != 10903 {
		t.Fatalf("iris network has %d params, want 10,903", total)
	}
	if iris[0].Weights()[0].Name != "fc_1/kernel" || iris[2].Weights()[1].Name != "fc_3/bias" {
		t.Fatalf("weight names %s, %s", iris[0].Weights()[0].Name, iris[2].Weights()[1].Name)
	}
}

func TestDenseMath(t *testing.T) {
	l := Dense(2, KernelInitializer(Constant(0.5)), BiasInitializer(Constant(1)))
	mustBuild(t, l, 1, tensor.Shape{3})
	x, _ := tensor.FromFloat32([]float32{1, 2, 3, -1, -2, -3}, 2, 3)
	y := call(t, l, nil, x)
	want := []float32{4, 4, -2, -2}
	for i, v := range y.Float32s() {
		if v != want[i] {
			t.Fatalf("Dense output %v, want %v", y.Float32s(), want)
		}
	}
	// Rank 3: the same map on the last axis.
	x3, _ := tensor.FromFloat32([]float32{1, 2, 3, -1, -2, -3}, 1, 2, 3)
	y3 := call(t, l, nil, x3)
	if !y3.Shape().Equal(tensor.Shape{1, 2, 2}) || y3.Float32s()[2] != -2 {
		t.Fatalf("Dense on rank 3: %v", y3)
	}
	// Wrong feature count is an error naming the layer, not a panic.
	bad := tensor.Zeros(2, 4)
	_, err := l.Call(nil, []*autograd.Variable{autograd.Constant(bad)})
	wantErr(t, err, l.Name(), "Dense")
}

func TestConvMatchesHandComputation(t *testing.T) {
	// A 3x3 single-channel image of 1..9 and a 2x2 kernel of ones sums each window.
	l := Conv2D(1, []int{2}, KernelInitializer(Ones()), BiasInitializer(Constant(0.5)))
	mustBuild(t, l, 1, tensor.Shape{3, 3, 1})
	x, _ := tensor.FromFloat32([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 3, 3, 1)
	y := call(t, l, nil, x)
	want := []float32{12.5, 16.5, 24.5, 28.5}
	for i, v := range y.Float32s() {
		if v != want[i] {
			t.Fatalf("conv output %v, want %v", y.Float32s(), want)
		}
	}
}

func TestConvChannelsFirstMatchesChannelsLast(t *testing.T) {
	last := Conv2D(3, []int{3, 2}, Padding("same"), Strides(2, 1))
	first := Conv2D(3, []int{3, 2}, Padding("same"), Strides(2, 1), DataFormat(ChannelsFirst))
	mustBuild(t, last, 1, tensor.Shape{5, 4, 2})
	mustBuild(t, first, 2, tensor.Shape{2, 5, 4})
	for i, w := range last.Weights() {
		if err := first.Weights()[i].Value().CopyFrom(w.Value()); err != nil {
			t.Fatal(err)
		}
	}
	x := tensor.NewRNG(3).RandN(2, 5, 4, 2)
	yl := call(t, last, nil, x)
	xf := autograd.Transpose(autograd.Constant(x), 0, 3, 1, 2).Value()
	yf := call(t, first, nil, xf)
	back := autograd.Transpose(autograd.Constant(yf), 0, 2, 3, 1).Value()
	if !tensor.AllClose(back, yl, 1e-5, 1e-6) {
		t.Fatalf("channels_first conv differs from channels_last")
	}
}

func TestOutputShapeInference(t *testing.T) {
	cases := []struct {
		l    Layer
		in   []tensor.Shape
		want tensor.Shape
	}{
		{Conv2D(32, []int{5}), []tensor.Shape{{28, 28, 1}}, tensor.Shape{24, 24, 32}},
		{Conv2D(8, []int{3}, Padding("same"), Strides(2)), []tensor.Shape{{7, 8, 3}}, tensor.Shape{4, 4, 8}},
		{Conv2D(8, []int{3}, DilationRate(2)), []tensor.Shape{{7, 8, 3}}, tensor.Shape{3, 4, 8}},
		{Conv2D(4, []int{3}, DataFormat(ChannelsFirst)), []tensor.Shape{{3, 7, 8}}, tensor.Shape{4, 5, 6}},
		{Conv2D(4, []int{3}), []tensor.Shape{{-1, -1, 3}}, tensor.Shape{-1, -1, 4}},
		{MaxPooling2D(), []tensor.Shape{{24, 24, 32}}, tensor.Shape{12, 12, 32}},
		{MaxPooling2D(PoolSize(3), Strides(2)), []tensor.Shape{{7, 7, 1}}, tensor.Shape{3, 3, 1}},
		{AveragePooling2D(Padding("same")), []tensor.Shape{{7, 5, 2}}, tensor.Shape{4, 3, 2}},
		{GlobalAveragePooling2D(), []tensor.Shape{{7, 5, 2}}, tensor.Shape{2}},
		{Flatten(), []tensor.Shape{{7, 5, 2}}, tensor.Shape{70}},
		{Flatten(), []tensor.Shape{{-1, 5}}, tensor.Shape{-1}},
		{Reshape(-1, 2), []tensor.Shape{{3, 4}}, tensor.Shape{6, 2}},
		{Dense(3), []tensor.Shape{{-1, 4}}, tensor.Shape{-1, 3}},
		{Embedding(10, 4), []tensor.Shape{{6}}, tensor.Shape{6, 4}},
		{Concatenate(), []tensor.Shape{{2, 3}, {2, 5}}, tensor.Shape{2, 8}},
		{Concatenate(Axis(1)), []tensor.Shape{{2, 3}, {4, 3}}, tensor.Shape{6, 3}},
		{Concatenate(Axis(-2)), []tensor.Shape{{-1, 3}, {4, 3}}, tensor.Shape{-1, 3}},
		{Add(), []tensor.Shape{{2, 3}, {1, 3}}, tensor.Shape{2, 3}},
		{BatchNormalization(Axis(1)), []tensor.Shape{{3, 4, 4}}, tensor.Shape{3, 4, 4}},
	}
	for _, c := range cases {
		got, err := c.l.ComputeOutputShape(c.in)
		if err != nil {
			t.Errorf("%s on %v: %v", c.l.Name(), c.in, err)
			continue
		}
		if !got.Equal(c.want) {
			t.Errorf("%s on %v: %v, want %v", c.l.Name(), c.in, got, c.want)
		}
	}
	bad := []struct {
		l    Layer
		in   []tensor.Shape
		want string
	}{
		{Conv2D(4, []int{5}), []tensor.Shape{{3, 3, 1}}, "smaller"},
		{Conv2D(4, []int{3}), []tensor.Shape{{3, 3}}, "rank 3"},
		{Dense(3), []tensor.Shape{{4}, {4}}, "takes 1 input"},
		{Concatenate(), []tensor.Shape{{2, 3}, {3, 3}}, "differs"},
		{Concatenate(Axis(3)), []tensor.Shape{{2, 3}}, "out of range"},
		{Add(), []tensor.Shape{{2, 3}, {2, 4}}, "broadcast"},
		{Reshape(5), []tensor.Shape{{2, 3}}, "reshape"},
		{BatchNormalization(Axis(4)), []tensor.Shape{{2, 3}}, "out of range"},
	}
	for _, c := range bad {
		_, err := c.l.ComputeOutputShape(c.in)
		wantErr(t, err, c.l.Name(), c.want)
		wantErr(t, c.l.Build(c.in, tensor.NewRNG(1)), c.l.Name())
	}
}

func TestFunctionalNodes(t *testing.T) {
	in := Input(4)
	if in.Err() != nil || !in.Shape.Equal(tensor.Shape{4}) || in.Layer.ClassName() != "InputLayer" {
		t.Fatalf("Input(4): %+v", in)
	}
	a := Dense(8).Apply(in)
	b := Dense(8, Activation("relu")).Apply(in)
	sum := Add().Apply(a, b)
	cat := Concatenate().Apply(sum, in)
	if cat.Err() != nil || !cat.Shape.Equal(tensor.Shape{12}) {
		t.Fatalf("concatenate node: shape %v, err %v", cat.Shape, cat.Err())
	}
	bad := Add().Apply(a, in)
	wantErr(t, bad.Err(), "add", "broadcast")
	// An error travels down the graph.
	if after := Dense(2).Apply(bad); after.Err() == nil {
		t.Fatal("error not passed on")
	}
	il := in.Layer.(*InputLayer)
	wrong := tensor.Zeros(2, 5)
	_, err := il.Call(nil, []*autograd.Variable{autograd.Constant(wrong)})
	wantErr(t, err, "expects")
	l2 := roundTrip(t, NewInputLayer([]int{-1, 3}, Name("tokens")))
	if !l2.(*InputLayer).Shape().Equal(tensor.Shape{-1, 3}) || l2.Name() != "tokens" {
		t.Fatalf("InputLayer round trip: %v %s", l2.(*InputLayer).Shape(), l2.Name())
	}
}

func TestSameSeedSameWeights(t *testing.T) {
	build := func(seed uint64) []*Weight {
		l := Conv2D(4, []int{3})
		mustBuild(t, l, seed, tensor.Shape{6, 6, 2})
		return l.Weights()
	}
	a, b, c := build(42), build(42), build(43)
	if !tensor.Equal(a[0].Value(), b[0].Value()) {
		t.Fatal("same seed gave different kernels")
	}
	if tensor.Equal(a[0].Value(), c[0].Value()) {
		t.Fatal("different seeds gave the same kernel")
	}
	// A nil RNG is not a panic and is deterministic.
	d1, d2 := Dense(3), Dense(3)
	if err := d1.Build([]tensor.Shape{{2}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := d2.Build([]tensor.Shape{{2}}, nil); err != nil {
		t.Fatal(err)
	}
	if !tensor.Equal(d1.Kernel().Value(), d2.Kernel().Value()) {
		t.Fatal("nil RNG is not deterministic")
	}
}

func TestFrozenLayerParamIsConstant(t *testing.T) {
	l := Dense(3, Trainable(false))
	mustBuild(t, l, 1, tensor.Shape{2})
	ctx := &Context{Grad: true}
	p := ctx.Param(l.Kernel())
	if p == l.Kernel().Var || p.RequiresGrad() {
		t.Fatal("frozen layer's Param is the trainable variable")
	}
	if TrainableParamCount(l) != 0 || NonTrainableParamCount(l) != 9 {
		t.Fatalf("frozen counts: %d trainable, %d not", TrainableParamCount(l), NonTrainableParamCount(l))
	}
	x := autograd.NewVariable(tensor.NewRNG(2).RandN(4, 2), true)
	y, err := l.Call(ctx, []*autograd.Variable{x})
	if err != nil {
		t.Fatal(err)
	}
	if err := autograd.SumAll(y).Backward(); err != nil {
		t.Fatal(err)
	}
	if l.Kernel().Var.Grad() != nil {
		t.Fatal("frozen kernel got a gradient")
	}
	if x.Grad() == nil {
		t.Fatal("input of a frozen layer got no gradient")
	}
	// Unfreezing gives back the variable itself.
	l.SetTrainable(true)
	if p := ctx.Param(l.Kernel()); p != l.Kernel().Var || !p.RequiresGrad() {
		t.Fatal("unfrozen layer's Param is not its variable")
	}
	// Inference (Grad false) never hands out the variable.
	if p := (&Context{}).Param(l.Kernel()); p == l.Kernel().Var {
		t.Fatal("inference Param is the variable")
	}
}

func TestDropout(t *testing.T) {
	const rate = 0.3
	l := Dropout(rate, Name("drop"))
	mustBuild(t, l, 1, tensor.Shape{1000})
	x := tensor.Full(1, 100, 1000)
	// Inference: the input itself.
	for _, ctx := range []*Context{nil, {}, {Grad: true, RNG: tensor.NewRNG(1)}} {
		if y := call(t, l, ctx, x); y != x {
			t.Fatal("dropout changed its input at inference")
		}
	}
	ctx := &Context{Training: true, RNG: tensor.NewRNG(9)}
	y := call(t, l, ctx, x)
	zeros := 0
	for _, v := range y.Float32s() {
		switch {
		case v == 0:
			zeros++
		case math.Abs(float64(v)-1/(1-rate)) > 1e-6:
			t.Fatalf("kept value %v, want %v", v, 1/(1-rate))
		}
	}
	frac := float64(zeros) / float64(x.Len())
	if math.Abs(frac-rate) > 0.01 {
		t.Fatalf("dropped %.4f of the inputs, want %.2f", frac, rate)
	}
	if m := sumOf(y) / float64(x.Len()); math.Abs(m-1) > 0.02 {
		t.Fatalf("mean after dropout %.4f, want about 1", m)
	}
	// Same RNG, same mask; another step's RNG, another mask; a Seed, another mask.
	y2 := call(t, l, &Context{Training: true, RNG: tensor.NewRNG(9)}, x)
	if !tensor.Equal(y, y2) {
		t.Fatal("same seed gave a different mask")
	}
	y3 := call(t, l, &Context{Training: true, RNG: tensor.NewRNG(10)}, x)
	if tensor.Equal(y, y3) {
		t.Fatal("different seeds gave the same mask")
	}
	seeded := Dropout(rate, Name("drop"), Seed(5))
	y4 := call(t, seeded, &Context{Training: true, RNG: tensor.NewRNG(9)}, x)
	if tensor.Equal(y, y4) {
		t.Fatal("Seed did not change the mask")
	}
	if y := call(t, Dropout(0), ctx, x); y != x {
		t.Fatal("Dropout(0) is not the identity")
	}
}

func TestBatchNormalizationStatistics(t *testing.T) {
	const momentum, eps = 0.9, 1e-3
	l := BatchNormalization(Momentum(momentum), Epsilon(eps))
	mustBuild(t, l, 1, tensor.Shape{2})
	x, _ := tensor.FromFloat32([]float32{1, 10, 3, 20, 5, 60}, 3, 2)
	// Batch means (3, 30), biased variances (8/3, 1400/3).
	y := call(t, l, &Context{Training: true}, x)
	mm, mv := l.MovingMean().Value().Float32s(), l.MovingVariance().Value().Float32s()
	wantMM := []float64{0.1 * 3, 0.1 * 30}
	wantMV := []float64{0.9 + 0.1*8.0/3, 0.9 + 0.1*1400.0/3}
	for c := 0; c < 2; c++ {
		if math.Abs(float64(mm[c])-wantMM[c]) > 1e-5 || math.Abs(float64(mv[c])-wantMV[c]) > 1e-3 {
			t.Fatalf("moving stats %v %v, want %v %v", mm, mv, wantMM, wantMV)
		}
	}
	// Training output uses the batch statistics.
	if got, want := float64(y.Float32s()[0]), (1-3)/math.Sqrt(8.0/3+eps); math.Abs(got-want) > 1e-4 {
		t.Fatalf("training output %v, want %v", got, want)
	}
	// Inference uses the moving statistics and leaves them alone.
	before := l.MovingMean().Value().Clone()
	yi := call(t, l, &Context{}, x)
	if got, want := float64(yi.Float32s()[1]), (10-wantMM[1])/math.Sqrt(wantMV[1]+eps); math.Abs(got-want) > 1e-3 {
		t.Fatalf("inference output %v, want %v", got, want)
	}
	if !tensor.Equal(before, l.MovingMean().Value()) {
		t.Fatal("inference changed the moving mean")
	}
	// A frozen layer runs in inference mode even when training (Keras 3).
	l.SetTrainable(false)
	yf := call(t, l, &Context{Training: true, Grad: true}, x)
	if !tensor.Equal(yf, yi) || !tensor.Equal(before, l.MovingMean().Value()) {
		t.Fatal("frozen BatchNormalization used batch statistics or updated its moving ones")
	}
	names := []string{}
	for _, w := range l.Weights() {
		names = append(names, fmt.Sprintf("%s:%v", w.Name[len(l.Name())+1:], w.Trainable))
	}
	if fmt.Sprint(names) != "[gamma:true beta:true moving_mean:false moving_variance:false]" {
		t.Fatalf("weights %v", names)
	}
}

func TestActivityRegularizerAddsLoss(t *testing.T) {
	l := Dense(2, ActivityRegularizer(L2(0.5)), KernelInitializer(Ones()))
	mustBuild(t, l, 1, tensor.Shape{2})
	x, _ := tensor.FromFloat32([]float32{1, 2}, 1, 2)
	ctx := &Context{}
	y := call(t, l, ctx, x) // [3, 3]
	if len(ctx.Losses) != 1 {
		t.Fatalf("%d losses, want 1", len(ctx.Losses))
	}
	got, err := ctx.Losses[0].Item()
	if err != nil || math.Abs(got-0.5*(9+9)) > 1e-5 {
		t.Fatalf("activity penalty %v (%v), want 9 for output %v", got, err, y)
	}
	// Without a context there is nowhere to put it, and no failure.
	call(t, l, nil, x)
}

func TestEmbeddingLookup(t *testing.T) {
	l := Embedding(4, 2)
	mustBuild(t, l, 1, tensor.Shape{3})
	table := l.Embeddings().Value().Float32s()
	for i, v := range table {
		if v < -0.05 || v >= 0.05 {
			t.Fatalf("embedding %d = %v outside Keras's default U(-0.05, 0.05)", i, v)
		}
	}
	ids64, _ := tensor.FromInt64([]int64{3, 0, 3}, 1, 3)
	y := call(t, l, nil, ids64)
	if !y.Shape().Equal(tensor.Shape{1, 3, 2}) || y.Float32s()[0] != table[6] || y.Float32s()[2] != table[0] {
		t.Fatalf("lookup %v of table %v", y, table)
	}
	for _, bad := range []*tensor.Tensor{
		func() *tensor.Tensor { t, _ := tensor.FromInt64([]int64{4}, 1, 1); return t }(),
		func() *tensor.Tensor { t, _ := tensor.FromFloat32([]float32{1.5}, 1, 1); return t }(),
	} {
		_, err := l.Call(nil, []*autograd.Variable{autograd.Constant(bad)})
		wantErr(t, err, l.Name())
	}
}

func TestCallBeforeBuildAndBadInputs(t *testing.T) {
	for _, l := range []Layer{Dense(2), Conv2D(2, []int{2}), BatchNormalization(), Embedding(3, 2)} {
		_, err := l.Call(nil, []*autograd.Variable{autograd.Constant(tensor.Zeros(1, 2))})
		wantErr(t, err, l.Name(), "before Build")
	}
	d := Dense(2)
	mustBuild(t, d, 1, tensor.Shape{3})
	_, err := d.Call(nil, nil)
	wantErr(t, err, "takes 1 input")
	_, err = d.Call(nil, []*autograd.Variable{autograd.Errorf("upstream broke")})
	wantErr(t, err, "upstream broke", d.Name())
	wantErr(t, d.Build([]tensor.Shape{{5}}, nil), "already built")
	if err := d.Build([]tensor.Shape{{3}}, nil); err != nil || len(d.Weights()) != 2 {
		t.Fatalf("rebuilding with the same shape: %v, %d weights", err, len(d.Weights()))
	}
}

func TestAutoNames(t *testing.T) {
	cases := map[string]Layer{
		"max_pooling2d":            MaxPooling2D(),
		"average_pooling2d":        AveragePooling2D(),
		"global_average_pooling2d": GlobalAveragePooling2D(),
		"batch_normalization":      BatchNormalization(),
		"conv2d":                   Conv2D(1, []int{1}),
		"input_layer":              NewInputLayer([]int{1}),
		"dense":                    Dense(1),
		"embedding":                Embedding(2, 2),
	}
	for prefix, l := range cases {
		n := l.Name()
		if n != prefix && !(len(n) > len(prefix) && n[:len(prefix)+1] == prefix+"_") {
			t.Errorf("%s named %q, want %q or %q_N", l.ClassName(), n, prefix, prefix)
		}
	}
}
