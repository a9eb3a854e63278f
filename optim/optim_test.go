package optim

import (
	"github.com/deepframe/deepframe/autograd"
	"math"
	"strings"
	"testing"
)

// The first steps of every optimizer on a tiny parameter, against numbers worked out by hand
// from the published update rules (for step 1 the moment estimates collapse to simple
// expressions, written out in each case).
func TestFirstStepHandComputed(t *testing.T) {
	const w0, g = 1.0, 0.5
	cases := []struct {
		name string
		opt  Optimizer
		want []float64 // weight after steps 1, 2, 3 with the constant gradient g
	}{
		{"SGD", SGD(0.1), []float64{1 - 0.05, 1 - 0.10, 1 - 0.15}},
		// b1 = g, b2 = 0.9g + g = 1.9g, b3 = 0.9·1.9g + g = 2.71g
		{"SGD momentum", SGD(0.1, Momentum(0.9)), []float64{0.95, 0.95 - 0.095, 0.95 - 0.095 - 0.1355}},
		// Nesterov: w −= lr·(g + m·b): step1 b=g → lr·1.9g; step2 b=1.9g → lr·(g+1.71g)=lr·2.71g
		{"SGD nesterov", SGD(0.1, Momentum(0.9), Nesterov()), []float64{1 - 0.095, 1 - 0.095 - 0.1355}},
		// coupled decay: g' = g + wd·w = 0.5 + 0.1·1 = 0.6
		{"SGD weight decay", SGD(0.1, WeightDecay(0.1)), []float64{1 - 0.06, 0.94 - 0.1*(0.5+0.094)}},
		// With a constant g the bias-corrected m/√v is exactly sign(g), so each step moves lr;
		// ε shifts it by ε/√v, about 6e-6 of the step here.
		{"Adam", Adam(0.1), []float64{0.9, 0.8, 0.7}},
		{"Adam amsgrad", Adam(0.1, AMSGrad()), []float64{0.9, 0.8, 0.7}},
		// AdamW: w·(1 − lr·wd) − lr·sign(g)
		{"AdamW", AdamW(0.1, WeightDecay(0.5)), []float64{1*0.95 - 0.1, 0.85*0.95 - 0.1}},
		{"AdamW default decay", AdamW(0.1), []float64{1*(1-0.0004) - 0.1}},
		// a = 0.1 + 0.25 = 0.35, then 0.6, 0.85
		{"Adagrad", Adagrad(0.1), []float64{1 - 0.05/math.Sqrt(0.35), 1 - 0.05/math.Sqrt(0.35) - 0.05/math.Sqrt(0.6)}},
		// v1 = 0.1·0.25 = 0.025 → Δ = 0.1·0.5/√0.025 = 0.316228
		{"RMSprop", RMSprop(0.1), []float64{1 - 0.05/math.Sqrt(0.025)}},
		// centered: ḡ = 0.05, v − ḡ² = 0.025 − 0.0025 = 0.0225 → Δ = 0.05/0.15
		{"RMSprop centered", RMSprop(0.1, Centered()), []float64{1 - 0.05/0.15}},
		// momentum: b1 = Δ1; v2 = 0.0475, Δ2 = 0.05/√0.0475; b2 = 0.5·b1 + Δ2
		{"RMSprop momentum", RMSprop(0.1, Momentum(0.5)), []float64{
			1 - 0.05/math.Sqrt(0.025),
			1 - 0.05/math.Sqrt(0.025) - (0.5*0.05/math.Sqrt(0.025) + 0.05/math.Sqrt(0.0475))}},
		// a = 0.05·0.25 = 0.0125, Δ = √ε/√(a+ε)·g ≈ 0.5·√(1e-7/0.0125)
		{"Adadelta", Adadelta(1), []float64{1 - 0.5*math.Sqrt(1e-7)/math.Sqrt(0.0125+1e-7)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := param(t, "w", w0)
			setGrad(t, p, g)
			for i, want := range c.want {
				mustStep(t, c.opt, p)
				if got := float64(p.Float32s()[0]); !closeTo(got, want, 2e-5) {
					t.Fatalf("step %d: w = %.8f, want %.8f", i+1, got, want)
				}
			}
			if n := c.opt.Iterations(); n != int64(len(c.want)) {
				t.Fatalf("Iterations() = %d after %d steps", n, len(c.want))
			}
		})
	}
}

