package layers

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// lastAxis applies f along x's last axis (softmax-like functions), passing errors through.
func lastAxis(f func(*autograd.Variable, int) *autograd.Variable) func(*autograd.Variable) *autograd.Variable {
	return func(x *autograd.Variable) *autograd.Variable {
		if x.Err() != nil {
			return x
		}
		if x.Value().Rank() == 0 {
			return autograd.Errorf("activation over the last axis of a scalar")
		}
		return f(x, x.Value().Rank()-1)
	}
}

// activations maps Keras's activation names to their functions. leaky_relu uses Keras 3's
// default negative slope for the function form (0.2), elu its alpha of 1.
var activations = map[string]func(*autograd.Variable) *autograd.Variable{
	"linear":     func(x *autograd.Variable) *autograd.Variable { return x },
	"relu":       autograd.ReLU,
	"relu6":      func(x *autograd.Variable) *autograd.Variable { return autograd.Clip(x, 0, 6) },
	"leaky_relu": func(x *autograd.Variable) *autograd.Variable { return autograd.LeakyReLU(x, 0.2) },
	"elu":        func(x *autograd.Variable) *autograd.Variable { return autograd.ELU(x, 1) },
	"selu":       autograd.SELU,
	"gelu":       autograd.GELU,
	"sigmoid":    autograd.Sigmoid,
	"hard_sigmoid": func(x *autograd.Variable) *autograd.Variable {
		return autograd.MulScalar(autograd.Clip(autograd.AddScalar(x, 3), 0, 6), 1.0/6)
	},
	"tanh":        autograd.Tanh,
	"softmax":     lastAxis(autograd.Softmax),
	"log_softmax": lastAxis(autograd.LogSoftmax),
	"softplus":    autograd.Softplus,
	"softsign":    autograd.Softsign,
	"swish":       autograd.Swish,
	"silu":        autograd.Swish,
	"exponential": autograd.Exp,
	"mish": func(x *autograd.Variable) *autograd.Variable {
		return autograd.Mul(x, autograd.Tanh(autograd.Softplus(x)))
	},
}

// fusedActivations are the activations a Dense or GEMM epilogue applies without a separate
// pass over the output.
var fusedActivations = map[string]backend.Activation{
	"linear":  backend.ActNone,
	"relu":    backend.ActReLU,
	"sigmoid": backend.ActSigmoid,
	"tanh":    backend.ActTanh,
}

// Activations lists the activation names Activation and ApplyActivation accept, sorted.
func Activations() []string {
	names := make([]string, 0, len(activations))
	for n := range activations {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// canonicalActivation checks an activation name; "" means linear, as Keras's None.
func canonicalActivation(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		n = "linear"
	}
	if _, ok := activations[n]; !ok {
		return n, fmt.Errorf("unknown activation %q (valid: %s)", name, strings.Join(Activations(), ", "))
	}
	return n, nil
}

// ApplyActivation applies the named activation to x. An unknown name yields a Variable that
// carries the error, as autograd ops do.
func ApplyActivation(name string, x *autograd.Variable) *autograd.Variable {
	n, err := canonicalActivation(name)
	if err != nil {
		return autograd.Failed(err)
	}
	return activations[n](x)
}

// ActivationLayer applies an element-wise (or, for softmax, last-axis) activation. The value
// Activation returns is also an Option, so the same call names a layer in a Sequential model
// and sets a Dense or Conv2D layer's activation argument.
type ActivationLayer struct {
	Base
	activation string
	nameErr    error
	opts       []Option
	// The layer is named on first use, not at construction: Activation used as an option
	// never becomes a layer and must not take "activation" from the next real one.
	once sync.Once
}

// ActivationConfig is the saved form of an ActivationLayer.
type ActivationConfig struct {
	BaseConfig
	Activation string `json:"activation"`
}

// Activation returns a layer applying the named activation (one of Activations()), which is
// also usable as an option: layers.Dense(100, layers.Activation("relu")). Options (Name,
// InputShape, ...) apply only to the layer form.
func Activation(name string, opts ...Option) *ActivationLayer {
	n, err := canonicalActivation(name)
	return &ActivationLayer{activation: n, nameErr: err, opts: opts}
}

func (a *ActivationLayer) apply(o *Options) {
	o.mark("activation")
	if a.nameErr != nil {
		o.fail(fmt.Errorf("option activation: %w", a.nameErr))
		return
	}
	if len(a.opts) > 0 {
		o.fail(fmt.Errorf("option activation: Activation(%q, ...) used as an option takes no options of its own", a.activation))
		return
	}
	o.Activation = a.activation
}

func (a *ActivationLayer) init() {
	a.once.Do(func() {
		o := Collect(a.opts)
		a.Base.Init(a, "Activation", o)
		a.SetErr(o.Unused("Activation"))
		a.SetErr(a.nameErr)
	})
}

func (a *ActivationLayer) Name() string             { a.init(); return a.Base.Name() }
func (a *ActivationLayer) ClassName() string        { a.init(); return a.Base.ClassName() }
func (a *ActivationLayer) Err() error               { a.init(); return a.Base.Err() }
func (a *ActivationLayer) Trainable() bool          { a.init(); return a.Base.Trainable() }
func (a *ActivationLayer) SetTrainable(t bool)      { a.init(); a.Base.SetTrainable(t) }
func (a *ActivationLayer) InputShape() tensor.Shape { a.init(); return a.Base.InputShape() }
func (a *ActivationLayer) Apply(inputs ...*Node) *Node {
	a.init()
	return a.Base.Apply(inputs...)
}

// ActivationName is the activation this layer applies.
func (a *ActivationLayer) ActivationName() string { return a.activation }

func (a *ActivationLayer) Build(inputShapes []tensor.Shape, rng *tensor.RNG) error {
	if err := a.Err(); err != nil {
		return err
	}
	if _, err := a.ComputeOutputShape(inputShapes); err != nil {
		return err
	}
	a.MarkBuilt()
	return nil
}

func (a *ActivationLayer) ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error) {
	a.init()
	s, err := a.oneShape(inputShapes)
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}

func (a *ActivationLayer) Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error) {
	if err := a.Err(); err != nil {
		return nil, err
	}
	x, err := a.oneInput(inputs)
	if err != nil {
		return nil, err
	}
	return a.result(ApplyActivation(a.activation, x))
}

func (a *ActivationLayer) Config() any {
	a.init()
	return ActivationConfig{BaseConfig: a.BaseConfig(), Activation: a.activation}
}

func init() {
	Register("Activation", func(raw json.RawMessage) (Layer, error) {
		cfg := ActivationConfig{BaseConfig: BaseConfig{Trainable: true}, Activation: "linear"}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		return built(Activation(cfg.Activation, cfg.BaseConfig.Options()...))
	})
}
