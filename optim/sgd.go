package optim

// SGD is stochastic gradient descent, optionally with momentum (Momentum, Nesterov) and L2
// weight decay (WeightDecay), in PyTorch's form:
//
//	g ← g + wd·w
//	b ← m·b + g                     (b starts at 0)
//	w ← w − lr·b                    (or w − lr·(g + m·b) with Nesterov)
//
// The velocity b is kept in gradient units rather than Keras's lr-scaled units, so a learning
// rate change (a schedule, ReduceOnPlateau) takes effect fully on the very next step. With a
// constant rate both forms give the same weights.
func SGD(lr float64, opts ...Option) Optimizer {
	s := build(settings{epsilon: 1e-7}, opts)
	v := validator{class: "SGD"}
	v.common(lr, &s)
	v.err = firstErr(v.err, s.checkAllowed("SGD", optMomentum|optNesterov|optWeightDecay))
	v.unit("momentum", s.momentum)
	if s.nesterov && s.momentum <= 0 {
		v.fail("Nesterov needs Momentum > 0")
	}
	r := &sgdRule{momentum: float32(s.momentum), nesterov: s.nesterov}
	return newOptimizer("SGD", lr, s, r, s.weightDecay, v.err)
}

type sgdRule struct {
	momentum float32
	nesterov bool
	lr       float32
}

func (r *sgdRule) slots() []string {
	if r.momentum == 0 {
		return nil
	}
	return []string{"momentum"}
}

func (r *sgdRule) slotInit(int) float32 { return 0 }

func (r *sgdRule) prepare(lr float64, _ int64) { r.lr = float32(lr) }

func (r *sgdRule) apply(w, g []float32, slots [][]float32, f gradFn) {
	lr, m := r.lr, r.momentum
	g = g[:len(w)]
	switch {
	case m == 0 && f.plain():
		for i := range w {
			w[i] -= lr * g[i]
		}
	case m == 0:
		for i := range w {
			w[i] -= lr * f.at(g[i], w[i])
		}
	case !r.nesterov && f.plain():
		b := slots[0][:len(w)]
		for i := range w {
			bi := m*b[i] + g[i]
			b[i] = bi
			w[i] -= lr * bi
		}
	case r.nesterov:
		b := slots[0][:len(w)]
		for i := range w {
			gi := f.at(g[i], w[i])
			bi := m*b[i] + gi
			b[i] = bi
			w[i] -= lr * (gi + m*bi)
		}
	default:
		b := slots[0][:len(w)]
		for i := range w {
			bi := m*b[i] + f.at(g[i], w[i])
			b[i] = bi
			w[i] -= lr * bi
		}
	}
}

func (r *sgdRule) config(m map[string]any, s *settings) {
	m["momentum"] = s.momentum
	m["nesterov"] = s.nesterov
}
