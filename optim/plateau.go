package optim

import (
	"fmt"
	"math"
)

// ReduceOnPlateau lowers an optimizer's base learning rate when a monitored value stops
// improving, as Keras's ReduceLROnPlateau callback does: after Patience observations without an
// improvement of more than MinDelta, the base rate is multiplied by Factor (but not below
// MinLR), and the next Cooldown observations are ignored. A training loop calls Observe once per
// epoch with the monitored value (e.g. the validation loss).
//
// It changes the base rate through SetLearningRate, so with a schedule the schedule's shape is
// kept and scaled down; MinLR bounds the base rate.
type ReduceOnPlateau struct {
	opt      Optimizer
	mode     string
	factor   float64
	patience int
	minDelta float64
	cooldown int
	minLR    float64
	err      error

	best     float64
	wait     int
	coolLeft int
}

// PlateauOption tunes a ReduceOnPlateau.
type PlateauOption func(*ReduceOnPlateau)

// PlateauMode is "min" (default: the value should fall, as a loss) or "max" (it should rise, as
// an accuracy).
func PlateauMode(mode string) PlateauOption { return func(r *ReduceOnPlateau) { r.mode = mode } }

// PlateauFactor is what the rate is multiplied by, in (0, 1) (default 0.1).
func PlateauFactor(f float64) PlateauOption { return func(r *ReduceOnPlateau) { r.factor = f } }

// PlateauPatience is how many observations without improvement are tolerated (default 10).
func PlateauPatience(n int) PlateauOption { return func(r *ReduceOnPlateau) { r.patience = n } }

// PlateauMinDelta is how much a value must beat the best so far to count as an improvement
// (default 1e-4).
func PlateauMinDelta(d float64) PlateauOption { return func(r *ReduceOnPlateau) { r.minDelta = d } }

// PlateauCooldown is how many observations to ignore after a reduction (default 0).
func PlateauCooldown(n int) PlateauOption { return func(r *ReduceOnPlateau) { r.cooldown = n } }

// PlateauMinLR is the floor for the base rate (default 0).
func PlateauMinLR(lr float64) PlateauOption { return func(r *ReduceOnPlateau) { r.minLR = lr } }

// NewReduceOnPlateau watches for plateaus on behalf of opt, with Keras's defaults. Bad options
// are reported by Err; Observe then does nothing.
func NewReduceOnPlateau(opt Optimizer, opts ...PlateauOption) *ReduceOnPlateau {
	r := &ReduceOnPlateau{opt: opt, mode: "min", factor: 0.1, patience: 10, minDelta: 1e-4}
	for _, o := range opts {
		if o != nil {
			o(r)
		}
	}
	switch {
	case opt == nil:
		r.err = fmt.Errorf("optim: ReduceOnPlateau needs an optimizer")
	case r.mode != "min" && r.mode != "max":
		r.err = fmt.Errorf("optim: ReduceOnPlateau mode %q, want \"min\" or \"max\"", r.mode)
	case !(r.factor > 0 && r.factor < 1):
		r.err = fmt.Errorf("optim: ReduceOnPlateau factor %v must be in (0, 1)", r.factor)
	case r.patience < 0:
		r.err = fmt.Errorf("optim: ReduceOnPlateau patience %d must be >= 0", r.patience)
	case r.cooldown < 0:
		r.err = fmt.Errorf("optim: ReduceOnPlateau cooldown %d must be >= 0", r.cooldown)
	case !finite(r.minDelta) || r.minDelta < 0:
		r.err = fmt.Errorf("optim: ReduceOnPlateau min_delta %v must be a finite number >= 0", r.minDelta)
	case !finite(r.minLR) || r.minLR < 0:
		r.err = fmt.Errorf("optim: ReduceOnPlateau min_lr %v must be a finite number >= 0", r.minLR)
	}
	r.Reset()
	return r
}

// Err reports bad options given to NewReduceOnPlateau.
func (r *ReduceOnPlateau) Err() error { return r.err }

// Reset forgets the best value and the counters (Keras does this when training begins).
func (r *ReduceOnPlateau) Reset() {
	r.best = math.Inf(1)
	if r.mode == "max" {
		r.best = math.Inf(-1)
	}
	r.wait, r.coolLeft = 0, 0
}

// Best is the best value observed since Reset.
func (r *ReduceOnPlateau) Best() float64 { return r.best }

// Observe records one value of the monitored quantity and reports whether it lowered the
// learning rate. A NaN value never counts as an improvement.
func (r *ReduceOnPlateau) Observe(value float64) (changed bool) {
	if r.err != nil {
		return false
	}
	if r.coolLeft > 0 {
		r.coolLeft--
		r.wait = 0
	}
	if r.improves(value) {
		r.best = value
		r.wait = 0
		return false
	}
	if r.coolLeft > 0 {
		return false
	}
	r.wait++
	if r.wait < r.patience {
		return false
	}
	old := BaseLearningRate(r.opt)
	if old <= r.minLR {
		return false
	}
	r.opt.SetLearningRate(max(old*r.factor, r.minLR))
	r.coolLeft = r.cooldown
	r.wait = 0
	return true
}

func (r *ReduceOnPlateau) improves(v float64) bool {
	if r.mode == "max" {
		return v > r.best+r.minDelta
	}
	return v < r.best-r.minDelta
}

// Config describes the settings (not the counters), for logs and saved training setups.
func (r *ReduceOnPlateau) Config() Config {
	return Config{ClassName: "ReduceOnPlateau", Config: map[string]any{
		"mode": r.mode, "factor": r.factor, "patience": r.patience, "min_delta": r.minDelta,
		"cooldown": r.cooldown, "min_lr": r.minLR}}
}
