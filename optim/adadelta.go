package optim

// Adadelta is Zeiler's optimizer in Keras's form (defaults Rho 0.95, Epsilon 1e-7; Keras's
// default rate is 0.001, though the method was designed for lr 1.0):
//
//	a ← ρ·a + (1−ρ)·g²
//	Δ ← √(d + ε)/√(a + ε) · g
//	d ← ρ·d + (1−ρ)·Δ²
//	w ← w − lr·Δ
func Adadelta(lr float64, opts ...Option) Optimizer {
	s := build(settings{rho: 0.95, epsilon: 1e-7}, opts)
	v := validator{class: "Adadelta"}
	v.common(lr, &s)
	v.err = firstErr(v.err, s.checkAllowed("Adadelta", optRho|optEpsilon|optWeightDecay))
	v.unit("rho", s.rho)
	// With ε = 0 the first update is 0/0 for every element whose gradient is zero.
	v.positive("epsilon", s.epsilon)
	r := &adadeltaRule{rho: float32(s.rho), eps: float32(s.epsilon)}
	return newOptimizer("Adadelta", lr, s, r, s.weightDecay, v.err)
}

type adadeltaRule struct {
	rho, eps, lr float32
}

func (r *adadeltaRule) slots() []string {
	return []string{"accumulated_grad", "accumulated_delta_var"}
}

func (r *adadeltaRule) slotInit(int) float32 { return 0 }

func (r *adadeltaRule) prepare(lr float64, _ int64) { r.lr = float32(lr) }

func (r *adadeltaRule) apply(w, g []float32, slots [][]float32, f gradFn) {
	rho, c, eps, lr := r.rho, 1-r.rho, r.eps, r.lr
	g = g[:len(w)]
	a, d := slots[0][:len(w)], slots[1][:len(w)]
	for i := range w {
		gi := f.at(g[i], w[i])
		ai := rho*a[i] + c*gi*gi
		a[i] = ai
		delta := sqrt32(d[i]+eps) / sqrt32(ai+eps) * gi
		d[i] = rho*d[i] + c*delta*delta
		w[i] -= lr * delta
	}
}

func (r *adadeltaRule) config(m map[string]any, s *settings) {
	m["rho"] = s.rho
	m["epsilon"] = s.epsilon
}
