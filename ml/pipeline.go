package ml

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/deepframe/deepframe/frame"
)

// Pipeline chains stages into one Estimator, as Spark ML's Pipeline does. Fit walks the stages
// in order: an Estimator is fitted on the frame as transformed so far and its model then
// transforms that frame for the stages after it; a Transformer just transforms it.
type Pipeline struct {
	uid    string
	params *Params
	stages []Stage
}

// NewPipeline returns a pipeline of the given stages (each an Estimator or a Transformer).
func NewPipeline(stages ...Stage) *Pipeline {
	return newPipeline(NewUID("Pipeline"), stages)
}

func newPipeline(uid string, stages []Stage) *Pipeline {
	return &Pipeline{uid: uid, params: NewParams(uid), stages: append([]Stage(nil), stages...)}
}

// UID identifies the pipeline.
func (p *Pipeline) UID() string { return p.uid }

// ClassName is "Pipeline".
func (p *Pipeline) ClassName() string { return "Pipeline" }

// Params is empty: the stages are kept apart from params because they are saved as stages,
// each in its own folder of the bundle, not as JSON values.
func (p *Pipeline) Params() *Params { return p.params }

// SetStages replaces the stages.
func (p *Pipeline) SetStages(stages ...Stage) *Pipeline {
	p.stages = append([]Stage(nil), stages...)
	return p
}

// GetStages returns the stages (a copy of the list; the stages themselves are shared).
func (p *Pipeline) GetStages() []Stage { return append([]Stage(nil), p.stages...) }

func (p *Pipeline) children() []Stage { return p.GetStages() }

// Fit fits the pipeline and returns its *PipelineModel as a Transformer, which is what makes a
// Pipeline an Estimator (and so a possible stage of another pipeline). FitModel returns the
// concrete type.
func (p *Pipeline) Fit(ctx context.Context, df *frame.DataFrame) (Model, error) {
	return p.FitModel(ctx, df)
}

// FitModel fits the pipeline. Stages after the last Estimator are not run during the fit, as in
// Spark: their output feeds no estimator. Transforms are lazy, so an estimator fitted late in
// the pipeline reads df again through every transform before it; Collect df first if reading
// it is expensive. The model shares the pipeline's uid, as Spark's does.
func (p *Pipeline) FitModel(ctx context.Context, df *frame.DataFrame) (*PipelineModel, error) {
	if df == nil {
		return nil, fmt.Errorf("ml: %s: Fit: nil frame", p.uid)
	}
	if err := p.params.Validate(); err != nil {
		return nil, fmt.Errorf("ml: %w", err)
	}
	stages := p.GetStages()
	last := -1
	for i, s := range stages {
		switch s.(type) {
		case nil:
			return nil, fmt.Errorf("ml: %s: stage %d is nil", p.uid, i)
		case Estimator:
			last = i
		case Transformer:
		default:
			return nil, fmt.Errorf("ml: %s: stage %d (%s) is neither an Estimator nor a Transformer", p.uid, i, s.UID())
		}
	}
	fitted := make([]Transformer, len(stages))
	cur := df
	for i, s := range stages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var t Transformer
		if est, ok := s.(Estimator); ok {
			m, err := est.Fit(ctx, cur)
			if err != nil {
				return nil, fmt.Errorf("ml: %s: stage %d (%s): fit: %w", p.uid, i, s.UID(), err)
			}
			if m == nil {
				return nil, fmt.Errorf("ml: %s: stage %d (%s): fit returned no model", p.uid, i, s.UID())
			}
			t = m
		} else {
			t = s.(Transformer)
		}
		fitted[i] = t
		if i < last {
			next, err := t.Transform(ctx, cur)
			if err != nil {
				return nil, fmt.Errorf("ml: %s: stage %d (%s): transform: %w", p.uid, i, t.UID(), err)
			}
			cur = next
		}
	}
	return newPipelineModel(p.uid, fitted), nil
}

// Save writes the unfitted pipeline (its stages' params and state) as a bundle; see Save.
func (p *Pipeline) Save(path string) error { return Save(p, path) }

// PipelineModel is a fitted pipeline: a Transformer that applies its stages in order.
type PipelineModel struct {
	uid    string
	params *Params
	stages []Transformer
}

// NewPipelineModel assembles a model from transformers that are already fitted.
func NewPipelineModel(stages ...Transformer) *PipelineModel {
	return newPipelineModel(NewUID("PipelineModel"), stages)
}

func newPipelineModel(uid string, stages []Transformer) *PipelineModel {
	return &PipelineModel{uid: uid, params: NewParams(uid), stages: append([]Transformer(nil), stages...)}
}

// UID identifies the model.
func (m *PipelineModel) UID() string { return m.uid }

// ClassName is "PipelineModel".
func (m *PipelineModel) ClassName() string { return "PipelineModel" }

// Params is empty; see Pipeline.Params.
func (m *PipelineModel) Params() *Params { return m.params }

// Stages returns the fitted stages in order (a copy of the list).
func (m *PipelineModel) Stages() []Transformer { return append([]Transformer(nil), m.stages...) }

func (m *PipelineModel) children() []Stage {
	out := make([]Stage, len(m.stages))
	for i, s := range m.stages {
		out[i] = s
	}
	return out
}

// Transform applies every stage in order. Each stage's Transform is lazy where it can be, so
// this usually only builds the plan; errors in the data surface at the action that reads it.
func (m *PipelineModel) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	if df == nil {
		return nil, fmt.Errorf("ml: %s: Transform: nil frame", m.uid)
	}
	cur := df
	for i, s := range m.stages {
		if s == nil {
			return nil, fmt.Errorf("ml: %s: stage %d is nil", m.uid, i)
		}
		next, err := s.Transform(ctx, cur)
		if err != nil {
			return nil, fmt.Errorf("ml: %s: stage %d (%s): %w", m.uid, i, s.UID(), err)
		}
		cur = next
	}
	return cur, nil
}

// Save writes the fitted pipeline as one bundle; see Save.
func (m *PipelineModel) Save(path string) error { return Save(m, path) }

// LoadPipelineModel loads a bundle that Save wrote from a PipelineModel.
func LoadPipelineModel(path string) (*PipelineModel, error) {
	s, err := Load(path)
	if err != nil {
		return nil, err
	}
	m, ok := s.(*PipelineModel)
	if !ok {
		return nil, fmt.Errorf("ml: load %s: the bundle holds a %s, not a PipelineModel", path, s.ClassName())
	}
	return m, nil
}

// LoadPipeline loads a bundle that Save wrote from an unfitted Pipeline.
func LoadPipeline(path string) (*Pipeline, error) {
	s, err := Load(path)
	if err != nil {
		return nil, err
	}
	p, ok := s.(*Pipeline)
	if !ok {
		return nil, fmt.Errorf("ml: load %s: the bundle holds a %s, not a Pipeline", path, s.ClassName())
	}
	return p, nil
}

// container is a stage made of other stages, saved as a stages/ folder of sub-bundles.
type container interface {
	children() []Stage
}

func init() {
	// The pipeline classes are rebuilt by Load itself from their stages/ folder; registering
	// them reserves the names and lists them in RegisteredStages.
	for _, c := range []string{"Pipeline", "PipelineModel"} {
		Register(c, func(uid string, params json.RawMessage, dir string) (Stage, error) {
			return nil, fmt.Errorf("a %s is made of stages that only Load can rebuild; load it with ml.Load", c)
		})
	}
}
