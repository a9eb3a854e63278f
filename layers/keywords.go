package layers

import (
	"fmt"
	"math"
	"strings"
)

// The option functions below mirror Keras keyword arguments. Each marks its Keras name so a
// layer that has no use for it can say so, and checks what it can check without knowing the
// layer, so a bad value is reported at Build with the layer's name instead of panicking.

// validator is implemented by initializers and regularizers whose arguments can be wrong
// (a negative standard deviation, an empty uniform range), so options reject them early.
type validator interface{ validate() error }

func checkValid(v any) error {
	if c, ok := v.(validator); ok {
		return c.validate()
	}
	return nil
}

func initializerOption(key string, init Initializer, set func(o *Options)) Option {
	return optionFunc(func(o *Options) {
		o.mark(key)
		if init == nil {
			o.fail(fmt.Errorf("option %s: nil initializer", key))
			return
		}
		if err := checkValid(init); err != nil {
			o.fail(fmt.Errorf("option %s: %w", key, err))
			return
		}
		set(o)
	})
}

// regularizerOption accepts nil, Keras's None: no penalty.
func regularizerOption(key string, reg Regularizer, set func(o *Options)) Option {
	return optionFunc(func(o *Options) {
		o.mark(key)
		if err := checkValid(reg); err != nil {
			o.fail(fmt.Errorf("option %s: %w", key, err))
			return
		}
		set(o)
	})
}

// KernelInitializer sets how a layer's kernel is filled (default GlorotUniform).
func KernelInitializer(i Initializer) Option {
	return initializerOption("kernel_initializer", i, func(o *Options) { o.KernelInitializer = i })
}

// BiasInitializer sets how a layer's bias is filled (default Zeros).
func BiasInitializer(i Initializer) Option {
	return initializerOption("bias_initializer", i, func(o *Options) { o.BiasInitializer = i })
}

// EmbeddingsInitializer sets how an Embedding table is filled (default
// RandomUniform(-0.05, 0.05)).
func EmbeddingsInitializer(i Initializer) Option {
	return initializerOption("embeddings_initializer", i, func(o *Options) { o.EmbeddingsInitializer = i })
}

// GammaInitializer sets BatchNormalization's starting scale (default Ones).
func GammaInitializer(i Initializer) Option {
	return initializerOption("gamma_initializer", i, func(o *Options) { o.GammaInitializer = i })
}

// BetaInitializer sets BatchNormalization's starting offset (default Zeros).
func BetaInitializer(i Initializer) Option {
	return initializerOption("beta_initializer", i, func(o *Options) { o.BetaInitializer = i })
}

// MovingMeanInitializer sets BatchNormalization's starting moving mean (default Zeros).
func MovingMeanInitializer(i Initializer) Option {
	return initializerOption("moving_mean_initializer", i, func(o *Options) { o.MovingMeanInitializer = i })
}

// MovingVarianceInitializer sets BatchNormalization's starting moving variance (default Ones).
func MovingVarianceInitializer(i Initializer) Option {
	return initializerOption("moving_variance_initializer", i, func(o *Options) { o.MovingVarianceInitializer = i })
}

// KernelRegularizer adds a penalty on the kernel to the loss.
func KernelRegularizer(r Regularizer) Option {
	return regularizerOption("kernel_regularizer", r, func(o *Options) { o.KernelRegularizer = r })
}

// BiasRegularizer adds a penalty on the bias to the loss.
func BiasRegularizer(r Regularizer) Option {
	return regularizerOption("bias_regularizer", r, func(o *Options) { o.BiasRegularizer = r })
}

// ActivityRegularizer adds a penalty on the layer's output to the loss through
// Context.AddLoss. As in Keras 3 it is not divided by the batch size.
func ActivityRegularizer(r Regularizer) Option {
	return regularizerOption("activity_regularizer", r, func(o *Options) { o.ActivityRegularizer = r })
}

// EmbeddingsRegularizer adds a penalty on an Embedding table to the loss.
func EmbeddingsRegularizer(r Regularizer) Option {
	return regularizerOption("embeddings_regularizer", r, func(o *Options) { o.EmbeddingsRegularizer = r })
}

// GammaRegularizer adds a penalty on BatchNormalization's gamma to the loss.
func GammaRegularizer(r Regularizer) Option {
	return regularizerOption("gamma_regularizer", r, func(o *Options) { o.GammaRegularizer = r })
}

// BetaRegularizer adds a penalty on BatchNormalization's beta to the loss.
func BetaRegularizer(r Regularizer) Option {
	return regularizerOption("beta_regularizer", r, func(o *Options) { o.BetaRegularizer = r })
}

