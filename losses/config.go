package losses

import (
	"fmt"
	"sort"
	"strings"
)

// Err returns the error recorded when l was built with bad options (nil when usable). Compute
// returns the same error in its result, so a training loop needs no separate check; Err lets
// code that builds a loss fail early. It is nil for losses defined outside this package.
func Err(l Loss) error {
	if e, ok := l.(interface{ Err() error }); ok {
		return e.Err()
	}
	return nil
}

// ByName returns the loss Keras knows by name, with default options: "sparse_categorical_crossentropy",
// "categorical_crossentropy", "binary_crossentropy", "mean_squared_error" (or "mse"),
// "mean_absolute_error" (or "mae"), "huber" (or "huber_loss"). Keras class names
// ("SparseCategoricalCrossentropy", ...) are accepted too.
func ByName(name string) (Loss, error) {
	mk := constructor(name)
	if mk == nil {
		return nil, fmt.Errorf("losses: unknown loss %q (want sparse_categorical_crossentropy, categorical_crossentropy, binary_crossentropy, mse, mae or huber)", name)
	}
	return mk(), nil
}

func constructor(name string) func(...Option) Loss {
	switch strings.ToLower(name) {
	case "sparse_categorical_crossentropy", "sparsecategoricalcrossentropy":
		return SparseCategoricalCrossEntropy
	case "categorical_crossentropy", "categoricalcrossentropy":
		return CategoricalCrossEntropy
	case "binary_crossentropy", "binarycrossentropy":
		return BinaryCrossEntropy
	case "mse", "mean_squared_error", "meansquarederror":
		return func(...Option) Loss { return MeanSquaredError() }
	case "mae", "mean_absolute_error", "meanabsoluteerror":
		return func(...Option) Loss { return MeanAbsoluteError() }
	case "huber", "huber_loss":
		return Huber
	}
	return nil
}

// FromConfig rebuilds a loss from what its Config returned, directly or after a JSON round
// trip. Keras's "name" key is ignored and "reduction" must be "sum_over_batch_size" (the only
// one deepframe computes); any other unknown key is an error.
func FromConfig(c Config) (Loss, error) {
	mk := constructor(c.ClassName)
	if mk == nil {
		return nil, fmt.Errorf("losses: unknown loss class %q", c.ClassName)
	}
	var opts []Option
	var unknown []string
	for k, v := range c.Config {
		bad := func(want string) error {
			return fmt.Errorf("losses: %s config: %q is %v (%T), want %s", c.ClassName, k, v, v, want)
		}
		switch k {
		case "name":
		case "reduction":
			if v != nil && v != "sum_over_batch_size" {
				return nil, fmt.Errorf("losses: %s config: reduction %v is not supported (only sum_over_batch_size)", c.ClassName, v)
			}
		case "from_logits":
			b, ok := v.(bool)
			if !ok {
				return nil, bad("true or false")
			}
			if b {
				opts = append(opts, FromLogits())
			}
		case "label_smoothing", "delta":
			f, ok := number(v)
			if !ok {
				return nil, bad("a number")
			}
			if k == "delta" {
				opts = append(opts, Delta(f))
			} else if f != 0 {
				opts = append(opts, LabelSmoothing(f))
			}
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("losses: %s config: unknown keys %q", c.ClassName, unknown)
	}
	l := mk(opts...)
	if err := Err(l); err != nil {
		return nil, err
	}
	return l, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}
