package layers

import (
	"encoding/json"
	"fmt"
	"math"
	"sync"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// InputLayer is the source of a functional model: it has no weights and passes the model's
// input through, checking its shape.
type InputLayer struct {
	Base
	shape tensor.Shape
}

// InputLayerConfig is the saved form of an InputLayer. BatchShape is Keras 3's batch_shape:
// the sample shape behind a null batch axis; unknown sample axes are null too.
type InputLayerConfig struct {
	Name       string `json:"name"`
	BatchShape []*int `json:"batch_shape"`
}

// NewInputLayer makes an InputLayer for samples of the given shape (no batch axis; -1 marks an
// axis whose size varies). The only option it uses is Name.
func NewInputLayer(shape []int, opts ...Option) *InputLayer {
	o := Collect(opts)
	l := &InputLayer{shape: tensor.Shape(shape).Clone()}
	l.Init(l, "InputLayer", o)
	l.SetErr(o.Unused("InputLayer"))
	if err := checkSampleShape(l.shape); err != nil {
		l.SetErr(err)
	}
	l.MarkBuilt()
	return l
}

// Input starts a functional model: the symbolic tensor for samples of the given shape.
func Input(shape ...int) *Node { return NewInputLayer(shape).Output() }

// Output is the node standing for this layer's (the model's) input.
func (l *InputLayer) Output() *Node {
	return &Node{Layer: l, Shape: l.shape.Clone(), err: l.err}
}

// Shape is the sample shape this input accepts.
func (l *InputLayer) Shape() tensor.Shape { return l.shape.Clone() }

func (l *InputLayer) Build(inputShapes []tensor.Shape, rng *tensor.RNG) error {
	if l.err != nil {
		return l.err
	}
	_, err := l.ComputeOutputShape(inputShapes)
	return err
}

// ComputeOutputShape is the input's shape; it accepts no shapes (the model's start) or the one
// shape being fed, which must agree with it.
func (l *InputLayer) ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error) {
	switch len(inputShapes) {
	case 0:
	case 1:
		if !compatible(inputShapes[0], l.shape) {
			return nil, l.errorf("expects samples of shape %v, got %v", l.shape, inputShapes[0])
		}
	default:
		return nil, l.errorf("takes 1 input, got %d", len(inputShapes))
	}
	return l.shape.Clone(), nil
}

// compatible reports whether a sample shape fits a declared one with -1 wildcards.
func compatible(got, want tensor.Shape) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if knownDim(got[i]) && knownDim(want[i]) && got[i] != want[i] {
			return false
		}
	}
	return true
}

func (l *InputLayer) Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error) {
	x, err := l.oneInput(inputs)
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) == 0 || !compatible(s[1:], l.shape) {
		return nil, l.errorf("expects a batch of samples of shape %v, got a tensor of shape %v", l.shape, s)
	}
	return x, nil
}

func (l *InputLayer) Config() any {
	c := InputLayerConfig{Name: l.name, BatchShape: []*int{nil}}
	for _, d := range l.shape {
		if knownDim(d) {
			d := d
			c.BatchShape = append(c.BatchShape, &d)
		} else {
			c.BatchShape = append(c.BatchShape, nil)
		}
	}
	return c
}

// DenseLayer is a fully connected layer: activation(x·kernel + bias), applied to the last
// axis of inputs of any rank >= 2 (with batch), as Keras's Dense.
type DenseLayer struct {
	Base
	units                           int
	activation                      string
	useBias                         bool
	kernelInit, biasInit            Initializer
	kernelReg, biasReg, activityReg Regularizer
	kernel, bias                    *Weight
}

