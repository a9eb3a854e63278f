package keras

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/tensor"
)

// graph is a model's layers wired as a DAG, in an order where every node follows its inputs.
// Sequential models are graphs too (a chain), so one forward pass serves both kinds.
type graph struct {
	nodes   []gnode
	inputs  []int            // node index of each model input, in the model's input order
	outputs []int            // node index of each model output
	layers  []layers.Layer   // computing layers, each once, in order of first call
	weights []*layers.Weight // every layer's weights in Keras order, fixed once built
	// lastUse is the index of the last node that reads node i (len(nodes) for outputs), so a
	// forward pass can drop activations nobody will read again.
	lastUse []int
	// feeds reports whether node i is read by another node; an output that is not may be
	// computed as logits for a fused loss.
	feeds []bool
	// outputAt is the output index of node i, or -1.
	outputAt []int
	// random reports whether node i's layer may draw random numbers (see drawsRandom).
	random    []bool
	anyRandom bool

	// train is the training step's scratch, reused by every step; the model's write lock
	// guards it. passes holds the scratch of inference passes, which may run concurrently.
	train  *pass
	passes sync.Pool
	// noArena makes training allocate from the heap as if arenas did not exist; tests compare
	// the two.
	noArena bool
}

// pass is the scratch of one forward (and, in training, backward) pass over the graph: the
// arena its ops allocate from and the slices the pass fills. A pass is reused from one step to
// the next, so a steady training step allocates none of it.
type pass struct {
	arena    *autograd.Arena // nil: ops allocate from the heap
	ins      []*autograd.Variable
	vals     []*autograd.Variable
	args     [][]*autograd.Variable // each node's inputs
	outs     []*autograd.Variable
	isLogits []bool
	outLoss  []float64
	ctx      layers.Context // the context a training step or an inference batch passes
	nodeCtx  layers.Context // the per-node context forwardLogits derives from it
	rngs     stepRNGs       // the step's and each random layer call's generators
}

func (g *graph) newPass(withArena bool) *pass {
	p := &pass{
		ins:      make([]*autograd.Variable, len(g.inputs)),
		vals:     make([]*autograd.Variable, len(g.nodes)),
		args:     make([][]*autograd.Variable, len(g.nodes)),
		outs:     make([]*autograd.Variable, len(g.outputs)),
		isLogits: make([]bool, len(g.outputs)),
		outLoss:  make([]float64, len(g.outputs)),
	}
	for j := range g.nodes {
		p.args[j] = make([]*autograd.Variable, len(g.nodes[j].inputs))
	}
	if withArena {
		p.arena = autograd.NewArena()
	}
	return p
}

// trainPass is the training step's pass; the caller holds the model's write lock.
func (g *graph) trainPass() *pass {
	if g.train == nil || (g.train.arena == nil) != g.noArena {
		g.train = g.newPass(!g.noArena)
	}
	return g.train
}

// getPass returns a pass with an arena for an inference batch; putPass returns it once
// nothing it holds is used any more.
func (g *graph) getPass() *pass {
	if p, ok := g.passes.Get().(*pass); ok {
		return p
	}
	return g.newPass(true)
}

func (g *graph) putPass(p *pass) {
	p.release()
	g.passes.Put(p)
}

// release ends the pass: the arena recycles everything, and the slices let go of the step's
// variables (and through them of the caller's batch) until the next pass.
func (p *pass) release() {
	if p.arena != nil {
		p.arena.Reset()
	}
	clear(p.ins)
	clear(p.vals)
	for _, a := range p.args {
		clear(a)
	}
	clear(p.outs)
	clear(p.ctx.Losses)
	clear(p.nodeCtx.Losses)
	p.ctx = layers.Context{Losses: p.ctx.Losses[:0]}
	p.nodeCtx = layers.Context{Losses: p.nodeCtx.Losses[:0]}
}

// drawsRandom reports whether layer l may read the random generators of its context. The
// built-in layers that never do are listed; any other layer (Dropout, a custom layer) is
// assumed to. Generators cost allocations, so a step whose layers draw nothing makes none;
// the streams are keyed by step and node alone, so skipping them changes no other layer's
// numbers.
func drawsRandom(l layers.Layer) bool {
	switch l.(type) {
	case *layers.InputLayer, *layers.DenseLayer, *layers.ActivationLayer, *layers.FlattenLayer,
		*layers.ReshapeLayer, *layers.Conv2DLayer, *layers.Pooling2DLayer, *layers.GlobalPooling2DLayer,
		*layers.BatchNormalizationLayer, *layers.EmbeddingLayer, *layers.ConcatenateLayer, *layers.AddLayer:
		return false
	}
	return true
}

