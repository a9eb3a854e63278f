package layers

import (
	"encoding/json"
	"fmt"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// pair turns Keras's "one int or one per axis" argument into two values.
func pair(key string, v []int, def int) ([2]int, error) {
	switch len(v) {
	case 0:
		return [2]int{def, def}, nil
	case 1:
		return [2]int{v[0], v[0]}, nil
	case 2:
		return [2]int{v[0], v[1]}, nil
	}
	return [2]int{def, def}, fmt.Errorf("%s %v: want 1 or 2 values", key, v)
}

// imageShape reads a rank-3 sample shape as (H, W, C) in the given layout.
func imageShape(s tensor.Shape, dataFormat string) (h, w, c int, err error) {
	if len(s) != 3 {
		return 0, 0, 0, fmt.Errorf("input samples must have rank 3 (%s), got shape %v", layoutName(dataFormat), s)
	}
	if dataFormat == ChannelsFirst {
		return s[1], s[2], s[0], nil
	}
	return s[0], s[1], s[2], nil
}

func layoutName(dataFormat string) string {
	if dataFormat == ChannelsFirst {
		return "channels, height, width"
	}
	return "height, width, channels"
}

func imageOf(h, w, c int, dataFormat string) tensor.Shape {
	if dataFormat == ChannelsFirst {
		return tensor.Shape{c, h, w}
	}
	return tensor.Shape{h, w, c}
}

// Conv2DLayer is a 2-D convolution over images: activation(conv(x, kernel) + bias), with an
// HWIO kernel [kh, kw, in, filters] in either data format, as Keras.
type Conv2DLayer struct {
	Base
	filters                         int
	kernelSize, strides, dilation   [2]int
	padding, dataFormat, activation string
	useBias                         bool
	kernelInit, biasInit            Initializer
	kernelReg, biasReg, activityReg Regularizer
	kernel, bias                    *Weight
}

// Conv2DConfig is the saved form of a Conv2DLayer, with Keras's keys.
type Conv2DConfig struct {
	BaseConfig
	Filters             int                `json:"filters"`
	KernelSize          [2]int             `json:"kernel_size"`
	Strides             [2]int             `json:"strides"`
	Padding             string             `json:"padding"`
	DataFormat          string             `json:"data_format"`
	DilationRate        [2]int             `json:"dilation_rate"`
	Activation          string             `json:"activation"`
	UseBias             bool               `json:"use_bias"`
	KernelInitializer   InitializerConfig  `json:"kernel_initializer"`
	BiasInitializer     InitializerConfig  `json:"bias_initializer"`
	KernelRegularizer   *RegularizerConfig `json:"kernel_regularizer"`
	BiasRegularizer     *RegularizerConfig `json:"bias_regularizer"`
	ActivityRegularizer *RegularizerConfig `json:"activity_regularizer"`
}

// Conv2D makes a 2-D convolution with the given number of output channels. kernelSize is
// Keras's kernel_size: []int{5} for a 5x5 window or []int{3, 5} for 3 rows by 5 columns.
// Options: Strides (1), Padding ("valid"), DilationRate (1), DataFormat ("channels_last"),
// Activation, UseBias, KernelInitializer (GlorotUniform), BiasInitializer (Zeros),
// KernelRegularizer, BiasRegularizer, ActivityRegularizer and the common ones. As in Keras,
// strides and dilation cannot both exceed 1.
func Conv2D(filters int, kernelSize []int, opts ...Option) *Conv2DLayer {
	o := Collect(opts)
	l := &Conv2DLayer{
		filters:     filters,
		padding:     orString(o.Padding, "valid"),
		dataFormat:  orString(o.DataFormat, ChannelsLast),
		activation:  orString(o.Activation, "linear"),
		useBias:     orBool(o.UseBias, true),
		kernelInit:  orInit(o.KernelInitializer, GlorotUniform()),
		biasInit:    orInit(o.BiasInitializer, Zeros()),
		kernelReg:   o.KernelRegularizer,
		biasReg:     o.BiasRegularizer,
		activityReg: o.ActivityRegularizer,
	}
	l.Init(l, "Conv2D", o)
	l.SetErr(o.Unused("Conv2D", "strides", "padding", "data_format", "dilation_rate", "activation",
		"use_bias", "kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
		"activity_regularizer"))
	if filters <= 0 {
		l.SetErr(fmt.Errorf("filters must be a positive integer, got %d", filters))
	}
	var err error
	if len(kernelSize) == 0 {
		l.SetErr(fmt.Errorf("kernel_size is empty: want 1 or 2 values"))
	} else if l.kernelSize, err = pair("kernel_size", kernelSize, 1); err != nil {
		l.SetErr(err)
	} else if l.kernelSize[0] <= 0 || l.kernelSize[1] <= 0 {
		l.SetErr(fmt.Errorf("kernel_size %v has a non-positive value", kernelSize))
	}
	if l.strides, err = pair("strides", o.Strides, 1); err != nil {
		l.SetErr(err)
	}
	if l.dilation, err = pair("dilation_rate", o.DilationRate, 1); err != nil {
		l.SetErr(err)
	}
	if (l.strides[0] > 1 || l.strides[1] > 1) && (l.dilation[0] > 1 || l.dilation[1] > 1) {
		l.SetErr(fmt.Errorf("strides %v > 1 cannot be combined with dilation_rate %v > 1", l.strides, l.dilation))
	}
	return l
}

// Kernel is the [kh, kw, in, filters] weight (nil before Build).
func (l *Conv2DLayer) Kernel() *Weight { return l.kernel }

// Bias is the [filters] weight (nil before Build or without bias).
func (l *Conv2DLayer) Bias() *Weight { return l.bias }

func (l *Conv2DLayer) ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error) {
	s, err := l.oneShape(inputShapes)
	if err != nil {
		return nil, err
	}
	h, w, c, err := imageShape(s, l.dataFormat)
	if err != nil {
		return nil, l.wrap(err)
	}
	if !knownDim(c) {
		return nil, l.errorf("the channel axis of the input must be known, got shape %v", s)
	}
	// The op's own shape rule, so that inference and execution cannot disagree.
	out, err := autograd.Conv2DOutputShape(tensor.Shape{h, w, c}, l.kernelSize[0], l.kernelSize[1], l.filters, l.convOptions())
	if err != nil {
		return nil, l.errorf("input samples of shape %v: %v", s, err)
	}
	return imageOf(out[0], out[1], out[2], l.dataFormat), nil
}

