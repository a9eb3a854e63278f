package optim

import "math"

// Adam is Kingma & Ba's optimizer in Keras's form (defaults Beta1 0.9, Beta2 0.999, Epsilon
// 1e-7), with AMSGrad optional and WeightDecay as L2 added to the gradient:
//
//	m ← β1·m + (1−β1)·g
//	v ← β2·v + (1−β2)·g²            (AMSGrad: v̂ ← max(v̂, v), used below in place of v)
//	w ← w − lr·√(1−β2ᵗ)/(1−β1ᵗ) · m/(√v + ε)
//
// Folding the bias corrections into the step size, as Keras does, means ε is not rescaled by
// √(1−β2ᵗ); with PyTorch's form the two differ only while ε is comparable to √v.
func Adam(lr float64, opts ...Option) Optimizer {
	return newAdam("Adam", lr, false, settings{beta1: 0.9, beta2: 0.999, epsilon: 1e-7}, opts)
}

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter): each step first shrinks the
// weights by lr·wd·w, independently of the gradient statistics. The default decay is Keras's
// 0.004 (PyTorch uses 0.01; pass WeightDecay(0.01) to match it).
func AdamW(lr float64, opts ...Option) Optimizer {
	return newAdam("AdamW", lr, true, settings{beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weightDecay: 0.004}, opts)
}

func newAdam(class string, lr float64, decoupled bool, def settings, opts []Option) Optimizer {
	s := build(def, opts)
	v := validator{class: class}
	v.common(lr, &s)
	v.err = firstErr(v.err, s.checkAllowed(class, optBeta1|optBeta2|optEpsilon|optAMSGrad|optWeightDecay))
	v.unit("beta_1", s.beta1)
	v.unit("beta_2", s.beta2)
	r := &adamRule{b1: s.beta1, b2: s.beta2, eps: float32(s.epsilon), amsgrad: s.amsgrad}
	coupled := s.weightDecay
	if decoupled {
		r.wd, coupled = s.weightDecay, 0
	}
	return newOptimizer(class, lr, s, r, coupled, v.err)
}

type adamRule struct {
	b1, b2  float64
	wd      float64 // decoupled decay (AdamW only)
	eps     float32
	amsgrad bool

	// per step
	alpha, decay, c1, c2 float32
}

func (r *adamRule) slots() []string {
	if r.amsgrad {
		return []string{"m", "v", "vhat"}
	}
	return []string{"m", "v"}
}

func (r *adamRule) slotInit(int) float32 { return 0 }

func (r *adamRule) prepare(lr float64, t int64) {
	n := float64(t)
	r.alpha = float32(lr * math.Sqrt(1-math.Pow(r.b2, n)) / (1 - math.Pow(r.b1, n)))
	r.decay = float32(1 - lr*r.wd)
	r.c1, r.c2 = float32(1-r.b1), float32(1-r.b2)
}

func (r *adamRule) apply(w, g []float32, slots [][]float32, f gradFn) {
	b1, b2 := float32(r.b1), float32(r.b2)
	c1, c2, alpha, eps, decay := r.c1, r.c2, r.alpha, r.eps, r.decay
	g = g[:len(w)]
	m, v := slots[0][:len(w)], slots[1][:len(w)]
	if r.amsgrad {
		vh := slots[2][:len(w)]
		for i := range w {
			gi := f.at(g[i], w[i])
			mi := b1*m[i] + c1*gi
			vi := b2*v[i] + c2*gi*gi
			m[i], v[i] = mi, vi
			h := max(vh[i], vi)
			vh[i] = h
			w[i] = w[i]*decay - alpha*mi/(sqrt32(h)+eps)
		}
		return
	}
	if f.plain() {
		for i := range w {
			gi := g[i]
			mi := b1*m[i] + c1*gi
			vi := b2*v[i] + c2*gi*gi
			m[i], v[i] = mi, vi
			w[i] = w[i]*decay - alpha*mi/(sqrt32(vi)+eps)
		}
		return
	}
	for i := range w {
		gi := f.at(g[i], w[i])
		mi := b1*m[i] + c1*gi
		vi := b2*v[i] + c2*gi*gi
		m[i], v[i] = mi, vi
		w[i] = w[i]*decay - alpha*mi/(sqrt32(vi)+eps)
	}
}

func (r *adamRule) config(m map[string]any, s *settings) {
	m["beta_1"] = s.beta1
	m["beta_2"] = s.beta2
	m["epsilon"] = s.epsilon
	m["amsgrad"] = s.amsgrad
}

// sqrt32 compiles to one SQRTSD; the float64 round trip is exact for float32 inputs.
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
