package optim

import (
	"fmt"
	"math"
	"strconv"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// rule is the part of an optimizer that differs between algorithms: its slots and its fused
// per-parameter update. Everything else (clipping, schedules, state, counting) is shared.
type rule interface {
	// slots names the per-parameter buffers, in the order apply receives them.
	slots() []string
	// slotInit is the value slot i starts at.
	slotInit(i int) float32
	// prepare computes the per-step constants for step t (1-based) at learning rate lr, so that
	// apply does no float64 math per parameter.
	prepare(lr float64, t int64)
	// apply updates w in place from the raw gradient g; f turns raw into effective gradient
	// elements (clipping, scaling, coupled weight decay) inside the same pass.
	apply(w, g []float32, slots [][]float32, f gradFn)
	// config adds the algorithm's hyperparameters to a saved config. They come from the
	// float64 settings, not the float32 copies the loops use, so a config round-trips exactly.
	config(m map[string]any, s *settings)
}

// gradFn maps one raw gradient element to the one the update uses. Doing this inside each
// optimizer's loop, instead of writing a clipped copy first, keeps an update to one pass over
// memory and leaves the caller's gradient untouched (gradient histograms still see it).
type gradFn struct {
	lo, hi float32 // clamp bounds; ±Inf when ClipValue is off
	scale  float32 // norm clipping
	wd     float32 // coupled weight decay
}

// plain reports that at returns g unchanged (no clipping, no scaling, no coupled decay), so
// rules can run a tighter loop: the common case, and the one small models are bound by.
func (f gradFn) plain() bool {
	return math.IsInf(float64(f.lo), -1) && math.IsInf(float64(f.hi), 1) && f.scale == 1 && f.wd == 0
}

func (f gradFn) at(g, w float32) float32 {
	// Plain comparisons rather than min/max: the branches are never taken without ClipValue,
	// so they predict perfectly, and a NaN gradient passes through to show up in the weights.
	if g < f.lo {
		g = f.lo
	}
	if g > f.hi {
		g = f.hi
	}
	return g*f.scale + f.wd*w
}

type paramState struct {
	name  string
	v     *autograd.Variable // nil while restored state waits for its parameter
	slots []*tensor.Tensor
	data  [][]float32
	scale float32 // per-parameter clip factor for the step in progress
	mark  uint64  // the Step call that last met this state, to catch duplicates

	// views[j] is data cut to range j of a parallel update. They are built once per range
	// count rather than per Step: a rule's apply is an interface call, so any slot list made
	// on the fly for it would escape to the heap.
	views [][][]float32
}

// rangeViews returns the slot views for an update of n elements in parts ranges, cut as
// updateTask.Run cuts the parameter.
func (ps *paramState) rangeViews(n, parts int) [][][]float32 {
	if len(ps.views) == parts {
		return ps.views
	}
	k := len(ps.data)
	flat := make([][]float32, parts*k)
	ps.views = make([][][]float32, parts)
	for j := range parts {
		a, b := j*n/parts, (j+1)*n/parts
		v := flat[j*k : (j+1)*k : (j+1)*k]
		for i, d := range ps.data {
			v[i] = d[a:b:b]
		}
		ps.views[j] = v
	}
	return ps.views
}

// updateGrain is the smallest share of a parameter worth a hand-off to another thread. The
// update streams four or five arrays with a few flops per element, so below this the
// hand-off costs about what the split saves.
const updateGrain = 1 << 15

// updateParts is how many ranges a parameter of n elements is updated in (1: inline).
func updateParts(threads, n int) int {
	if n < 2*updateGrain {
		return 1
	}
	return max(1, min(threads, n/updateGrain))
}

// updateTask runs a rule over ranges of one parameter. It lives in the optimizer and is
// refilled per parameter, so handing it to the worker pool allocates nothing. Every rule is
// element-wise, so the result is the same whatever the ranges are.
type updateTask struct {
	rule  rule
	w, g  []float32
	views [][][]float32
	f     gradFn
}

// Run updates ranges lo..hi-1 (range indices, not elements), so that each range meets its own
// precomputed slot views.
func (t *updateTask) Run(lo, hi int) {
	n, parts := len(t.w), len(t.views)
	for j := lo; j < hi; j++ {
		a, b := j*n/parts, (j+1)*n/parts
		t.rule.apply(t.w[a:b], t.g[a:b], t.views[j], t.f)
	}
}

// optimizer implements Optimizer for every algorithm around a rule.
type optimizer struct {
	class     string
	rule      rule
	s         settings
	coupledWD float32
	lr        float64
	iter      int64
	epoch     int
	err       error
	serial    uint64 // counts Step calls, failed ones included

	byVar  map[*autograd.Variable]*paramState
	byName map[string]*paramState
	order  []string // names in first-seen order, so State lists are stable
	work   []*paramState
	task   updateTask
}

func newOptimizer(class string, lr float64, s settings, r rule, coupledWD float64, err error) *optimizer {
	return &optimizer{
		class:     class,
		rule:      r,
		s:         s,
		coupledWD: float32(coupledWD),
		lr:        lr,
		err:       err,
		byVar:     map[*autograd.Variable]*paramState{},
		byName:    map[string]*paramState{},
	}
}

// Err returns the error recorded when an optimizer was built with bad hyperparameters or
// options (nil when it is usable). Step returns the same error, so a training loop needs no
// separate check; Err lets code that builds an optimizer fail early. It returns nil for
// optimizers defined outside this package.
func Err(o Optimizer) error {
	if e, ok := o.(interface{ Err() error }); ok {
		return e.Err()
	}
	return nil
}

// BaseLearningRate is the rate schedules scale (what SetLearningRate sets), as opposed to
// LearningRate, which is the rate after the schedule. For optimizers defined outside this
// package it falls back to LearningRate.
func BaseLearningRate(o Optimizer) float64 {
	if b, ok := o.(interface{ BaseLearningRate() float64 }); ok {
		return b.BaseLearningRate()
	}
	return o.LearningRate()
}

func (o *optimizer) Err() error                { return o.err }
func (o *optimizer) BaseLearningRate() float64 { return o.lr }
func (o *optimizer) Iterations() int64         { return o.iter }
func (o *optimizer) SetEpoch(epoch int)        { o.epoch = epoch }

func (o *optimizer) SetLearningRate(lr float64) { o.lr = lr }

func (o *optimizer) LearningRate() float64 {
	if o.s.schedule == nil {
		return o.lr
	}
	return o.s.schedule.Rate(o.lr, o.iter, o.epoch)
}

func (o *optimizer) String() string {
	return fmt.Sprintf("%s(lr=%g)", o.class, o.lr)
}

// Step applies one update. It checks every parameter before changing any, so a failed Step
// leaves parameters and state as they were.
func (o *optimizer) Step(params []*autograd.Variable) error {
	if o.err != nil {
		return o.err
	}
	lr := o.LearningRate()
	if !finite(lr) || lr < 0 {
		return fmt.Errorf("optim: %s: learning rate %v at iteration %d (base %v): must be a finite number >= 0", o.class, lr, o.iter, o.lr)
	}
	clipNorm, globalNorm := o.s.clipNorm, o.s.globalClipNorm
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if o.s.clipValue > 0 {
		lo, hi = -float32(o.s.clipValue), float32(o.s.clipValue)
	}
	o.serial++
	o.work = o.work[:0]
	var total float64 // squared global norm after per-parameter clipping
	for i, p := range params {
		if p == nil {
			return fmt.Errorf("optim: %s: parameter %d is nil", o.class, i)
		}
		g := p.Grad()
		if g == nil {
			continue
		}
		ps, err := o.bind(p, i)
		if err != nil {
			return err
		}
		w := p.Value()
		if w == nil || w.DType() != tensor.Float32 || g.DType() != tensor.Float32 {
			return fmt.Errorf("optim: %s: parameter %s must hold float32 values and gradients", o.class, ps.name)
		}
		if g.Len() != w.Len() || len(ps.data) > 0 && len(ps.data[0]) != w.Len() {
			return fmt.Errorf("optim: %s: parameter %s has shape %v but its gradient has %v and its state %v",
				o.class, ps.name, w.Shape(), g.Shape(), stateShape(ps))
		}
		ps.scale = 1
		if clipNorm > 0 || globalNorm > 0 {
			ss := sumSquares(g.Float32s(), lo, hi)
			if clipNorm > 0 && ss > clipNorm*clipNorm {
				ps.scale = float32(clipNorm / math.Sqrt(ss))
				ss = clipNorm * clipNorm
			}
			total += ss
		}
		o.work = append(o.work, ps)
	}
	gscale := float32(1)
	if globalNorm > 0 && total > globalNorm*globalNorm {
		gscale = float32(globalNorm / math.Sqrt(total))
	}
	o.iter++
	o.rule.prepare(lr, o.iter)
	threads := backend.NumThreads()
	for _, ps := range o.work {
		f := gradFn{lo: lo, hi: hi, scale: ps.scale * gscale, wd: o.coupledWD}
		w, g := ps.v.Value().Float32s(), ps.v.Grad().Float32s()
		parts := updateParts(threads, len(w))
		if parts <= 1 {
			o.rule.apply(w, g, ps.data, f)
			continue
		}
		o.task = updateTask{rule: o.rule, w: w, g: g, views: ps.rangeViews(len(w), parts), f: f}
		backend.ParallelFor(parts, 1, &o.task)
	}
	o.task = updateTask{} // so the optimizer does not keep a dropped parameter alive
	return nil
}

func stateShape(ps *paramState) any {
	if len(ps.slots) == 0 {
		return "(none)"
	}
	return ps.slots[0].Shape()
}

// sumSquares is the squared L2 norm of g after clamping to [lo, hi] (ClipValue comes first, so
// norms measure what the update will see).
func sumSquares(g []float32, lo, hi float32) float64 {
	var s float64
	for _, x := range g {
		if x < lo {
			x = lo
		}
		if x > hi {
			x = hi
		}
		s += float64(x) * float64(x)
	}
	return s
}

// bind finds or creates the state of p. State is keyed by name so it survives a save and load;
// the pointer map only makes the lookup cheap on later steps.
func (o *optimizer) bind(p *autograd.Variable, index int) (*paramState, error) {
	if ps, ok := o.byVar[p]; ok {
		if ps.mark == o.serial {
			return nil, fmt.Errorf("optim: %s: parameter %s appears twice in one Step", o.class, ps.name)
		}
		ps.mark = o.serial
		return ps, nil
	}
	name := p.Name
	if name == "" {
		// Unnamed variables still train; their state is keyed by position, which is stable
		// because Step requires the same order every call.
		name = "param_" + strconv.Itoa(index)
	}
	ps, ok := o.byName[name]
	switch {
	case ok && ps.v != nil && ps.mark == o.serial:
		return nil, fmt.Errorf("optim: %s: two parameters are named %q; optimizer state is keyed by name", o.class, name)
	case ok:
		// Restored state, or state of a variable that has been replaced (a rebuilt model):
		// it moves to this variable if the shapes agree.
		if len(ps.slots) > 0 && !ps.slots[0].Shape().Equal(p.Value().Shape()) {
			return nil, fmt.Errorf("optim: %s: state for %s has shape %v, but the parameter has shape %v",
				o.class, name, ps.slots[0].Shape(), p.Value().Shape())
		}
		if ps.v != nil {
			delete(o.byVar, ps.v)
		}
	default:
		ps = &paramState{name: name}
		for i := range o.rule.slots() {
			t := tensor.Zeros(p.Value().Shape()...)
			if v := o.rule.slotInit(i); v != 0 {
				t.Fill(v)
			}
			ps.slots = append(ps.slots, t)
		}
		o.byName[name] = ps
		o.order = append(o.order, name)
	}
	ps.v = p
	ps.mark = o.serial
	ps.data = ps.data[:0]
	ps.views = nil
	for _, t := range ps.slots {
		ps.data = append(ps.data, t.Float32s())
	}
	o.byVar[p] = ps
	return ps, nil
}

// Config describes the optimizer; FromConfig rebuilds it. learning_rate is the current base
// rate (after any SetLearningRate, e.g. by ReduceOnPlateau), so a saved model resumes at the
// rate it stopped at.
func (o *optimizer) Config() Config {
	m := map[string]any{"learning_rate": o.lr, "weight_decay": o.s.weightDecay}
	o.rule.config(m, &o.s)
	if o.s.clipNorm != 0 {
		m["clipnorm"] = o.s.clipNorm
	}
	if o.s.globalClipNorm != 0 {
		m["global_clipnorm"] = o.s.globalClipNorm
	}
	if o.s.clipValue != 0 {
		m["clipvalue"] = o.s.clipValue
	}
	if o.s.schedule != nil {
		m["schedule"] = o.s.schedule.Config()
	}
	return Config{ClassName: o.class, Config: m}
}
