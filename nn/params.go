package nn

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/ml"
)

// Default values of the params, as Spark ML and BigDL name them.
const (
	DefaultFeaturesCol    = "features"
	DefaultLabelCol       = "label"
	DefaultPredictionCol  = "prediction"
	DefaultProbabilityCol = "probability"
	DefaultBatchSize      = 32
	DefaultMaxEpoch       = 50
	// DefaultLearningRate is the rate of the optimizer Fit uses when neither the estimator nor
	// the network names one: Adam at BigDL's default rate.
	DefaultLearningRate = 1e-3
)

// scoringParams are the params every stage that scores a frame has: the fitted models and,
// because Fit copies them onto the model it returns, the estimators.
type scoringParams struct {
	featuresCol    *ml.Param[string]
	featuresCols   *ml.Param[[]string]
	predictionCol  *ml.Param[string]
	probabilityCol *ml.Param[string] // nil for regression stages
	batchSize      *ml.Param[int]
}

func declareScoring(ps *ml.Params, classifier bool) scoringParams {
	s := scoringParams{
		featuresCol: ml.NewParam(ps, "featuresCol",
			"features column: a vector (FixedSizeList<Float64>) or image column", DefaultFeaturesCol, ml.NonEmpty),
		featuresCols: ml.NewParam(ps, "featuresCols",
			"numeric feature columns, used instead of featuresCol when not empty", []string{}, distinctNames),
	}
	s.predictionCol = ml.NewParam(ps, "predictionCol", "prediction column name", DefaultPredictionCol, ml.NonEmpty)
	if classifier {
		s.probabilityCol = ml.NewParam(ps, "probabilityCol",
			"column for the vector of class probabilities; empty leaves it out", DefaultProbabilityCol, nil)
	}
	s.batchSize = ml.NewParam(ps, "batchSize", "rows per training step and per scoring batch", DefaultBatchSize, ml.AtLeast(1))
	return s
}

// features is the list of columns the network reads.
func (s *scoringParams) features() []string {
	if cols := s.featuresCols.Get(); len(cols) > 0 {
		return append([]string(nil), cols...)
	}
	return []string{s.featuresCol.Get()}
}

// copyTo gives a fitted model the scoring params of the estimator that made it.
func (s *scoringParams) copyTo(d *scoringParams) {
	d.featuresCol.Set(s.featuresCol.Get())
	d.featuresCols.Set(append([]string(nil), s.featuresCols.Get()...))
	d.predictionCol.Set(s.predictionCol.Get())
	if s.probabilityCol != nil && d.probabilityCol != nil {
		d.probabilityCol.Set(s.probabilityCol.Get())
	}
	d.batchSize.Set(s.batchSize.Get())
}

// check catches output columns that would overwrite each other.
func (s *scoringParams) check(uid string) error {
	if s.probabilityCol != nil && s.probabilityCol.Get() == s.predictionCol.Get() {
		return fmt.Errorf("nn: %s: predictionCol and probabilityCol are both %q; give them different names", uid, s.predictionCol.Get())
	}
	return nil
}

func distinctNames(cols []string) error {
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if c == "" {
			return errors.New("want non-empty column names")
		}
		if seen[c] {
			return fmt.Errorf("column %q is listed twice", c)
		}
		seen[c] = true
	}
	return nil
}

func nonNegativeFinite(v float64) error {
	if !(v >= 0) || math.IsInf(v, 0) {
		return errors.New("want a finite number >= 0")
	}
	return nil
}

// columnError reports a missing column with the columns the frame does have, naming the param
// that asked for it so the caller knows which setter to fix.
func columnError(uid, param, name string, cols []string) error {
	return fmt.Errorf("nn: %s: %s: no column %q in the frame (columns: %s)", uid, param, name, strings.Join(cols, ", "))
}

func hasColumn(cols []string, name string) bool {
	for _, c := range cols {
		if c == name {
			return true
		}
	}
	return false
}

func checkNetwork(uid string, net *keras.Model) error {
	if net == nil {
		return fmt.Errorf("nn: %s: no network: pass a *keras.Model to the constructor", uid)
	}
	if err := net.Err(); err != nil {
		return fmt.Errorf("nn: %s: network %q: %w", uid, net.Name(), err)
	}
	if n := len(net.InputShapes()); n != 1 {
		return fmt.Errorf("nn: %s: network %q has %d inputs; a pipeline stage feeds exactly one", uid, net.Name(), n)
	}
	if n := len(net.OutputShapes()); n != 1 {
		return fmt.Errorf("nn: %s: network %q has %d outputs; a pipeline stage scores exactly one", uid, net.Name(), n)
	}
	return nil
}
