package optim

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
)

// Schedule maps the optimizer's base learning rate to the rate a step uses. iteration is the
// number of steps already taken (0 for the first step); epoch is the 0-based epoch the
// training loop last passed to SetEpoch. A schedule that depends on neither of them can still
// be stateless: an optimizer asks for the rate afresh at every step, so schedules never need
// saving beyond their Config.
//
// A constructor given bad arguments returns a schedule whose Err reports them; WithSchedule
// passes that error on to the optimizer (its Step and optim.Err return it).
type Schedule interface {
	Rate(base float64, iteration int64, epoch int) float64
	Config() Config
}

type scheduleErr struct{ err error }

func (s scheduleErr) Err() error { return s.err }

func schedErr(class, format string, args ...any) scheduleErr {
	return scheduleErr{fmt.Errorf("optim: %s schedule: "+format, append([]any{class}, args...)...)}
}

// StepDecay multiplies the rate by gamma every stepSize epochs (PyTorch's StepLR stepped once per
// epoch): base·gamma^⌊epoch/stepSize⌋. It is epoch-based; for a per-iteration staircase use
// ExponentialDecay with staircase true.
func StepDecay(stepSize int, gamma float64) Schedule {
	s := &stepDecay{stepSize: stepSize, gamma: gamma}
	if stepSize <= 0 {
		s.scheduleErr = schedErr("StepDecay", "step size %d must be > 0", stepSize)
	} else if !finite(gamma) || gamma < 0 {
		s.scheduleErr = schedErr("StepDecay", "gamma %v must be a finite number >= 0", gamma)
	}
	return s
}

type stepDecay struct {
	scheduleErr
	stepSize int
	gamma    float64
}

func (s *stepDecay) Rate(base float64, _ int64, epoch int) float64 {
	if s.stepSize <= 0 {
		return base
	}
	return base * math.Pow(s.gamma, float64(max(epoch, 0)/s.stepSize))
}

func (s *stepDecay) Config() Config {
	return Config{ClassName: "StepDecay", Config: map[string]any{"step_size": s.stepSize, "gamma": s.gamma}}
}

// MultiStep multiplies the rate by gamma at each epoch in milestones (PyTorch's MultiStepLR):
// base·gamma^(number of milestones <= epoch). It is epoch-based; milestones must increase.
func MultiStep(milestones []int, gamma float64) Schedule {
	s := &multiStep{milestones: slices.Clone(milestones), gamma: gamma}
	for i, m := range milestones {
		if m < 0 || i > 0 && m <= milestones[i-1] {
			s.scheduleErr = schedErr("MultiStep", "milestones %v must be >= 0 and strictly increasing", milestones)
			break
		}
	}
	if !finite(gamma) || gamma < 0 {
		s.scheduleErr = schedErr("MultiStep", "gamma %v must be a finite number >= 0", gamma)
	}
	return s
}

type multiStep struct {
	scheduleErr
	milestones []int
	gamma      float64
}

func (s *multiStep) Rate(base float64, _ int64, epoch int) float64 {
	passed := sort.SearchInts(s.milestones, epoch+1)
	return base * math.Pow(s.gamma, float64(passed))
}

func (s *multiStep) Config() Config {
	return Config{ClassName: "MultiStep", Config: map[string]any{"milestones": slices.Clone(s.milestones), "gamma": s.gamma}}
}

// ExponentialDecay is Keras's schedule of the same name, by iteration:
// base·rate^(iteration/decaySteps), with the exponent floored when staircase is true.
func ExponentialDecay(decaySteps int, rate float64, staircase bool) Schedule {
	s := &expDecay{decaySteps: decaySteps, rate: rate, staircase: staircase}
	if decaySteps <= 0 {
		s.scheduleErr = schedErr("ExponentialDecay", "decay steps %d must be > 0", decaySteps)
	} else if !finite(rate) || rate < 0 {
		s.scheduleErr = schedErr("ExponentialDecay", "decay rate %v must be a finite number >= 0", rate)
	}
	return s
}

type expDecay struct {
	scheduleErr
	decaySteps int
	rate       float64
	staircase  bool
}

func (s *expDecay) Rate(base float64, it int64, _ int) float64 {
	if s.decaySteps <= 0 {
		return base
	}
	p := float64(it) / float64(s.decaySteps)
	if s.staircase {
		p = math.Floor(p)
	}
	return base * math.Pow(s.rate, p)
}

func (s *expDecay) Config() Config {
	return Config{ClassName: "ExponentialDecay", Config: map[string]any{
		"decay_steps": s.decaySteps, "decay_rate": s.rate, "staircase": s.staircase}}
}

// PolynomialDecay is Keras's schedule of the same name (without cycling), by iteration: the
// rate falls from base to endRate over decaySteps as (base−end)·(1−t/decaySteps)^power + end,
// then stays at endRate.
func PolynomialDecay(decaySteps int, endRate, power float64) Schedule {
	s := &polyDecay{decaySteps: decaySteps, end: endRate, power: power}
	switch {
	case decaySteps <= 0:
		s.scheduleErr = schedErr("PolynomialDecay", "decay steps %d must be > 0", decaySteps)
	case !finite(endRate) || endRate < 0:
		s.scheduleErr = schedErr("PolynomialDecay", "end rate %v must be a finite number >= 0", endRate)
	case !finite(power) || power <= 0:
		s.scheduleErr = schedErr("PolynomialDecay", "power %v must be a finite number > 0", power)
	}
	return s
}

type polyDecay struct {
	scheduleErr
	decaySteps int
	end, power float64
}

func (s *polyDecay) Rate(base float64, it int64, _ int) float64 {
	if s.decaySteps <= 0 {
		return base
	}
	t := min(float64(it), float64(s.decaySteps)) / float64(s.decaySteps)
	return (base-s.end)*math.Pow(1-t, s.power) + s.end
}

