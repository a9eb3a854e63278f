package layers

import (
	"math"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

func TestBadOptionsAreErrorsNamingLayerAndOption(t *testing.T) {
	cases := []struct {
		name string
		l    Layer
		in   tensor.Shape
		want []string
	}{
		{"dropout rate", Dropout(1.5), tensor.Shape{3}, []string{"dropout", "Dropout", "rate", "1.5"}},
		{"dropout negative", Dropout(-0.1), tensor.Shape{3}, []string{"Dropout", "rate"}},
		{"dense units", Dense(0), tensor.Shape{3}, []string{"dense", "Dense", "units"}},
		{"conv padding", Conv2D(2, []int{3}, Padding("full")), tensor.Shape{5, 5, 1}, []string{"conv2d", "Conv2D", "padding", "full"}},
		{"conv kernel size", Conv2D(2, []int{3, 3, 3}), tensor.Shape{5, 5, 1}, []string{"Conv2D", "kernel_size"}},
		{"conv no kernel size", Conv2D(2, nil), tensor.Shape{5, 5, 1}, []string{"Conv2D", "kernel_size"}},
		{"conv filters", Conv2D(-1, []int{3}), tensor.Shape{5, 5, 1}, []string{"Conv2D", "filters"}},
		{"conv strides and dilation", Conv2D(2, []int{3}, Strides(2), DilationRate(2)), tensor.Shape{9, 9, 1}, []string{"Conv2D", "strides", "dilation_rate"}},
		{"conv zero stride", Conv2D(2, []int{3}, Strides(0)), tensor.Shape{9, 9, 1}, []string{"Conv2D", "strides"}},
		{"conv data format", Conv2D(2, []int{3}, DataFormat("NCHW")), tensor.Shape{9, 9, 1}, []string{"Conv2D", "data_format", "NCHW"}},
		{"activation layer", Activation("nope"), tensor.Shape{3}, []string{"activation", "Activation", "nope", "relu"}},
		{"activation option", Dense(2, Activation("nope")), tensor.Shape{3}, []string{"Dense", "activation", "nope", "softmax"}},
		{"activation option with options", Dense(2, Activation("relu", Name("x"))), tensor.Shape{3}, []string{"Dense", "activation"}},
		{"unused option", Dense(2, Padding("same")), tensor.Shape{3}, []string{"Dense", "does not take option padding"}},
		{"unused pool option", MaxPooling2D(UseBias(false)), tensor.Shape{4, 4, 1}, []string{"MaxPooling2D", "use_bias"}},
		{"pool size", MaxPooling2D(PoolSize(0)), tensor.Shape{4, 4, 1}, []string{"MaxPooling2D", "pool_size"}},
		{"pool size rank", MaxPooling2D(PoolSize(1, 2, 3)), tensor.Shape{4, 4, 1}, []string{"MaxPooling2D", "pool_size"}},
		{"bn momentum", BatchNormalization(Momentum(2)), tensor.Shape{3}, []string{"BatchNormalization", "momentum"}},
		{"bn epsilon", BatchNormalization(Epsilon(0)), tensor.Shape{3}, []string{"BatchNormalization", "epsilon"}},
		{"embedding dims", Embedding(0, 3), tensor.Shape{3}, []string{"Embedding", "input_dim"}},
		{"embedding out dim", Embedding(3, 0), tensor.Shape{3}, []string{"Embedding", "output_dim"}},
		{"concat batch axis", Concatenate(Axis(0)), tensor.Shape{3}, []string{"Concatenate", "axis"}},
		{"reshape two -1", Reshape(-1, -1), tensor.Shape{4}, []string{"Reshape", "-1"}},
		{"reshape negative", Reshape(-2), tensor.Shape{4}, []string{"Reshape", "-2"}},
		{"bad initializer", Dense(2, KernelInitializer(RandomNormal(0, -1))), tensor.Shape{3}, []string{"Dense", "kernel_initializer", "stddev"}},
		{"nil initializer", Dense(2, BiasInitializer(nil)), tensor.Shape{3}, []string{"Dense", "bias_initializer"}},
		{"bad uniform", Embedding(3, 2, EmbeddingsInitializer(RandomUniform(1, 0))), tensor.Shape{3}, []string{"Embedding", "embeddings_initializer", "minval"}},
		{"bad regularizer", Dense(2, KernelRegularizer(L2(-1))), tensor.Shape{3}, []string{"Dense", "kernel_regularizer", "l2"}},
		{"input shape", NewInputLayer([]int{3, -4}), nil, []string{"InputLayer", "-4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var shapes []tensor.Shape
			if c.in != nil {
				shapes = []tensor.Shape{c.in}
			}
			err := c.l.Build(shapes, tensor.NewRNG(1))
			wantErr(t, err, append(c.want, c.l.Name())...)
			if c.l.Err() == nil {
				t.Fatal("Err() is nil")
			}
			if n := c.l.(interface{ Apply(...*Node) *Node }).Apply(Input(c.in...)); n.Err() == nil {
				t.Fatal("Apply did not carry the error")
			}
			if _, err := c.l.Call(nil, []*autograd.Variable{autograd.Constant(tensor.Zeros(batchShape(1, c.in)...))}); err == nil {
				t.Fatal("Call succeeded on a layer with a bad option")
			}
		})
	}
}

func TestUnusedReportsStrayOptionsDeterministically(t *testing.T) {
	for i := 0; i < 20; i++ {
		err := Dense(2, Padding("same"), Strides(2), Axis(1)).Err()
		wantErr(t, err, "does not take option axis")
	}
}

func TestActivationAsOptionAndLayer(t *testing.T) {
	d := Dense(3, Activation("relu"))
	if d.activation != "relu" {
		t.Fatalf("Dense activation %q, want relu", d.activation)
	}
	if Dense(3).activation != "linear" {
		t.Fatal("default activation is not linear")
	}
	// Used as an option, Activation must not consume the auto name "activation_N" that the
	// next real Activation layer would get.
	namesMu.Lock()
	before := names["activation"]
	namesMu.Unlock()
	_ = Dense(3, Activation("tanh"), Name("x"))
	_ = Conv2D(3, []int{1}, Activation("sigmoid"))
	namesMu.Lock()
	after := names["activation"]
	namesMu.Unlock()
	if before != after {
		t.Fatalf("using Activation as an option took a layer name (%d -> %d)", before, after)
	}
	a := Activation("Softmax", Name("probs"), InputShape(3))
	if a.Name() != "probs" || a.ClassName() != "Activation" || a.ActivationName() != "softmax" {
		t.Fatalf("Activation layer %s (%s) %s", a.Name(), a.ClassName(), a.ActivationName())
	}
	if !DeclaredInputShape(a).Equal(tensor.Shape{3}) {
		t.Fatalf("DeclaredInputShape %v", DeclaredInputShape(a))
	}
	mustBuild(t, a, 1, tensor.Shape{3})
	x, _ := tensor.FromFloat32([]float32{1, 2, 3, 0, 0, 0}, 2, 3)
	y := call(t, a, nil, x)
	if s := sumOf(y); math.Abs(s-2) > 1e-5 {
		t.Fatalf("softmax rows sum to %v in all, want 2", s)
	}
	frozen := Activation("relu")
	frozen.SetTrainable(false)
	if frozen.Trainable() {
		t.Fatal("SetTrainable before first use was lost")
	}
}

func TestApplyActivationValues(t *testing.T) {
	x, _ := tensor.FromFloat32([]float32{-2, -0.5, 0.5, 2}, 1, 4)
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	want := map[string]func(float64) float64{
		"linear":     func(v float64) float64 { return v },
		"relu":       func(v float64) float64 { return math.Max(v, 0) },
		"relu6":      func(v float64) float64 { return math.Min(math.Max(v, 0), 6) },
		"leaky_relu": func(v float64) float64 { return math.Max(v, 0.2*v) },
		"elu":        func(v float64) float64 { return map[bool]float64{true: v, false: math.Exp(v) - 1}[v > 0] },
		"selu": func(v float64) float64 {
			return 1.0507009873554805 * map[bool]float64{true: v, false: 1.6732632423543772 * (math.Exp(v) - 1)}[v > 0]
		},
		"gelu":         func(v float64) float64 { return 0.5 * v * (1 + math.Erf(v/math.Sqrt2)) },
		"sigmoid":      sig,
		"hard_sigmoid": func(v float64) float64 { return math.Min(math.Max(v+3, 0), 6) / 6 },
		"tanh":         math.Tanh,
		"softplus":     func(v float64) float64 { return math.Log1p(math.Exp(v)) },
		"softsign":     func(v float64) float64 { return v / (1 + math.Abs(v)) },
		"swish":        func(v float64) float64 { return v * sig(v) },
		"silu":         func(v float64) float64 { return v * sig(v) },
		"exponential":  math.Exp,
		"mish":         func(v float64) float64 { return v * math.Tanh(math.Log1p(math.Exp(v))) },
	}
	for name, f := range want {
		y := ApplyActivation(name, autograd.Constant(x))
		if y.Err() != nil {
			t.Fatalf("%s: %v", name, y.Err())
		}
		for i, v := range y.Float32s() {
			if w := f(float64(x.Float32s()[i])); math.Abs(float64(v)-w) > 1e-5*(1+math.Abs(w)) {
				t.Errorf("%s(%v) = %v, want %v", name, x.Float32s()[i], v, w)
			}
		}
	}
	ls := ApplyActivation("log_softmax", autograd.Constant(x)).Float32s()
	total := 0.0
	for _, v := range ls {
		total += math.Exp(float64(v))
	}
	if math.Abs(total-1) > 1e-5 {
		t.Fatalf("exp(log_softmax) sums to %v", total)
	}
	for _, n := range Activations() {
		if _, ok := want[n]; !ok && n != "softmax" && n != "log_softmax" {
			t.Errorf("activation %s has no value test", n)
		}
	}
	err := ApplyActivation("nope", autograd.Constant(x)).Err()
	wantErr(t, err, "nope", "relu", "softmax")
	if ApplyActivation("", autograd.Constant(x)).Err() != nil {
		t.Fatal(`"" is not linear`)
	}
}

func TestActivationGradients(t *testing.T) {
	rng := tensor.NewRNG(11)
	for _, name := range Activations() {
		l := Activation(name)
		mustBuild(t, l, 1, tensor.Shape{5})
		// Kinks sit at 0 (relu family), so inputs keep 0.1 away from it; the ±3 and 6 kinks
		// of hard_sigmoid and relu6 lie outside |x| < 1.6.
		gradCheck(t, l, &Context{Grad: true}, []*tensor.Tensor{away(rng, 0.1, 3, 5)}, true, autograd.GradCheckOptions{Seed: 1})
	}
}

func TestOptionsHelpText(t *testing.T) {
	// Padding and DataFormat ignore case like Keras; the stored value is canonical.
	c := Conv2D(1, []int{1}, Padding("SAME"), DataFormat("Channels_Last"))
	if c.padding != "same" || c.dataFormat != ChannelsLast || c.Err() != nil {
		t.Fatalf("padding %q data_format %q err %v", c.padding, c.dataFormat, c.Err())
	}
	if !strings.Contains(Activation("bad").Err().Error(), "valid:") {
		t.Fatal("unknown activation error does not list the valid ones")
	}
}