// ref is a float64 restatement of each update rule, run on vectors with changing gradients,
// to check the fused float32 loops over several steps and elements (where the closed forms
// above no longer apply).
type ref struct {
	w, m, v, vh, avg []float64
	t                int
}

func (r *ref) step(kind string, lr float64, g []float64) {
	r.t++
	n := len(r.w)
	if r.m == nil {
		r.m, r.v, r.vh, r.avg = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		if kind == "adagrad" {
			for i := range r.m {
				r.m[i] = 0.1
			}
		}
	}
	eps := 1e-7
	for i := range r.w {
		gi := g[i]
		switch kind {
		case "nesterov+wd":
			gi += 0.01 * r.w[i]
			r.m[i] = 0.9*r.m[i] + gi
			r.w[i] -= lr * (gi + 0.9*r.m[i])
		case "adam", "adamw", "amsgrad":
			if kind == "adamw" {
				r.w[i] -= lr * 0.004 * r.w[i]
			}
			r.m[i] = 0.9*r.m[i] + 0.1*gi
			r.v[i] = 0.999*r.v[i] + 0.001*gi*gi
			den := r.v[i]
			if kind == "amsgrad" {
				r.vh[i] = math.Max(r.vh[i], r.v[i])
				den = r.vh[i]
			}
			alpha := lr * math.Sqrt(1-math.Pow(0.999, float64(r.t))) / (1 - math.Pow(0.9, float64(r.t)))
			r.w[i] -= alpha * r.m[i] / (math.Sqrt(den) + eps)
		case "adagrad":
			r.m[i] += gi * gi
			r.w[i] -= lr * gi / math.Sqrt(r.m[i]+eps)
		case "adadelta":
			r.m[i] = 0.95*r.m[i] + 0.05*gi*gi
			d := math.Sqrt(r.v[i]+eps) / math.Sqrt(r.m[i]+eps) * gi
			r.v[i] = 0.95*r.v[i] + 0.05*d*d
			r.w[i] -= lr * d
		case "rmsprop-centered-momentum":
			r.v[i] = 0.9*r.v[i] + 0.1*gi*gi
			r.avg[i] = 0.9*r.avg[i] + 0.1*gi
			r.m[i] = 0.8*r.m[i] + lr*gi/math.Sqrt(r.v[i]-r.avg[i]*r.avg[i]+eps)
			r.w[i] -= r.m[i]
		}
	}
}

func TestStepsMatchReference(t *testing.T) {
	cases := []struct {
		kind string
		opt  Optimizer
		lr   float64
	}{
		{"nesterov+wd", SGD(0.05, Momentum(0.9), Nesterov(), WeightDecay(0.01)), 0.05},
		{"adam", Adam(0.01), 0.01},
		{"adamw", AdamW(0.01), 0.01},
		{"amsgrad", Adam(0.01, AMSGrad()), 0.01},
		{"adagrad", Adagrad(0.1), 0.1},
		{"adadelta", Adadelta(1), 1},
		{"rmsprop-centered-momentum", RMSprop(0.01, Centered(), Momentum(0.8)), 0.01},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			p := param(t, "w", 1, -2, 0.5, 3)
			r := &ref{w: []float64{1, -2, 0.5, 3}}
			for step := 0; step < 6; step++ {
				g := []float64{0.3 - 0.1*float64(step), -1.5, 0.02 * float64(step), 2}
				g32 := make([]float32, len(g))
				for i := range g {
					g32[i] = float32(g[i])
				}
				setGrad(t, p, g32...)
				mustStep(t, c.opt, p)
				r.step(c.kind, c.lr, g)
				for i, got := range values(p) {
					if !closeTo(got, r.w[i], 1e-5) {
						t.Fatalf("step %d element %d: %.7f, want %.7f", step+1, i, got, r.w[i])
					}
				}
			}
		})
	}
}