type gnode struct {
	layer  layers.Layer // nil for a model input
	name   string       // the layer's name, or the input's
	class  string       // the layer's class, "InputLayer" for an input
	inputs []int
	shape  tensor.Shape // output shape without the batch axis
	call   int          // which call of layer this node is, as Keras's node index
}

// buildGraph orders the nodes reachable from outs, checks them, and builds every layer that is
// not built yet with a generator derived from seed and the layer's position.
func buildGraph(ins, outs []*layers.Node, inNames []string, seed uint64) (*graph, error) {
	if len(ins) == 0 {
		return nil, errors.New("a model needs at least one input")
	}
	if len(outs) == 0 {
		return nil, errors.New("a model needs at least one output")
	}
	g := &graph{}
	index := make(map[*layers.Node]int)
	names := make(map[string]layers.Layer)
	claim := func(name string, l layers.Layer) error {
		if prev, ok := names[name]; ok && (prev != l || l == nil) {
			return fmt.Errorf("two layers are named %q; layer names must be unique within a model", name)
		}
		names[name] = l
		return nil
	}
	for i, n := range ins {
		if n == nil {
			return nil, fmt.Errorf("input %d is nil", i)
		}
		if err := n.Err(); err != nil {
			return nil, err
		}
		if len(n.Inputs) != 0 {
			return nil, fmt.Errorf("input %d is the output of layer %s, not an input (make inputs with keras.Input)", i, layerName(n.Layer))
		}
		if _, dup := index[n]; dup {
			return nil, fmt.Errorf("input %d is given twice", i)
		}
		if err := checkInputShape(n.Shape); err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
		name := ""
		switch {
		case i < len(inNames) && inNames[i] != "":
			name = inNames[i]
		case n.Layer != nil:
			name = n.Layer.Name()
		default:
			name = fmt.Sprintf("input_%d", i+1)
		}
		if err := claim(name, nil); err != nil {
			return nil, err
		}
		index[n] = len(g.nodes)
		g.inputs = append(g.inputs, len(g.nodes))
		g.nodes = append(g.nodes, gnode{layer: nil, name: name, class: "InputLayer", shape: n.Shape.Clone()})
	}

	layerIndex := make(map[layers.Layer]int)
	calls := make(map[layers.Layer]int)
	// Depth-first, post-order, iterative: each node is placed once all its inputs are.
	const (
		unseen = iota
		onStack
	)
	state := make(map[*layers.Node]int)
	type frame struct {
		n    *layers.Node
		next int
	}
	for oi, out := range outs {
		if out == nil {
			return nil, fmt.Errorf("output %d is nil", oi)
		}
		if err := out.Err(); err != nil {
			return nil, err
		}
		stack := []frame{{n: out}}
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			n := top.n
			if _, done := index[n]; done {
				stack = stack[:len(stack)-1]
				continue
			}
			if top.next == 0 {
				if len(n.Inputs) == 0 {
					return nil, fmt.Errorf("output %d is an input %s that is not one of the model's inputs", oi, describeInput(n))
				}
				if n.Layer == nil {
					return nil, errors.New("a node with inputs has no layer")
				}
				state[n] = onStack
			}
			if top.next < len(n.Inputs) {
				in := n.Inputs[top.next]
				top.next++
				if in == nil {
					return nil, fmt.Errorf("layer %s: input %d is nil", n.Layer.Name(), top.next-1)
				}
				if _, done := index[in]; done {
					continue
				}
				if len(in.Inputs) == 0 {
					return nil, fmt.Errorf("layer %s reads an input %s that is not one of the model's inputs", n.Layer.Name(), describeInput(in))
				}
				if state[in] == onStack {
					return nil, fmt.Errorf("layer %s: its inputs form a cycle", n.Layer.Name())
				}
				stack = append(stack, frame{n: in})
				continue
			}
			stack = stack[:len(stack)-1]
			state[n] = unseen
			gn, err := placeNode(n, g, index)
			if err != nil {
				return nil, err
			}
			l := n.Layer
			if _, ok := layerIndex[l]; !ok {
				if err := claim(l.Name(), l); err != nil {
					return nil, err
				}
				layerIndex[l] = len(g.layers)
				g.layers = append(g.layers, l)
			}
			gn.call = calls[l]
			calls[l]++
			index[n] = len(g.nodes)
			g.nodes = append(g.nodes, gn)
		}
		g.outputs = append(g.outputs, index[out])
	}

	for i, l := range g.layers {
		if l.Built() {
			continue
		}
		var first *gnode
		for j := range g.nodes {
			if g.nodes[j].layer == l {
				first = &g.nodes[j]
				break
			}
		}
		shapes := make([]tensor.Shape, len(first.inputs))
		for k, in := range first.inputs {
			shapes[k] = g.nodes[in].shape.Clone()
		}
		if err := l.Build(shapes, layerRNG(seed, i)); err != nil {
			return nil, layerError(l, "building", err)
		}
	}
	seen := make(map[string]bool)
	for _, l := range g.layers {
		for _, w := range l.Weights() {
			if seen[w.Name] {
				return nil, fmt.Errorf("two weights are named %q; weight names key saved models and must be unique", w.Name)
			}
			seen[w.Name] = true
			g.weights = append(g.weights, w)
		}
	}

	g.lastUse = make([]int, len(g.nodes))
	g.feeds = make([]bool, len(g.nodes))
	for i := range g.nodes {
		for _, in := range g.nodes[i].inputs {
			g.lastUse[in] = i
			g.feeds[in] = true
		}
	}
	for _, o := range g.outputs {
		g.lastUse[o] = len(g.nodes)
	}
	g.outputAt = make([]int, len(g.nodes))
	for i := range g.outputAt {
		g.outputAt[i] = -1
	}
	for i, o := range g.outputs {
		g.outputAt[o] = i
	}
	g.random = make([]bool, len(g.nodes))
	for j := range g.nodes {
		if l := g.nodes[j].layer; l != nil && drawsRandom(l) {
			g.random[j], g.anyRandom = true, true
		}
	}
	return g, nil
}

