// Package layers holds deepframe's Keras-style layers: the Layer interface, the built-in
// layers, their initializers and regularizers, and the symbolic Nodes that the functional API
// wires layers together with.
//
// A layer is configured by its constructor and options, built once its input shapes are known
// (creating its weights from a seeded RNG), and called on Variables. Shapes handed to a layer
// never include the batch axis, as in Keras's input_shape.
package layers

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// Layer is a computation with weights. Implementations embed Base, which supplies the
// bookkeeping (name, trainable flag, weights, deferred errors, Apply).
type Layer interface {
	// Name is unique within a model, e.g. "fc_1" or "dense_2".
	Name() string
	// ClassName is the registered type name, e.g. "Dense"; it keys the config registry.
	ClassName() string
	// Build creates the layer's weights for inputs of the given shapes (without batch axis).
	Build(inputShapes []tensor.Shape, rng *tensor.RNG) error
	// Built reports whether Build has succeeded.
	Built() bool
	// ComputeOutputShape infers the output shape (without batch axis) from the input shapes.
	ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error)
	// Call runs the layer forward. Inputs have a leading batch axis.
	Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error)
	// Weights lists trainable and non-trainable weights in a fixed order (Keras's order:
	// kernel before bias, gamma, beta, then moving statistics).
	Weights() []*Weight
	// Trainable reports whether the layer's trainable weights are updated by training.
	Trainable() bool
	SetTrainable(bool)
	// Config returns a JSON-marshalable value from which FromConfig rebuilds the layer
	// (without weights).
	Config() any
	// Err is an error deferred from construction (a bad option), reported at Build.
	Err() error
}

// Weight is one parameter or state tensor of a layer.
type Weight struct {
	// Name is "<layer>/<weight>", e.g. "fc_1/kernel"; it keys the weights in a saved bundle.
	Name string
	// Var holds the value and, during training, the gradient.
	Var *autograd.Variable
	// Trainable is false for state that is not learned by gradient (moving statistics).
	Trainable bool
	// Regularizer adds a penalty on this weight to the loss, or nil.
	Regularizer Regularizer
	owner       Layer
}

// Value is the weight's current tensor.
func (w *Weight) Value() *tensor.Tensor { return w.Var.Value() }

// Updatable reports whether an optimizer should update w: the weight is trainable and so is
// the layer that owns it (freezing a layer freezes all its weights).
func (w *Weight) Updatable() bool {
	return w.Trainable && (w.owner == nil || w.owner.Trainable())
}

// Context carries what a forward pass needs beyond its inputs.
type Context struct {
	// Training selects training behaviour: dropout drops, batch norm uses batch statistics
	// and updates its moving statistics.
	Training bool
	// Grad makes Param return variables that record gradients; false for inference, so no
	// graph and no activations are kept.
	Grad bool
	// RNG feeds dropout and other random layers during training. LayerRNG derives from its
	// seed alone, so the caller gives each training step its own (e.g. root.Split()), or every
	// step would draw the same dropout masks.
	RNG *tensor.RNG
	// CallRNG, when a model sets it for one layer call, is returned by LayerRNG as is: the
	// model derives it from the layer's position, so dropout masks do not depend on
	// auto-numbered layer names ("dropout" in one model, "dropout_1" in the next). The model
	// reseeds the same generator every step, so a layer may use it only during its call.
	CallRNG *tensor.RNG
	// Losses collects the penalties layers add during this pass (activity regularizers, as
	// Keras's layer.losses); the model adds them to the training loss. Start each pass with
	// an empty slice.
	Losses []*autograd.Variable
}

// AddLoss records a scalar penalty computed during this pass. A nil Context drops it, so
// layers called outside a model need no special case.
func (c *Context) AddLoss(v *autograd.Variable) {
	if c != nil && v != nil {
		c.Losses = append(c.Losses, v)
	}
}

// Param returns the variable a layer should compute with for weight w: the weight's own
// variable when gradients are recorded and w may be updated, else a constant over the same
// value.
func (c *Context) Param(w *Weight) *autograd.Variable {
	if c != nil && c.Grad && w.Updatable() {
		w.Var.SetRequiresGrad(true)
		return w.Var
	}
	return autograd.Constant(w.Var.Value())
}

// LayerRNG returns the random source for a named layer in this pass, derived so that each
// layer's dropout masks do not depend on how many other random layers ran before it.
func (c *Context) LayerRNG(layerName string) *tensor.RNG {
	if c != nil && c.CallRNG != nil {
		return c.CallRNG
	}
	if c == nil || c.RNG == nil {
		return tensor.NewRNG(0).Derive(layerName)
	}
	return c.RNG.Derive(layerName)
}

// FromConfigFunc rebuilds a layer of one class from its JSON config.
type FromConfigFunc func(config json.RawMessage) (Layer, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]FromConfigFunc{}
)

// Register makes a layer class loadable from a saved config, as database/sql drivers register
// themselves. Custom layers call it from init.
func Register(className string, fromConfig FromConfigFunc) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[className]; dup {
		panic("layers: Register called twice for " + className)
	}
	registry[className] = fromConfig
}

// FromConfig rebuilds a layer from its class name and config.
func FromConfig(className string, config json.RawMessage) (Layer, error) {
	registryMu.RLock()
	f, ok := registry[className]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("layers: unknown layer class %q (registered: %s)", className, strings.Join(Registered(), ", "))
	}
	l, err := f(config)
	if err != nil {
		return nil, fmt.Errorf("layers: config of %s: %w", className, err)
	}
	return l, nil
}

// Registered lists the registered layer classes, sorted.
func Registered() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
