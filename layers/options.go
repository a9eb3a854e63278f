package layers

import (
	"fmt"
	"sort"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// Option configures a layer, as a Keras keyword argument does: layers.Dense(100,
// layers.Activation("relu"), layers.InputShape(4), layers.Name("fc_1")). A layer given an
// option it has no use for reports it at Build.
type Option interface {
	apply(o *Options)
}

type optionFunc func(o *Options)

func (f optionFunc) apply(o *Options) { f(o) }

// Options is the union of every layer's keyword arguments. Constructors read the fields they
// use and call Options.Unused to reject the rest.
type Options struct {
	Name                string
	InputShape          tensor.Shape
	Trainable           *bool
	Activation          string
	UseBias             *bool
	KernelInitializer   Initializer
	BiasInitializer     Initializer
	KernelRegularizer   Regularizer
	BiasRegularizer     Regularizer
	ActivityRegularizer Regularizer
	Padding             string
	Strides             []int
	DilationRate        []int
	DataFormat          string
	Axis                *int
	Momentum            *float64
	Epsilon             *float64
	Center, Scale       *bool
	Seed                *uint64
	// Fields below were added after the first contract; each belongs to one or two layers.
	PoolSize                  []int
	EmbeddingsInitializer     Initializer
	EmbeddingsRegularizer     Regularizer
	GammaInitializer          Initializer
	BetaInitializer           Initializer
	MovingMeanInitializer     Initializer
	MovingVarianceInitializer Initializer
	GammaRegularizer          Regularizer
	BetaRegularizer           Regularizer
	set                       map[string]bool
	// Err collects option errors (e.g. an unknown initializer name).
	Err error
}

// Collect applies opts to a fresh Options.
func Collect(opts []Option) *Options {
	o := &Options{set: map[string]bool{}}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(o)
		}
	}
	return o
}

func (o *Options) mark(name string) { o.set[name] = true }

func (o *Options) fail(err error) {
	if o.Err == nil {
		o.Err = err
	}
}

// Unused returns an error naming any option that was set but is not in allowed (by option
// name, e.g. "activation").
func (o *Options) Unused(className string, allowed ...string) error {
	ok := map[string]bool{"name": true, "input_shape": true, "trainable": true}
	for _, a := range allowed {
		ok[a] = true
	}
	// Sorted so that a layer given several stray options always reports the same one.
	var bad []string
	for name := range o.set {
		if !ok[name] {
			bad = append(bad, name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("%s does not take option %s", className, bad[0])
}

// Name sets the layer's name.
func Name(name string) Option {
	return optionFunc(func(o *Options) { o.Name = name; o.mark("name") })
}

// InputShape declares the shape of one sample (no batch axis) for the first layer of a
// Sequential model.
func InputShape(dims ...int) Option {
	return optionFunc(func(o *Options) { o.InputShape = tensor.Shape(dims).Clone(); o.mark("input_shape") })
}

// Trainable sets whether the layer's weights are trained (false freezes them).
func Trainable(t bool) Option {
	return optionFunc(func(o *Options) { o.Trainable = &t; o.mark("trainable") })
}

// UseBias sets whether a layer adds a bias (default true).
func UseBias(b bool) Option {
	return optionFunc(func(o *Options) { o.UseBias = &b; o.mark("use_bias") })
}

// Initializer fills a new weight.
type Initializer interface {
	// Initialize fills t (whose shape decides fan-in and fan-out) using rng.
	Initialize(t *tensor.Tensor, rng *tensor.RNG) error
	// Config names the initializer and its arguments for a saved model.
	Config() InitializerConfig
}

// InitializerConfig is the saved form of an initializer.
type InitializerConfig struct {
	ClassName string             `json:"class_name"`
	Config    map[string]float64 `json:"config,omitempty"`
}

// Regularizer is a penalty on a weight that is added to the training loss.
type Regularizer interface {
	// Penalty returns the scalar penalty for weight w.
	Penalty(w *autograd.Variable) *autograd.Variable
	// Config names the regularizer and its factors for a saved model.
	Config() RegularizerConfig
}

// RegularizerConfig is the saved form of a regularizer.
type RegularizerConfig struct {
	ClassName string             `json:"class_name"`
	Config    map[string]float64 `json:"config,omitempty"`
}