func (l *Conv2DLayer) Build(inputShapes []tensor.Shape, rng *tensor.RNG) error {
	if l.err != nil {
		return l.err
	}
	if _, err := l.ComputeOutputShape(inputShapes); err != nil {
		return err
	}
	_, _, c, _ := imageShape(inputShapes[0], l.dataFormat)
	if l.built {
		if got := l.kernel.Value().Dim(2); got != c {
			return l.errorf("already built for %d input channels, got shape %v", got, inputShapes[0])
		}
		return nil
	}
	k, err := l.AddWeight("kernel", tensor.Shape{l.kernelSize[0], l.kernelSize[1], c, l.filters}, l.kernelInit, l.kernelReg, true, rng)
	if err != nil {
		return err
	}
	l.kernel = k
	if l.useBias {
		if l.bias, err = l.AddWeight("bias", tensor.Shape{l.filters}, l.biasInit, l.biasReg, true, rng); err != nil {
			return err
		}
	}
	l.MarkBuilt()
	return nil
}

func (l *Conv2DLayer) convOptions() autograd.Conv2DOptions {
	return autograd.Conv2DOptions{Strides: l.strides, Padding: l.padding, Dilation: l.dilation}
}

func (l *Conv2DLayer) Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error) {
	if err := l.needBuilt(); err != nil {
		return nil, err
	}
	x, err := l.oneInput(inputs)
	if err != nil {
		return nil, err
	}
	if r := x.Value().Rank(); r != 4 {
		return nil, l.errorf("input has shape %v, want rank 4 (batch, %s)", x.Shape(), layoutName(l.dataFormat))
	}
	first := l.dataFormat == ChannelsFirst
	if first {
		x = autograd.Transpose(x, channelsLastPerm(4)...)
	}
	var b *autograd.Variable
	if l.bias != nil {
		b = ctx.Param(l.bias)
	}
	y := autograd.Conv2D(x, ctx.Param(l.kernel), b, l.convOptions())
	if first {
		y = autograd.Transpose(y, channelsFirstPerm(4)...)
	}
	// After the layout is restored, so that softmax runs over the same axis as in Keras.
	y = ApplyActivation(l.activation, y)
	addActivityLoss(ctx, l.activityReg, y)
	return l.result(y)
}

func (l *Conv2DLayer) Config() any {
	return Conv2DConfig{
		BaseConfig:          l.BaseConfig(),
		Filters:             l.filters,
		KernelSize:          l.kernelSize,
		Strides:             l.strides,
		Padding:             l.padding,
		DataFormat:          l.dataFormat,
		DilationRate:        l.dilation,
		Activation:          l.activation,
		UseBias:             l.useBias,
		KernelInitializer:   l.kernelInit.Config(),
		BiasInitializer:     l.biasInit.Config(),
		KernelRegularizer:   regConfig(l.kernelReg),
		BiasRegularizer:     regConfig(l.biasReg),
		ActivityRegularizer: regConfig(l.activityReg),
	}
}

