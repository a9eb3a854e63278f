package optim

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestScheduleRates(t *testing.T) {
	type at struct {
		it    int64
		epoch int
		want  float64
	}
	cases := []struct {
		name string
		s    Schedule
		base float64
		at   []at
	}{
		{"StepDecay is per epoch", StepDecay(3, 0.5), 0.1, []at{
			{0, 0, 0.1}, {1000, 2, 0.1}, {0, 3, 0.05}, {0, 5, 0.05}, {0, 6, 0.025}, {0, 9, 0.0125}}},
		{"MultiStep", MultiStep([]int{2, 5}, 0.1), 1, []at{
			{0, 0, 1}, {0, 1, 1}, {0, 2, 0.1}, {0, 4, 0.1}, {0, 5, 0.01}, {99, 50, 0.01}}},
		{"MultiStep without milestones", MultiStep(nil, 0.1), 1, []at{{0, 7, 1}}},
		{"ExponentialDecay smooth", ExponentialDecay(10, 0.5, false), 1, []at{
			{0, 0, 1}, {5, 0, math.Sqrt(0.5)}, {10, 0, 0.5}, {25, 9, math.Pow(0.5, 2.5)}}},
		{"ExponentialDecay staircase", ExponentialDecay(10, 0.5, true), 1, []at{
			{9, 0, 1}, {10, 0, 0.5}, {25, 0, 0.25}}},
		// (1 − 0.01)·(1 − t/100)² + 0.01
		{"PolynomialDecay", PolynomialDecay(100, 0.01, 2), 1, []at{
			{0, 0, 1}, {50, 0, 0.99*0.25 + 0.01}, {100, 0, 0.01}, {1000, 0, 0.01}}},
		{"PolynomialDecay linear", PolynomialDecay(10, 0, 1), 2, []at{{3, 0, 1.4}}},
		{"CosineDecay", CosineDecay(100, 0.1), 1, []at{
			{0, 0, 1}, {50, 0, 0.55}, {100, 0, 0.1}, {200, 0, 0.1}}},
		// (i+1)/4 of the base during warmup, then constant
		{"Warmup alone", Warmup(4, nil), 0.8, []at{
			{0, 0, 0.2}, {1, 0, 0.4}, {3, 0, 0.8}, {4, 0, 0.8}, {100, 3, 0.8}}},
		// warms up to the wrapped schedule's start, then decays from its iteration 0
		{"Warmup then ExponentialDecay", Warmup(10, ExponentialDecay(10, 0.5, true)), 1, []at{
			{0, 0, 0.1}, {4, 0, 0.5}, {9, 0, 1}, {10, 0, 1}, {19, 0, 1}, {20, 0, 0.5}, {30, 0, 0.25}}},
		{"Warmup then StepDecay sees epochs", Warmup(2, StepDecay(1, 0.5)), 1, []at{
			{0, 1, 0.25}, {1, 1, 0.5}, {5, 2, 0.25}}},
		{"Warmup of a warmup", Warmup(2, Warmup(2, nil)), 1, []at{
			{0, 0, 0.25}, {1, 0, 0.5}, {2, 0, 0.5}, {3, 0, 1}, {4, 0, 1}}},
		{"Warmup of zero steps", Warmup(0, CosineDecay(10, 0)), 1, []at{{0, 0, 1}, {10, 0, 0}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := scheduleError(c.s); err != nil {
				t.Fatal(err)
			}
			for _, a := range c.at {
				if got := c.s.Rate(c.base, a.it, a.epoch); !closeTo(got, a.want, 1e-12) {
					t.Errorf("Rate(%v, it %d, epoch %d) = %v, want %v", c.base, a.it, a.epoch, got, a.want)
				}
			}
		})
	}
}

// The optimizer reports, and uses, the scheduled rate of the step about to be taken.
func TestOptimizerFollowsSchedule(t *testing.T) {
	o := SGD(1, WithSchedule(Warmup(2, StepDecay(1, 0.1))))
	p := param(t, "w", 0)
	setGrad(t, p, 1)
	var moved []float64
	for epoch := 0; epoch < 2; epoch++ {
		o.SetEpoch(epoch)
		for i := 0; i < 3; i++ {
			before := p.Float32s()[0]
			lr := o.LearningRate()
			mustStep(t, o, p)
			if d := float64(before - p.Float32s()[0]); !closeTo(d, lr, 1e-6) {
				t.Fatalf("step moved %v, LearningRate() said %v", d, lr)
			}
			moved = append(moved, lr)
		}
	}
	want := []float64{0.5, 1, 1, 0.1, 0.1, 0.1}
	for i := range want {
		if !closeTo(moved[i], want[i], 1e-12) {
			t.Fatalf("rates %v, want %v", moved, want)
		}
	}
	o.SetLearningRate(10)
	if got := o.LearningRate(); !closeTo(got, 1, 1e-12) || BaseLearningRate(o) != 10 {
		t.Fatalf("after SetLearningRate(10): rate %v, base %v", got, BaseLearningRate(o))
	}
}

