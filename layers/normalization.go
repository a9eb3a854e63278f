package layers

import (
	"encoding/json"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// BatchNormalizationLayer normalises each feature (channel) of its input: with the batch's
// mean and variance in training, with moving averages of them in inference, then scales by
// gamma and shifts by beta.
type BatchNormalizationLayer struct {
	Base
	axis                               int
	momentum, epsilon                  float64
	center, scale                      bool
	betaInit, gammaInit                Initializer
	movingMeanInit, movingVarianceInit Initializer
	betaReg, gammaReg                  Regularizer
	gamma, beta, movingMean, movingVar *Weight
	ones, zeros                        *tensor.Tensor // stand-ins when scale or center is off
}

// BatchNormalizationConfig is the saved form of a BatchNormalizationLayer, with Keras's keys.
type BatchNormalizationConfig struct {
	BaseConfig
	Axis                      int                `json:"axis"`
	Momentum                  float64            `json:"momentum"`
	Epsilon                   float64            `json:"epsilon"`
	Center                    bool               `json:"center"`
	Scale                     bool               `json:"scale"`
	BetaInitializer           InitializerConfig  `json:"beta_initializer"`
	GammaInitializer          InitializerConfig  `json:"gamma_initializer"`
	MovingMeanInitializer     InitializerConfig  `json:"moving_mean_initializer"`
	MovingVarianceInitializer InitializerConfig  `json:"moving_variance_initializer"`
	BetaRegularizer           *RegularizerConfig `json:"beta_regularizer"`
	GammaRegularizer          *RegularizerConfig `json:"gamma_regularizer"`
}

// BatchNormalization makes a batch normalisation layer with Keras's defaults: Axis(-1) (the
// feature axis, counted with the batch axis as in Keras), Momentum(0.99), Epsilon(1e-3),
// Center(true), Scale(true); also the gamma/beta/moving-statistics initializers and the
// gamma/beta regularizers. Its weights are gamma and beta (trainable) then moving_mean and
// moving_variance (not trainable). A frozen layer (Trainable(false)) runs in inference mode
// even in training, as in Keras 3, so fine-tuning does not disturb its statistics.
func BatchNormalization(opts ...Option) *BatchNormalizationLayer {
	o := Collect(opts)
	l := &BatchNormalizationLayer{
		axis:               -1,
		momentum:           0.99,
		epsilon:            1e-3,
		center:             orBool(o.Center, true),
		scale:              orBool(o.Scale, true),
		betaInit:           orInit(o.BetaInitializer, Zeros()),
		gammaInit:          orInit(o.GammaInitializer, Ones()),
		movingMeanInit:     orInit(o.MovingMeanInitializer, Zeros()),
		movingVarianceInit: orInit(o.MovingVarianceInitializer, Ones()),
		betaReg:            o.BetaRegularizer,
		gammaReg:           o.GammaRegularizer,
	}
	if o.Axis != nil {
		l.axis = *o.Axis
	}
	if o.Momentum != nil {
		l.momentum = *o.Momentum
	}
	if o.Epsilon != nil {
		l.epsilon = *o.Epsilon
	}
	l.Init(l, "BatchNormalization", o)
	l.SetErr(o.Unused("BatchNormalization", "axis", "momentum", "epsilon", "center", "scale",
		"beta_initializer", "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
		"beta_regularizer", "gamma_regularizer"))
	return l
}

// featureAxis resolves the Keras axis (counted with the batch axis) for samples of rank r.
func (l *BatchNormalizationLayer) featureAxis(r int) (int, error) {
	a := l.axis
	if a < 0 {
		a += r + 1
	}
	if a < 1 || a > r {
		return 0, l.errorf("axis %d is out of range for inputs of rank %d (with batch); axis 0 is the batch", l.axis, r+1)
	}
	return a, nil
}

func (l *BatchNormalizationLayer) ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error) {
	s, err := l.oneShape(inputShapes)
	if err != nil {
		return nil, err
	}
	a, err := l.featureAxis(len(s))
	if err != nil {
		return nil, err
	}
	if !knownDim(s[a-1]) {
		return nil, l.errorf("the normalised axis %d of the input must be known, got shape %v", l.axis, s)
	}
	return s.Clone(), nil
}

func (l *BatchNormalizationLayer) Build(inputShapes []tensor.Shape, rng *tensor.RNG) error {
	if l.err != nil {
		return l.err
	}
	if _, err := l.ComputeOutputShape(inputShapes); err != nil {
		return err
	}
	s := inputShapes[0]
	a, _ := l.featureAxis(len(s))
	c := s[a-1]
	if l.built {
		if got := l.movingMean.Value().Len(); got != c {
			return l.errorf("already built for %d features, got shape %v", got, s)
		}
		return nil
	}
	var err error
	if l.scale {
		if l.gamma, err = l.AddWeight("gamma", tensor.Shape{c}, l.gammaInit, l.gammaReg, true, rng); err != nil {
			return err
		}
	}
	if l.center {
		if l.beta, err = l.AddWeight("beta", tensor.Shape{c}, l.betaInit, l.betaReg, true, rng); err != nil {
			return err
		}
	}
	if l.movingMean, err = l.AddWeight("moving_mean", tensor.Shape{c}, l.movingMeanInit, nil, false, rng); err != nil {
		return err
	}
	if l.movingVar, err = l.AddWeight("moving_variance", tensor.Shape{c}, l.movingVarianceInit, nil, false, rng); err != nil {
		return err
	}
	l.MarkBuilt()
	return nil
}