// Pooling2DLayer is MaxPooling2D or AveragePooling2D: the max or the mean over each window of
// every channel.
type Pooling2DLayer struct {
	Base
	max                 bool
	poolSize, strides   [2]int
	padding, dataFormat string
}

// Pooling2DConfig is the saved form of a Pooling2DLayer, with Keras's keys.
type Pooling2DConfig struct {
	BaseConfig
	PoolSize   [2]int `json:"pool_size"`
	Strides    [2]int `json:"strides"`
	Padding    string `json:"padding"`
	DataFormat string `json:"data_format"`
}

// MaxPooling2D makes a layer taking the maximum over windows. Options: PoolSize (2x2),
// Strides (the pool size), Padding ("valid"), DataFormat and the common ones:
// layers.MaxPooling2D(layers.PoolSize(3), layers.Strides(2)).
func MaxPooling2D(opts ...Option) *Pooling2DLayer { return newPooling2D(true, "MaxPooling2D", opts) }

// AveragePooling2D makes a layer averaging over windows; with "same" padding a window at the
// border averages only the inputs inside the image, as Keras. Options as MaxPooling2D.
func AveragePooling2D(opts ...Option) *Pooling2DLayer {
	return newPooling2D(false, "AveragePooling2D", opts)
}

func newPooling2D(isMax bool, class string, opts []Option) *Pooling2DLayer {
	o := Collect(opts)
	l := &Pooling2DLayer{
		max:        isMax,
		padding:    orString(o.Padding, "valid"),
		dataFormat: orString(o.DataFormat, ChannelsLast),
	}
	l.Init(l, class, o)
	l.SetErr(o.Unused(class, "pool_size", "strides", "padding", "data_format"))
	var err error
	if l.poolSize, err = pair("pool_size", o.PoolSize, 2); err != nil {
		l.SetErr(err)
	}
	if l.strides, err = pair("strides", o.Strides, 0); err != nil {
		l.SetErr(err)
	}
	if len(o.Strides) == 0 {
		l.strides = l.poolSize
	}
	return l
}

func (l *Pooling2DLayer) ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error) {
	s, err := l.oneShape(inputShapes)
	if err != nil {
		return nil, err
	}
	h, w, c, err := imageShape(s, l.dataFormat)
	if err != nil {
		return nil, l.wrap(err)
	}
	out, err := autograd.Pool2DOutputShape(tensor.Shape{h, w, c}, l.poolOptions())
	if err != nil {
		return nil, l.errorf("input samples of shape %v: %v", s, err)
	}
	return imageOf(out[0], out[1], out[2], l.dataFormat), nil
}

func (l *Pooling2DLayer) poolOptions() autograd.Pool2DOptions {
	return autograd.Pool2DOptions{Size: l.poolSize, Strides: l.strides, Padding: l.padding}
}

func (l *Pooling2DLayer) Build(inputShapes []tensor.Shape, rng *tensor.RNG) error {
	return buildStateless(&l.Base, l, inputShapes)
}

func (l *Pooling2DLayer) Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error) {
	if l.err != nil {
		return nil, l.err
	}
	x, err := l.oneInput(inputs)
	if err != nil {
		return nil, err
	}
	if r := x.Value().Rank(); r != 4 {
		return nil, l.errorf("input has shape %v, want rank 4 (batch, %s)", x.Shape(), layoutName(l.dataFormat))
	}
	first := l.dataFormat == ChannelsFirst
	if first {
		x = autograd.Transpose(x, channelsLastPerm(4)...)
	}
	var y *autograd.Variable
	if l.max {
		y = autograd.MaxPool2D(x, l.poolOptions())
	} else {
		y = autograd.AvgPool2D(x, l.poolOptions())
	}
	if first {
		y = autograd.Transpose(y, channelsFirstPerm(4)...)
	}
	return l.result(y)
}

func (l *Pooling2DLayer) Config() any {
	return Pooling2DConfig{BaseConfig: l.BaseConfig(), PoolSize: l.poolSize, Strides: l.strides, Padding: l.padding, DataFormat: l.dataFormat}
}

// GlobalPooling2DLayer is GlobalAveragePooling2D or GlobalMaxPooling2D: one value per channel,
// the mean or max over height and width.
type GlobalPooling2DLayer struct {
	Base
	max        bool
	dataFormat string
}

// GlobalPooling2DConfig is the saved form of a GlobalPooling2DLayer.
type GlobalPooling2DConfig struct {
	BaseConfig
	DataFormat string `json:"data_format"`
}

