package nn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/ml"
)

// BundleFile is the name of the network bundle a stage writes into its data directory.
const BundleFile = "model.dfm"

// Stage class names, the keys of the ml registry.
const (
	EstimatorClass       = "NNEstimator"
	ClassifierClass      = "NNClassifier"
	ModelClass           = "NNModel"
	ClassifierModelClass = "NNClassifierModel"
)

// NNEstimator trains a network on a frame's features and label with any loss (BigDL's
// NNEstimator): regression by default, or whatever SetLoss or the network's Compile chose.
// Fit returns an *NNModel.
type NNEstimator struct {
	estimator
}

// NNClassifier trains a classification network on a label column of class indices 0..C-1
// (Float64 or integer, as feature.StringIndexer makes them). Fit returns an
// *NNClassifierModel.
type NNClassifier struct {
	estimator
}

// NewEstimator wraps a network for training in a pipeline, optionally with its loss (BigDL's
// NNEstimator(model, criterion)); without one it uses the network's compiled loss, else mean
// squared error.
func NewEstimator(model *keras.Model, loss ...losses.Loss) *NNEstimator {
	e := &NNEstimator{}
	e.init(EstimatorClass, ml.NewUID(EstimatorClass), model, false)
	switch len(loss) {
	case 0:
	case 1:
		e.setLoss(loss[0])
	default:
		e.fail(fmt.Errorf("NewEstimator: %d losses given; want at most one", len(loss)))
	}
	return e
}

// NewClassifier wraps a classification network for training in a pipeline. Its loss is the
// network's compiled one, else sparse categorical cross-entropy (binary cross-entropy when the
// network has a single output unit).
func NewClassifier(model *keras.Model) *NNClassifier {
	c := &NNClassifier{}
	c.init(ClassifierClass, ml.NewUID(ClassifierClass), model, true)
	return c
}

// Fit trains a copy of the network on df and returns the fitted model, which scores with it.
func (e *NNEstimator) Fit(ctx context.Context, df *frame.DataFrame) (ml.Model, error) {
	return e.FitModel(ctx, df)
}

// FitModel is Fit with the concrete result type.
func (e *NNEstimator) FitModel(ctx context.Context, df *frame.DataFrame) (*NNModel, error) {
	res, err := e.train(ctx, df)
	if err != nil {
		return nil, err
	}
	m := newNNModel(ml.NewUID(ModelClass), res.net)
	e.scoringParams.copyTo(&m.scoringParams)
	m.summary = res.summary
	return m, nil
}

// Fit trains a copy of the network on df and returns the fitted classifier, which scores with
// it.
func (c *NNClassifier) Fit(ctx context.Context, df *frame.DataFrame) (ml.Model, error) {
	return c.FitModel(ctx, df)
}

// FitModel is Fit with the concrete result type.
func (c *NNClassifier) FitModel(ctx context.Context, df *frame.DataFrame) (*NNClassifierModel, error) {
	res, err := c.train(ctx, df)
	if err != nil {
		return nil, err
	}
	m := newNNClassifierModel(ml.NewUID(ClassifierModelClass), res.net)
	c.scoringParams.copyTo(&m.scoringParams)
	m.summary = res.summary
	return m, nil
}

// NNModel scores a frame with a network, adding its output as the prediction column: Float64
// when the network has one output value per row, a vector column otherwise.
type NNModel struct {
	fitted
}

// NNClassifierModel scores a frame with a classification network, adding the probability
// vector column and the prediction column (the most probable class index, Float64). A network
// with one (sigmoid) output unit gives probabilities [1-p, p] and predicts 1 when p > 0.5.
type NNClassifierModel struct {
	fitted
}

// NewModel wraps an already trained network as a transformer (BigDL's NNModel(model)).
func NewModel(net *keras.Model) *NNModel { return newNNModel(ml.NewUID(ModelClass), net) }

// NewClassifierModel wraps an already trained classification network as a transformer.
func NewClassifierModel(net *keras.Model) *NNClassifierModel {
	return newNNClassifierModel(ml.NewUID(ClassifierModelClass), net)
}

func newNNModel(uid string, net *keras.Model) *NNModel {
	m := &NNModel{}
	m.init(ModelClass, uid, net, false)
	return m
}

func newNNClassifierModel(uid string, net *keras.Model) *NNClassifierModel {
	m := &NNClassifierModel{}
	m.init(ClassifierModelClass, uid, net, true)
	return m
}

func init() {
	ml.Register(EstimatorClass, func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		net, err := loadNetwork(dir)
		if err != nil {
			return nil, err
		}
		e := &NNEstimator{}
		e.init(EstimatorClass, uid, net, false)
		if err := loadParams(e.params, params); err != nil {
			return nil, err
		}
		return e, nil
	})
	ml.Register(ClassifierClass, func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		net, err := loadNetwork(dir)
		if err != nil {
			return nil, err
		}
		c := &NNClassifier{}
		c.init(ClassifierClass, uid, net, true)
		if err := loadParams(c.params, params); err != nil {
			return nil, err
		}
		return c, nil
	})
	ml.Register(ModelClass, func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		net, err := loadNetwork(dir)
		if err != nil {
			return nil, err
		}
		m := newNNModel(uid, net)
		if err := loadParams(m.params, params); err != nil {
			return nil, err
		}
		return m, nil
	})
	ml.Register(ClassifierModelClass, func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		net, err := loadNetwork(dir)
		if err != nil {
			return nil, err
		}
		m := newNNClassifierModel(uid, net)
		if err := loadParams(m.params, params); err != nil {
			return nil, err
		}
		return m, nil
	})
}

func loadNetwork(dir string) (*keras.Model, error) {
	if dir == "" {
		return nil, errors.New("no data directory: the network bundle " + BundleFile + " is missing")
	}
	return keras.Load(filepath.Join(dir, BundleFile))
}

func loadParams(ps *ml.Params, raw json.RawMessage) error {
	if err := ps.Load(raw); err != nil {
		return err
	}
	return ps.Validate()
}

// Save writes the fitted model as a bundle at path (see ml.Save).
func (m *NNModel) Save(path string) error { return ml.Save(m, path) }

// Save writes the fitted model as a bundle at path (see ml.Save).
func (m *NNClassifierModel) Save(path string) error { return ml.Save(m, path) }
