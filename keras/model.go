// Package keras is deepframe's Keras-style model API: Sequential and functional models made of
// layers, and the Compile / Fit / Evaluate / Predict / Summary workflow around them, with
// callbacks, progress output and TensorBoard logs.
//
//	model := keras.Sequential(
//		layers.Dense(100, layers.Activation("relu"), layers.InputShape(4), layers.Name("fc_1")),
//		layers.Dense(3, layers.Activation("softmax"), layers.Name("fc_2")),
//	)
//	model.Compile(optim.SGD(0.01), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy())
//	history, err := model.Fit(ctx, trainSet, keras.Epochs(50), keras.ValidationData(validSet))
//
// Making a model never fails loudly: an error met while wiring or building it (a shape that
// does not fit, a duplicate layer name) is kept and returned by Err and by every method that
// can fail, so a model definition reads as one expression.
//
// Layers are built (their weights created) when the model is made, from a generator derived
// from the seed set with SetRandomSeed and the layer's position in the model.
package keras

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/tensor"
)

// Model is a network of layers with its training configuration. Its methods may be called
// from several goroutines: Predict, Call with an inference context, GetWeights and Summary run
// concurrently with each other and with a Fit in progress (they see the weights between two
// training steps); Fit and Evaluate use the compiled metrics and run one at a time.
type Model struct {
	name  string
	class string // "Sequential" or "Functional"
	seed  uint64
	err   error
	g     *graph

	// Sequential models keep their layer list so Add can extend it.
	seq       []layers.Layer
	seqInput  tensor.Shape
	seqInName string

	// Functional models keep their symbolic ends for Config.
	inNodes, outNodes []*layers.Node

	// mu guards weight values: a training step and SetWeights hold it for writing, inference
	// for reading.
	mu sync.RWMutex

	compiled *compiled
	stop     atomic.Bool
	running  atomic.Bool
	epochs   int   // epochs trained across Fit calls; keys the shuffle streams
	steps    int64 // training steps across Fit calls; keys the dropout streams
	tb       *tensorBoardSettings
	params   []*autograd.Variable // reused by every step
	last     lastStep
}

// ModelOption configures NewModel.
type ModelOption func(*Model)

// ModelName names a functional model (default "model", "model_1", ...).
func ModelName(name string) ModelOption {
	return func(m *Model) {
		if name == "" {
			m.fail(errors.New("ModelName: empty name"))
			return
		}
		m.name = name
	}
}

var (
	modelNamesMu sync.Mutex
	modelNames   = map[string]int{}
)

// autoName numbers default model names as Keras does: sequential, sequential_1, ...
func autoName(base string) string {
	modelNamesMu.Lock()
	defer modelNamesMu.Unlock()
	n := modelNames[base]
	modelNames[base] = n + 1
	if n == 0 {
		return base
	}
	return fmt.Sprintf("%s_%d", base, n)
}

// Sequential makes a model that applies ls in order. The first element declares the input
// shape: either a layer given layers.InputShape(...), or keras.InputLayer(shape...) followed by
// the layers. A Sequential model with no layers yet is valid; Add extends it.
func Sequential(ls ...layers.Layer) *Model {
	return newSequential(autoName("sequential"), ls)
}

func newSequential(name string, ls []layers.Layer) *Model {
	m := &Model{name: name, class: "Sequential", seed: RandomSeed()}
	m.seq = append(m.seq, ls...)
	m.rebuildSequential()
	return m
}