// GlobalAveragePooling2D makes a layer averaging each channel over height and width:
// [N, H, W, C] becomes [N, C]. Options: DataFormat and the common ones.
func GlobalAveragePooling2D(opts ...Option) *GlobalPooling2DLayer {
	return newGlobalPooling2D(false, "GlobalAveragePooling2D", opts)
}

// GlobalMaxPooling2D makes a layer taking each channel's maximum over height and width.
func GlobalMaxPooling2D(opts ...Option) *GlobalPooling2DLayer {
	return newGlobalPooling2D(true, "GlobalMaxPooling2D", opts)
}

func newGlobalPooling2D(isMax bool, class string, opts []Option) *GlobalPooling2DLayer {
	o := Collect(opts)
	l := &GlobalPooling2DLayer{max: isMax, dataFormat: orString(o.DataFormat, ChannelsLast)}
	l.Init(l, class, o)
	l.SetErr(o.Unused(class, "data_format"))
	return l
}

func (l *GlobalPooling2DLayer) ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error) {
	s, err := l.oneShape(inputShapes)
	if err != nil {
		return nil, err
	}
	_, _, c, err := imageShape(s, l.dataFormat)
	if err != nil {
		return nil, l.wrap(err)
	}
	return tensor.Shape{c}, nil
}

func (l *GlobalPooling2DLayer) Build(inputShapes []tensor.Shape, rng *tensor.RNG) error {
	return buildStateless(&l.Base, l, inputShapes)
}

func (l *GlobalPooling2DLayer) Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error) {
	if l.err != nil {
		return nil, l.err
	}
	x, err := l.oneInput(inputs)
	if err != nil {
		return nil, err
	}
	if r := x.Value().Rank(); r != 4 {
		return nil, l.errorf("input has shape %v, want rank 4 (batch, %s)", x.Shape(), layoutName(l.dataFormat))
	}
	axes := []int{1, 2}
	if l.dataFormat == ChannelsFirst {
		axes = []int{2, 3}
	}
	switch {
	case l.max:
		return l.result(autograd.Max(x, axes, false))
	case l.dataFormat == ChannelsLast:
		return l.result(autograd.GlobalAvgPool2D(x))
	default:
		return l.result(autograd.Mean(x, axes, false))
	}
}

func (l *GlobalPooling2DLayer) Config() any {
	return GlobalPooling2DConfig{BaseConfig: l.BaseConfig(), DataFormat: l.dataFormat}
}

func init() {
	Register("Conv2D", func(raw json.RawMessage) (Layer, error) {
		cfg := Conv2DConfig{BaseConfig: BaseConfig{Trainable: true}, Strides: [2]int{1, 1}, DilationRate: [2]int{1, 1},
			Padding: "valid", DataFormat: ChannelsLast, Activation: "linear", UseBias: true}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		ol := optionList{opts: cfg.BaseConfig.Options()}
		ol.add(Strides(cfg.Strides[:]...), nil)
		ol.add(Padding(cfg.Padding), nil)
		ol.add(DataFormat(cfg.DataFormat), nil)
		ol.add(DilationRate(cfg.DilationRate[:]...), nil)
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
		return built(Conv2D(cfg.Filters, cfg.KernelSize[:], ol.opts...))
	})
	for _, p := range []struct {
		class string
		make  func(...Option) *Pooling2DLayer
	}{{"MaxPooling2D", MaxPooling2D}, {"AveragePooling2D", AveragePooling2D}} {
		Register(p.class, func(raw json.RawMessage) (Layer, error) {
			cfg := Pooling2DConfig{BaseConfig: BaseConfig{Trainable: true}, PoolSize: [2]int{2, 2}, Padding: "valid", DataFormat: ChannelsLast}
			if err := decodeConfig(raw, &cfg); err != nil {
				return nil, err
			}
			opts := append(cfg.BaseConfig.Options(), PoolSize(cfg.PoolSize[:]...), Padding(cfg.Padding), DataFormat(cfg.DataFormat))
			if cfg.Strides != [2]int{} {
				opts = append(opts, Strides(cfg.Strides[:]...))
			}
			return built(p.make(opts...))
		})
	}
	for _, p := range []struct {
		class string
		make  func(...Option) *GlobalPooling2DLayer
	}{{"GlobalAveragePooling2D", GlobalAveragePooling2D}, {"GlobalMaxPooling2D", GlobalMaxPooling2D}} {
		Register(p.class, func(raw json.RawMessage) (Layer, error) {
			cfg := GlobalPooling2DConfig{BaseConfig: BaseConfig{Trainable: true}, DataFormat: ChannelsLast}
			if err := decodeConfig(raw, &cfg); err != nil {
				return nil, err
			}
			return built(p.make(append(cfg.BaseConfig.Options(), DataFormat(cfg.DataFormat))...))
		})
	}
}
