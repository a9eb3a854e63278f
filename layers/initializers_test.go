package layers

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

func moments(t *tensor.Tensor) (mean, std, maxAbs float64) {
	d := t.Float32s()
	for _, v := range d {
		mean += float64(v)
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	mean /= float64(len(d))
	for _, v := range d {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(d))), maxAbs
}

func TestFans(t *testing.T) {
	cases := []struct {
		shape   tensor.Shape
		in, out float64
	}{
		{tensor.Shape{}, 1, 1},
		{tensor.Shape{7}, 7, 7},
		{tensor.Shape{4, 100}, 4, 100},
		{tensor.Shape{5, 5, 1, 32}, 25, 800},
		{tensor.Shape{3, 2, 4, 6}, 24, 36},
	}
	for _, c := range cases {
		in, out := Fans(c.shape)
		if in != c.in || out != c.out {
			t.Errorf("Fans(%v) = %v, %v; want %v, %v", c.shape, in, out, c.in, c.out)
		}
	}
}

func TestInitializerStatistics(t *testing.T) {
	const rtol = 0.03 // about 10 standard errors of a std estimate from 100k+ draws
	cases := []struct {
		name  string
		init  Initializer
		shape tensor.Shape
		std   float64 // wanted standard deviation
		limit float64 // no value beyond; 0 for none
	}{
		{"glorot_uniform", GlorotUniform(), tensor.Shape{300, 500}, math.Sqrt(6.0/800) / math.Sqrt(3), math.Sqrt(6.0 / 800)},
		{"glorot_uniform conv", GlorotUniform(), tensor.Shape{3, 3, 64, 64}, math.Sqrt(6.0/(9*128)) / math.Sqrt(3), math.Sqrt(6.0 / (9 * 128))},
		{"glorot_normal", GlorotNormal(), tensor.Shape{300, 500}, math.Sqrt(2.0 / 800), 2 * math.Sqrt(2.0/800) / truncatedStdCorrection},
		{"he_normal", HeNormal(), tensor.Shape{500, 400}, math.Sqrt(2.0 / 500), 2 * math.Sqrt(2.0/500) / truncatedStdCorrection},
		{"he_normal conv", HeNormal(), tensor.Shape{5, 5, 16, 300}, math.Sqrt(2.0 / 400), 0},
		{"he_uniform", HeUniform(), tensor.Shape{500, 400}, math.Sqrt(6.0/500) / math.Sqrt(3), math.Sqrt(6.0 / 500)},
		{"lecun_normal", LecunNormal(), tensor.Shape{500, 400}, math.Sqrt(1.0 / 500), 0},
		{"lecun_uniform", LecunUniform(), tensor.Shape{500, 400}, math.Sqrt(3.0/500) / math.Sqrt(3), math.Sqrt(3.0 / 500)},
		{"random_normal", RandomNormal(0, 0.05), tensor.Shape{400, 400}, 0.05, 0},
		{"random_uniform", RandomUniform(-0.05, 0.05), tensor.Shape{400, 400}, 0.1 / math.Sqrt(12), 0.05},
		// A unit normal truncated at ±2 has standard deviation 0.8796...; TruncatedNormal
		// does not correct for it, as in Keras.
		{"truncated_normal", TruncatedNormal(0, 0.05), tensor.Shape{400, 400}, 0.05 * truncatedStdCorrection, 0.1},
	}
	for _, c := range cases {
		w := tensor.Zeros(c.shape...)
		if err := c.init.Initialize(w, tensor.NewRNG(3)); err != nil {
			t.Fatal(err)
		}
		mean, std, maxAbs := moments(w)
		if math.Abs(std-c.std) > rtol*c.std {
			t.Errorf("%s on %v: std %.5g, want %.5g", c.name, c.shape, std, c.std)
		}
		if math.Abs(mean) > 5*c.std/math.Sqrt(float64(w.Len())) {
			t.Errorf("%s: mean %.3g, want about 0", c.name, mean)
		}
		if c.limit > 0 && maxAbs > c.limit*(1+1e-6) {
			t.Errorf("%s: value %.5g beyond the limit %.5g", c.name, maxAbs, c.limit)
		}
		if c.limit > 0 && maxAbs < 0.99*c.limit {
			t.Errorf("%s: largest value %.5g, expected to come near the limit %.5g", c.name, maxAbs, c.limit)
		}
	}
	for _, c := range []struct {
		init Initializer
		v    float32
	}{{Zeros(), 0}, {Ones(), 1}, {Constant(-2.5), -2.5}} {
		w := tensor.Zeros(3, 2)
		if err := c.init.Initialize(w, nil); err != nil {
			t.Fatal(err)
		}
		for _, v := range w.Float32s() {
			if v != c.v {
				t.Fatalf("%s filled %v, want %v", c.init.Config().ClassName, v, c.v)
			}
		}
	}
	// Non-float tensors are an error, not a panic.
	if err := GlorotUniform().Initialize(tensor.New(tensor.Int64, 2, 2), nil); err == nil {
		t.Fatal("initialised an int64 tensor")
	}
}

