package metrics

import (
	"fmt"
	"math"

	"github.com/deepframe/deepframe/tensor"
)

type accMode uint8

const (
	autoAcc accMode = iota
	sparseAcc
	categoricalAcc
	binaryAcc
	sparseTopK
	categoricalTopK
)

// accuracy counts correct predictions; one type serves every flavour so that the automatic one
// can switch per batch.
type accuracy struct {
	name      string
	mode      accMode
	threshold float32
	k         int
	err       error

	correct, total int64
}

// Accuracy is Keras's "accuracy": it picks its flavour from the shapes of each batch.
// Predictions [N, C] with C > 1 against labels [N] or [N, 1] are class indices (sparse
// categorical accuracy); against [N, C] they are one-hot (categorical accuracy); predictions
// [N] or [N, 1] are probabilities compared with threshold 0.5 (binary accuracy). More leading
// axes work the same way. Multi-label targets [N, C] of independent 0/1 labels need
// BinaryAccuracy (or AccuracyFor("binary_crossentropy")), as shapes alone cannot tell them from
// one-hot targets.
func Accuracy() Metric { return &accuracy{name: "accuracy", mode: autoAcc, threshold: 0.5} }

// AccuracyFor is Accuracy resolved by the loss being trained, as Keras's compile does when given
// "accuracy": binary for "binary_crossentropy", sparse for "sparse_categorical_crossentropy",
// categorical for "categorical_crossentropy", and shape-based (Accuracy) otherwise. It is still
// named "accuracy".
func AccuracyFor(lossName string) Metric {
	m := &accuracy{name: "accuracy", mode: autoAcc, threshold: 0.5}
	switch lossName {
	case "binary_crossentropy":
		m.mode = binaryAcc
	case "sparse_categorical_crossentropy":
		m.mode = sparseAcc
	case "categorical_crossentropy":
		m.mode = categoricalAcc
	}
	return m
}

// SparseCategoricalAccuracy is the share of rows whose highest prediction (the first, on ties) is
// at the labelled class: labels [N] or [N, 1], predictions [N, C].
func SparseCategoricalAccuracy() Metric {
	return &accuracy{name: "sparse_categorical_accuracy", mode: sparseAcc}
}

// CategoricalAccuracy is the share of rows whose highest prediction is where the target row
// (one-hot) has its highest value.
func CategoricalAccuracy() Metric {
	return &accuracy{name: "categorical_accuracy", mode: categoricalAcc}
}

// BinaryAccuracy is the share of elements where (yPred > threshold) equals yTrue, which must be
// 0 or 1 to ever match (as in Keras). Keras's default threshold is 0.5.
func BinaryAccuracy(threshold float64) Metric {
	m := &accuracy{name: "binary_accuracy", mode: binaryAcc, threshold: float32(threshold)}
	if math.IsNaN(threshold) {
		m.err = fmt.Errorf("metrics: binary_accuracy: threshold is NaN")
	}
	return m
}

// SparseTopKCategoricalAccuracy is the share of rows whose labelled class is among the k highest
// predictions. As in TensorFlow's in_top_k, classes tied with the k-th highest all count as in
// the top k. Keras's default k is 5.
func SparseTopKCategoricalAccuracy(k int) Metric {
	return newTopK("sparse_top_k_categorical_accuracy", sparseTopK, k)
}

// TopKCategoricalAccuracy is SparseTopKCategoricalAccuracy with one-hot targets (the class is
// the target row's argmax).
func TopKCategoricalAccuracy(k int) Metric {
	return newTopK("top_k_categorical_accuracy", categoricalTopK, k)
}

func newTopK(name string, mode accMode, k int) Metric {
	m := &accuracy{name: name, mode: mode, k: k}
	if k < 1 {
		m.err = fmt.Errorf("metrics: %s: k %d must be >= 1", name, k)
	}
	return m
}

func (m *accuracy) Name() string { return m.name }
func (m *accuracy) Err() error   { return m.err }
func (m *accuracy) Reset()       { m.correct, m.total = 0, 0 }

func (m *accuracy) Result() float64 {
	if m.total == 0 {
		return 0
	}
	return float64(m.correct) / float64(m.total)
}