// Add appends a layer to a Sequential model, as model.add in Keras. An error (a shape that
// does not fit, a layer added to a functional model) is kept and reported like any
// construction error.
func (m *Model) Add(l layers.Layer) {
	if m.err != nil {
		return
	}
	if m.class != "Sequential" {
		m.fail(errors.New("Add works on Sequential models only"))
		return
	}
	if m.running.Load() {
		m.fail(errors.New("Add called while Fit is running"))
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq = append(m.seq, l)
	m.rebuildSequential()
}

func (m *Model) fail(err error) {
	if m.err == nil && err != nil {
		m.err = fmt.Errorf("keras: model %q: %w", m.name, err)
	}
}

func (m *Model) rebuildSequential() {
	ls := m.seq
	for i, l := range ls {
		if l == nil {
			m.fail(fmt.Errorf("layer %d is nil", i))
			return
		}
	}
	if len(ls) == 0 {
		return
	}
	var in tensor.Shape
	inName := ""
	if isInputLayer(ls[0]) {
		if err := ls[0].Err(); err != nil {
			m.fail(err)
			return
		}
		in, inName = declaredInputShape(ls[0]), ls[0].Name()
		ls = ls[1:]
	} else {
		in = declaredInputShape(ls[0])
		inName = ls[0].Name() + "_input"
		if in == nil {
			m.fail(fmt.Errorf("the first layer %s (%s) has no input shape: give it layers.InputShape(...) or start the model with keras.InputLayer(...)", ls[0].Name(), ls[0].ClassName()))
			return
		}
	}
	for _, l := range ls {
		if isInputLayer(l) {
			m.fail(fmt.Errorf("input layer %s must come first", l.Name()))
			return
		}
	}
	m.seqInput, m.seqInName = in.Clone(), inName
	if len(ls) == 0 {
		return
	}
	node := &layers.Node{Shape: in.Clone()}
	start := node
	for _, l := range ls {
		node = &layers.Node{Layer: l, Inputs: []*layers.Node{node}}
	}
	g, err := buildGraph([]*layers.Node{start}, []*layers.Node{node}, []string{inName}, m.seed)
	if err != nil {
		m.fail(err)
		return
	}
	m.g = g
}

// NewModel makes a functional model: the layers between inputs (made with keras.Input) and
// outputs (made by applying layers to nodes), as keras.Model(inputs, outputs). Layers applied
// more than once share their weights.
func NewModel(inputs, outputs []*layers.Node, opts ...ModelOption) *Model {
	m := &Model{class: "Functional", seed: RandomSeed()}
	for _, o := range opts {
		if o != nil {
			o(m)
		}
	}
	if m.name == "" {
		m.name = autoName("model")
	}
	if m.err != nil {
		return m
	}
	m.inNodes = append([]*layers.Node(nil), inputs...)
	m.outNodes = append([]*layers.Node(nil), outputs...)
	g, err := buildGraph(inputs, outputs, nil, m.seed)
	if err != nil {
		m.fail(err)
		return m
	}
	m.g = g
	return m
}

// Name is the model's name, shown by Summary.
func (m *Model) Name() string { return m.name }

// SetName renames the model.
func (m *Model) SetName(name string) {
	if name != "" {
		m.name = name
	}
}

// Err is the first error met while making the model, or nil.
func (m *Model) Err() error { return m.err }

// ready returns the model's graph, or why it cannot run.
func (m *Model) ready() (*graph, error) {
	if m.err != nil {
		return nil, m.err
	}
	if m.g == nil {
		return nil, fmt.Errorf("keras: model %q has no layers yet", m.name)
	}
	return m.g, nil
}

// Call runs the model forward on a batch, one Variable per model input (batch axis first),
// and returns one Variable per output. ctx decides training behaviour and whether gradients
// are recorded. Errors name the layer that failed.
func (m *Model) Call(ctx *layers.Context, inputs []*autograd.Variable) ([]*autograd.Variable, error) {
	g, err := m.ready()
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return g.forward(ctx, m.name, inputs)
}

// Layers lists the model's computing layers (not its inputs) in the order they are first
// called.
func (m *Model) Layers() []layers.Layer {
	if m.g == nil {
		return nil
	}
	return append([]layers.Layer(nil), m.g.layers...)
}

// Layer finds a layer by name.
func (m *Model) Layer(name string) (layers.Layer, error) {
	if _, err := m.ready(); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(m.g.layers))
	for _, l := range m.g.layers {
		if l.Name() == name {
			return l, nil
		}
		names = append(names, l.Name())
	}
	return nil, fmt.Errorf("keras: model %q has no layer named %q (layers: %s)", m.name, name, strings.Join(names, ", "))
}

