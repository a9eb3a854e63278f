package optim

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

func allVariants() map[string]func() Optimizer {
	sch := WithSchedule(Warmup(3, StepDecay(1, 0.7)))
	return map[string]func() Optimizer{
		"SGD":                func() Optimizer { return SGD(0.1) },
		"SGD nesterov wd":    func() Optimizer { return SGD(0.1, Momentum(0.9), Nesterov(), WeightDecay(1e-3), sch) },
		"Adam":               func() Optimizer { return Adam(0.01, ClipNorm(0.5)) },
		"Adam amsgrad":       func() Optimizer { return Adam(0.01, AMSGrad(), Beta1(0.8), Beta2(0.99), Epsilon(1e-6), sch) },
		"AdamW":              func() Optimizer { return AdamW(0.01, WeightDecay(0.01), GlobalClipNorm(1)) },
		"Adadelta":           func() Optimizer { return Adadelta(1, Rho(0.9), ClipValue(0.3)) },
		"Adagrad":            func() Optimizer { return Adagrad(0.1, InitialAccumulator(0.2), sch) },
		"RMSprop":            func() Optimizer { return RMSprop(0.01) },
		"RMSprop centered m": func() Optimizer { return RMSprop(0.01, Centered(), Momentum(0.5), Rho(0.8), WeightDecay(1e-4)) },
	}
}

// gradsFor sets a gradient that depends on the weights and the step, like a real loss would.
func gradsFor(t *testing.T, step int, ps []*autograd.Variable) {
	for k, p := range ps {
		g := make([]float32, p.Value().Len())
		for i, w := range p.Float32s() {
			g[i] = w*float32(0.3+0.1*float64(k)) + float32(math.Sin(float64(step*7+i)))
		}
		setGrad(t, p, g...)
	}
}

func twoParams(t *testing.T) []*autograd.Variable {
	return []*autograd.Variable{param(t, "fc_1/kernel", 0.5, -1, 2, 0.1), param(t, "fc_1/bias", 0.3, -0.2)}
}

// Training that is saved after 5 steps and resumed in a new optimizer (built from the saved
// config, through JSON) must end bit-for-bit where uninterrupted training ends.
func TestResumeIsBitIdentical(t *testing.T) {
	for name, mk := range allVariants() {
		t.Run(name, func(t *testing.T) {
			a := mk()
			pa := twoParams(t)
			run := func(o Optimizer, ps []*autograd.Variable, from, to int) {
				for s := from; s < to; s++ {
					o.SetEpoch(s / 2)
					gradsFor(t, s, ps)
					mustStep(t, o, ps...)
				}
			}
			run(a, pa, 0, 5)
			cfg := jsonRoundTrip(t, a.Config())
			saved := a.State()
			pb := twoParams(t)
			for i := range pa {
				copy(pb[i].Float32s(), pa[i].Float32s())
			}
			copyOfSaved := map[string]*tensor.Tensor{}
			for k, v := range saved {
				copyOfSaved[k] = v.Clone()
			}
			// The caller owns what State returned: scribbling on it must not reach the optimizer.
			for _, st := range saved {
				if st.DType() == tensor.Float32 {
					st.Fill(123)
				}
			}
			run(a, pa, 5, 12)

			b, err := FromConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.LoadState(copyOfSaved); err != nil {
				t.Fatal(err)
			}
			if b.Iterations() != 5 {
				t.Fatalf("Iterations() = %d after LoadState, want 5", b.Iterations())
			}
			run(b, pb, 5, 12)
			for i := range pa {
				if !tensor.Equal(pa[i].Value(), pb[i].Value()) {
					t.Fatalf("%s: resumed %v, uninterrupted %v", pa[i].Name, pb[i].Value(), pa[i].Value())
				}
			}
			sa, sb := a.State(), b.State()
			if len(sa) != len(sb) {
				t.Fatalf("state keys differ: %d vs %d", len(sa), len(sb))
			}
			for k, v := range sa {
				if sb[k] == nil || !tensor.Equal(v, sb[k]) {
					t.Fatalf("state %q differs: %v vs %v", k, v, sb[k])
				}
			}
		})
	}
}

