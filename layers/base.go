package layers

import (
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// Base is embedded by every layer. It keeps what all layers share and implements the parts of
// Layer that do not depend on the layer's math.
type Base struct {
	self       Layer
	name       string
	className  string
	trainable  bool
	built      bool
	weights    []*Weight
	err        error
	inputShape tensor.Shape // from the InputShape option; nil when not given
	budget     *WeightBudget
}

// Init must be called by a layer's constructor with the layer itself, its class name and the
// options it was given. It names the layer (Keras style: "dense", "dense_1", ... unless Name
// was given).
func (b *Base) Init(self Layer, className string, opts *Options) {
	b.self = self
	b.className = className
	b.trainable = true
	if opts != nil {
		if opts.Name != "" {
			b.name = opts.Name
		}
		if opts.Trainable != nil {
			b.trainable = *opts.Trainable
		}
		if opts.InputShape != nil {
			b.inputShape = opts.InputShape.Clone()
		}
	}
	if b.name == "" {
		b.name = uniqueName(snake(className))
	}
	// Recorded after naming so that the message says which layer had the bad option.
	if opts != nil {
		b.SetErr(opts.Err)
	}
}

func (b *Base) Name() string      { return b.name }
func (b *Base) ClassName() string { return b.className }
func (b *Base) Built() bool       { return b.built }
func (b *Base) Trainable() bool   { return b.trainable }
func (b *Base) SetTrainable(t bool) {
	b.trainable = t
}
func (b *Base) Weights() []*Weight { return b.weights }
func (b *Base) Err() error         { return b.err }

// InputShape is the shape given with the InputShape option (nil if none); Sequential uses the
// first layer's to start shape inference.
func (b *Base) InputShape() tensor.Shape { return b.inputShape }

// SetErr records a construction error to be reported at Build, keeping the first.
func (b *Base) SetErr(err error) {
	if b.err == nil && err != nil {
		b.err = fmt.Errorf("layer %s (%s): %w", b.name, b.className, err)
	}
}

// MarkBuilt is called by a layer's Build once its weights exist.
func (b *Base) MarkBuilt() { b.built = true }

// AddWeight creates a weight of the given shape, initialised from init with rng, and appends it
// to the layer's weights.
func (b *Base) AddWeight(name string, shape tensor.Shape, init Initializer, reg Regularizer, trainable bool, rng *tensor.RNG) (*Weight, error) {
	if err := shape.Validate(); err != nil {
		return nil, fmt.Errorf("layer %s: weight %s: %w", b.name, name, err)
	}
	if b.budget != nil {
		if err := b.budget.take(b.name+"/"+name, shape); err != nil {
			return nil, fmt.Errorf("layer %s: %w", b.name, err)
		}
	}
	t := tensor.Zeros(shape...)
	if rng == nil {
		// A nil generator would panic in Derive; seed 0 keeps the result deterministic.
		rng = tensor.NewRNG(0)
	}
	if init != nil {
		if err := init.Initialize(t, rng.Derive(name)); err != nil {
			return nil, fmt.Errorf("layer %s: weight %s: %w", b.name, name, err)
		}
	}
	v := autograd.NewVariable(t, trainable)
	v.Name = b.name + "/" + name
	w := &Weight{Name: v.Name, Var: v, Trainable: trainable, Regularizer: reg, owner: b.self}
	b.weights = append(b.weights, w)
	return w, nil
}

// Apply connects the layer to symbolic inputs (the functional API) and returns its output
// node. Shape errors are carried by the node and reported when the model is made.
func (b *Base) Apply(inputs ...*Node) *Node {
	n := &Node{Layer: b.self, Inputs: inputs}
	shapes := make([]tensor.Shape, len(inputs))
	for i, in := range inputs {
		if in == nil {
			n.err = fmt.Errorf("layer %s: input %d is nil", b.name, i)
			return n
		}
		if in.err != nil {
			n.err = in.err
			return n
		}
		shapes[i] = in.Shape
	}
	if b.err != nil {
		n.err = b.err
		return n
	}
	out, err := b.self.ComputeOutputShape(shapes)
	if err != nil {
		n.err = err
		// Layers' own checks already name the layer; say it once.
		if prefix := fmt.Sprintf("layer %s (%s): ", b.name, b.className); !strings.HasPrefix(err.Error(), prefix) {
			n.err = fmt.Errorf("%s%w", prefix, err)
		}
		return n
	}
	n.Shape = out
	return n
}

// Node is a symbolic tensor in a functional model: the output of Layer applied to Inputs. Its
// Shape excludes the batch axis.
type Node struct {
	Layer  Layer
	Inputs []*Node
	Shape  tensor.Shape
	err    error
}

// Err is the first error met while wiring this node or its ancestors.
func (n *Node) Err() error { return n.err }

var (
	namesMu sync.Mutex
	names   = map[string]int{}
)

// uniqueName returns base, then base_1, base_2, ... as Keras auto-names layers.
func uniqueName(base string) string {
	namesMu.Lock()
	defer namesMu.Unlock()
	n := names[base]
	names[base] = n + 1
	if n == 0 {
		return base
	}
	return fmt.Sprintf("%s_%d", base, n)
}

// snake turns a class name into Keras's default layer name: "MaxPooling2D" → "max_pooling2d".
func snake(class string) string {
	var sb strings.Builder
	rs := []rune(class)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]))) {
				sb.WriteByte('_')
			}
			sb.WriteRune(unicode.ToLower(r))
		} else {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