// f(w) = ½Σ aᵢ(wᵢ − cᵢ)², a badly conditioned bowl; every optimizer must get to the bottom.
func TestMinimisesQuadratic(t *testing.T) {
	a := []float32{1, 10, 0.5}
	c := []float32{3, -2, 1}
	cases := []struct {
		name  string
		opt   Optimizer
		steps int
	}{
		{"SGD", SGD(0.05), 500},
		{"SGD momentum", SGD(0.02, Momentum(0.9)), 500},
		{"SGD nesterov", SGD(0.02, Momentum(0.9), Nesterov()), 500},
		{"Adam", Adam(0.05), 1500},
		{"Adam amsgrad", Adam(0.05, AMSGrad()), 1500},
		{"AdamW", AdamW(0.05, WeightDecay(0)), 1500},
		{"Adagrad", Adagrad(0.5), 1500},
		{"Adadelta", Adadelta(10), 3000},
		{"RMSprop", RMSprop(0.01), 1500},
		{"RMSprop centered momentum", RMSprop(0.005, Centered(), Momentum(0.5)), 1500},
		{"SGD global clip + schedule", SGD(0.05, GlobalClipNorm(1), WithSchedule(Warmup(20, ExponentialDecay(200, 0.5, false)))), 1500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := param(t, "w", 0, 0, 0)
			setGrad(t, p, 0, 0, 0)
			loss := func() float64 {
				var l float64
				for i, w := range p.Float32s() {
					d := float64(w - c[i])
					l += 0.5 * float64(a[i]) * d * d
				}
				return l
			}
			start := loss()
			for i := 0; i < tc.steps; i++ {
				g := p.Grad().Float32s()
				for j, w := range p.Float32s() {
					g[j] = a[j] * (w - c[j])
				}
				mustStep(t, tc.opt, p)
			}
			if l := loss(); !(l < 1e-3*start) {
				t.Fatalf("loss %g after %d steps (start %g); w = %v", l, tc.steps, start, p.Float32s())
			}
		})
	}
}

func TestSkipsParametersWithoutGradient(t *testing.T) {
	for _, o := range []Optimizer{SGD(0.1, Momentum(0.9)), Adam(0.1), AdamW(0.1), Adagrad(0.1), Adadelta(1), RMSprop(0.1)} {
		p, frozen := param(t, "p", 1), param(t, "frozen", 2)
		setGrad(t, p, 1)
		mustStep(t, o, p, frozen)
		if frozen.Float32s()[0] != 2 {
			t.Errorf("%v changed a parameter without gradient", o)
		}
		for k := range o.State() {
			if strings.HasPrefix(k, "frozen/") {
				t.Errorf("%v made state %q for a parameter without gradient", o, k)
			}
		}
	}
}

func TestStepLeavesGradientAlone(t *testing.T) {
	p := param(t, "p", 1, 1)
	setGrad(t, p, 30, -40)
	mustStep(t, SGD(0.1, ClipNorm(1), ClipValue(2), WeightDecay(0.5)), p)
	if g := p.Grad().Float32s(); g[0] != 30 || g[1] != -40 {
		t.Fatalf("gradient changed to %v", g)
	}
}