func TestStateKeys(t *testing.T) {
	cases := map[Optimizer][]string{
		SGD(0.1):                                {"iterations"},
		SGD(0.1, Momentum(0.9)):                 {"iterations", "w/momentum"},
		Adam(0.1):                               {"iterations", "w/m", "w/v"},
		AdamW(0.1, AMSGrad()):                   {"iterations", "w/m", "w/v", "w/vhat"},
		Adadelta(1):                             {"accumulated_delta_var", "accumulated_grad", "iterations"},
		Adagrad(0.1):                            {"iterations", "w/accumulator"},
		RMSprop(0.1):                            {"iterations", "w/velocity"},
		RMSprop(0.1, Momentum(0.5), Centered()): {"iterations", "w/average_gradient", "w/momentum", "w/velocity"},
	}
	for o, want := range cases {
		p := param(t, "w", 1, 2)
		setGrad(t, p, 1, 1)
		mustStep(t, o, p)
		st := o.State()
		for _, k := range want {
			if !strings.Contains(k, "/") && k != "iterations" {
				k = "w/" + k
			}
			if st[k] == nil {
				t.Errorf("%v: no %q in state", o, k)
			} else if k != "iterations" && !st[k].Shape().Equal(tensor.Shape{2}) {
				t.Errorf("%v: %q has shape %v", o, k, st[k].Shape())
			}
		}
		if len(st) != len(want) {
			t.Errorf("%v: %d state entries, want %d", o, len(st), len(want))
		}
		if it := st["iterations"]; it.DType() != tensor.Int64 || it.Int64s()[0] != 1 {
			t.Errorf("%v: iterations %v", o, it)
		}
	}
	// Adagrad's accumulator starts at its initial value, not zero.
	o := Adagrad(0.1, InitialAccumulator(0.25))
	p := param(t, "w", 1)
	setGrad(t, p, 0)
	mustStep(t, o, p)
	if v := o.State()["w/accumulator"].Float32s()[0]; v != 0.25 {
		t.Errorf("accumulator %v, want 0.25", v)
	}
}

func TestLoadStateErrors(t *testing.T) {
	f := func(vals ...float32) *tensor.Tensor {
		x, _ := tensor.FromFloat32(vals, len(vals))
		return x
	}
	i64 := func(v int64) *tensor.Tensor { x, _ := tensor.FromInt64([]int64{v}); return x }
	cases := []struct {
		state map[string]*tensor.Tensor
		want  string
	}{
		{map[string]*tensor.Tensor{"w/momentum": f(1)}, `unexpected key "w/momentum"`},
		{map[string]*tensor.Tensor{"w": f(1)}, `unexpected key "w"`},
		{map[string]*tensor.Tensor{"w/m": f(1)}, `w has no "v" slot`},
		{map[string]*tensor.Tensor{"w/m": f(1), "w/v": f(1, 2)}, "w/v has shape (2,) but w/m has (1,)"},
		{map[string]*tensor.Tensor{"w/m": i64(1), "w/v": f(1)}, `"w/m" is int64, want float32`},
		{map[string]*tensor.Tensor{"iterations": i64(-3)}, "iterations is -3"},
		{map[string]*tensor.Tensor{"iterations": f(1, 2)}, "iterations has shape (2,)"},
		{map[string]*tensor.Tensor{"iterations": nil}, `"iterations" is nil`},
	}
	for _, c := range cases {
		o := Adam(0.1)
		p := param(t, "w", 1)
		setGrad(t, p, 1)
		mustStep(t, o, p)
		before := o.State()
		err := o.LoadState(c.state)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want %q", err, c.want)
		}
		if !reflect.DeepEqual(o.State(), before) {
			t.Errorf("a failed LoadState changed the state")
		}
	}
	// A slot that does not fit its parameter is caught when Step meets the parameter.
	o := Adam(0.1)
	if err := o.LoadState(map[string]*tensor.Tensor{"w/m": f(1, 2), "w/v": f(1, 2), "iterations": i64(4)}); err != nil {
		t.Fatal(err)
	}
	p := param(t, "w", 1, 2, 3)
	setGrad(t, p, 1, 1, 1)
	if err := o.Step([]*autograd.Variable{p}); err == nil || !strings.Contains(err.Error(), "state for w has shape (2,), but the parameter has shape (3,)") {
		t.Errorf("shape mismatch: %v", err)
	}
	if p.Float32s()[0] != 1 || o.Iterations() != 4 {
		t.Errorf("a failed Step changed weights or iterations")
	}
}