func TestBadSchedules(t *testing.T) {
	cases := []struct {
		s    Schedule
		want string
	}{
		{StepDecay(-1, 0.5), "step size -1"},
		{StepDecay(2, -0.5), "gamma -0.5"},
		{MultiStep([]int{3, 3}, 0.5), "strictly increasing"},
		{MultiStep([]int{1}, math.NaN()), "gamma NaN"},
		{ExponentialDecay(0, 0.5, false), "decay steps 0"},
		{ExponentialDecay(10, -1, false), "decay rate -1"},
		{PolynomialDecay(0, 0, 1), "decay steps 0"},
		{PolynomialDecay(10, -1, 1), "end rate -1"},
		{PolynomialDecay(10, 0, 0), "power 0"},
		{CosineDecay(10, 2), "alpha 2"},
		{Warmup(-1, nil), "steps -1"},
	}
	for _, c := range cases {
		if err := scheduleError(c.s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%T: %v, want %q", c.s, err, c.want)
		}
	}
}

func jsonRoundTrip(t *testing.T, c Config) Config {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out Config
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestScheduleConfigRoundTrip(t *testing.T) {
	for _, s := range []Schedule{
		StepDecay(3, 0.5), MultiStep([]int{2, 5, 9}, 0.3), ExponentialDecay(7, 0.9, true),
		PolynomialDecay(100, 0.001, 0.5), CosineDecay(50, 0.05),
		Warmup(5, nil), Warmup(5, Warmup(3, ExponentialDecay(10, 0.1, false))),
	} {
		for _, c := range []Config{s.Config(), jsonRoundTrip(t, s.Config())} {
			back, err := ScheduleFromConfig(c)
			if err != nil {
				t.Fatalf("%+v: %v", c, err)
			}
			if !reflect.DeepEqual(jsonRoundTrip(t, back.Config()), jsonRoundTrip(t, s.Config())) {
				t.Errorf("round trip changed %+v into %+v", s.Config(), back.Config())
			}
			for it := int64(0); it < 30; it += 7 {
				if back.Rate(0.3, it, int(it/4)) != s.Rate(0.3, it, int(it/4)) {
					t.Errorf("%s: rates differ after round trip", c.ClassName)
				}
			}
		}
	}
}

type halving struct{ every int }

func (h halving) Rate(base float64, it int64, _ int) float64 {
	return base * math.Pow(0.5, float64(it/int64(h.every)))
}
func (h halving) Config() Config {
	return Config{ClassName: "test.Halving", Config: map[string]any{"every": h.every}}
}

func TestRegisteredSchedule(t *testing.T) {
	RegisterSchedule("test.Halving", func(m map[string]any) (Schedule, error) {
		r := reader{what: "test.Halving", m: m}
		h := halving{every: r.int("every", 1, true)}
		return h, r.finish()
	})
	o := Adam(0.01, WithSchedule(Warmup(3, halving{every: 4})))
	back, err := FromConfig(jsonRoundTrip(t, o.Config()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(jsonRoundTrip(t, back.Config()), jsonRoundTrip(t, o.Config())) {
		t.Fatalf("custom schedule lost: %+v", back.Config())
	}
}

func TestScheduleConfigErrors(t *testing.T) {
	cases := []struct {
		c    Config
		want string
	}{
		{Config{ClassName: "Nope"}, `unknown schedule "Nope"`},
		{Config{ClassName: "StepDecay", Config: map[string]any{"gamma": 0.5}}, `StepDecay schedule config: missing "step_size"`},
		{Config{ClassName: "StepDecay", Config: map[string]any{"step_size": 2.5, "gamma": 0.5}}, `"step_size" is 2.5, want an integer`},
		{Config{ClassName: "StepDecay", Config: map[string]any{"step_size": 2, "gamma": "x"}}, `"gamma" is x (string), want a number`},
		{Config{ClassName: "StepDecay", Config: map[string]any{"step_size": 2, "gamma": 0.5, "gama": 1}}, `unknown keys ["gama"]`},
		{Config{ClassName: "MultiStep", Config: map[string]any{"milestones": []any{1, "a"}, "gamma": 0.5}}, `"milestones" holds a`},
		{Config{ClassName: "Warmup", Config: map[string]any{"warmup_steps": 3, "schedule": 7}}, "nested config is a int"},
		{Config{ClassName: "Warmup", Config: map[string]any{"warmup_steps": 3, "schedule": map[string]any{"class_name": "StepDecay", "config": map[string]any{"step_size": 0, "gamma": 1}}}}, "step size 0 must be > 0 (inside Warmup)"},
	}
	for _, c := range cases {
		if _, err := ScheduleFromConfig(c.c); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.c, err, c.want)
		}
	}
}