// placeNode checks one computing node whose inputs are already placed and infers its shape.
func placeNode(n *layers.Node, g *graph, index map[*layers.Node]int) (gnode, error) {
	l := n.Layer
	if err := n.Err(); err != nil {
		return gnode{}, err
	}
	if err := l.Err(); err != nil {
		return gnode{}, layerError(l, "", err)
	}
	gn := gnode{layer: l, name: l.Name(), class: l.ClassName(), inputs: make([]int, len(n.Inputs))}
	shapes := make([]tensor.Shape, len(n.Inputs))
	for k, in := range n.Inputs {
		gn.inputs[k] = index[in]
		shapes[k] = g.nodes[gn.inputs[k]].shape.Clone()
	}
	out, err := l.ComputeOutputShape(shapes)
	if err != nil {
		return gnode{}, layerError(l, "", err)
	}
	gn.shape = out.Clone()
	return gn, nil
}

func checkInputShape(s tensor.Shape) error {
	for i, d := range s {
		if d < -1 {
			return fmt.Errorf("shape %v has dimension %d at axis %d (want a size, or -1 for any)", []int(s), d, i)
		}
	}
	return nil
}

func layerName(l layers.Layer) string {
	if l == nil {
		return "(none)"
	}
	return fmt.Sprintf("%s (%s)", l.Name(), l.ClassName())
}

func describeInput(n *layers.Node) string {
	if n.Layer != nil {
		return fmt.Sprintf("%s of shape %v", n.Layer.Name(), batchShape(n.Shape))
	}
	return fmt.Sprintf("of shape %v", batchShape(n.Shape))
}

// layerError prefixes err with the layer's name and class unless the message already names
// the layer (Base records construction errors that way), so messages never stutter.
func layerError(l layers.Layer, doing string, err error) error {
	if strings.Contains(err.Error(), "layer "+l.Name()) {
		return err
	}
	if doing != "" {
		return fmt.Errorf("%s layer %s (%s): %w", doing, l.Name(), l.ClassName(), err)
	}
	return fmt.Errorf("layer %s (%s): %w", l.Name(), l.ClassName(), err)
}

// forward runs the graph on inputs. It is the body of Model.Call, without the locking; the
// outputs are the caller's, so it uses a pass of its own.
func (g *graph) forward(ctx *layers.Context, modelName string, inputs []*autograd.Variable) ([]*autograd.Variable, error) {
	outs, _, err := g.forwardLogits(ctx, modelName, inputs, false, g.newPass(false))
	return outs, err
}

