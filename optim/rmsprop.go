package optim

// RMSprop is Hinton's optimizer in Keras's form (defaults Rho 0.9, Momentum 0, Epsilon 1e-7,
// Centered off):
//
//	v ← ρ·v + (1−ρ)·g²
//	ḡ ← ρ·ḡ + (1−ρ)·g               (Centered only; the denominator becomes v − ḡ²)
//	Δ ← lr·g/√(v + ε)
//	b ← m·b + Δ,  w ← w − b         (with Momentum; otherwise w ← w − Δ)
//
// As in Keras, ε sits inside the square root and the momentum buffer holds lr-scaled steps.
func RMSprop(lr float64, opts ...Option) Optimizer {
	s := build(settings{rho: 0.9, epsilon: 1e-7}, opts)
	v := validator{class: "RMSprop"}
	v.common(lr, &s)
	v.err = firstErr(v.err, s.checkAllowed("RMSprop", optRho|optMomentum|optEpsilon|optCentered|optWeightDecay))
	v.unit("rho", s.rho)
	v.unit("momentum", s.momentum)
	if s.centered {
		// v − ḡ² can round to 0 (a constant gradient makes it exactly 0 in exact arithmetic).
		v.positive("epsilon", s.epsilon)
	}
	r := &rmspropRule{rho: float32(s.rho), momentum: float32(s.momentum), eps: float32(s.epsilon), centered: s.centered}
	return newOptimizer("RMSprop", lr, s, r, s.weightDecay, v.err)
}

type rmspropRule struct {
	rho, momentum, eps, lr float32
	centered               bool
}

// Slot order: velocity, then momentum if used, then average_gradient if centered; apply relies
// on it.
func (r *rmspropRule) slots() []string {
	s := []string{"velocity"}
	if r.momentum > 0 {
		s = append(s, "momentum")
	}
	if r.centered {
		s = append(s, "average_gradient")
	}
	return s
}

func (r *rmspropRule) slotInit(int) float32 { return 0 }

func (r *rmspropRule) prepare(lr float64, _ int64) { r.lr = float32(lr) }

func (r *rmspropRule) apply(w, g []float32, slots [][]float32, f gradFn) {
	rho, c, eps, lr, m := r.rho, 1-r.rho, r.eps, r.lr, r.momentum
	g = g[:len(w)]
	v := slots[0][:len(w)]
	var b, avg []float32
	next := 1
	if m > 0 {
		b = slots[next][:len(w)]
		next++
	}
	if r.centered {
		avg = slots[next][:len(w)]
	}
	// The four variants get their own loops so the common ones carry no per-element branch.
	switch {
	case b == nil && avg == nil:
		for i := range w {
			gi := f.at(g[i], w[i])
			vi := rho*v[i] + c*gi*gi
			v[i] = vi
			w[i] -= lr * gi / sqrt32(vi+eps)
		}
	case avg == nil:
		for i := range w {
			gi := f.at(g[i], w[i])
			vi := rho*v[i] + c*gi*gi
			v[i] = vi
			bi := m*b[i] + lr*gi/sqrt32(vi+eps)
			b[i] = bi
			w[i] -= bi
		}
	default:
		for i := range w {
			gi := f.at(g[i], w[i])
			vi := rho*v[i] + c*gi*gi
			v[i] = vi
			ai := rho*avg[i] + c*gi
			avg[i] = ai
			step := lr * gi / sqrt32(vi-ai*ai+eps)
			if b != nil {
				step += m * b[i]
				b[i] = step
			}
			w[i] -= step
		}
	}
}

func (r *rmspropRule) config(m map[string]any, s *settings) {
	m["rho"] = s.rho
	m["momentum"] = s.momentum
	m["epsilon"] = s.epsilon
	m["centered"] = s.centered
}
