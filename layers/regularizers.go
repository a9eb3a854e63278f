package layers

import (
	"fmt"
	"math"
	"strings"

	"github.com/deepframe/deepframe/autograd"
)

// l1l2 is the one regularizer type: L1 and L2 are l1l2 with the other factor zero, but each
// keeps its own Keras class name in a saved config.
type l1l2 struct {
	class  string
	l1, l2 float64
}

// Penalty is l1*sum(|w|) + l2*sum(w²), Keras's formula (no factor 1/2 on the L2 term).
func (r l1l2) Penalty(w *autograd.Variable) *autograd.Variable {
	if err := r.validate(); err != nil {
		return autograd.Failed(err)
	}
	var p *autograd.Variable
	if r.l1 != 0 {
		p = autograd.MulScalar(autograd.SumAll(autograd.Abs(w)), float32(r.l1))
	}
	if r.l2 != 0 {
		t := autograd.MulScalar(autograd.SumAll(autograd.Square(w)), float32(r.l2))
		if p == nil {
			p = t
		} else {
			p = autograd.Add(p, t)
		}
	}
	if p == nil {
		// Both factors zero: a zero that still depends on w keeps the loss graph uniform.
		p = autograd.MulScalar(autograd.SumAll(w), 0)
	}
	return p
}

func (r l1l2) Config() RegularizerConfig {
	switch r.class {
	case "L1":
		return RegularizerConfig{ClassName: "L1", Config: map[string]float64{"l1": r.l1}}
	case "L2":
		return RegularizerConfig{ClassName: "L2", Config: map[string]float64{"l2": r.l2}}
	}
	return RegularizerConfig{ClassName: "L1L2", Config: map[string]float64{"l1": r.l1, "l2": r.l2}}
}

func (r l1l2) validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"l1", r.l1}, {"l2", r.l2}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return fmt.Errorf("%s regularization factor %v: want a finite number >= 0", f.name, f.v)
		}
	}
	return nil
}

// L1 penalises f*sum(|w|) (Keras's default factor is 0.01).
func L1(f float64) Regularizer { return l1l2{class: "L1", l1: f} }

// L2 penalises f*sum(w²) (Keras's default factor is 0.01).
func L2(f float64) Regularizer { return l1l2{class: "L2", l2: f} }

// L1L2 penalises l1*sum(|w|) + l2*sum(w²).
func L1L2(l1, l2 float64) Regularizer { return l1l2{class: "L1L2", l1: l1, l2: l2} }

// RegularizerFromConfig rebuilds a saved regularizer. Class names are Keras's ("L1", "L2",
// "L1L2") or its snake aliases ("l1", "l2", "l1_l2"); a missing factor takes Keras's default
// (0.01 for L1 and L2, 0 for L1L2).
func RegularizerFromConfig(c RegularizerConfig) (Regularizer, error) {
	var r l1l2
	var keys []string
	switch strings.ToLower(c.ClassName) {
	case "l1":
		r, keys = l1l2{class: "L1", l1: 0.01}, []string{"l1"}
	case "l2":
		r, keys = l1l2{class: "L2", l2: 0.01}, []string{"l2"}
	case "l1l2", "l1_l2":
		r, keys = l1l2{class: "L1L2"}, []string{"l1", "l2"}
	default:
		return nil, fmt.Errorf("unknown regularizer %q (valid: L1, L2, L1L2)", c.ClassName)
	}
	for k, v := range c.Config {
		ok := false
		for _, want := range keys {
			ok = ok || k == want
		}
		if !ok {
			return nil, fmt.Errorf("regularizer %s does not take %q", r.class, k)
		}
		if k == "l1" {
			r.l1 = v
		} else {
			r.l2 = v
		}
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("regularizer %s: %w", r.class, err)
	}
	return r, nil
}
