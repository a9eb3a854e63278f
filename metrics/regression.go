package metrics

import (
	"fmt"
	"math"

	"github.com/deepframe/deepframe/tensor"
)

// meanError is the running mean of a per-element error over every element seen.
type meanError struct {
	name    string
	squared bool
	sum     float64
	count   int64
}

// MeanAbsoluteError is the mean of |yPred − yTrue| over all elements of all batches.
func MeanAbsoluteError() Metric { return &meanError{name: "mean_absolute_error"} }

// MeanSquaredError is the mean of (yPred − yTrue)² over all elements of all batches.
func MeanSquaredError() Metric { return &meanError{name: "mean_squared_error", squared: true} }

func (m *meanError) Name() string { return m.name }
func (m *meanError) Reset()       { m.sum, m.count = 0, 0 }

func (m *meanError) Result() float64 {
	if m.count == 0 {
		return 0
	}
	return m.sum / float64(m.count)
}

func (m *meanError) Update(yTrue, yPred *tensor.Tensor) error {
	if err := checkInputs(m.name, yTrue, yPred); err != nil {
		return err
	}
	if !sameData(yTrue.Shape(), yPred.Shape()) {
		return fmt.Errorf("metrics: %s: targets %v and predictions %v: want the same shape", m.name, yTrue.Shape(), yPred.Shape())
	}
	p, t := floats(yPred), floats(yTrue)
	var s float64
	for i, v := range p {
		d := float64(v) - float64(t[i])
		if m.squared {
			s += d * d
		} else {
			s += math.Abs(d)
		}
	}
	m.sum += s
	m.count += int64(len(p))
	return nil
}

// RunningMean averages values added to it; training loops keep the loss in one.
type RunningMean struct {
	name  string
	sum   float64
	count float64
}

// Mean returns an empty running mean named name (e.g. "loss").
func Mean(name string) *RunningMean { return &RunningMean{name: name} }

func (m *RunningMean) Name() string { return m.name }
func (m *RunningMean) Reset()       { m.sum, m.count = 0, 0 }

// Add records v as the mean of n samples (a batch's mean loss and its size), so batches of
// different sizes are weighted by their size. n <= 0 adds nothing.
func (m *RunningMean) Add(v float64, n int) {
	if n <= 0 {
		return
	}
	m.sum += v * float64(n)
	m.count += float64(n)
}

// Update adds every element of yPred as one sample; yTrue is ignored and may be nil. It lets a
// RunningMean stand wherever a Metric is expected.
func (m *RunningMean) Update(_, yPred *tensor.Tensor) error {
	if yPred == nil {
		return fmt.Errorf("metrics: %s: values are nil", m.name)
	}
	for i := 0; i < yPred.Len(); i++ {
		m.sum += yPred.Float64Flat(i)
	}
	m.count += float64(yPred.Len())
	return nil
}

// Result is the weighted mean of everything added since Reset (0 when nothing was).
func (m *RunningMean) Result() float64 {
	if m.count == 0 {
		return 0
	}
	return m.sum / m.count
}

// Count is the total weight added since Reset.
func (m *RunningMean) Count() float64 { return m.count }