// DenseConfig is the saved form of a DenseLayer, with Keras's keys.
type DenseConfig struct {
	BaseConfig
	Units               int                `json:"units"`
	Activation          string             `json:"activation"`
	UseBias             bool               `json:"use_bias"`
	KernelInitializer   InitializerConfig  `json:"kernel_initializer"`
	BiasInitializer     InitializerConfig  `json:"bias_initializer"`
	KernelRegularizer   *RegularizerConfig `json:"kernel_regularizer"`
	BiasRegularizer     *RegularizerConfig `json:"bias_regularizer"`
	ActivityRegularizer *RegularizerConfig `json:"activity_regularizer"`
}

// Dense makes a fully connected layer with the given number of output units. Options:
// Activation, UseBias, KernelInitializer (GlorotUniform), BiasInitializer (Zeros),
// KernelRegularizer, BiasRegularizer, ActivityRegularizer, and the common Name, InputShape,
// Trainable.
func Dense(units int, opts ...Option) *DenseLayer {
	o := Collect(opts)
	l := &DenseLayer{
		units:       units,
		activation:  orString(o.Activation, "linear"),
		useBias:     orBool(o.UseBias, true),
		kernelInit:  orInit(o.KernelInitializer, GlorotUniform()),
		biasInit:    orInit(o.BiasInitializer, Zeros()),
		kernelReg:   o.KernelRegularizer,
		biasReg:     o.BiasRegularizer,
		activityReg: o.ActivityRegularizer,
	}
	l.Init(l, "Dense", o)
	l.SetErr(o.Unused("Dense", "activation", "use_bias", "kernel_initializer", "bias_initializer",
		"kernel_regularizer", "bias_regularizer", "activity_regularizer"))
	if units <= 0 {
		l.SetErr(fmt.Errorf("units must be a positive integer, got %d", units))
	}
	return l
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orBool(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func orInit(i, def Initializer) Initializer {
	if i == nil {
		return def
	}
	return i
}

// Kernel is the [in, units] weight (nil before Build).
func (l *DenseLayer) Kernel() *Weight { return l.kernel }

// Bias is the [units] weight (nil before Build or without bias).
func (l *DenseLayer) Bias() *Weight { return l.bias }

// Units is the size of the output's last axis.
func (l *DenseLayer) Units() int { return l.units }

func (l *DenseLayer) ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error) {
	s, err := l.oneShape(inputShapes)
	if err != nil {
		return nil, err
	}
	if len(s) == 0 {
		return nil, l.errorf("input samples must have rank >= 1, got shape %v", s)
	}
	if !knownDim(s[len(s)-1]) {
		return nil, l.errorf("the last axis of the input must be known, got shape %v", s)
	}
	out := s.Clone()
	out[len(out)-1] = l.units
	return out, nil
}

func (l *DenseLayer) Build(inputShapes []tensor.Shape, rng *tensor.RNG) error {
	if l.err != nil {
		return l.err
	}
	if _, err := l.ComputeOutputShape(inputShapes); err != nil {
		return err
	}
	s := inputShapes[0]
	in := s[len(s)-1]
	if l.built {
		if got := l.kernel.Value().Dim(0); got != in {
			return l.errorf("already built for %d input features, got shape %v", got, s)
		}
		return nil
	}
	k, err := l.AddWeight("kernel", tensor.Shape{in, l.units}, l.kernelInit, l.kernelReg, true, rng)
	if err != nil {
		return err
	}
	l.kernel = k
	if l.useBias {
		if l.bias, err = l.AddWeight("bias", tensor.Shape{l.units}, l.biasInit, l.biasReg, true, rng); err != nil {
			return err
		}
	}
	l.MarkBuilt()
	return nil
}

func (l *DenseLayer) Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error) {
	if err := l.needBuilt(); err != nil {
		return nil, err
	}
	x, err := l.oneInput(inputs)
	if err != nil {
		return nil, err
	}
	var b *autograd.Variable
	if l.bias != nil {
		b = ctx.Param(l.bias)
	}
	var y *autograd.Variable
	if act, ok := fusedActivations[l.activation]; ok {
		y = autograd.Dense(x, ctx.Param(l.kernel), b, act)
	} else {
		y = ApplyActivation(l.activation, autograd.Dense(x, ctx.Param(l.kernel), b, backend.ActNone))
	}
	addActivityLoss(ctx, l.activityReg, y)
	return l.result(y)
}