// forwardLogits is forward that, when logits is true, asks each output layer that ends in a
// softmax for its logits instead (layers.LogitsCaller); isLogits says which outputs are. The
// returned slices belong to p.
func (g *graph) forwardLogits(ctx *layers.Context, modelName string, inputs []*autograd.Variable, logits bool, p *pass) ([]*autograd.Variable, []bool, error) {
	var isLogits []bool
	if logits {
		isLogits = p.isLogits
		clear(isLogits)
	}
	if len(inputs) != len(g.inputs) {
		return nil, nil, fmt.Errorf("keras: model %q takes %d input(s), got %d", modelName, len(g.inputs), len(inputs))
	}
	vals := p.vals
	clear(vals)
	batch := -1
	for i, ni := range g.inputs {
		v := inputs[i]
		nd := &g.nodes[ni]
		if v == nil {
			return nil, nil, fmt.Errorf("keras: model %q input %d (%s) is nil", modelName, i, nd.name)
		}
		if err := v.Err(); err != nil {
			return nil, nil, fmt.Errorf("keras: model %q input %d (%s): %w", modelName, i, nd.name, err)
		}
		got := v.Shape()
		if !matchesBatchShape(nd.shape, got) {
			return nil, nil, fmt.Errorf("keras: model %q input %d (%s): expected shape %v, got %v", modelName, i, nd.name, batchShape(nd.shape), got)
		}
		if batch >= 0 && got[0] != batch {
			return nil, nil, fmt.Errorf("keras: model %q input %d (%s) has %d rows but input 0 has %d", modelName, i, nd.name, got[0], batch)
		}
		batch = got[0]
		vals[ni] = v
	}
	// Each call gets a context whose CallRNG is derived from the node's position (names may be
	// auto-numbered), keeping dropout masks a function of the seed and the architecture
	// alone. Penalties the layers record are gathered back into ctx.
	var nodeCtx *layers.Context
	if ctx != nil && ctx.RNG != nil {
		nodeCtx = &p.nodeCtx
		*nodeCtx = layers.Context{Training: ctx.Training, Grad: ctx.Grad, RNG: ctx.RNG, Losses: nodeCtx.Losses[:0]}
		defer func() { ctx.Losses = append(ctx.Losses, nodeCtx.Losses...) }()
	}
	for j := range g.nodes {
		nd := &g.nodes[j]
		if nd.layer == nil {
			continue
		}
		callCtx := ctx
		if nodeCtx != nil {
			// Layers that draw no random numbers get no generator: deriving one costs time.
			nodeCtx.CallRNG = nil
			if g.random[j] {
				nodeCtx.CallRNG = p.rngs.forCall(ctx.RNG, j, len(g.nodes))
			}
			callCtx = nodeCtx
		}
		// The pass's slice for this node: a layer may keep its inputs slice in the recorded
		// graph, which lives until the pass ends.
		args := p.args[j]
		for k, in := range nd.inputs {
			args[k] = vals[in]
		}
		var out *autograd.Variable
		var err error
		called := false
		// An output that also feeds another layer must stay a probability.
		if i := g.outputAt[j]; logits && i >= 0 && !g.feeds[j] {
			if lc, ok := nd.layer.(layers.LogitsCaller); ok {
				out, called, err = lc.CallLogits(callCtx, args)
				isLogits[i] = called
				called = called || err != nil
			}
		}
		if !called {
			out, err = nd.layer.Call(callCtx, args)
		}
		if err == nil && out == nil {
			err = errors.New("returned no output")
		}
		if err == nil {
			err = out.Err()
		}
		if err != nil {
			return nil, nil, fmt.Errorf("keras: model %q: %w", modelName, layerError(nd.layer, "", err))
		}
		vals[j] = out
		for _, in := range nd.inputs {
			if g.lastUse[in] == j {
				vals[in] = nil
			}
		}
	}
	outs := p.outs
	for i, o := range g.outputs {
		outs[i] = vals[o]
	}
	return outs, isLogits, nil
}

// batchShape is a sample shape with the batch axis in front, printed as Keras prints it:
// (None, 4).
func batchShape(s tensor.Shape) tensor.Shape {
	return append(tensor.Shape{-1}, s...)
}

func matchesBatchShape(want, got tensor.Shape) bool {
	if len(got) != len(want)+1 {
		return false
	}
	for i, d := range want {
		if d >= 0 && got[i+1] != d {
			return false
		}
	}
	return true
}