func TestClipping(t *testing.T) {
	cases := []struct {
		name   string
		opt    Optimizer
		g1, g2 []float32
		// with SGD at lr 1 from w = 0, the weights end up at minus the effective gradient
		want1, want2 []float64
	}{
		{"none", SGD(1), []float32{3, 4}, []float32{0.1}, []float64{-3, -4}, []float64{-0.1}},
		{"value", SGD(1, ClipValue(1)), []float32{3, -0.5}, []float32{-7}, []float64{-1, 0.5}, []float64{1}},
		// ‖g1‖ = 5 is scaled to 1; g2 is under the limit and kept
		{"norm per parameter", SGD(1, ClipNorm(1)), []float32{3, 4}, []float32{0.1}, []float64{-0.6, -0.8}, []float64{-0.1}},
		// global norm √(9+16+144) = 13 → everything scaled by 2/13
		{"global norm", SGD(1, GlobalClipNorm(2)), []float32{3, 4}, []float32{12}, []float64{-6.0 / 13, -8.0 / 13}, []float64{-24.0 / 13}},
		{"global norm under limit", SGD(1, GlobalClipNorm(100)), []float32{3, 4}, []float32{12}, []float64{-3, -4}, []float64{-12}},
		// value first ([3,4] → [2,2], norm √8), then per-parameter norm 1
		{"value then norm", SGD(1, ClipValue(2), ClipNorm(1)), []float32{3, 4}, []float32{0.5}, []float64{-1 / math.Sqrt2, -1 / math.Sqrt2}, []float64{-0.5}},
		// per-parameter first: g1 → [0.6, 0.8] (norm 1), g2 = [12] → [1]; global √2 → scale 1/√2
		{"norm then global", SGD(1, ClipNorm(1), GlobalClipNorm(1)), []float32{3, 4}, []float32{12}, []float64{-0.6 / math.Sqrt2, -0.8 / math.Sqrt2}, []float64{-1 / math.Sqrt2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p1, p2 := param(t, "a", 0, 0), param(t, "b", 0)
			setGrad(t, p1, c.g1...)
			setGrad(t, p2, c.g2...)
			mustStep(t, c.opt, p1, p2)
			for i, got := range values(p1) {
				if !closeTo(got, c.want1[i], 1e-6) {
					t.Errorf("a[%d] = %v, want %v", i, got, c.want1[i])
				}
			}
			if got := values(p2)[0]; !closeTo(got, c.want2[0], 1e-6) {
				t.Errorf("b = %v, want %v", got, c.want2[0])
			}
		})
	}
	// Clipping composes with adaptive optimizers too: Adagrad's accumulator sees clipped values.
	p := param(t, "w", 0)
	setGrad(t, p, 100)
	o := Adagrad(1, ClipValue(1))
	mustStep(t, o, p)
	if acc := o.State()["w/accumulator"].Float32s()[0]; !closeTo(float64(acc), 1.1, 1e-6) {
		t.Fatalf("Adagrad accumulator %v after a gradient clipped to 1, want 1.1", acc)
	}
}

func TestBadHyperparameters(t *testing.T) {
	cases := []struct {
		opt  Optimizer
		want string
	}{
		{SGD(-0.1), "learning rate -0.1"},
		{SGD(math.NaN()), "learning rate NaN"},
		{SGD(0.1, Momentum(1.2)), "momentum 1.2 must be in [0, 1)"},
		{SGD(0.1, Nesterov()), "Nesterov needs Momentum > 0"},
		{SGD(0.1, Beta1(0.9)), "SGD does not take option Beta1"},
		{SGD(0.1, Rho(0.9), Centered()), "SGD does not take option Rho, Centered"},
		{SGD(0.1, WeightDecay(-1)), "weight decay -1"},
		{SGD(0.1, ClipNorm(-1)), "clipnorm -1"},
		{SGD(0.1, GlobalClipNorm(math.Inf(1))), "global_clipnorm +Inf"},
		{SGD(0.1, ClipValue(-2)), "clipvalue -2"},
		{Adam(0.1, Beta1(1)), "beta_1 1 must be in [0, 1)"},
		{Adam(0.1, Beta2(-0.5)), "beta_2 -0.5"},
		{Adam(0.1, Epsilon(-1)), "epsilon -1"},
		{Adam(0.1, Momentum(0.9)), "Adam does not take option Momentum"},
		{AdamW(0.1, Centered()), "AdamW does not take option Centered"},
		{Adadelta(1, Rho(1)), "rho 1 must be in [0, 1)"},
		{Adadelta(1, Epsilon(0)), "epsilon 0 must be a finite number > 0"},
		{Adagrad(0.1, InitialAccumulator(-1)), "initial_accumulator_value -1"},
		{Adagrad(0.1, InitialAccumulator(0), Epsilon(0)), "both 0"},
		{RMSprop(0.1, Rho(2)), "rho 2"},
		{RMSprop(0.1, Nesterov()), "RMSprop does not take option Nesterov"},
		{SGD(0.1, WithSchedule(StepDecay(0, 0.5))), "StepDecay schedule: step size 0"},
		{SGD(0.1, WithSchedule(Warmup(10, MultiStep([]int{5, 3}, 0.1)))), "MultiStep schedule: milestones [5 3] must be >= 0 and strictly increasing (inside Warmup)"},
	}
	for _, c := range cases {
		err := Err(c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Err() = %v, want it to mention %q", err, c.want)
			continue
		}
		p := param(t, "w", 1)
		setGrad(t, p, 1)
		if serr := c.opt.Step(nil); serr == nil || serr.Error() != err.Error() {
			t.Errorf("Step error %v, want %v", serr, err)
		}
		if serr := c.opt.Step([]*autograd.Variable{p}); serr == nil || p.Float32s()[0] != 1 {
			t.Errorf("Step with bad hyperparameters changed the weights or returned %v", serr)
		}
	}
	if err := Err(Adam(0.001, Beta1(0), Epsilon(0))); err != nil {
		t.Errorf("valid edge values rejected: %v", err)
	}
}

