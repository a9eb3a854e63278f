package layers

import (
	"fmt"
	"sync"

	"github.com/deepframe/deepframe/tensor"
)

// WeightBudget caps how many weight elements layers may allocate while they are built. A model
// loaded from a file is built from its config before its weights are read into it; the budget
// (the number of elements the file's weights hold) keeps a hostile config — a Dense layer with
// 2^38 units — from allocating more than the file can justify.
type WeightBudget struct {
	mu        sync.Mutex
	remaining int64
	limit     int64
}

// NewWeightBudget allows elements weight elements in all.
func NewWeightBudget(elements int64) *WeightBudget {
	return &WeightBudget{remaining: elements, limit: elements}
}

func (wb *WeightBudget) take(name string, shape tensor.Shape) error {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	n := int64(shape.Size())
	if n > wb.remaining {
		return fmt.Errorf("weight %s of shape %v needs %d elements, more than the %d the weights to load hold in all",
			name, shape, n, wb.limit)
	}
	wb.remaining -= n
	return nil
}

// LimitWeights makes l draw the weights its Build creates from budget. It reports false for a
// layer that does not embed Base, whose allocations it cannot see.
func LimitWeights(l Layer, budget *WeightBudget) bool {
	b, ok := l.(interface{ base() *Base })
	if !ok {
		return false
	}
	b.base().budget = budget
	return true
}

func (b *Base) base() *Base { return b }