func TestOrthogonal(t *testing.T) {
	for _, c := range []struct {
		shape tensor.Shape
		gain  float64
	}{{tensor.Shape{6, 4}, 1}, {tensor.Shape{4, 6}, 2}, {tensor.Shape{2, 3, 5}, 0.5}, {tensor.Shape{5, 5}, 1}} {
		w := tensor.Zeros(c.shape...)
		if err := Orthogonal(c.gain).Initialize(w, tensor.NewRNG(1)); err != nil {
			t.Fatal(err)
		}
		rows, cols := c.shape[:len(c.shape)-1].Size(), c.shape[len(c.shape)-1]
		d := w.Float32s()
		// The shorter side's vectors are orthonormal (times gain).
		n, m := cols, rows
		at := func(i, k int) float64 { return float64(d[k*cols+i]) } // column i, row k
		if rows < cols {
			n, m = rows, cols
			at = func(i, k int) float64 { return float64(d[i*cols+k]) } // row i, column k
		}
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				dot := 0.0
				for k := 0; k < m; k++ {
					dot += at(i, k) * at(j, k)
				}
				want := 0.0
				if i == j {
					want = c.gain * c.gain
				}
				if math.Abs(dot-want) > 1e-5 {
					t.Fatalf("Orthogonal %v: <v%d, v%d> = %v, want %v", c.shape, i, j, dot, want)
				}
			}
		}
	}
	if err := Orthogonal(1).Initialize(tensor.Zeros(4), nil); err == nil {
		t.Fatal("Orthogonal accepted a vector")
	}
}