func (s *polyDecay) Config() Config {
	return Config{ClassName: "PolynomialDecay", Config: map[string]any{
		"decay_steps": s.decaySteps, "end_learning_rate": s.end, "power": s.power}}
}

// CosineDecay is Keras's schedule of the same name, by iteration: the rate follows half a
// cosine from base down to alpha·base over decaySteps, then stays there.
func CosineDecay(decaySteps int, alpha float64) Schedule {
	s := &cosineDecay{decaySteps: decaySteps, alpha: alpha}
	if decaySteps <= 0 {
		s.scheduleErr = schedErr("CosineDecay", "decay steps %d must be > 0", decaySteps)
	} else if !(alpha >= 0 && alpha <= 1) {
		s.scheduleErr = schedErr("CosineDecay", "alpha %v must be in [0, 1]", alpha)
	}
	return s
}

type cosineDecay struct {
	scheduleErr
	decaySteps int
	alpha      float64
}

func (s *cosineDecay) Rate(base float64, it int64, _ int) float64 {
	if s.decaySteps <= 0 {
		return base
	}
	t := min(float64(it), float64(s.decaySteps)) / float64(s.decaySteps)
	c := 0.5 * (1 + math.Cos(math.Pi*t))
	return base * ((1-s.alpha)*c + s.alpha)
}

func (s *cosineDecay) Config() Config {
	return Config{ClassName: "CosineDecay", Config: map[string]any{"decay_steps": s.decaySteps, "alpha": s.alpha}}
}

// Warmup raises the rate linearly over the first steps iterations, to then's rate at its own
// iteration 0 (step i, 0-based, uses (i+1)/steps of it, so no step is wasted at rate 0), and
// then hands over to then with the iteration count shifted by steps: a decay wrapped in a
// warmup starts decaying when the warmup ends. Epoch-based schedules see the epoch unshifted.
// then may be nil (a constant rate) or another Warmup.
func Warmup(steps int, then Schedule) Schedule {
	s := &warmup{steps: steps, then: then}
	if steps < 0 {
		s.scheduleErr = schedErr("Warmup", "steps %d must be >= 0", steps)
	} else if err := scheduleError(then); err != nil {
		s.scheduleErr = scheduleErr{fmt.Errorf("%w (inside Warmup)", err)}
	}
	return s
}

type warmup struct {
	scheduleErr
	steps int
	then  Schedule
}

func (s *warmup) Rate(base float64, it int64, epoch int) float64 {
	if it < int64(s.steps) {
		target := base
		if s.then != nil {
			target = s.then.Rate(base, 0, epoch)
		}
		return target * float64(it+1) / float64(s.steps)
	}
	if s.then == nil {
		return base
	}
	return s.then.Rate(base, it-int64(s.steps), epoch)
}

func (s *warmup) Config() Config {
	m := map[string]any{"warmup_steps": s.steps}
	if s.then != nil {
		m["schedule"] = s.then.Config()
	}
	return Config{ClassName: "Warmup", Config: m}
}

// scheduleError is the construction error of s, if it reports one.
func scheduleError(s Schedule) error {
	if e, ok := s.(interface{ Err() error }); ok {
		return e.Err()
	}
	return nil
}

var (
	scheduleMu       sync.RWMutex
	scheduleBuilders = map[string]func(map[string]any) (Schedule, error){}
)

// RegisterSchedule makes ScheduleFromConfig (and so FromConfig) able to rebuild a schedule
// defined outside this package, by the ClassName its Config returns. Registering a name twice
// replaces the earlier builder.
func RegisterSchedule(className string, build func(config map[string]any) (Schedule, error)) {
	scheduleMu.Lock()
	defer scheduleMu.Unlock()
	scheduleBuilders[className] = build
}

// ScheduleFromConfig rebuilds a schedule from its Config, including one that went through JSON
// (numbers as float64, lists as []any).
func ScheduleFromConfig(c Config) (Schedule, error) {
	r := reader{what: c.ClassName + " schedule", m: c.Config}
	var s Schedule
	switch c.ClassName {
	case "StepDecay":
		s = StepDecay(r.int("step_size", 0, true), r.float("gamma", 0, true))
	case "MultiStep":
		s = MultiStep(r.ints("milestones"), r.float("gamma", 0, true))
	case "ExponentialDecay":
		s = ExponentialDecay(r.int("decay_steps", 0, true), r.float("decay_rate", 0, true), r.bool("staircase", false))
	case "PolynomialDecay":
		s = PolynomialDecay(r.int("decay_steps", 0, true), r.float("end_learning_rate", 0.0001, false), r.float("power", 1, false))
	case "CosineDecay":
		s = CosineDecay(r.int("decay_steps", 0, true), r.float("alpha", 0, false))
	case "Warmup":
		var then Schedule
		if sub, ok := r.take("schedule"); ok {
			sc, err := asConfig(sub)
			if err != nil {
				return nil, fmt.Errorf("optim: Warmup schedule: %w", err)
			}
			if then, err = ScheduleFromConfig(sc); err != nil {
				return nil, fmt.Errorf("%w (inside Warmup)", err)
			}
		}
		s = Warmup(r.int("warmup_steps", 0, true), then)
	default:
		scheduleMu.RLock()
		build := scheduleBuilders[c.ClassName]
		scheduleMu.RUnlock()
		if build == nil {
			return nil, fmt.Errorf("optim: unknown schedule %q (want StepDecay, MultiStep, ExponentialDecay, PolynomialDecay, CosineDecay, Warmup or a registered one)", c.ClassName)
		}
		return build(c.Config)
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	if err := scheduleError(s); err != nil {
		return nil, err
	}
	return s, nil
}