// Restored state sits unused until its parameter shows up, and is saved again meanwhile.
func TestDormantStateKept(t *testing.T) {
	a := Adam(0.1)
	p, q := param(t, "p", 1), param(t, "q", 2)
	setGrad(t, p, 1)
	setGrad(t, q, 1)
	mustStep(t, a, p, q)
	b := Adam(0.1)
	if err := b.LoadState(a.State()); err != nil {
		t.Fatal(err)
	}
	mustStep(t, b, p) // q has no part in this step
	if st := b.State(); st["q/m"] == nil || !tensor.Equal(st["q/m"], a.State()["q/m"]) {
		t.Fatalf("dormant state lost: %v", st)
	}
}

// A rebuilt model (new variables, same names) picks up the state of the old one.
func TestRebuiltModelKeepsState(t *testing.T) {
	o := Adam(0.1)
	p := param(t, "w", 1)
	setGrad(t, p, 1)
	mustStep(t, o, p)
	p2 := param(t, "w", p.Float32s()...)
	setGrad(t, p2, 1)
	mustStep(t, o, p2)
	if m := o.State()["w/m"].Float32s()[0]; !closeTo(float64(m), 0.19, 1e-6) {
		t.Fatalf("m = %v, want 0.19 (state carried over)", m)
	}
}

func TestConfigRoundTrip(t *testing.T) {
	for name, mk := range allVariants() {
		o := mk()
		o.SetLearningRate(0.0123) // the current base rate is what gets saved
		for _, c := range []Config{o.Config(), jsonRoundTrip(t, o.Config())} {
			back, err := FromConfig(c)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !reflect.DeepEqual(jsonRoundTrip(t, back.Config()), jsonRoundTrip(t, o.Config())) {
				t.Errorf("%s: %+v became %+v", name, o.Config(), back.Config())
			}
			if BaseLearningRate(back) != 0.0123 {
				t.Errorf("%s: base rate %v after round trip", name, BaseLearningRate(back))
			}
		}
	}
	c := AdamW(0.001).Config()
	if c.ClassName != "AdamW" || c.Config["weight_decay"] != 0.004 || c.Config["beta_2"] != 0.999 || c.Config["epsilon"] != 1e-7 {
		t.Errorf("AdamW defaults: %+v", c)
	}
	if _, ok := SGD(0.1).Config().Config["clipnorm"]; ok {
		t.Errorf("unset clipping written to config")
	}
}

func TestFromConfigErrors(t *testing.T) {
	cases := []struct {
		c    Config
		want string
	}{
		{Config{ClassName: "Lion"}, `unknown optimizer "Lion"`},
		{Config{ClassName: "SGD", Config: map[string]any{"learning_rate": "fast"}}, `"learning_rate" is fast (string), want a number`},
		{Config{ClassName: "SGD", Config: map[string]any{"beta_1": 0.9}}, `SGD config: unknown keys ["beta_1"]`},
		{Config{ClassName: "Adam", Config: map[string]any{"beta_1": 1.5}}, "beta_1 1.5 must be in [0, 1)"},
		{Config{ClassName: "Adam", Config: map[string]any{"amsgrad": "yes"}}, `"amsgrad" is yes (string), want true or false`},
		{Config{ClassName: "SGD", Config: map[string]any{"schedule": map[string]any{"class_name": "Nope"}}}, `unknown schedule "Nope"`},
	}
	for _, c := range cases {
		if _, err := FromConfig(c.c); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.c, err, c.want)
		}
	}
	// Keras writes nulls for unset clipping and a name; both are accepted.
	o, err := FromConfig(Config{ClassName: "adam", Config: map[string]any{"name": "adam", "clipnorm": nil, "learning_rate": 0.01}})
	if err != nil || o.LearningRate() != 0.01 {
		t.Errorf("Keras-style config: %v, %v", o, err)
	}
}

func TestByName(t *testing.T) {
	for name, want := range map[string]struct {
		class string
		lr    float64
	}{"sgd": {"SGD", 0.01}, "adam": {"Adam", 0.001}, "AdamW": {"AdamW", 0.001}, "adadelta": {"Adadelta", 0.001},
		"adagrad": {"Adagrad", 0.001}, "rmsprop": {"RMSprop", 0.001}} {
		o, err := ByName(name)
		if err != nil || o.Config().ClassName != want.class || o.LearningRate() != want.lr {
			t.Errorf("ByName(%q) = %v, %v", name, o, err)
		}
	}
	if _, err := ByName("nadam"); err == nil || !strings.Contains(err.Error(), `unknown optimizer "nadam"`) {
		t.Errorf("unknown name: %v", err)
	}
}
