package optim

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
)

// FromConfig rebuilds an optimizer from what its Config returned, directly or after a JSON
// round trip. Class names match case-insensitively ("sgd" and "SGD" both work); an unknown key
// is an error, so a typo in a hand-written config is caught rather than ignored.
func FromConfig(c Config) (Optimizer, error) {
	class, ok := canonicalClass(c.ClassName)
	if !ok {
		return nil, fmt.Errorf("optim: unknown optimizer %q (want SGD, Adam, AdamW, Adadelta, Adagrad or RMSprop)", c.ClassName)
	}
	r := reader{what: class, m: c.Config}
	lr := r.float("learning_rate", defaultRate(class), false)
	var opts []Option
	addF := func(key string, opt func(float64) Option) {
		if _, ok := r.take(key); ok {
			opts = append(opts, opt(r.float(key, 0, true)))
		}
	}
	addB := func(key string, opt func() Option) {
		if r.bool(key, false) {
			opts = append(opts, opt())
		}
	}
	addF("clipnorm", ClipNorm)
	addF("global_clipnorm", GlobalClipNorm)
	addF("clipvalue", ClipValue)
	if sub, ok := r.take("schedule"); ok {
		sc, err := asConfig(sub)
		if err != nil {
			return nil, fmt.Errorf("optim: %s config: schedule: %w", class, err)
		}
		s, err := ScheduleFromConfig(sc)
		if err != nil {
			return nil, fmt.Errorf("%w (in %s config)", err, class)
		}
		opts = append(opts, WithSchedule(s))
	}
	addF("weight_decay", WeightDecay)
	switch class {
	case "SGD":
		addF("momentum", Momentum)
		addB("nesterov", Nesterov)
	case "Adam", "AdamW":
		addF("beta_1", Beta1)
		addF("beta_2", Beta2)
		addF("epsilon", Epsilon)
		addB("amsgrad", AMSGrad)
	case "Adadelta":
		addF("rho", Rho)
		addF("epsilon", Epsilon)
	case "Adagrad":
		addF("initial_accumulator_value", InitialAccumulator)
		addF("epsilon", Epsilon)
	case "RMSprop":
		addF("rho", Rho)
		addF("momentum", Momentum)
		addF("epsilon", Epsilon)
		addB("centered", Centered)
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	o := byClass(class, lr, opts)
	if err := Err(o); err != nil {
		return nil, err
	}
	return o, nil
}

// ByName returns an optimizer with Keras's defaults for a Keras string identifier, as in
// compile(optimizer="adam"): "sgd" (learning rate 0.01), "adam", "adamw", "adadelta",
// "adagrad", "rmsprop" (0.001).
func ByName(name string) (Optimizer, error) {
	class, ok := canonicalClass(name)
	if !ok {
		return nil, fmt.Errorf("optim: unknown optimizer %q (want sgd, adam, adamw, adadelta, adagrad or rmsprop)", name)
	}
	return byClass(class, defaultRate(class), nil), nil
}

func canonicalClass(name string) (string, bool) {
	for _, c := range []string{"SGD", "Adam", "AdamW", "Adadelta", "Adagrad", "RMSprop"} {
		if strings.EqualFold(name, c) {
			return c, true
		}
	}
	return "", false
}

func defaultRate(class string) float64 {
	if class == "SGD" {
		return 0.01
	}
	return 0.001
}

func byClass(class string, lr float64, opts []Option) Optimizer {
	switch class {
	case "SGD":
		return SGD(lr, opts...)
	case "Adam":
		return Adam(lr, opts...)
	case "AdamW":
		return AdamW(lr, opts...)
	case "Adadelta":
		return Adadelta(lr, opts...)
	case "Adagrad":
		return Adagrad(lr, opts...)
	default:
		return RMSprop(lr, opts...)
	}
}

// asConfig accepts a nested config as a Config or as the map JSON decoding produces.
func asConfig(v any) (Config, error) {
	switch c := v.(type) {
	case Config:
		return c, nil
	case *Config:
		if c != nil {
			return *c, nil
		}
	case map[string]any:
		name, ok := c["class_name"].(string)
		if !ok {
			return Config{}, fmt.Errorf("nested config has no class_name string")
		}
		var inner map[string]any
		if raw, ok := c["config"]; ok && raw != nil {
			if inner, ok = raw.(map[string]any); !ok {
				return Config{}, fmt.Errorf("nested config of %s is a %T, want an object", name, raw)
			}
		}
		return Config{ClassName: name, Config: inner}, nil
	}
	return Config{}, fmt.Errorf("nested config is a %T, want an object with class_name and config", v)
}

// reader pulls typed values out of a config map, remembering the first problem and which keys
// were read so that unknown ones can be reported.
type reader struct {
	what string
	m    map[string]any
	used map[string]bool
	err  error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("optim: %s config: "+format, append([]any{r.what}, args...)...)
	}
}

func (r *reader) take(key string) (any, bool) {
	if r.used == nil {
		r.used = map[string]bool{}
	}
	r.used[key] = true
	v, ok := r.m[key]
	return v, ok && v != nil
}

func (r *reader) float(key string, def float64, required bool) float64 {
	v, ok := r.take(key)
	if !ok {
		if required {
			r.fail("missing %q", key)
		}
		return def
	}
	f, ok := toFloat(v)
	if !ok {
		r.fail("%q is %v (%T), want a number", key, v, v)
		return def
	}
	return f
}

func (r *reader) int(key string, def int, required bool) int {
	f := r.float(key, float64(def), required)
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		r.fail("%q is %v, want an integer", key, f)
		return def
	}
	return int(f)
}

func (r *reader) bool(key string, def bool) bool {
	v, ok := r.take(key)
	if !ok {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		r.fail("%q is %v (%T), want true or false", key, v, v)
		return def
	}
	return b
}

func (r *reader) ints(key string) []int {
	v, ok := r.take(key)
	if !ok {
		r.fail("missing %q", key)
		return nil
	}
	var out []int
	switch l := v.(type) {
	case []int:
		return append(out, l...)
	case []any:
		for _, e := range l {
			f, ok := toFloat(e)
			if !ok || f != math.Trunc(f) {
				r.fail("%q holds %v, want integers", key, e)
				return nil
			}
			out = append(out, int(f))
		}
		return out
	}
	r.fail("%q is %v (%T), want a list of integers", key, v, v)
	return nil
}

// finish reports the first problem, or keys nobody read. "name" is tolerated because Keras
// configs carry one.
func (r *reader) finish() error {
	if r.err != nil {
		return r.err
	}
	var unknown []string
	for k := range r.m {
		if !r.used[k] && k != "name" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("optim: %s config: unknown keys %q", r.what, unknown)
	}
	return nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}