func TestStepErrors(t *testing.T) {
	a, b := param(t, "same", 1), param(t, "same", 2)
	setGrad(t, a, 1)
	setGrad(t, b, 1)
	if err := SGD(0.1).Step([]*autograd.Variable{a, b}); err == nil || !strings.Contains(err.Error(), `two parameters are named "same"`) {
		t.Errorf("duplicate names: %v", err)
	}
	if a.Float32s()[0] != 1 {
		t.Errorf("a failed Step changed weights")
	}
	if err := SGD(0.1).Step([]*autograd.Variable{a, a}); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("repeated parameter: %v", err)
	}
	if err := SGD(0.1).Step([]*autograd.Variable{a, nil}); err == nil || !strings.Contains(err.Error(), "parameter 1 is nil") {
		t.Errorf("nil parameter: %v", err)
	}
	// A schedule that yields a bad rate is caught at Step, naming the iteration.
	o := SGD(0.1, WithSchedule(PolynomialDecay(10, 0.5, 0.5)))
	o.SetLearningRate(-1)
	if err := o.Step([]*autograd.Variable{a}); err == nil || !strings.Contains(err.Error(), "at iteration 0") {
		t.Errorf("negative scheduled rate: %v", err)
	}
	// After a failed Step the same optimizer still works (no half-bound state).
	o2 := SGD(1)
	_ = o2.Step([]*autograd.Variable{a, b})
	mustStep(t, o2, a)
	if a.Float32s()[0] != 0 {
		t.Errorf("step after failure: w = %v, want 0", a.Float32s()[0])
	}
}

// Unnamed parameters get positional keys, so small programs that never name variables still
// train and checkpoint.
func TestUnnamedParameters(t *testing.T) {
	a, b := param(t, "", 1), param(t, "", 2)
	setGrad(t, a, 1)
	setGrad(t, b, 1)
	o := Adam(0.1)
	mustStep(t, o, a, b)
	st := o.State()
	for _, k := range []string{"param_0/m", "param_1/v", "iterations"} {
		if st[k] == nil {
			t.Errorf("state has no %q: %v", k, st)
		}
	}
}

func TestNoAllocationsPerStep(t *testing.T) {
	opts := []Option{ClipValue(5), ClipNorm(10), GlobalClipNorm(3), WithSchedule(Warmup(5, CosineDecay(100, 0.1)))}
	for _, o := range []Optimizer{
		SGD(0.1, append(opts, Momentum(0.9), Nesterov(), WeightDecay(1e-4))...),
		Adam(0.01, append(opts, AMSGrad())...),
		AdamW(0.01, opts...),
		Adagrad(0.01, opts...),
		Adadelta(1, opts...),
		RMSprop(0.01, append(opts, Centered(), Momentum(0.9))...),
		RMSprop(0.01),
	} {
		ps := []*autograd.Variable{param(t, "a", make([]float32, 256)...), param(t, "b", 1, 2, 3), param(t, "c", 4)}
		for _, p := range ps[:2] {
			setGrad(t, p, make([]float32, p.Value().Len())...)
			p.Grad().Fill(0.25)
		}
		mustStep(t, o, ps...)
		if n := testing.AllocsPerRun(50, func() {
			if err := o.Step(ps); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%v: %v allocations per Step", o, n)
		}
	}
}
