package nn

// The chained setters, Spark ML style. Each stage type has its own so that the chain keeps
// the concrete type; the shared state and its validation live in estimator and fitted.

import (
	"io"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/optim"
)

// SetFeaturesCol names the one features column: a vector column (VectorAssembler or
// StandardScaler output) or an image column.
func (e *NNEstimator) SetFeaturesCol(name string) *NNEstimator {
	e.featuresCol.Set(name)
	return e
}

// SetFeaturesCols names numeric feature columns read side by side, instead of one features
// column.
func (e *NNEstimator) SetFeaturesCols(names ...string) *NNEstimator {
	e.featuresCols.Set(append([]string(nil), names...))
	return e
}

// SetLabelCol names the label column.
func (e *NNEstimator) SetLabelCol(name string) *NNEstimator {
	e.labelCol.Set(name)
	return e
}

// SetPredictionCol names the column the fitted model adds.
func (e *NNEstimator) SetPredictionCol(name string) *NNEstimator {
	e.predictionCol.Set(name)
	return e
}

// SetBatchSize sets the rows per training step and per scoring batch.
func (e *NNEstimator) SetBatchSize(n int) *NNEstimator {
	e.batchSize.Set(n)
	return e
}

// SetMaxEpoch sets the number of passes over the training frame.
func (e *NNEstimator) SetMaxEpoch(n int) *NNEstimator {
	e.maxEpoch.Set(n)
	return e
}

// SetOptimizer sets the optimizer (BigDL's optimMethod). Each Fit trains with a fresh copy
// built from its config, so no optimizer state carries from one Fit to the next.
func (e *NNEstimator) SetOptimizer(o optim.Optimizer) *NNEstimator {
	e.setOptimizer(o)
	return e
}

// SetLearningRate sets the optimizer's base learning rate, which schedules scale; 0 keeps
// the optimizer's own.
func (e *NNEstimator) SetLearningRate(lr float64) *NNEstimator {
	e.learningRate.Set(lr)
	return e
}

// SetLearningRateSchedule makes the optimizer scale its learning rate by s.
func (e *NNEstimator) SetLearningRateSchedule(s optim.Schedule) *NNEstimator {
	e.setLearningRateSchedule(s)
	return e
}

// SetLoss sets the loss (BigDL's criterion).
func (e *NNEstimator) SetLoss(l losses.Loss) *NNEstimator {
	e.setLoss(l)
	return e
}

// SetValidation makes Fit score df after every epoch with the loss and ms, which also become
// the training metrics (a classifier reports accuracy without any). df must already have
// the features and label columns: inside a pipeline, prepare it with the fitted stages
// before this one. The values appear in the training summary's history with a "val_"
// prefix and, with SetTensorBoard, under validation/. The frame is not saved with the
// estimator.
func (e *NNEstimator) SetValidation(df *frame.DataFrame, ms ...metrics.Metric) *NNEstimator {
	e.setValidation(df, ms...)
	return e
}

// SetTensorBoard logs training under logDir/appName/train and validation under
// logDir/appName/validation, as keras's SetTensorBoard does.
func (e *NNEstimator) SetTensorBoard(logDir, appName string) *NNEstimator {
	e.logDir.Set(logDir)
	e.appName.Set(appName)
	return e
}

// SetCaching chooses between holding the prepared samples in memory as tensors between
// epochs (true, the default, as BigDL's cachingSample) and streaming the frame through
// frame.Batches every epoch, reading and shuffling (with the seed and the epoch) in the
// background. Streaming needs memory for frame's shuffle buffer and a few batches, twice over
// near the end of an epoch, when the next epoch's pass starts filling its buffer.
// TrainingSummary reports how long training waited for the stream.
func (e *NNEstimator) SetCaching(on bool) *NNEstimator {
	e.caching.Set(on)
	return e
}

// SetSeed fixes the order rows are visited in each epoch. Weight initialisation and
// dropout follow the network's own seed (keras.SetRandomSeed before building it).
func (e *NNEstimator) SetSeed(seed uint64) *NNEstimator {
	e.seed.Set(seed)
	return e
}

// SetProgress prints keras's training progress to w; by default Fit is silent.
func (e *NNEstimator) SetProgress(w io.Writer) *NNEstimator {
	e.progress = w
	return e
}

// SetFitOptions passes extra options to keras's Fit (callbacks, say); the estimator's own
// settings take precedence where they overlap.
func (e *NNEstimator) SetFitOptions(opts ...keras.FitOption) *NNEstimator {
	e.fitOptions = append([]keras.FitOption(nil), opts...)
	return e
}

// SetFeaturesCol names the one features column: a vector column (VectorAssembler or
// StandardScaler output) or an image column.
func (e *NNClassifier) SetFeaturesCol(name string) *NNClassifier {
	e.featuresCol.Set(name)
	return e
}

// SetFeaturesCols names numeric feature columns read side by side, instead of one features
// column.
func (e *NNClassifier) SetFeaturesCols(names ...string) *NNClassifier {
	e.featuresCols.Set(append([]string(nil), names...))
	return e
}

// SetLabelCol names the label column.
func (e *NNClassifier) SetLabelCol(name string) *NNClassifier {
	e.labelCol.Set(name)
	return e
}

// SetPredictionCol names the column the fitted model adds.
func (e *NNClassifier) SetPredictionCol(name string) *NNClassifier {
	e.predictionCol.Set(name)
	return e
}