// InputShapes are the shapes of one sample of each input, without the batch axis.
func (m *Model) InputShapes() []tensor.Shape {
	if m.g == nil {
		if m.seqInput != nil {
			return []tensor.Shape{m.seqInput.Clone()}
		}
		return nil
	}
	out := make([]tensor.Shape, len(m.g.inputs))
	for i, n := range m.g.inputs {
		out[i] = m.g.nodes[n].shape.Clone()
	}
	return out
}

// OutputShapes are the shapes of one sample of each output, without the batch axis.
func (m *Model) OutputShapes() []tensor.Shape {
	if m.g == nil {
		return nil
	}
	out := make([]tensor.Shape, len(m.g.outputs))
	for i, n := range m.g.outputs {
		out[i] = m.g.nodes[n].shape.Clone()
	}
	return out
}

// InputNames are the names of the model's inputs, in order.
func (m *Model) InputNames() []string {
	if m.g == nil {
		return nil
	}
	out := make([]string, len(m.g.inputs))
	for i, n := range m.g.inputs {
		out[i] = m.g.nodes[n].name
	}
	return out
}

// OutputNames are the names of the layers that produce the model's outputs, in order.
func (m *Model) OutputNames() []string {
	if m.g == nil {
		return nil
	}
	out := make([]string, len(m.g.outputs))
	for i, n := range m.g.outputs {
		out[i] = m.g.nodes[n].name
	}
	return out
}

// Weights lists every weight of the model, layer by layer, in Keras's order (that of
// model.weights and get_weights).
func (m *Model) Weights() []*layers.Weight {
	if m.g == nil {
		return nil
	}
	return append([]*layers.Weight(nil), m.g.weights...)
}

// TrainableWeights lists the weights training updates: trainable weights of layers that are
// not frozen.
func (m *Model) TrainableWeights() []*layers.Weight {
	var ws []*layers.Weight
	for _, w := range m.Weights() {
		if w.Updatable() {
			ws = append(ws, w)
		}
	}
	return ws
}

// NonTrainableWeights lists the other weights: moving statistics and frozen layers' weights.
func (m *Model) NonTrainableWeights() []*layers.Weight {
	var ws []*layers.Weight
	for _, w := range m.Weights() {
		if !w.Updatable() {
			ws = append(ws, w)
		}
	}
	return ws
}

// CountParams returns the number of weight elements in all, and in trainable weights.
func (m *Model) CountParams() (total, trainable int) {
	for _, w := range m.Weights() {
		n := w.Value().Len()
		total += n
		if w.Updatable() {
			trainable += n
		}
	}
	return total, trainable
}

// GetWeights returns copies of every weight's value, in the order of Weights.
func (m *Model) GetWeights() []*tensor.Tensor {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ws := m.Weights()
	out := make([]*tensor.Tensor, len(ws))
	for i, w := range ws {
		out[i] = w.Value().Clone()
	}
	return out
}

// SetWeights replaces every weight's value with a copy of values[i], in the order of Weights.
// It checks all of them first, so on error no weight has changed.
func (m *Model) SetWeights(values []*tensor.Tensor) error {
	if _, err := m.ready(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ws := m.Weights()
	if len(values) != len(ws) {
		return fmt.Errorf("keras: SetWeights: model %q has %d weights, got %d values", m.name, len(ws), len(values))
	}
	for i, w := range ws {
		v := values[i]
		if v == nil {
			return fmt.Errorf("keras: SetWeights: value %d for weight %s is nil", i, w.Name)
		}
		cur := w.Value()
		if !v.Shape().Equal(cur.Shape()) || v.DType() != cur.DType() {
			return fmt.Errorf("keras: SetWeights: weight %s has shape %v (%s), got a value of shape %v (%s)", w.Name, cur.Shape(), cur.DType(), v.Shape(), v.DType())
		}
	}
	for i, w := range ws {
		if err := w.Value().CopyFrom(values[i]); err != nil {
			return fmt.Errorf("keras: SetWeights: weight %s: %w", w.Name, err)
		}
	}
	return nil
}

func sortedKeys[V any](mp map[string]V) []string {
	ks := make([]string, 0, len(mp))
	for k := range mp {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
