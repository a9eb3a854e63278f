package ml

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Params holds a stage's typed parameters. A stage declares each one with NewParam in its
// constructor and exposes Spark-style chained setters (SetInputCol(...) returning the stage).
// Setters cannot return errors without breaking the chain, so an invalid value is recorded and
// reported by Err, which Fit and Transform check first.
type Params struct {
	owner  string
	list   []param
	byName map[string]param
	err    error
}

type param interface {
	Name() string
	Doc() string
	IsSet() bool
	HasDefault() bool
	valueJSON() (json.RawMessage, error)
	setJSON(raw json.RawMessage) error
	describe() string
}

// NewParams starts the parameter set of the stage named owner (its uid, for messages).
func NewParams(owner string) *Params {
	return &Params{owner: owner, byName: map[string]param{}}
}

// Param is one typed parameter: a name (Spark's, e.g. "inputCol"), a doc line, an optional
// default and an optional validator.
type Param[T any] struct {
	name     string
	doc      string
	def      T
	hasDef   bool
	value    T
	set      bool
	validate func(T) error
	owner    *Params
}

// NewParam declares a parameter with a default value. validate may be nil.
func NewParam[T any](ps *Params, name, doc string, def T, validate func(T) error) *Param[T] {
	p := &Param[T]{name: name, doc: doc, def: def, hasDef: true, validate: validate, owner: ps}
	ps.add(p)
	return p
}

// NewRequiredParam declares a parameter without a default; Validate reports it until set.
func NewRequiredParam[T any](ps *Params, name, doc string, validate func(T) error) *Param[T] {
	p := &Param[T]{name: name, doc: doc, validate: validate, owner: ps}
	ps.add(p)
	return p
}

func (ps *Params) add(p param) {
	if _, dup := ps.byName[p.Name()]; dup {
		panic("ml: param " + p.Name() + " declared twice")
	}
	ps.list = append(ps.list, p)
	ps.byName[p.Name()] = p
}

func (p *Param[T]) Name() string     { return p.name }
func (p *Param[T]) Doc() string      { return p.doc }
func (p *Param[T]) IsSet() bool      { return p.set }
func (p *Param[T]) HasDefault() bool { return p.hasDef }

// Get returns the value set, else the default (the zero value for an unset required param).
func (p *Param[T]) Get() T {
	if p.set {
		return p.value
	}
	return p.def
}

// Set assigns v after validating it; an invalid value is recorded in the owner's Err and
// leaves the param unchanged.
func (p *Param[T]) Set(v T) {
	if p.validate != nil {
		if err := p.validate(v); err != nil {
			p.owner.fail(fmt.Errorf("param %s = %v: %w", p.name, v, err))
			return
		}
	}
	p.value, p.set = v, true
}

// Clear forgets the value set, restoring the default.
func (p *Param[T]) Clear() {
	var zero T
	p.value, p.set = zero, false
}

func (p *Param[T]) valueJSON() (json.RawMessage, error) { return marshalValue(p.Get()) }

func (p *Param[T]) setJSON(raw json.RawMessage) error {
	var v T
	handled, err := unmarshalSpecial(raw, &v)
	if !handled {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		err = dec.Decode(&v)
	}
	if err != nil {
		return fmt.Errorf("param %s: %w", p.name, err)
	}
	if p.validate != nil {
		if err := p.validate(v); err != nil {
			return fmt.Errorf("param %s = %v: %w", p.name, v, err)
		}
	}
	p.value, p.set = v, true
	return nil
}

func (p *Param[T]) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", p.name, p.doc)
	switch {
	case p.hasDef && p.set:
		fmt.Fprintf(&b, " (default: %v, current: %v)", p.def, p.value)
	case p.hasDef:
		fmt.Fprintf(&b, " (default: %v)", p.def)
	case p.set:
		fmt.Fprintf(&b, " (current: %v)", p.value)
	default:
		b.WriteString(" (undefined)")
	}
	return b.String()
}

func (ps *Params) fail(err error) {
	if ps.err == nil {
		ps.err = fmt.Errorf("%s: %w", ps.owner, err)
	}
}

// Err is the first invalid value given to a setter.
func (ps *Params) Err() error { return ps.err }

// Validate reports Err, else the first required param that has no value.
func (ps *Params) Validate() error {
	if ps.err != nil {
		return ps.err
	}
	for _, p := range ps.list {
		if !p.HasDefault() && !p.IsSet() {
			return fmt.Errorf("%s: param %s is required: %s", ps.owner, p.Name(), p.Doc())
		}
	}
	return nil
}

// Names lists the params in declaration order.
func (ps *Params) Names() []string {
	names := make([]string, len(ps.list))
	for i, p := range ps.list {
		names[i] = p.Name()
	}
	return names
}

// Explain describes every param with its doc, default and current value, like Spark's
// explainParams.
func (ps *Params) Explain() string {
	lines := make([]string, len(ps.list))
	for i, p := range ps.list {
		lines[i] = p.describe()
	}
	return strings.Join(lines, "\n")
}

// MarshalJSON writes every param that has a value (set or default) as one JSON object, so a
// saved stage does not change meaning if a later version changes a default.
func (ps *Params) MarshalJSON() ([]byte, error) {
	out := make(map[string]json.RawMessage, len(ps.list))
	for _, p := range ps.list {
		if !p.IsSet() && !p.HasDefault() {
			continue
		}
		raw, err := p.valueJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: param %s: %w", ps.owner, p.Name(), err)
		}
		out[p.Name()] = raw
	}
	return json.Marshal(out)
}

// Load sets params from what MarshalJSON wrote. An unknown name is an error that lists the
// stage's params.
func (ps *Params) Load(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: params: %w", ps.owner, err)
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p, ok := ps.byName[n]
		if !ok {
			return fmt.Errorf("%s: unknown param %q (params: %s)", ps.owner, n, strings.Join(ps.Names(), ", "))
		}
		if err := p.setJSON(m[n]); err != nil {
			return fmt.Errorf("%s: %w", ps.owner, err)
		}
	}
	return nil
}

// CopyParams gives dst every param that was set explicitly in src and that dst declares
// under the same name, as Spark's copyValues does when an Estimator hands its settings to the
// Model it fits. Defaults are not copied: dst keeps its own.
func CopyParams(dst, src *Params) error {
	for _, p := range src.list {
		if !p.IsSet() {
			continue
		}
		q, ok := dst.byName[p.Name()]
		if !ok {
			continue
		}
		raw, err := p.valueJSON()
		if err != nil {
			return fmt.Errorf("%s: param %s: %w", src.owner, p.Name(), err)
		}
		if err := q.setJSON(raw); err != nil {
			return fmt.Errorf("%s: %w", dst.owner, err)
		}
	}
	return nil
}

// OneOf validates that a value is one of the allowed ones.
func OneOf[T comparable](allowed ...T) func(T) error {
	return func(v T) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("want one of %v", allowed)
	}
}

// AtLeast validates v >= lo.
func AtLeast[T cmp.Ordered](lo T) func(T) error {
	return func(v T) error {
		if v < lo {
			return fmt.Errorf("want at least %v", lo)
		}
		return nil
	}
}

// InRange validates lo <= v <= hi.
func InRange[T cmp.Ordered](lo, hi T) func(T) error {
	return func(v T) error {
		if v < lo || v > hi {
			return fmt.Errorf("want a value in [%v, %v]", lo, hi)
		}
		return nil
	}
}

// NonEmpty validates a non-empty string.
func NonEmpty(v string) error {
	if v == "" {
		return fmt.Errorf("want a non-empty string")
	}
	return nil
}