// SetBatchSize sets the rows per training step and per scoring batch.
func (e *NNClassifier) SetBatchSize(n int) *NNClassifier {
	e.batchSize.Set(n)
	return e
}

// SetMaxEpoch sets the number of passes over the training frame.
func (e *NNClassifier) SetMaxEpoch(n int) *NNClassifier {
	e.maxEpoch.Set(n)
	return e
}

// SetOptimizer sets the optimizer (BigDL's optimMethod). Each Fit trains with a fresh copy
// built from its config, so no optimizer state carries from one Fit to the next.
func (e *NNClassifier) SetOptimizer(o optim.Optimizer) *NNClassifier {
	e.setOptimizer(o)
	return e
}

// SetLearningRate sets the optimizer's base learning rate, which schedules scale; 0 keeps
// the optimizer's own.
func (e *NNClassifier) SetLearningRate(lr float64) *NNClassifier {
	e.learningRate.Set(lr)
	return e
}

// SetLearningRateSchedule makes the optimizer scale its learning rate by s.
func (e *NNClassifier) SetLearningRateSchedule(s optim.Schedule) *NNClassifier {
	e.setLearningRateSchedule(s)
	return e
}

// SetLoss sets the loss (BigDL's criterion).
func (e *NNClassifier) SetLoss(l losses.Loss) *NNClassifier {
	e.setLoss(l)
	return e
}

// SetValidation makes Fit score df after every epoch with the loss and ms, which also become
// the training metrics (a classifier reports accuracy without any). df must already have
// the features and label columns: inside a pipeline, prepare it with the fitted stages
// before this one. The values appear in the training summary's history with a "val_"
// prefix and, with SetTensorBoard, under validation/. The frame is not saved with the
// estimator.
func (e *NNClassifier) SetValidation(df *frame.DataFrame, ms ...metrics.Metric) *NNClassifier {
	e.setValidation(df, ms...)
	return e
}

// SetTensorBoard logs training under logDir/appName/train and validation under
// logDir/appName/validation, as keras's SetTensorBoard does.
func (e *NNClassifier) SetTensorBoard(logDir, appName string) *NNClassifier {
	e.logDir.Set(logDir)
	e.appName.Set(appName)
	return e
}

// SetCaching chooses between holding the prepared samples in memory as tensors between
// epochs (true, the default, as BigDL's cachingSample) and streaming the frame through
// frame.Batches every epoch, reading and shuffling (with the seed and the epoch) in the
// background. Streaming needs memory for frame's shuffle buffer and a few batches, twice over
// near the end of an epoch, when the next epoch's pass starts filling its buffer.
// TrainingSummary reports how long training waited for the stream.
func (e *NNClassifier) SetCaching(on bool) *NNClassifier {
	e.caching.Set(on)
	return e
}

// SetSeed fixes the order rows are visited in each epoch. Weight initialisation and
// dropout follow the network's own seed (keras.SetRandomSeed before building it).
func (e *NNClassifier) SetSeed(seed uint64) *NNClassifier {
	e.seed.Set(seed)
	return e
}

// SetProgress prints keras's training progress to w; by default Fit is silent.
func (e *NNClassifier) SetProgress(w io.Writer) *NNClassifier {
	e.progress = w
	return e
}

// SetFitOptions passes extra options to keras's Fit (callbacks, say); the estimator's own
// settings take precedence where they overlap.
func (e *NNClassifier) SetFitOptions(opts ...keras.FitOption) *NNClassifier {
	e.fitOptions = append([]keras.FitOption(nil), opts...)
	return e
}

// SetProbabilityCol names the vector column of class probabilities the fitted model adds;
// "" leaves it out.
func (e *NNClassifier) SetProbabilityCol(name string) *NNClassifier {
	e.probabilityCol.Set(name)
	return e
}

// SetFeaturesCol names the one features column (a vector or image column).
func (m *NNModel) SetFeaturesCol(name string) *NNModel {
	m.featuresCol.Set(name)
	return m
}

// SetFeaturesCols names numeric feature columns read side by side.
func (m *NNModel) SetFeaturesCols(names ...string) *NNModel {
	m.featuresCols.Set(append([]string(nil), names...))
	return m
}

// SetPredictionCol names the column Transform adds.
func (m *NNModel) SetPredictionCol(name string) *NNModel {
	m.predictionCol.Set(name)
	return m
}

// SetBatchSize sets how many rows one forward pass scores.
func (m *NNModel) SetBatchSize(n int) *NNModel {
	m.batchSize.Set(n)
	return m
}

// SetFeaturesCol names the one features column (a vector or image column).
func (m *NNClassifierModel) SetFeaturesCol(name string) *NNClassifierModel {
	m.featuresCol.Set(name)
	return m
}

// SetFeaturesCols names numeric feature columns read side by side.
func (m *NNClassifierModel) SetFeaturesCols(names ...string) *NNClassifierModel {
	m.featuresCols.Set(append([]string(nil), names...))
	return m
}

// SetPredictionCol names the column Transform adds.
func (m *NNClassifierModel) SetPredictionCol(name string) *NNClassifierModel {
	m.predictionCol.Set(name)
	return m
}

// SetBatchSize sets how many rows one forward pass scores.
func (m *NNClassifierModel) SetBatchSize(n int) *NNClassifierModel {
	m.batchSize.Set(n)
	return m
}

// SetProbabilityCol names the vector column of class probabilities Transform adds; ""
// leaves it out.
func (m *NNClassifierModel) SetProbabilityCol(name string) *NNClassifierModel {
	m.probabilityCol.Set(name)
	return m
}