// MovingMean is the moving average of the batch means (nil before Build).
func (l *BatchNormalizationLayer) MovingMean() *Weight { return l.movingMean }

// MovingVariance is the moving average of the batch variances (nil before Build).
func (l *BatchNormalizationLayer) MovingVariance() *Weight { return l.movingVar }

// Gamma is the learned scale (nil before Build or with Scale(false)).
func (l *BatchNormalizationLayer) Gamma() *Weight { return l.gamma }

// Beta is the learned offset (nil before Build or with Center(false)).
func (l *BatchNormalizationLayer) Beta() *Weight { return l.beta }

func (l *BatchNormalizationLayer) Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error) {
	if err := l.needBuilt(); err != nil {
		return nil, err
	}
	x, err := l.oneInput(inputs)
	if err != nil {
		return nil, err
	}
	r := x.Value().Rank()
	if r < 2 {
		return nil, l.errorf("input has shape %v, want rank >= 2 (batch, ..., features)", x.Shape())
	}
	a, err := l.featureAxis(r - 1)
	if err != nil {
		return nil, err
	}
	if got, want := x.Shape()[a], l.movingMean.Value().Len(); got != want {
		return nil, l.errorf("input has shape %v with %d features on axis %d, built for %d", x.Shape(), got, l.axis, want)
	}
	// nil gamma or beta (Scale(false), Center(false)) means 1 or 0 to the op.
	var gamma, beta *autograd.Variable
	if l.gamma != nil {
		gamma = ctx.Param(l.gamma)
	}
	if l.beta != nil {
		beta = ctx.Param(l.beta)
	}
	// The kernel normalises the last axis; another feature axis is moved there and back.
	var perm, inv []int
	if a != r-1 {
		for i := 0; i < r; i++ {
			if i != a {
				perm = append(perm, i)
			}
		}
		perm = append(perm, a)
		inv = make([]int, r)
		for i, p := range perm {
			inv[p] = i
		}
		x = autograd.Transpose(x, perm...)
	}
	training := ctx != nil && ctx.Training && l.Trainable()
	y := autograd.BatchNorm(x, gamma, beta, l.movingMean.Value(), l.movingVar.Value(), training,
		float32(l.momentum), float32(l.epsilon))
	if inv != nil {
		y = autograd.Transpose(y, inv...)
	}
	return l.result(y)
}

func (l *BatchNormalizationLayer) Config() any {
	return BatchNormalizationConfig{
		BaseConfig:                l.BaseConfig(),
		Axis:                      l.axis,
		Momentum:                  l.momentum,
		Epsilon:                   l.epsilon,
		Center:                    l.center,
		Scale:                     l.scale,
		BetaInitializer:           l.betaInit.Config(),
		GammaInitializer:          l.gammaInit.Config(),
		MovingMeanInitializer:     l.movingMeanInit.Config(),
		MovingVarianceInitializer: l.movingVarianceInit.Config(),
		BetaRegularizer:           regConfig(l.betaReg),
		GammaRegularizer:          regConfig(l.gammaReg),
	}
}

func init() {
	Register("BatchNormalization", func(raw json.RawMessage) (Layer, error) {
		cfg := BatchNormalizationConfig{BaseConfig: BaseConfig{Trainable: true}, Axis: -1, Momentum: 0.99,
			Epsilon: 1e-3, Center: true, Scale: true}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		ol := optionList{opts: cfg.BaseConfig.Options()}
		ol.add(Axis(cfg.Axis), nil)
		ol.add(Momentum(cfg.Momentum), nil)
		ol.add(Epsilon(cfg.Epsilon), nil)
		ol.add(Center(cfg.Center), nil)
		ol.add(Scale(cfg.Scale), nil)
		ol.add(initOption(cfg.BetaInitializer, BetaInitializer))
		ol.add(initOption(cfg.GammaInitializer, GammaInitializer))
		ol.add(initOption(cfg.MovingMeanInitializer, MovingMeanInitializer))
		ol.add(initOption(cfg.MovingVarianceInitializer, MovingVarianceInitializer))
		ol.add(regOption(cfg.BetaRegularizer, BetaRegularizer))
		ol.add(regOption(cfg.GammaRegularizer, GammaRegularizer))
		if ol.err != nil {
			return nil, ol.err
		}
		return built(BatchNormalization(ol.opts...))
	})
}
