package layers

import (
	"encoding/json"
	"fmt"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// EmbeddingLayer maps integer ids to rows of a learned table: ids of shape [N, ...] become
// vectors of shape [N, ..., outputDim].
type EmbeddingLayer struct {
	Base
	inputDim, outputDim int
	init                Initializer
	reg, activityReg    Regularizer
	embeddings          *Weight
}

// EmbeddingConfig is the saved form of an EmbeddingLayer, with Keras's keys.
type EmbeddingConfig struct {
	BaseConfig
	InputDim              int                `json:"input_dim"`
	OutputDim             int                `json:"output_dim"`
	EmbeddingsInitializer InitializerConfig  `json:"embeddings_initializer"`
	EmbeddingsRegularizer *RegularizerConfig `json:"embeddings_regularizer"`
	ActivityRegularizer   *RegularizerConfig `json:"activity_regularizer"`
}

// Embedding makes a lookup table of inputDim rows (the vocabulary size; ids lie in
// [0, inputDim)) of outputDim values. Inputs are int64 or int32 ids, or float32 values
// holding whole numbers (what a frame of doubles gives). Options: EmbeddingsInitializer
// (RandomUniform(-0.05, 0.05)), EmbeddingsRegularizer, ActivityRegularizer and the common ones.
func Embedding(inputDim, outputDim int, opts ...Option) *EmbeddingLayer {
	o := Collect(opts)
	l := &EmbeddingLayer{
		inputDim:    inputDim,
		outputDim:   outputDim,
		init:        orInit(o.EmbeddingsInitializer, RandomUniform(-0.05, 0.05)),
		reg:         o.EmbeddingsRegularizer,
		activityReg: o.ActivityRegularizer,
	}
	l.Init(l, "Embedding", o)
	l.SetErr(o.Unused("Embedding", "embeddings_initializer", "embeddings_regularizer", "activity_regularizer"))
	if inputDim <= 0 {
		l.SetErr(fmt.Errorf("input_dim must be a positive integer, got %d", inputDim))
	}
	if outputDim <= 0 {
		l.SetErr(fmt.Errorf("output_dim must be a positive integer, got %d", outputDim))
	}
	return l
}

// Embeddings is the [inputDim, outputDim] table (nil before Build).
func (l *EmbeddingLayer) Embeddings() *Weight { return l.embeddings }

func (l *EmbeddingLayer) ComputeOutputShape(inputShapes []tensor.Shape) (tensor.Shape, error) {
	s, err := l.oneShape(inputShapes)
	if err != nil {
		return nil, err
	}
	return append(s.Clone(), l.outputDim), nil
}

func (l *EmbeddingLayer) Build(inputShapes []tensor.Shape, rng *tensor.RNG) error {
	if l.err != nil {
		return l.err
	}
	if _, err := l.ComputeOutputShape(inputShapes); err != nil {
		return err
	}
	if l.built {
		return nil
	}
	w, err := l.AddWeight("embeddings", tensor.Shape{l.inputDim, l.outputDim}, l.init, l.reg, true, rng)
	if err != nil {
		return err
	}
	l.embeddings = w
	l.MarkBuilt()
	return nil
}

func (l *EmbeddingLayer) Call(ctx *Context, inputs []*autograd.Variable) (*autograd.Variable, error) {
	if err := l.needBuilt(); err != nil {
		return nil, err
	}
	x, err := l.oneInput(inputs)
	if err != nil {
		return nil, err
	}
	// The op takes int64, int32, uint8 or whole-number float32 ids and rejects the rest.
	y := autograd.Embedding(ctx.Param(l.embeddings), x.Value())
	addActivityLoss(ctx, l.activityReg, y)
	return l.result(y)
}

func (l *EmbeddingLayer) Config() any {
	return EmbeddingConfig{
		BaseConfig:            l.BaseConfig(),
		InputDim:              l.inputDim,
		OutputDim:             l.outputDim,
		EmbeddingsInitializer: l.init.Config(),
		EmbeddingsRegularizer: regConfig(l.reg),
		ActivityRegularizer:   regConfig(l.activityReg),
	}
}

func init() {
	Register("Embedding", func(raw json.RawMessage) (Layer, error) {
		cfg := EmbeddingConfig{BaseConfig: BaseConfig{Trainable: true}}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, err
		}
		ol := optionList{opts: cfg.BaseConfig.Options()}
		ol.add(initOption(cfg.EmbeddingsInitializer, EmbeddingsInitializer))
		ol.add(regOption(cfg.EmbeddingsRegularizer, EmbeddingsRegularizer))
		ol.add(regOption(cfg.ActivityRegularizer, ActivityRegularizer))
		if ol.err != nil {
			return nil, ol.err
		}
		return built(Embedding(cfg.InputDim, cfg.OutputDim, ol.opts...))
	})
}
