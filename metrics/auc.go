package metrics

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/deepframe/deepframe/tensor"
)

// auc is the exact area under the ROC curve, the probability that a random positive scores
// above a random negative (ties counting one half): the Mann-Whitney statistic. Unlike Keras's
// default, which interpolates over 200 fixed thresholds, it needs no choice of thresholds and
// is exact for scores bunched in a narrow range; the price is keeping every score (8 bytes per
// prediction) until Reset.
type auc struct {
	name    string
	sorted  []scored // by score, ascending
	pending []scored // added since the last Result
	scratch []scored
	cached  float64
	fresh   bool
}

type scored struct {
	score float32
	pos   bool
}

// AUC is the area under the ROC curve over all batches, computed exactly by sorting (tied
// scores count one half, the average-rank convention). Targets are 0/1 labels (values >= 0.5
// count as positive) of the predictions' shape ([N] against [N, 1] is accepted); multi-column
// predictions are flattened, as Keras does with multi_label=False. With no positives or no
// negatives the area is undefined and Result returns 0, as Keras does.
func AUC() Metric { return &auc{name: "auc"} }

func (m *auc) Name() string { return m.name }

func (m *auc) Reset() {
	m.sorted, m.pending = m.sorted[:0], m.pending[:0]
	m.fresh = false
}

func (m *auc) Update(yTrue, yPred *tensor.Tensor) error {
	if err := checkInputs(m.name, yTrue, yPred); err != nil {
		return err
	}
	if !sameData(yTrue.Shape(), yPred.Shape()) {
		return fmt.Errorf("metrics: %s: targets %v and predictions %v: want the same shape", m.name, yTrue.Shape(), yPred.Shape())
	}
	for i, s := range floats(yPred) {
		m.pending = append(m.pending, scored{score: s, pos: yTrue.Float64Flat(i) >= 0.5})
	}
	m.fresh = false
	return nil
}

// Result sorts only what arrived since the last call and merges it in, so calling it after
// every batch (as progress bars do) costs linear time per call, not a full sort.
func (m *auc) Result() float64 {
	if m.fresh {
		return m.cached
	}
	if len(m.pending) > 0 {
		byScore := func(a, b scored) int { return cmp.Compare(a.score, b.score) }
		slices.SortFunc(m.pending, byScore)
		m.scratch = mergeSorted(m.scratch[:0], m.sorted, m.pending)
		m.sorted, m.scratch = m.scratch, m.sorted
		m.pending = m.pending[:0]
	}
	m.cached, m.fresh = rocArea(m.sorted), true
	return m.cached
}

func mergeSorted(dst, a, b []scored) []scored {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if cmp.Compare(b[j].score, a[i].score) < 0 {
			dst = append(dst, b[j])
			j++
		} else {
			dst = append(dst, a[i])
			i++
		}
	}
	dst = append(dst, a[i:]...)
	return append(dst, b[j:]...)
}

// rocArea walks the scores in ascending order, a group of equal scores at a time: each positive
// beats every negative below its group and ties half of the negatives within it.
func rocArea(s []scored) float64 {
	var below, pairs2 float64 // negatives seen so far; twice the count of won pairs
	var npos float64
	for i := 0; i < len(s); {
		j := i
		var p, n float64
		for ; j < len(s) && cmp.Compare(s[j].score, s[i].score) == 0; j++ {
			if s[j].pos {
				p++
			} else {
				n++
			}
		}
		pairs2 += p * (2*below + n)
		below += n
		npos += p
		i = j
	}
	if npos == 0 || below == 0 {
		return 0
	}
	return pairs2 / (2 * npos * below)
}