func addActivityLoss(ctx *Context, r Regularizer, y *autograd.Variable) {
	if r != nil && ctx != nil && y.Err() == nil {
		ctx.AddLoss(r.Penalty(y))
	}
}

func (l *DenseLayer) Config() any {
	return DenseConfig{
		BaseConfig:          l.BaseConfig(),
		Units:               l.units,
		Activation:          l.activation,
		UseBias:             l.useBias,
		KernelInitializer:   l.kernelInit.Config(),
		BiasInitializer:     l.biasInit.Config(),
		KernelRegularizer:   regConfig(l.kernelReg),
		BiasRegularizer:     regConfig(l.biasReg),
		ActivityRegularizer: regConfig(l.activityReg),
	}
}

// DropoutLayer sets a random fraction of its inputs to zero during training and scales the
// rest by 1/(1-rate), so inference needs no rescaling.
type DropoutLayer struct {
	Base
	rate float64
	seed *uint64
}

// DropoutConfig is the saved form of a DropoutLayer.
type DropoutConfig struct {
	BaseConfig
	Rate float64 `json:"rate"`
	Seed *uint64 `json:"seed"`
}

// Dropout makes a layer that drops the given fraction of inputs in training (0 <= rate < 1).
// Options: Seed and the common ones.
func Dropout(rate float64, opts ...Option) *DropoutLayer {
	o := Collect(opts)
	l := &DropoutLayer{rate: rate, seed: o.Seed}
	l.Init(l, "Dropout", o)
	l.SetErr(o.Unused("Dropout", "seed"))
	if math.IsNaN(rate) || rate < 0 || rate >= 1 {
		l.SetErr(fmt.Errorf("rate must be in [0, 1), got %v", rate))
	}
	return l
}

// Rate is the fraction of inputs dropped in training.
func (l *DropoutLayer) Rate() float64 { return l.rate }

func (l *DropoutLayer) ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error) {
	s, err := l.oneShape(inputShapes)
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}

func (l *DropoutLayer) Build(inputShapes []tensor.Shape, rng *tensor.RNG) error {
	return buildStateless(&l.Base, l, inputShapes)
}

// buildStateless is Build for layers without weights: report the deferred error, check the
// shapes, mark built.
func buildStateless(b *Base, l Layer, inputShapes []tensor.Shape) error {
	if b.err != nil {
		return b.err
	}
	if _, err := l.ComputeOutputShape(inputShapes); err != nil {
		return err
	}
	b.MarkBuilt()
	return nil
}

func (l *DropoutLayer) Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error) {
	if l.err != nil {
		return nil, l.err
	}
	x, err := l.oneInput(inputs)
	if err != nil {
		return nil, err
	}
	if ctx == nil || !ctx.Training || l.rate == 0 {
		return x, nil
	}
	rng := ctx.LayerRNG(l.name)
	if l.seed != nil {
		// Dropout draws the whole mask before it returns, so the seeded generator is only
		// borrowed; pooled, it costs a step no allocation.
		seeded := seededRNGs.Get().(*tensor.RNG)
		defer seededRNGs.Put(seeded)
		rng = rng.DeriveNInto(seeded, "seed=", *l.seed)
	}
	return l.result(autograd.Dropout(x, float32(l.rate), rng))
}

var seededRNGs = sync.Pool{New: func() any { return new(tensor.RNG) }}

func (l *DropoutLayer) Config() any {
	return DropoutConfig{BaseConfig: l.BaseConfig(), Rate: l.rate, Seed: l.seed}
}

// FlattenLayer reshapes each sample to one axis.
type FlattenLayer struct {
	Base
	dataFormat string
}