func (m *accuracy) Update(yTrue, yPred *tensor.Tensor) error {
	if m.err != nil {
		return m.err
	}
	if err := checkInputs(m.name, yTrue, yPred); err != nil {
		return err
	}
	mode := m.mode
	ps, ts := yPred.Shape(), yTrue.Shape()
	if mode == autoAcc {
		switch {
		case len(ps) >= 2 && ps[len(ps)-1] > 1 && fitsSparse(ts, ps):
			mode = sparseAcc
		case len(ps) >= 2 && ps[len(ps)-1] > 1 && ts.Equal(ps):
			mode = categoricalAcc
		case len(ps) >= 2 && ps[len(ps)-1] > 1:
			return fmt.Errorf("metrics: %s: labels %v do not fit predictions %v: want class indices %v or one-hot targets %v",
				m.name, ts, ps, ps[:len(ps)-1], ps)
		default:
			mode = binaryAcc
		}
	}
	var correct, total int64
	var err error
	switch mode {
	case binaryAcc:
		correct, total, err = m.binary(yTrue, yPred)
	case sparseAcc, sparseTopK:
		correct, total, err = m.sparse(mode, yTrue, yPred)
	default:
		correct, total, err = m.categorical(mode, yTrue, yPred)
	}
	if err != nil {
		return err
	}
	m.correct += correct
	m.total += total
	return nil
}

func (m *accuracy) binary(yTrue, yPred *tensor.Tensor) (int64, int64, error) {
	if !sameData(yTrue.Shape(), yPred.Shape()) {
		return 0, 0, fmt.Errorf("metrics: %s: targets %v and predictions %v: want the same shape", m.name, yTrue.Shape(), yPred.Shape())
	}
	p := floats(yPred)
	var correct int64
	for i, v := range p {
		hit := float64(0)
		if v > m.threshold {
			hit = 1
		}
		if yTrue.Float64Flat(i) == hit {
			correct++
		}
	}
	return correct, int64(len(p)), nil
}

func (m *accuracy) sparse(mode accMode, yTrue, yPred *tensor.Tensor) (int64, int64, error) {
	ps, ts := yPred.Shape(), yTrue.Shape()
	if len(ps) < 2 || !fitsSparse(ts, ps) {
		return 0, 0, fmt.Errorf("metrics: %s: labels %v do not fit predictions %v: want predictions [batch, classes] and one class index per row",
			m.name, ts, ps)
	}
	c := ps[len(ps)-1]
	p := floats(yPred)
	rows := len(p) / max(c, 1)
	var correct int64
	for r := 0; r < rows; r++ {
		label := yTrue.Float64Flat(r)
		if label != math.Trunc(label) || label < 0 || label >= float64(c) {
			return 0, 0, fmt.Errorf("metrics: %s: label %v in row %d is not a class index in [0, %d) (predictions %v)", m.name, label, r, c, ps)
		}
		if m.hit(mode, p[r*c:(r+1)*c], int(label)) {
			correct++
		}
	}
	return correct, int64(rows), nil
}

func (m *accuracy) categorical(mode accMode, yTrue, yPred *tensor.Tensor) (int64, int64, error) {
	ps, ts := yPred.Shape(), yTrue.Shape()
	if len(ps) < 2 || !ts.Equal(ps) {
		return 0, 0, fmt.Errorf("metrics: %s: targets %v and predictions %v: want the same shape [batch, classes]", m.name, ts, ps)
	}
	c := ps[len(ps)-1]
	p, t := floats(yPred), floats(yTrue)
	rows := len(p) / max(c, 1)
	var correct int64
	for r := 0; r < rows; r++ {
		if m.hit(mode, p[r*c:(r+1)*c], argmax(t[r*c:(r+1)*c])) {
			correct++
		}
	}
	return correct, int64(rows), nil
}

// hit decides one row: exact argmax for plain accuracy, rank for top-k.
func (m *accuracy) hit(mode accMode, row []float32, class int) bool {
	if mode == sparseAcc || mode == categoricalAcc {
		return argmax(row) == class
	}
	target := row[class]
	if target != target { // NaN is never in the top k
		return false
	}
	above := 0
	for _, v := range row {
		if v > target {
			above++
		}
	}
	return above < m.k
}

// argmax returns the first index of the largest value, as numpy and Keras do.
func argmax(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}
