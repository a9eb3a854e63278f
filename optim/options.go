package optim

import (
	"fmt"
	"math"
	"strings"
)

// Option tunes an optimizer. One Option type serves every optimizer so that the clipping and
// schedule options combine with any of them; an option that the optimizer has no use for (Beta1
// given to SGD, say) is recorded as an error rather than silently ignored, because a misplaced
// hyperparameter is almost always a mistake worth hearing about.
type Option func(*settings)

// optionKind identifies an option so a constructor can tell which ones it was given.
type optionKind uint16

const (
	optMomentum optionKind = 1 << iota
	optNesterov
	optWeightDecay
	optBeta1
	optBeta2
	optEpsilon
	optAMSGrad
	optRho
	optInitialAccumulator
	optCentered
)

// Clipping and schedules apply to every optimizer, so they carry no kind bit.

var optionNames = map[optionKind]string{
	optMomentum:           "Momentum",
	optNesterov:           "Nesterov",
	optWeightDecay:        "WeightDecay",
	optBeta1:              "Beta1",
	optBeta2:              "Beta2",
	optEpsilon:            "Epsilon",
	optAMSGrad:            "AMSGrad",
	optRho:                "Rho",
	optInitialAccumulator: "InitialAccumulator",
	optCentered:           "Centered",
}

type settings struct {
	given optionKind

	momentum, weightDecay    float64
	beta1, beta2, epsilon    float64
	rho, initialAccumulator  float64
	nesterov, amsgrad        bool
	centered                 bool
	clipNorm, globalClipNorm float64 // 0 means off
	clipValue                float64 // 0 means off
	schedule                 Schedule
}

// Momentum sets the momentum of SGD or RMSprop (default 0).
func Momentum(m float64) Option {
	return func(s *settings) { s.given |= optMomentum; s.momentum = m }
}

// Nesterov makes SGD's momentum look ahead (needs Momentum > 0).
func Nesterov() Option {
	return func(s *settings) { s.given |= optNesterov; s.nesterov = true }
}

// WeightDecay sets the weight decay. AdamW decays weights directly (decoupled, Loshchilov &
// Hutter); every other optimizer adds wd*w to the gradient (L2, as PyTorch's weight_decay).
func WeightDecay(wd float64) Option {
	return func(s *settings) { s.given |= optWeightDecay; s.weightDecay = wd }
}

// Beta1 sets Adam's first-moment decay (default 0.9).
func Beta1(b float64) Option {
	return func(s *settings) { s.given |= optBeta1; s.beta1 = b }
}

// Beta2 sets Adam's second-moment decay (default 0.999).
func Beta2(b float64) Option {
	return func(s *settings) { s.given |= optBeta2; s.beta2 = b }
}

// Epsilon sets the small constant that keeps denominators away from zero (default 1e-7, as
// Keras).
func Epsilon(e float64) Option {
	return func(s *settings) { s.given |= optEpsilon; s.epsilon = e }
}

// AMSGrad makes Adam and AdamW divide by the largest second moment seen so far.
func AMSGrad() Option {
	return func(s *settings) { s.given |= optAMSGrad; s.amsgrad = true }
}

// Rho sets the decay of the running averages of Adadelta (default 0.95) and RMSprop (0.9).
func Rho(r float64) Option {
	return func(s *settings) { s.given |= optRho; s.rho = r }
}

// InitialAccumulator sets Adagrad's starting sum of squared gradients (default 0.1).
func InitialAccumulator(v float64) Option {
	return func(s *settings) { s.given |= optInitialAccumulator; s.initialAccumulator = v }
}

// Centered makes RMSprop normalise by the variance of the gradient rather than its second
// moment.
func Centered() Option {
	return func(s *settings) { s.given |= optCentered; s.centered = true }
}

// ClipNorm rescales each parameter's gradient so its L2 norm is at most n (Keras clipnorm).
func ClipNorm(n float64) Option { return func(s *settings) { s.clipNorm = n } }

// GlobalClipNorm rescales all gradients together so the norm of their concatenation is at most
// n (Keras global_clipnorm, torch.nn.utils.clip_grad_norm_).
func GlobalClipNorm(n float64) Option { return func(s *settings) { s.globalClipNorm = n } }

// ClipValue clamps every gradient element to [-v, v] (Keras clipvalue).
func ClipValue(v float64) Option { return func(s *settings) { s.clipValue = v } }

// WithSchedule makes the learning rate follow s; the optimizer's own rate is the base rate the
// schedule scales. nil means a constant rate.
func WithSchedule(sch Schedule) Option { return func(s *settings) { s.schedule = sch } }

// checkAllowed names the options given that the optimizer does not take.
func (s *settings) checkAllowed(class string, allowed optionKind) error {
	extra := s.given &^ allowed
	if extra == 0 {
		return nil
	}
	var names []string
	for k := optionKind(1); k != 0 && k <= extra; k <<= 1 {
		if extra&k != 0 {
			names = append(names, optionNames[k])
		}
	}
	return fmt.Errorf("optim: %s does not take option %s", class, strings.Join(names, ", "))
}

// validator collects the first bad hyperparameter with a message naming it.
type validator struct {
	class string
	err   error
}

func (v *validator) fail(format string, args ...any) {
	if v.err == nil {
		v.err = fmt.Errorf("optim: %s: "+format, append([]any{v.class}, args...)...)
	}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func (v *validator) nonNegative(name string, x float64) {
	if !finite(x) || x < 0 {
		v.fail("%s %v must be a finite number >= 0", name, x)
	}
}

func (v *validator) positive(name string, x float64) {
	if !finite(x) || x <= 0 {
		v.fail("%s %v must be a finite number > 0", name, x)
	}
}

// unit checks x is in [0, 1): a decay of 1 would never forget, so averages never move.
func (v *validator) unit(name string, x float64) {
	if !(x >= 0 && x < 1) {
		v.fail("%s %v must be in [0, 1)", name, x)
	}
}

func (v *validator) common(lr float64, s *settings) {
	v.nonNegative("learning rate", lr)
	if s.clipNorm != 0 {
		v.positive("clipnorm", s.clipNorm)
	}
	if s.globalClipNorm != 0 {
		v.positive("global_clipnorm", s.globalClipNorm)
	}
	if s.clipValue != 0 {
		v.positive("clipvalue", s.clipValue)
	}
	v.nonNegative("weight decay", s.weightDecay)
	v.nonNegative("epsilon", s.epsilon)
	if err := scheduleError(s.schedule); err != nil && v.err == nil {
		v.err = err
	}
}

// build applies opts over an optimizer's defaults.
func build(defaults settings, opts []Option) settings {
	s := defaults
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	return s
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