func TestInitializerNamesAndConfigs(t *testing.T) {
	for _, name := range []string{"glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
		"lecun_uniform", "zeros", "ones", "constant", "random_normal", "random_uniform", "truncated_normal", "orthogonal"} {
		init, err := InitializerByName(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// The class name from Config works too, and the config survives JSON.
		raw, err := json.Marshal(init.Config())
		if err != nil {
			t.Fatal(err)
		}
		var c InitializerConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		again, err := InitializerFromConfig(c)
		if err != nil {
			t.Fatalf("%s: %s: %v", name, raw, err)
		}
		raw2, _ := json.Marshal(again.Config())
		if string(raw) != string(raw2) {
			t.Fatalf("%s: %s became %s", name, raw, raw2)
		}
		a, b := tensor.Zeros(4, 3), tensor.Zeros(4, 3)
		if err := init.Initialize(a, tensor.NewRNG(5)); err != nil {
			t.Fatal(err)
		}
		if err := again.Initialize(b, tensor.NewRNG(5)); err != nil {
			t.Fatal(err)
		}
		if !tensor.Equal(a, b) {
			t.Fatalf("%s: rebuilt initializer draws differently", name)
		}
	}
	if init, err := InitializerByName("GlorotUniform"); err != nil || init.Config().ClassName != "GlorotUniform" {
		t.Fatalf("class name lookup: %v %v", init, err)
	}
	// Keras's JSON, with its seed and module keys, loads.
	var kc InitializerConfig
	if err := json.Unmarshal([]byte(`{"module": "keras.initializers", "class_name": "RandomNormal", "config": {"mean": 1, "stddev": 0.5, "seed": null}}`), &kc); err != nil {
		t.Fatal(err)
	}
	init, err := InitializerFromConfig(kc)
	if err != nil || init.Config().Config["stddev"] != 0.5 || init.Config().Config["mean"] != 1 {
		t.Fatalf("Keras config: %v %v", init, err)
	}
	_, err = InitializerByName("xavier")
	wantErr(t, err, "xavier", "glorot_uniform")
	_, err = InitializerFromConfig(InitializerConfig{ClassName: "Constant", Config: map[string]float64{"val": 1}})
	wantErr(t, err, "val")
	_, err = InitializerFromConfig(InitializerConfig{ClassName: "RandomUniform", Config: map[string]float64{"minval": 1, "maxval": 0}})
	wantErr(t, err, "minval")
}

func TestRegularizerPenalties(t *testing.T) {
	w, _ := tensor.FromFloat32([]float32{1, -2, 3, -0.5}, 2, 2)
	sumAbs, sumSq := 6.5, 14.25
	cases := []struct {
		r    Regularizer
		want float64
	}{
		{L1(0.01), 0.01 * sumAbs},
		{L2(0.1), 0.1 * sumSq},
		{L1L2(0.2, 0.3), 0.2*sumAbs + 0.3*sumSq},
		{L1L2(0, 0), 0},
	}
	for _, c := range cases {
		v := autograd.NewVariable(w.Clone(), true)
		p := c.r.Penalty(v)
		got, err := p.Item()
		if err != nil || math.Abs(got-c.want) > 1e-5 {
			t.Fatalf("%v penalty %v (%v), want %v", c.r.Config(), got, err, c.want)
		}
		// The penalty is differentiable: d/dw of l2*sum(w²) is 2*l2*w.
		if err := p.Backward(); err != nil {
			t.Fatal(err)
		}
		cfg := c.r.Config()
		l1, l2 := cfg.Config["l1"], cfg.Config["l2"]
		for i, g := range v.Grad().Float32s() {
			x := float64(w.Float32s()[i])
			want := l1*math.Copysign(1, x) + 2*l2*x
			if math.Abs(float64(g)-want) > 1e-5 {
				t.Fatalf("%v: gradient %v at %v, want %v", cfg, g, x, want)
			}
		}
		again, err := RegularizerFromConfig(cfg)
		if err != nil || again.Config().ClassName != cfg.ClassName {
			t.Fatalf("RegularizerFromConfig(%v): %v %v", cfg, again, err)
		}
	}
	r, err := RegularizerFromConfig(RegularizerConfig{ClassName: "l2"})
	if err != nil || r.Config().Config["l2"] != 0.01 {
		t.Fatalf("Keras default L2 factor: %v %v", r, err)
	}
	_, err = RegularizerFromConfig(RegularizerConfig{ClassName: "L3"})
	wantErr(t, err, "L3")
	_, err = RegularizerFromConfig(RegularizerConfig{ClassName: "L1", Config: map[string]float64{"l2": 1}})
	wantErr(t, err, "l2")
	if err := L2(-1).Penalty(autograd.Constant(w)).Err(); err == nil {
		t.Fatal("negative factor gave no error")
	}
	// Weight regularizers ride on the weights for the model to collect.
	d := Dense(2, KernelRegularizer(L2(0.1)), BiasRegularizer(L1(0.2)))
	mustBuild(t, d, 1, tensor.Shape{3})
	if d.Kernel().Regularizer == nil || d.Bias().Regularizer == nil {
		t.Fatal("regularizers not attached to the weights")
	}
}
