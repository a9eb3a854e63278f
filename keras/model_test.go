package keras

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/tensor"
)

// twoTowers is a small functional model: two inputs, a Dense on each, concatenated, a head.
func twoTowers() *Model {
	a := layers.NewInputLayer([]int{4}, layers.Name("features")).Output()
	b := layers.NewInputLayer([]int{3}, layers.Name("extra")).Output()
	da := layers.Dense(8, layers.Activation("relu"), layers.Name("dense_a")).Apply(a)
	db := layers.Dense(8, layers.Activation("relu"), layers.Name("dense_b")).Apply(b)
	c := layers.Concatenate(layers.Name("merge")).Apply(da, db)
	out := layers.Dense(2, layers.Activation("softmax"), layers.Name("head")).Apply(c)
	return NewModel([]*layers.Node{a, b}, []*layers.Node{out}, ModelName("two_towers"))
}

func TestSummary(t *testing.T) {
	iris := irisModel()
	iris.SetName("sequential")
	tests := []struct {
		name  string
		model *Model
		want  string
	}{
		{"iris", iris, `Model: "sequential"
_________________________________________________________________
Layer (type)                 Output Shape              Param #
=================================================================
fc_1 (Dense)                 (None, 100)               500
_________________________________________________________________
fc_2 (Dense)                 (None, 100)               10100
_________________________________________________________________
fc_3 (Dense)                 (None, 3)                 303
=================================================================
Total params: 10,903
Trainable params: 10,903
Non-trainable params: 0
_________________________________________________________________
`},
		{"functional", twoTowers(), `Model: "two_towers"
__________________________________________________________________________________________________
Layer (type)                    Output Shape         Param #     Connected to
==================================================================================================
features (InputLayer)           [(None, 4)]          0
__________________________________________________________________________________________________
extra (InputLayer)              [(None, 3)]          0
__________________________________________________________________________________________________
dense_a (Dense)                 (None, 8)            40          features[0][0]
__________________________________________________________________________________________________
dense_b (Dense)                 (None, 8)            32          extra[0][0]
__________________________________________________________________________________________________
merge (Concatenate)             (None, 16)           0           dense_a[0][0]
                                                                 dense_b[0][0]
__________________________________________________________________________________________________
head (Dense)                    (None, 2)            34          merge[0][0]
==================================================================================================
Total params: 106
Trainable params: 106
Non-trainable params: 0
__________________________________________________________________________________________________
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.model.Summary(&buf); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tc.want {
				t.Errorf("Summary:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestCNNParamCounts(t *testing.T) {
	// The Keras MNIST convnet example, with a batch norm for non-trainable weights.
	m := Sequential(
		layers.Conv2D(32, []int{3, 3}, layers.Activation("relu"), layers.InputShape(28, 28, 1), layers.Name("c1")),
		layers.MaxPooling2D(layers.PoolSize(2, 2), layers.Name("p1")),
		layers.Conv2D(64, []int{3, 3}, layers.Activation("relu"), layers.Name("c2")),
		layers.MaxPooling2D(layers.PoolSize(2, 2), layers.Name("p2")),
		layers.BatchNormalization(layers.Name("bn")),
		layers.Flatten(layers.Name("flat")),
		layers.Dropout(0.5, layers.Name("drop")),
		layers.Dense(10, layers.Activation("softmax"), layers.Name("out")),
	)
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		layer  string
		shape  tensor.Shape
		params int
	}{
		{"c1", tensor.Shape{26, 26, 32}, 320},
		{"p1", tensor.Shape{13, 13, 32}, 0},
		{"c2", tensor.Shape{11, 11, 64}, 18496},
		{"p2", tensor.Shape{5, 5, 64}, 0},
		{"bn", tensor.Shape{5, 5, 64}, 256},
		{"flat", tensor.Shape{1600}, 0},
		{"drop", tensor.Shape{1600}, 0},
		{"out", tensor.Shape{10}, 16010},
	}
	for i, w := range want {
		l, err := m.Layer(w.layer)
		if err != nil {
			t.Fatal(err)
		}
		if got := layers.ParamCount(l); got != w.params {
			t.Errorf("%s: %d params, want %d", w.layer, got, w.params)
		}
		if got := m.g.nodes[i+1].shape; !got.Equal(w.shape) {
			t.Errorf("%s: output shape %v, want %v", w.layer, got, w.shape)
		}
	}
	total, trainable := m.CountParams()
	if total != 35082 || trainable != 34954 {
		t.Errorf("CountParams = %d, %d; want 35082, 34954", total, trainable)
	}
	var buf bytes.Buffer
	if err := m.Summary(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Total params: 35,082", "Trainable params: 34,954", "Non-trainable params: 128", "(None, 26, 26, 32)"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("Summary lacks %q:\n%s", s, buf.String())
		}
	}
}

func TestConstructionErrors(t *testing.T) {
	tests := []struct {
		name  string
		model func() *Model
		want  []string
	}{
		{"duplicate names", func() *Model {
			return Sequential(layers.Dense(3, layers.InputShape(2), layers.Name("x")), layers.Dense(3, layers.Name("x")))
		}, []string{`two layers are named "x"`}},
		{"no input shape", func() *Model {
			return Sequential(layers.Dense(3, layers.Name("first")))
		}, []string{"first layer first (Dense) has no input shape", "InputShape"}},
		{"bad option", func() *Model {
			return Sequential(layers.Dense(3, layers.InputShape(2), layers.Name("pool"), layers.PoolSize(2, 2)))
		}, []string{"pool", "pool_size"}},
		{"shape mismatch", func() *Model {
			a := Input(4)
			b := Input(5)
			return NewModel([]*layers.Node{a, b}, []*layers.Node{layers.Add(layers.Name("sum")).Apply(a, b)})
		}, []string{"sum"}},
		{"input not given", func() *Model {
			a := Input(4)
			b := Input(4)
			return NewModel([]*layers.Node{a}, []*layers.Node{layers.Add(layers.Name("sum2")).Apply(a, b)})
		}, []string{"sum2", "not one of the model's inputs"}},
		{"input layer not first", func() *Model {
			return Sequential(layers.Dense(3, layers.InputShape(2)), InputLayer(3))
		}, []string{"must come first"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.model()
			err := m.Err()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			// The error is sticky: every later use reports it.
			if err2 := m.Summary(&bytes.Buffer{}); err2 == nil {
				t.Error("Summary of a broken model succeeded")
			}
			if _, err2 := m.Fit(bg, nil); err2 == nil {
				t.Error("Fit of a broken model succeeded")
			}
		})
	}
}

func TestSequentialForms(t *testing.T) {
	// InputLayer first, InputShape on the first layer, and Add all make the same network with
	// the same weights: weights are keyed by position, not by (auto-numbered) names.
	SetRandomSeed(99)
	a := Sequential(InputLayer(4), layers.Dense(5), layers.Dense(2))
	SetRandomSeed(99)
	b := Sequential(layers.Dense(5, layers.InputShape(4)), layers.Dense(2))
	SetRandomSeed(99)
	c := Sequential()
	c.Add(layers.Dense(5, layers.InputShape(4)))
	c.Add(layers.Dense(2))
	SetRandomSeed(DefaultSeed)
	for _, m := range []*Model{a, b, c} {
		if err := m.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if !weightsEqual(a.GetWeights(), b.GetWeights()) || !weightsEqual(a.GetWeights(), c.GetWeights()) {
		t.Error("equivalent Sequential forms got different weights")
	}
	if got := a.InputShapes()[0]; !got.Equal(tensor.Shape{4}) {
		t.Errorf("input shape %v", got)
	}
	if got := b.OutputShapes()[0]; !got.Equal(tensor.Shape{2}) {
		t.Errorf("output shape %v", got)
	}
	if len(c.Layers()) != 2 || len(a.Layers()) != 2 {
		t.Errorf("Layers: %d and %d, want 2", len(c.Layers()), len(a.Layers()))
	}
	if err := Sequential().Summary(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no layers") {
		t.Errorf("empty model Summary error = %v", err)
	}
}

func TestGetSetWeights(t *testing.T) {
	m := irisModel()
	ws := m.GetWeights()
	if len(ws) != 6 {
		t.Fatalf("%d weights, want 6", len(ws))
	}
	names := []string{"fc_1/kernel", "fc_1/bias", "fc_2/kernel", "fc_2/bias", "fc_3/kernel", "fc_3/bias"}
	for i, w := range m.Weights() {
		if w.Name != names[i] {
			t.Errorf("weight %d is %s, want %s", i, w.Name, names[i])
		}
	}
	// GetWeights returns copies.
	ws[0].Float32s()[0] += 1
	if tensor.Equal(ws[0], m.Weights()[0].Value()) {
		t.Error("GetWeights shares memory with the model")
	}
	other := irisModel()
	if err := other.SetWeights(ws); err != nil {
		t.Fatal(err)
	}
	if !weightsEqual(other.GetWeights(), ws) {
		t.Error("SetWeights then GetWeights does not round-trip")
	}

	bad := append([]*tensor.Tensor(nil), ws...)
	bad[2] = tensor.Zeros(100, 99)
	before := other.GetWeights()
	err := other.SetWeights(bad)
	for _, want := range []string{"fc_2/kernel", "(100, 100)", "(100, 99)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("SetWeights error %v lacks %q", err, want)
		}
	}
	if !weightsEqual(other.GetWeights(), before) {
		t.Error("a failed SetWeights changed weights")
	}
	if err := other.SetWeights(ws[:3]); err == nil || !strings.Contains(err.Error(), "6 weights, got 3") {
		t.Errorf("short SetWeights error = %v", err)
	}
}

func TestCallWrongShape(t *testing.T) {
	m := irisModel()
	x := autograd.Constant(tensor.Zeros(32, 5))
	_, err := m.Call(&layers.Context{}, []*autograd.Variable{x})
	if err == nil || !strings.Contains(err.Error(), "expected shape (None, 4), got (32, 5)") {
		t.Errorf("Call error = %v", err)
	}
	if _, err := m.Layer("nope"); err == nil || !strings.Contains(err.Error(), "fc_1, fc_2, fc_3") {
		t.Errorf("Layer error = %v", err)
	}
}

func TestSharedLayer(t *testing.T) {
	in1, in2 := Input(3), Input(3)
	shared := layers.Dense(4, layers.Name("shared"))
	sum := layers.Add(layers.Name("sum")).Apply(shared.Apply(in1), shared.Apply(in2))
	m := NewModel([]*layers.Node{in1, in2}, []*layers.Node{sum})
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
	if total, _ := m.CountParams(); total != 16 {
		t.Errorf("shared layer counted %d params, want 16", total)
	}
	var buf bytes.Buffer
	if err := m.Summary(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"shared[0][0]", "shared[1][0]"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("Summary lacks %s:\n%s", s, buf.String())
		}
	}
	x := tensor.NewRNG(1).RandN(5, 3)
	outs, err := m.PredictInputs(bg, []*tensor.Tensor{x, x})
	if err != nil {
		t.Fatal(err)
	}
	one, err := NewModel([]*layers.Node{in1}, []*layers.Node{shared.Apply(in1)}).Predict(bg, x)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range outs[0].Float32s() {
		if d := v - 2*one.Float32s()[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("shared layer output %v, want twice %v", v, one.Float32s()[i])
		}
	}
}

func TestConfigRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		model func() *Model
		input []*tensor.Tensor
	}{
		{"sequential", irisModel, []*tensor.Tensor{tensor.NewRNG(3).RandN(7, 4)}},
		{"input layer", func() *Model {
			return Sequential(layers.NewInputLayer([]int{4}, layers.Name("in")), layers.Dense(6, layers.Activation("tanh")), layers.Dense(2))
		}, []*tensor.Tensor{tensor.NewRNG(3).RandN(7, 4)}},
		{"functional", twoTowers, []*tensor.Tensor{tensor.NewRNG(3).RandN(7, 4), tensor.NewRNG(4).RandN(7, 3)}},
		{"shared", func() *Model {
			in1, in2 := Input(3), Input(3)
			shared := layers.Dense(4)
			h := layers.Dense(2).Apply(shared.Apply(in2))
			out := layers.Concatenate().Apply(shared.Apply(in1), h)
			return NewModel([]*layers.Node{in1, in2}, []*layers.Node{out, h})
		}, []*tensor.Tensor{tensor.NewRNG(3).RandN(7, 3), tensor.NewRNG(4).RandN(7, 3)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.model()
			m.Layers()[0].SetTrainable(false)
			cfg, err := m.Config()
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var back ModelConfig
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			again, err := ModelFromConfig(back)
			if err != nil {
				t.Fatalf("%v\n%s", err, js)
			}
			var s1, s2 bytes.Buffer
			if err := m.Summary(&s1); err != nil {
				t.Fatal(err)
			}
			if err := again.Summary(&s2); err != nil {
				t.Fatal(err)
			}
			if s1.String() != s2.String() {
				t.Errorf("Summary after config round trip:\n%s\nwant:\n%s", s2.String(), s1.String())
			}
			if err := again.SetWeights(m.GetWeights()); err != nil {
				t.Fatal(err)
			}
			p1, err := m.PredictInputs(bg, tc.input)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := again.PredictInputs(bg, tc.input)
			if err != nil {
				t.Fatal(err)
			}
			if !weightsEqual(p1, p2) {
				t.Error("predictions differ after config round trip")
			}
			cfg2, err := again.Config()
			if err != nil {
				t.Fatal(err)
			}
			js2, _ := json.Marshal(cfg2)
			if string(js) != string(js2) {
				t.Errorf("config changed on a round trip:\n%s\n%s", js, js2)
			}
		})
	}
}

func TestModelFromConfigErrors(t *testing.T) {
	good, err := twoTowers().Config()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(c *ModelConfig)
		want string
	}{
		{"class", func(c *ModelConfig) { c.ClassName = "Graph" }, `class "Graph"`},
		{"unknown layer class", func(c *ModelConfig) { c.Layers[2].ClassName = "Nope" }, `unknown layer class "Nope"`},
		{"dangling ref", func(c *ModelConfig) { c.Layers[2].InboundNodes[0][0].Layer = "ghost" }, "ghost"},
		{"duplicate", func(c *ModelConfig) { c.Layers[3].Name = c.Layers[2].Name }, "two layers are named"},
		{"bad output", func(c *ModelConfig) { c.OutputLayers[0].NodeIndex = 3 }, "output 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js, _ := json.Marshal(good)
			var c ModelConfig
			if err := json.Unmarshal(js, &c); err != nil {
				t.Fatal(err)
			}
			tc.edit(&c)
			_, err := ModelFromConfig(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