// FlattenConfig is the saved form of a FlattenLayer.
type FlattenConfig struct {
	BaseConfig
	DataFormat string `json:"data_format"`
}

// Flatten makes a layer that flattens each sample: [N, a, b, c] becomes [N, a*b*c]. With
// DataFormat("channels_first") it first moves channels last, as Keras does, so the order of
// features matches a channels-last model's.
func Flatten(opts ...Option) *FlattenLayer {
	o := Collect(opts)
	l := &FlattenLayer{dataFormat: orString(o.DataFormat, ChannelsLast)}
	l.Init(l, "Flatten", o)
	l.SetErr(o.Unused("Flatten", "data_format"))
	return l
}

func (l *FlattenLayer) ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error) {
	s, err := l.oneShape(inputShapes)
	if err != nil {
		return nil, err
	}
	n := 1
	for _, d := range s {
		if !knownDim(d) {
			return tensor.Shape{-1}, nil
		}
		n *= d
	}
	return tensor.Shape{n}, nil
}

func (l *FlattenLayer) Build(inputShapes []tensor.Shape, rng *tensor.RNG) error {
	return buildStateless(&l.Base, l, inputShapes)
}

func (l *FlattenLayer) Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error) {
	if l.err != nil {
		return nil, l.err
	}
	x, err := l.oneInput(inputs)
	if err != nil {
		return nil, err
	}
	if r := x.Value().Rank(); l.dataFormat == ChannelsFirst && r > 2 {
		x = autograd.Transpose(x, channelsLastPerm(r)...)
	}
	return l.result(autograd.Flatten(x))
}

func (l *FlattenLayer) Config() any {
	return FlattenConfig{BaseConfig: l.BaseConfig(), DataFormat: l.dataFormat}
}

// channelsLastPerm moves axis 1 (channels first) to the end: (0, 2, ..., r-1, 1).
func channelsLastPerm(r int) []int {
	p := []int{0}
	for i := 2; i < r; i++ {
		p = append(p, i)
	}
	return append(p, 1)
}

// channelsFirstPerm undoes channelsLastPerm: (0, r-1, 1, ..., r-2).
func channelsFirstPerm(r int) []int {
	p := []int{0, r - 1}
	for i := 1; i < r-1; i++ {
		p = append(p, i)
	}
	return p
}

// ReshapeLayer gives each sample a new shape with the same number of elements.
type ReshapeLayer struct {
	Base
	target tensor.Shape
}

// ReshapeConfig is the saved form of a ReshapeLayer.
type ReshapeConfig struct {
	BaseConfig
	TargetShape []int `json:"target_shape"`
}

// Reshape makes a layer that reshapes each sample to shape (no batch axis); one dimension may
// be -1 and is inferred.
func Reshape(shape ...int) *ReshapeLayer {
	return newReshape(shape, nil)
}

// ReshapeWith is Reshape with options (Name, InputShape, Trainable), which Go's variadic
// shape argument leaves no room for.
func ReshapeWith(shape []int, opts ...Option) *ReshapeLayer {
	return newReshape(shape, opts)
}

func newReshape(shape []int, opts []Option) *ReshapeLayer {
	o := Collect(opts)
	l := &ReshapeLayer{target: tensor.Shape(shape).Clone()}
	l.Init(l, "Reshape", o)
	l.SetErr(o.Unused("Reshape"))
	infer := 0
	for _, d := range shape {
		switch {
		case d == -1:
			infer++
		case d < 0:
			l.SetErr(fmt.Errorf("target shape %v has negative dimension %d", shape, d))
		}
	}
	if infer > 1 {
		l.SetErr(fmt.Errorf("target shape %v has more than one -1", shape))
	}
	return l
}

