package losses

import (
	"fmt"
	"math"
)

// Option tunes a loss. An option the loss has no use for (FromLogits given to MeanSquaredError)
// is an error, reported by Err and by every Compute, because it is almost always a mistake.
type Option func(*settings)

type optionKind uint8

const (
	optFromLogits optionKind = 1 << iota
	optLabelSmoothing
	optDelta
)

type settings struct {
	given          optionKind
	fromLogits     bool
	labelSmoothing float64
	delta          float64
}

// FromLogits says the predictions are unnormalised scores (before softmax or sigmoid) rather
// than probabilities, so the fused, numerically stable cross-entropy ops are used.
func FromLogits() Option {
	return func(s *settings) { s.given |= optFromLogits; s.fromLogits = true }
}

// LabelSmoothing mixes the targets with the uniform distribution: each target t becomes
// t·(1−x) + x/C over C classes (x/2 for binary cross-entropy). x must be in [0, 1].
func LabelSmoothing(x float64) Option {
	return func(s *settings) { s.given |= optLabelSmoothing; s.labelSmoothing = x }
}

// Delta is where Huber switches from quadratic to linear (default 1).
func Delta(d float64) Option {
	return func(s *settings) { s.given |= optDelta; s.delta = d }
}

func build(name string, allowed optionKind, opts []Option) (settings, error) {
	s := settings{delta: 1}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	if extra := s.given &^ allowed; extra != 0 {
		names := map[optionKind]string{optFromLogits: "FromLogits", optLabelSmoothing: "LabelSmoothing", optDelta: "Delta"}
		for k := optionKind(1); k != 0; k <<= 1 {
			if extra&k != 0 {
				return s, fmt.Errorf("losses: %s does not take option %s", name, names[k])
			}
		}
	}
	if !(s.labelSmoothing >= 0 && s.labelSmoothing <= 1) {
		return s, fmt.Errorf("losses: %s: label smoothing %v must be in [0, 1]", name, s.labelSmoothing)
	}
	if !(s.delta > 0) || math.IsInf(s.delta, 0) {
		return s, fmt.Errorf("losses: %s: delta %v must be a finite number > 0", name, s.delta)
	}
	return s, nil
}
