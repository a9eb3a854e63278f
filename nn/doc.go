// Package nn makes a keras network a pipeline stage, as BigDL's NNFrames do for Spark ML.
//
// NNEstimator trains a network on a frame's feature and label columns with any loss (regression
// by default) and returns an NNModel; NNClassifier trains one whose label column holds class
// indices (0, 1, ... as Float64 or Int, e.g. feature.StringIndexer output) and returns an
// NNClassifierModel. Both fitted models are ml.Transformers that score a frame lazily, record
// batch by record batch, adding a "prediction" column (and, for classifiers, a "probability"
// vector column), and ml.DataWriters that keep the network as a keras bundle (model.dfm) so a
// fitted pipeline saves and loads as one.
//
//	clf := nn.NewClassifier(model).
//		SetFeaturesCol("features").SetLabelCol("label").
//		SetBatchSize(32).SetMaxEpoch(50).SetOptimizer(optim.SGD(0.01))
//	fitted, err := clf.FitModel(ctx, train)      // *NNClassifierModel (Fit: ml.Transformer)
//	scored, err := fitted.Transform(ctx, test)   // + prediction, probability
//
// Features come from one vector column (frame.VectorType, e.g. VectorAssembler or
// StandardScaler output), from one image column (frame.ImageType, pixels scaled to [0, 1]), or
// from several numeric columns (SetFeaturesCols). Their width must match the network's input
// shape; a vector or numeric row whose width equals the input's element count is reshaped to
// it (784 values feed an InputShape(28, 28, 1) network), and an image column feeds a network
// with a flat input flattened.
//
// Fit prepares every sample once and holds it in memory as tensors (SetCaching(true), the
// default, as BigDL's cachingSample), or streams: with SetCaching(false) each epoch reads the
// frame afresh through frame.Batches, shuffled with the estimator's seed and the epoch on
// goroutines of its own, and hands keras.Fit its batches as a keras.BatchStream, so a frame
// larger than memory trains in the memory of a shuffle buffer and a few batches. Either way
// the TrainingSummary tells how long the steps waited for data (DataWait against StepTime).
//
// Fit leaves the estimator untouched, as every ml Estimator does: it trains a copy of the
// network (BigDL trains the given model in place, which makes a second Fit, or a
// cross-validation fold, continue from the last one's weights). The trained network is the
// fitted model's, reachable through its Model method, so fitting twice from the same network
// and seed gives the same weights.
package nn
