package optim

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/deepframe/deepframe/tensor"
)

// State returns copies of the slots, keyed "<parameter name>/<slot>" (e.g. "fc_1/kernel/m"),
// and "iterations", an int64 scalar. The learning rate is not part of it: Config carries the
// current base rate exactly (a float32 tensor could not), and SetEpoch is the training loop's
// job. Resuming is FromConfig(saved config) then LoadState(saved state).
func (o *optimizer) State() map[string]*tensor.Tensor {
	it, _ := tensor.FromInt64([]int64{o.iter})
	out := map[string]*tensor.Tensor{"iterations": it}
	names := o.rule.slots()
	for _, name := range o.order {
		ps := o.byName[name]
		for i, t := range ps.slots {
			out[name+"/"+names[i]] = t.Clone()
		}
	}
	return out
}

// LoadState replaces all state with a copy of state. It checks everything before changing
// anything: unknown keys, slots of the wrong dtype, parameters with some slots missing or with
// slots of different shapes. Whether a slot fits its parameter's shape is checked when Step
// first meets the parameter.
func (o *optimizer) LoadState(state map[string]*tensor.Tensor) error {
	slotNames := o.rule.slots()
	var iter int64
	type entry struct{ slots []*tensor.Tensor }
	params := map[string]*entry{}
	for key, t := range state {
		if t == nil {
			return fmt.Errorf("optim: %s state: %q is nil", o.class, key)
		}
		if key == "iterations" {
			if t.Len() != 1 {
				return fmt.Errorf("optim: %s state: iterations has shape %v, want one element", o.class, t.Shape())
			}
			f := t.Float64Flat(0)
			if f < 0 || f != math.Trunc(f) {
				return fmt.Errorf("optim: %s state: iterations is %v, want a whole number >= 0", o.class, f)
			}
			iter = int64(f)
			continue
		}
		cut := strings.LastIndexByte(key, '/')
		slot := -1
		if cut > 0 {
			slot = slices.Index(slotNames, key[cut+1:])
		}
		if slot < 0 {
			return fmt.Errorf("optim: %s state: unexpected key %q (want \"iterations\" or \"<parameter>/<slot>\" with slot in %q)", o.class, key, slotNames)
		}
		if t.DType() != tensor.Float32 {
			return fmt.Errorf("optim: %s state: %q is %s, want float32", o.class, key, t.DType())
		}
		name := key[:cut]
		e := params[name]
		if e == nil {
			e = &entry{slots: make([]*tensor.Tensor, len(slotNames))}
			params[name] = e
		}
		e.slots[slot] = t
	}
	names := make([]string, 0, len(params))
	for name, e := range params {
		for i, t := range e.slots {
			if t == nil {
				return fmt.Errorf("optim: %s state: %s has no %q slot", o.class, name, slotNames[i])
			}
			if !t.Shape().Equal(e.slots[0].Shape()) {
				return fmt.Errorf("optim: %s state: %s/%s has shape %v but %s/%s has %v", o.class,
					name, slotNames[i], t.Shape(), name, slotNames[0], e.slots[0].Shape())
			}
		}
		names = append(names, name)
	}
	sort.Strings(names)

	o.iter = iter
	clear(o.byVar)
	clear(o.byName)
	o.order = names
	for _, name := range names {
		ps := &paramState{name: name}
		for _, t := range params[name].slots {
			ps.slots = append(ps.slots, t.Clone())
		}
		o.byName[name] = ps
	}
	return nil
}