// Padding chooses "valid" (no padding, the default) or "same" (pad so that the output has
// ceil(input/stride) positions, extra padding at the bottom and right) for convolution and
// pooling. Case is ignored, as in Keras.
func Padding(p string) Option {
	return optionFunc(func(o *Options) {
		o.mark("padding")
		v := strings.ToLower(p)
		if v != "valid" && v != "same" {
			o.fail(fmt.Errorf("option padding: %q is not \"valid\" or \"same\"", p))
			return
		}
		o.Padding = v
	})
}

func positiveInts(key string, vals []int) error {
	if len(vals) == 0 {
		return fmt.Errorf("option %s: no values given", key)
	}
	for _, v := range vals {
		if v <= 0 {
			return fmt.Errorf("option %s: %v has a non-positive value", key, vals)
		}
	}
	return nil
}

// Strides sets the step of a convolution or pooling window: one value for both spatial axes
// or one per axis. Pooling defaults to the pool size, convolution to 1.
func Strides(s ...int) Option {
	s = append([]int(nil), s...)
	return optionFunc(func(o *Options) {
		o.mark("strides")
		if err := positiveInts("strides", s); err != nil {
			o.fail(err)
			return
		}
		o.Strides = s
	})
}

// DilationRate sets a convolution's dilation: one value for both spatial axes or one per axis.
func DilationRate(d ...int) Option {
	d = append([]int(nil), d...)
	return optionFunc(func(o *Options) {
		o.mark("dilation_rate")
		if err := positiveInts("dilation_rate", d); err != nil {
			o.fail(err)
			return
		}
		o.DilationRate = d
	})
}

// PoolSize sets a pooling window: one value for both spatial axes or one per axis (default 2).
func PoolSize(p ...int) Option {
	p = append([]int(nil), p...)
	return optionFunc(func(o *Options) {
		o.mark("pool_size")
		if err := positiveInts("pool_size", p); err != nil {
			o.fail(err)
			return
		}
		o.PoolSize = p
	})
}

// Channel layouts accepted by DataFormat.
const (
	ChannelsLast  = "channels_last"
	ChannelsFirst = "channels_first"
)

// DataFormat says how image samples are laid out: "channels_last" (H, W, C; the default, as
// Keras) or "channels_first" (C, H, W). Kernels run channels last, so a channels-first layer
// transposes its input and output; prefer channels last where the data allows.
func DataFormat(f string) Option {
	return optionFunc(func(o *Options) {
		o.mark("data_format")
		v := strings.ToLower(f)
		if v != ChannelsLast && v != ChannelsFirst {
			o.fail(fmt.Errorf("option data_format: %q is not %q or %q", f, ChannelsLast, ChannelsFirst))
			return
		}
		o.DataFormat = v
	})
}

// Axis picks an axis counted as Keras counts it: including the batch axis, -1 the last.
func Axis(a int) Option {
	return optionFunc(func(o *Options) { o.Axis = &a; o.mark("axis") })
}

// Momentum sets BatchNormalization's moving-average momentum (default 0.99): moving =
// moving*momentum + batch*(1-momentum).
func Momentum(m float64) Option {
	return optionFunc(func(o *Options) {
		o.mark("momentum")
		if math.IsNaN(m) || m < 0 || m > 1 {
			o.fail(fmt.Errorf("option momentum: %v is outside [0, 1]", m))
			return
		}
		o.Momentum = &m
	})
}

// Epsilon sets the small constant BatchNormalization adds to the variance (default 1e-3).
func Epsilon(e float64) Option {
	return optionFunc(func(o *Options) {
		o.mark("epsilon")
		if math.IsNaN(e) || math.IsInf(e, 0) || e <= 0 {
			o.fail(fmt.Errorf("option epsilon: %v is not a positive number", e))
			return
		}
		o.Epsilon = &e
	})
}

// Center sets whether BatchNormalization adds the learned offset beta (default true).
func Center(c bool) Option {
	return optionFunc(func(o *Options) { o.Center = &c; o.mark("center") })
}

// Scale sets whether BatchNormalization multiplies by the learned scale gamma (default true).
func Scale(s bool) Option {
	return optionFunc(func(o *Options) { o.Scale = &s; o.mark("scale") })
}

// Seed is Keras's seed argument of random layers (Dropout). Masks are already fixed by the
// model's seed and the layer's name; a Seed is mixed into that stream, which lets a user pick
// a different mask sequence without renaming the layer.
func Seed(s uint64) Option {
	return optionFunc(func(o *Options) { o.Seed = &s; o.mark("seed") })
}
