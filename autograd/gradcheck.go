package autograd

import (
	"errors"
	"fmt"
	"math"

	"github.com/deepframe/deepframe/tensor"
)

// GradCheckOptions tunes GradCheck; zero fields take the defaults.
type GradCheckOptions struct {
	// Eps is the finite-difference step (default 1e-2). float32 carries about 7 digits, so
	// a smaller step drowns the difference in rounding; inputs should keep at least Eps away
	// from kinks (ReLU at 0, ties in a max) or the check compares across them.
	Eps float64
	// RTol and ATol bound |analytic - numeric| <= ATol + RTol*|numeric| (defaults 1e-2 and
	// 1e-3).
	RTol, ATol float64
	// Seed draws the weights that reduce a non-scalar output to a scalar.
	Seed uint64
}

// GradCheck compares the gradients that Backward computes for f with central finite
// differences, like torch.autograd.gradcheck; write one for every custom op or layer. f maps
// Variables holding inputs (float32) to an output; a non-scalar output is reduced to the
// scalar Σ output·w with fixed random weights w from Seed, so every output element is
// checked. f must be deterministic (re-seed any RNG inside it) and must not modify its
// inputs.
//
// The differences evaluate f in float32 at x ± Eps, one element at a time, and accumulate
// the scalar in float64 so that elements the step does not change cancel exactly. The error
// names the input, the element, and both values.
func GradCheck(f func(inputs []*Variable) *Variable, inputs []*tensor.Tensor, opts GradCheckOptions) error {
	if f == nil {
		return errors.New("autograd: GradCheck: nil function")
	}
	if opts.Eps == 0 {
		opts.Eps = 1e-2
	}
	if opts.RTol == 0 {
		opts.RTol = 1e-2
	}
	if opts.ATol == 0 {
		opts.ATol = 1e-3
	}
	if !(opts.Eps > 0) || !(opts.RTol >= 0) || !(opts.ATol >= 0) {
		return fmt.Errorf("autograd: GradCheck: eps %g, rtol %g, atol %g: want eps > 0 and non-negative tolerances", opts.Eps, opts.RTol, opts.ATol)
	}
	work := make([]*tensor.Tensor, len(inputs))
	vars := make([]*Variable, len(inputs))
	for i, in := range inputs {
		if in == nil || in.DType() != tensor.Float32 {
			return fmt.Errorf("autograd: GradCheck: input %d is not a float32 tensor", i)
		}
		work[i] = in.Clone()
		vars[i] = NewVariable(in.Clone(), true)
		vars[i].Name = fmt.Sprintf("input %d", i)
	}

	out := f(vars)
	if out == nil {
		return errors.New("autograd: GradCheck: f returned nil")
	}
	if err := out.Err(); err != nil {
		return fmt.Errorf("autograd: GradCheck: f failed: %w", err)
	}
	outShape := out.Shape().Clone()
	w := tensor.Full(1, outShape...)
	if w.Len() != 1 {
		rng := tensor.NewRNG(opts.Seed)
		// Weights of magnitude 0.5..1.5 with random signs: none so small that an element's
		// error could hide, and mixed signs so that errors cannot cancel by symmetry.
		for i, ws := 0, w.Float32s(); i < len(ws); i++ {
			v := 0.5 + rng.Float32()
			if rng.Float32() < 0.5 {
				v = -v
			}
			ws[i] = v
		}
	}
	if !out.RequiresGrad() {
		return errors.New("autograd: GradCheck: f's output does not depend on its inputs")
	}
	if err := out.BackwardWith(w); err != nil {
		return fmt.Errorf("autograd: GradCheck: backward: %w", err)
	}

	eval := func() (float64, error) {
		consts := make([]*Variable, len(work))
		for i, t := range work {
			consts[i] = Constant(t)
		}
		o := f(consts)
		if o == nil {
			return 0, errors.New("autograd: GradCheck: f returned nil")
		}
		if err := o.Err(); err != nil {
			return 0, fmt.Errorf("autograd: GradCheck: f failed at a perturbed point: %w", err)
		}
		if !o.Shape().Equal(outShape) {
			return 0, fmt.Errorf("autograd: GradCheck: f's output shape changed from %v to %v", outShape, o.Shape())
		}
		s := 0.0
		ws := w.Float32s()
		for j, v := range o.Float32s() {
			s += float64(v) * float64(ws[j])
		}
		return s, nil
	}

	for i, x := range work {
		var analytic []float32
		if g := vars[i].Grad(); g != nil {
			analytic = g.Float32s()
		} else {
			analytic = make([]float32, x.Len())
		}
		xs := x.Float32s()
		bad, firstBad := 0, ""
		for j := range xs {
			orig := xs[j]
			xs[j] = orig + float32(opts.Eps)
			hi := xs[j]
			fp, err := eval()
			if err != nil {
				xs[j] = orig
				return err
			}
			xs[j] = orig - float32(opts.Eps)
			lo := xs[j]
			fm, err := eval()
			xs[j] = orig
			if err != nil {
				return err
			}
			// Divide by the step float32 actually took, not the one asked for.
			numeric := (fp - fm) / (float64(hi) - float64(lo))
			a := float64(analytic[j])
			if d := math.Abs(a - numeric); !(d <= opts.ATol+opts.RTol*math.Abs(numeric)) {
				bad++
				if firstBad == "" {
					firstBad = fmt.Sprintf("element %d %v (value %g): analytic %.6g vs numeric %.6g (|diff| %.3g > atol %g + rtol %g*|numeric|)",
						j, unflatten(j, x.Shape()), orig, a, numeric, d, opts.ATol, opts.RTol)
				}
			}
		}
		if bad > 0 {
			return fmt.Errorf("autograd: GradCheck: input %d of shape %v: %s; %d of %d elements differ", i, x.Shape(), firstBad, bad, len(xs))
		}
	}
	return nil
}

// unflatten turns a flat index into the multi-index an error message should show.
func unflatten(j int, s tensor.Shape) []int {
	idx := make([]int, len(s))
	for a := len(s) - 1; a >= 0; a-- {
		if s[a] > 0 {
			idx[a] = j % s[a]
			j /= s[a]
		}
	}
	return idx
}
