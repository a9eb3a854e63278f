package optim

import (
	"math"
	"strings"
	"testing"
)

func TestReduceOnPlateau(t *testing.T) {
	cases := []struct {
		name   string
		opts   []PlateauOption
		values []float64
		// the base rate after each observation, starting from 1
		want []float64
	}{
		{"patience 2", []PlateauOption{PlateauPatience(2), PlateauFactor(0.5)},
			[]float64{5, 4, 4, 4, 4, 4, 3},
			[]float64{1, 1, 1, 0.5, 0.5, 0.25, 0.25}},
		// a change within min_delta is no improvement
		{"min_delta", []PlateauOption{PlateauPatience(1), PlateauFactor(0.5), PlateauMinDelta(0.1)},
			[]float64{1, 0.95, 0.8},
			[]float64{1, 0.5, 0.5}},
		// As in Keras, the observation that ends the cooldown already counts towards patience:
		// with cooldown 2 and patience 1 cuts come every second observation, not every third.
		{"cooldown", []PlateauOption{PlateauPatience(1), PlateauFactor(0.5), PlateauCooldown(2)},
			[]float64{1, 1, 1, 1, 1, 1, 1},
			[]float64{1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125}},
		{"cooldown 3", []PlateauOption{PlateauPatience(1), PlateauFactor(0.5), PlateauCooldown(3)},
			[]float64{1, 1, 1, 1, 1, 1},
			[]float64{1, 0.5, 0.5, 0.5, 0.25, 0.25}},
		// an improvement resets the wait
		{"improvement resets", []PlateauOption{PlateauPatience(2), PlateauFactor(0.5)},
			[]float64{3, 3, 2, 2, 2},
			[]float64{1, 1, 1, 1, 0.5}},
		{"min_lr floor", []PlateauOption{PlateauPatience(0), PlateauFactor(0.1), PlateauMinLR(0.05)},
			[]float64{1, 1, 1, 1},
			[]float64{1, 0.1, 0.05, 0.05}},
		{"max mode", []PlateauOption{PlateauMode("max"), PlateauPatience(1), PlateauFactor(0.5)},
			[]float64{0.5, 0.6, 0.6, 0.7, 0.1},
			[]float64{1, 1, 0.5, 0.5, 0.25}},
		{"NaN is no improvement", []PlateauOption{PlateauPatience(1), PlateauFactor(0.5)},
			[]float64{1, math.NaN()},
			[]float64{1, 0.5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := SGD(1)
			r := NewReduceOnPlateau(o, c.opts...)
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			prev := 1.0
			for i, v := range c.values {
				changed := r.Observe(v)
				got := BaseLearningRate(o)
				if !closeTo(got, c.want[i], 1e-12) || changed != (got != prev) {
					t.Fatalf("observation %d (%v): rate %v changed=%v, want %v", i, v, got, changed, c.want[i])
				}
				prev = got
			}
		})
	}
}

// With a schedule, plateaus scale the base rate and the schedule's shape is kept.
func TestReduceOnPlateauWithSchedule(t *testing.T) {
	o := SGD(1, WithSchedule(StepDecay(1, 0.5)))
	o.SetEpoch(1)
	r := NewReduceOnPlateau(o, PlateauPatience(0))
	r.Observe(1) // the first value is always an improvement
	r.Observe(1)
	if got := o.LearningRate(); !closeTo(got, 0.05, 1e-12) {
		t.Fatalf("rate %v, want 0.05", got)
	}
}

func TestReduceOnPlateauErrors(t *testing.T) {
	cases := []struct {
		opt  Optimizer
		opts []PlateauOption
		want string
	}{
		{nil, nil, "needs an optimizer"},
		{SGD(1), []PlateauOption{PlateauMode("auto")}, `mode "auto"`},
		{SGD(1), []PlateauOption{PlateauFactor(1)}, "factor 1 must be in (0, 1)"},
		{SGD(1), []PlateauOption{PlateauPatience(-1)}, "patience -1"},
		{SGD(1), []PlateauOption{PlateauCooldown(-1)}, "cooldown -1"},
		{SGD(1), []PlateauOption{PlateauMinDelta(-1)}, "min_delta -1"},
		{SGD(1), []PlateauOption{PlateauMinLR(math.NaN())}, "min_lr NaN"},
	}
	for _, c := range cases {
		r := NewReduceOnPlateau(c.opt, c.opts...)
		if err := r.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want %q", err, c.want)
		}
		if r.Observe(1) || r.Observe(2) {
			t.Errorf("a broken ReduceOnPlateau changed the rate")
		}
	}
}