func (l *ReshapeLayer) ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error) {
	s, err := l.oneShape(inputShapes)
	if err != nil {
		return nil, err
	}
	for _, d := range s {
		if !knownDim(d) {
			// The sample size varies; only the target's own -1 stays unknown.
			return l.target.Clone(), nil
		}
	}
	out, err := l.target.Resolve(s.Size())
	if err != nil {
		return nil, l.errorf("cannot reshape samples of shape %v to %v: %v", s, []int(l.target), err)
	}
	return out, nil
}

func (l *ReshapeLayer) Build(inputShapes []tensor.Shape, rng *tensor.RNG) error {
	return buildStateless(&l.Base, l, inputShapes)
}

func (l *ReshapeLayer) Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error) {
	if l.err != nil {
		return nil, l.err
	}
	x, err := l.oneInput(inputs)
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) == 0 {
		return nil, l.errorf("input is a scalar, want a batch")
	}
	// Resolving per sample keeps -1 meaningful for an empty batch too.
	t, err := l.target.Resolve(s[1:].Size())
	if err != nil {
		return nil, l.errorf("cannot reshape samples of shape %v to %v: %v", s[1:], []int(l.target), err)
	}
	return l.result(autograd.Reshape(x, append([]int{s[0]}, t...)...))
}

func (l *ReshapeLayer) Config() any {
	return ReshapeConfig{BaseConfig: l.BaseConfig(), TargetShape: append([]int{}, l.target...)}
}

func init() {
	Register("InputLayer", func(raw json.RawMessage) (Layer, error) {
		var cfg InputLayerConfig
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		if len(cfg.BatchShape) == 0 {
			return nil, fmt.Errorf("batch_shape is missing or empty")
		}
		shape := make([]int, 0, len(cfg.BatchShape)-1)
		for _, d := range cfg.BatchShape[1:] {
			if d == nil {
				shape = append(shape, -1)
			} else {
				shape = append(shape, *d)
			}
		}
		var opts []Option
		if cfg.Name != "" {
			opts = append(opts, Name(cfg.Name))
		}
		return built(NewInputLayer(shape, opts...))
	})
	Register("Dense", func(raw json.RawMessage) (Layer, error) {
		cfg := DenseConfig{BaseConfig: BaseConfig{Trainable: true}, Activation: "linear", UseBias: true}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		ol := optionList{opts: cfg.BaseConfig.Options()}
		ol.add(Activation(cfg.Activation), nil)
		ol.add(UseBias(cfg.UseBias), nil)
		ol.add(initOption(cfg.KernelInitializer, KernelInitializer))
		ol.add(initOption(cfg.BiasInitializer, BiasInitializer))
		ol.add(regOption(cfg.KernelRegularizer, KernelRegularizer))
		ol.add(regOption(cfg.BiasRegularizer, BiasRegularizer))
		ol.add(regOption(cfg.ActivityRegularizer, ActivityRegularizer))
		if ol.err != nil {
			return nil, ol.err
		}
		return built(Dense(cfg.Units, ol.opts...))
	})
	Register("Dropout", func(raw json.RawMessage) (Layer, error) {
		cfg := DropoutConfig{BaseConfig: BaseConfig{Trainable: true}}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		opts := cfg.BaseConfig.Options()
		if cfg.Seed != nil {
			opts = append(opts, Seed(*cfg.Seed))
		}
		return built(Dropout(cfg.Rate, opts...))
	})
	Register("Flatten", func(raw json.RawMessage) (Layer, error) {
		cfg := FlattenConfig{BaseConfig: BaseConfig{Trainable: true}, DataFormat: ChannelsLast}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		return built(Flatten(append(cfg.BaseConfig.Options(), DataFormat(cfg.DataFormat))...))
	})
	Register("Reshape", func(raw json.RawMessage) (Layer, error) {
		cfg := ReshapeConfig{BaseConfig: BaseConfig{Trainable: true}}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		if cfg.TargetShape == nil {
			return nil, fmt.Errorf("target_shape is missing")
		}
		return built(ReshapeWith(cfg.TargetShape, cfg.BaseConfig.Options()...))
	})
}
