package optim

// Adagrad is Duchi et al.'s optimizer in Keras's form (defaults InitialAccumulator 0.1,
// Epsilon 1e-7):
//
//	a ← a + g²
//	w ← w − lr·g/√(a + ε)
func Adagrad(lr float64, opts ...Option) Optimizer {
	s := build(settings{initialAccumulator: 0.1, epsilon: 1e-7}, opts)
	v := validator{class: "Adagrad"}
	v.common(lr, &s)
	v.err = firstErr(v.err, s.checkAllowed("Adagrad", optInitialAccumulator|optEpsilon|optWeightDecay))
	v.nonNegative("initial_accumulator_value", s.initialAccumulator)
	if s.initialAccumulator == 0 && s.epsilon == 0 {
		v.fail("initial_accumulator_value and epsilon are both 0, so a zero gradient divides 0 by 0")
	}
	r := &adagradRule{init: float32(s.initialAccumulator), eps: float32(s.epsilon)}
	return newOptimizer("Adagrad", lr, s, r, s.weightDecay, v.err)
}

type adagradRule struct {
	init, eps, lr float32
}

func (r *adagradRule) slots() []string      { return []string{"accumulator"} }
func (r *adagradRule) slotInit(int) float32 { return r.init }

func (r *adagradRule) prepare(lr float64, _ int64) { r.lr = float32(lr) }

func (r *adagradRule) apply(w, g []float32, slots [][]float32, f gradFn) {
	eps, lr := r.eps, r.lr
	g = g[:len(w)]
	a := slots[0][:len(w)]
	for i := range w {
		gi := f.at(g[i], w[i])
		ai := a[i] + gi*gi
		a[i] = ai
		w[i] -= lr * gi / sqrt32(ai+eps)
	}
}

func (r *adagradRule) config(m map[string]any, s *settings) {
	m["initial_accumulator_value"] = s.initialAccumulator
	m["epsilon"] = s.epsilon
}
