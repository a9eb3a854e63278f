package layers

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// BaseConfig is the part of a layer's config that every layer has. Layer configs embed it, so
// their JSON carries "name", "trainable" and, when the layer was given one, "input_shape".
type BaseConfig struct {
	Name       string `json:"name"`
	Trainable  bool   `json:"trainable"`
	InputShape []int  `json:"input_shape,omitempty"`
}

// BaseConfig returns the shared part of the layer's config.
func (b *Base) BaseConfig() BaseConfig {
	c := BaseConfig{Name: b.name, Trainable: b.trainable}
	if b.inputShape != nil {
		c.InputShape = append([]int{}, b.inputShape...)
	}
	return c
}

// Options turns the shared config back into options for a constructor.
func (c BaseConfig) Options() []Option {
	opts := []Option{Trainable(c.Trainable)}
	if c.Name != "" {
		opts = append(opts, Name(c.Name))
	}
	if c.InputShape != nil {
		opts = append(opts, InputShape(c.InputShape...))
	}
	return opts
}

// decodeConfig unmarshals raw into cfg, which the caller has pre-filled with the layer's
// defaults so that keys missing from an older or hand-written config keep Keras's defaults.
func decodeConfig(raw json.RawMessage, cfg any) error {
	if len(raw) == 0 {
		return errors.New("empty config")
	}
	return json.Unmarshal(raw, cfg)
}

// initOption turns a saved initializer into an option; an empty class keeps the default.
func initOption(c InitializerConfig, opt func(Initializer) Option) (Option, error) {
	if c.ClassName == "" {
		return nil, nil
	}
	init, err := InitializerFromConfig(c)
	if err != nil {
		return nil, err
	}
	return opt(init), nil
}

// regOption turns a saved regularizer (nil for none) into an option.
func regOption(c *RegularizerConfig, opt func(Regularizer) Option) (Option, error) {
	if c == nil || c.ClassName == "" {
		return nil, nil
	}
	reg, err := RegularizerFromConfig(*c)
	if err != nil {
		return nil, err
	}
	return opt(reg), nil
}

// optionList gathers options while remembering the first error, so FromConfig functions read
// as one list of fields.
type optionList struct {
	opts []Option
	err  error
}

func (l *optionList) add(o Option, err error) {
	if err != nil {
		if l.err == nil {
			l.err = err
		}
		return
	}
	if o != nil {
		l.opts = append(l.opts, o)
	}
}

func regConfig(r Regularizer) *RegularizerConfig {
	if r == nil {
		return nil
	}
	c := r.Config()
	return &c
}

// built returns the layer from a FromConfig function, or its deferred error.
func built(l Layer) (Layer, error) {
	if err := l.Err(); err != nil {
		return nil, err
	}
	return l, nil
}

// errorf makes an error that names the layer, as every error a layer returns should.
func (b *Base) errorf(format string, args ...any) error {
	return fmt.Errorf("layer %s (%s): %s", b.name, b.className, fmt.Sprintf(format, args...))
}

// wrap names the layer in an error coming from below (an autograd op).
func (b *Base) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("layer %s (%s): %w", b.name, b.className, err)
}

// result returns v from Call, with its error (if any) naming the layer.
func (b *Base) result(v *autograd.Variable) (*autograd.Variable, error) {
	if err := v.Err(); err != nil {
		return nil, b.wrap(err)
	}
	return v, nil
}

// oneShape checks that a layer taking one input got exactly one shape.
func (b *Base) oneShape(shapes []tensor.Shape) (tensor.Shape, error) {
	if len(shapes) != 1 {
		return nil, b.errorf("takes 1 input, got %d", len(shapes))
	}
	return shapes[0], nil
}

// oneInput checks that a layer taking one input got exactly one usable variable.
func (b *Base) oneInput(inputs []*autograd.Variable) (*autograd.Variable, error) {
	if len(inputs) != 1 {
		return nil, b.errorf("takes 1 input, got %d", len(inputs))
	}
	if inputs[0] == nil {
		return nil, b.errorf("input is nil")
	}
	if err := inputs[0].Err(); err != nil {
		return nil, b.wrap(err)
	}
	return inputs[0], nil
}

// needBuilt reports calling a layer with weights before Build as an error rather than a nil
// dereference.
func (b *Base) needBuilt() error {
	if !b.built {
		return b.errorf("called before Build")
	}
	return nil
}

// knownDim reports whether a sample dimension is known (Keras's None is -1 here).
func knownDim(d int) bool { return d >= 0 }

// checkSampleShape rejects dimensions below -1, which mean nothing.
func checkSampleShape(s tensor.Shape) error {
	for i, d := range s {
		if d < -1 {
			return fmt.Errorf("shape %v has dimension %d at axis %d (want >= 0, or -1 for unknown)", []int(s), d, i)
		}
	}
	return nil
}

// ParamCount is the number of scalars in the layer's weights, trainable or not, as Keras's
// count_params (0 before Build).
func ParamCount(l Layer) int {
	n := 0
	for _, w := range l.Weights() {
		n += w.Value().Len()
	}
	return n
}

// TrainableParamCount counts the scalars an optimizer would update: the weights of a frozen
// layer count as non-trainable, as in Keras's summary.
func TrainableParamCount(l Layer) int {
	n := 0
	for _, w := range l.Weights() {
		if w.Updatable() {
			n += w.Value().Len()
		}
	}
	return n
}

// NonTrainableParamCount is ParamCount minus TrainableParamCount.
func NonTrainableParamCount(l Layer) int { return ParamCount(l) - TrainableParamCount(l) }

// DeclaredInputShape is the sample shape given to l with the InputShape option (nil if none,
// or if l does not embed Base). Sequential starts shape inference from its first layer's.
func DeclaredInputShape(l Layer) tensor.Shape {
	if d, ok := l.(interface{ InputShape() tensor.Shape }); ok {
		return d.InputShape()
	}
	return nil
}
