package nn

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/ml"
	"github.com/deepframe/deepframe/tensor"
)

// fitted holds what NNModel and NNClassifierModel share; each type adds chained setters
// (setters.go) that return itself.
type fitted struct {
	uid, class string
	classifier bool
	params     *ml.Params
	net        *keras.Model
	summary    *TrainingSummary
	scoringParams
}

func (m *fitted) init(class, uid string, net *keras.Model, classifier bool) {
	m.class, m.uid, m.net, m.classifier = class, uid, net, classifier
	m.params = ml.NewParams(uid)
	m.scoringParams = declareScoring(m.params, classifier)
}

// UID identifies this stage.
func (m *fitted) UID() string { return m.uid }

// ClassName keys the registry that loads saved stages.
func (m *fitted) ClassName() string { return m.class }

// Params are the typed params, Spark ML style.
func (m *fitted) Params() *ml.Params { return m.params }

// Model is the network that scores.
func (m *fitted) Model() *keras.Model { return m.net }

// TrainingSummary describes the Fit that made this model; nil for a model that was loaded or
// built around a trained network.
func (m *fitted) TrainingSummary() *TrainingSummary { return m.summary }

// WriteData saves the network as a keras bundle (model.dfm) into dir.
func (m *fitted) WriteData(dir string) error {
	if m.net == nil {
		return fmt.Errorf("nn: %s: no network to save", m.uid)
	}
	return m.net.Save(filepath.Join(dir, BundleFile))
}

// Transform adds the prediction column (and, for a classifier, the probability column) to df.
// It is lazy: the network runs record batch by record batch when an action reads the result,
// so a frame larger than memory is scored in a stream. Column and width mistakes are reported
// here, before any data is read.
func (m *fitted) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	if err := m.params.Validate(); err != nil {
		return nil, fmt.Errorf("nn: %w", err)
	}
	if err := m.scoringParams.check(m.uid); err != nil {
		return nil, err
	}
	if err := checkNetwork(m.uid, m.net); err != nil {
		return nil, err
	}
	if df == nil {
		return nil, fmt.Errorf("nn: %s: Transform: nil frame", m.uid)
	}
	spec, err := newInputSpec(m.uid, df, m.features(), m.net)
	if err != nil {
		return nil, err
	}
	outShape := m.net.OutputShapes()[0]
	if !known(outShape) {
		return nil, fmt.Errorf("nn: %s: network %q has output shape %v; scoring needs a fixed number of values per row", m.uid, m.net.Name(), outShape)
	}
	units := outShape.Size()
	net, bs, uid := m.net, m.batchSize.Get(), m.uid
	// The lazy step runs later, under whatever action reads the frame; it must not hold on to
	// the context of this call, which may be long gone by then.
	predict := func(cols []arrow.Array) ([]float32, error) {
		if cols[0].Len() == 0 {
			return nil, nil
		}
		x, err := spec.tensorOf(cols)
		if err != nil {
			return nil, fmt.Errorf("nn: %s: %w", uid, err)
		}
		y, err := net.Predict(context.Background(), x, keras.BatchSize(bs))
		if err != nil {
			return nil, fmt.Errorf("nn: %s: %w", uid, err)
		}
		if y.DType() != tensor.Float32 {
			y = y.AsType(tensor.Float32)
		}
		return y.Float32s(), nil
	}
	pred := m.predictionCol.Get()
	if !m.classifier {
		if units == 1 {
			return df.WithColumn(pred, arrow.PrimitiveTypes.Float64, spec.features, func(cols []arrow.Array) (arrow.Array, error) {
				out, err := predict(cols)
				if err != nil {
					return nil, err
				}
				return float64Array(widen(out)), nil
			})
		}
		vt, err := frame.VectorType(units)
		if err != nil {
			return nil, fmt.Errorf("nn: %s: predictionCol %q: %w", m.uid, pred, err)
		}
		return df.WithColumn(pred, vt, spec.features, func(cols []arrow.Array) (arrow.Array, error) {
			out, err := predict(cols)
			if err != nil {
				return nil, err
			}
			return frame.NewVectorArray(units, widen(out), nil)
		})
	}

	classes := units
	if units == 1 {
		classes = 2
	}
	probCol := m.probabilityCol.Get()
	if probCol == "" {
		probCol = "__nn_probability_" + m.uid
	}
	vt, err := frame.VectorType(classes)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: probabilityCol %q: %w", m.uid, probCol, err)
	}
	scored, err := df.WithColumn(probCol, vt, spec.features, func(cols []arrow.Array) (arrow.Array, error) {
		out, err := predict(cols)
		if err != nil {
			return nil, err
		}
		if units > 1 {
			return frame.NewVectorArray(classes, widen(out), nil)
		}
		probs := make([]float64, 2*len(out))
		for i, p := range out {
			probs[2*i], probs[2*i+1] = 1-float64(p), float64(p)
		}
		return frame.NewVectorArray(2, probs, nil)
	})
	if err != nil {
		return nil, err
	}
	scored, err = scored.WithColumn(pred, arrow.PrimitiveTypes.Float64, []string{probCol}, func(cols []arrow.Array) (arrow.Array, error) {
		probs, n, err := frame.VectorValues(cols[0])
		if err != nil {
			return nil, err
		}
		out := make([]float64, cols[0].Len())
		for i := range out {
			out[i] = float64(argmax(probs[i*n : (i+1)*n]))
		}
		return float64Array(out), nil
	})
	if err != nil {
		return nil, err
	}
	if m.probabilityCol.Get() == "" {
		return scored.Drop(probCol)
	}
	return scored, nil
}

// argmax is the first index of the largest value, Spark's tie rule; for a binary network it
// predicts 1 exactly when p > 0.5.
func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func float64Array(v []float64) arrow.Array {
	b := array.NewFloat64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(v, nil)
	return b.NewArray()
}
