package keras

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/deepframe/deepframe/layers"
)

// ModelConfig is a model's architecture without its weights, shaped like Keras's model JSON so
// that ModelFromConfig can rebuild the model from it alone (the bundle stores it as
// config.json):
//
//	{"class_name": "Functional", "name": "model",
//	 "layers": [{"class_name": "InputLayer", "name": "input_layer", "config": {...}},
//	            {"class_name": "Dense", "name": "dense", "config": {...},
//	             "inbound_nodes": [[["input_layer", 0, 0]]]}],
//	 "input_layers": [["input_layer", 0, 0]], "output_layers": [["dense", 0, 0]]}
//
// A Sequential model lists its layers in order (with its input layer first when it was made
// with one) and has no connectivity fields.
type ModelConfig struct {
	ClassName string        `json:"class_name"`
	Name      string        `json:"name"`
	Layers    []LayerConfig `json:"layers"`
	// InputLayers and OutputLayers (functional models) are the model's inputs and outputs in
	// order.
	InputLayers  []NodeRef `json:"input_layers,omitempty"`
	OutputLayers []NodeRef `json:"output_layers,omitempty"`
}

// LayerConfig is one layer of a ModelConfig: its class (the layers registry key), its name
// and its own config (what the layer's Config method returns, as JSON).
type LayerConfig struct {
	ClassName string          `json:"class_name"`
	Name      string          `json:"name"`
	Config    json.RawMessage `json:"config"`
	// InboundNodes (functional models) lists, for each time the layer is called, the nodes
	// that call reads; a layer called twice shares its weights between the calls.
	InboundNodes [][]NodeRef `json:"inbound_nodes,omitempty"`
}

// NodeRef names the output of one call of a layer: the layer, which of its calls (0 for the
// first), and which of that call's outputs (always 0: layers have one output). It is written
// as Keras writes it, ["dense", 0, 0].
type NodeRef struct {
	Layer       string
	NodeIndex   int
	TensorIndex int
}

func (r NodeRef) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{r.Layer, r.NodeIndex, r.TensorIndex})
}

func (r *NodeRef) UnmarshalJSON(b []byte) error {
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		return fmt.Errorf("node reference %s: want [layer, node index, tensor index]", b)
	}
	if len(parts) < 1 || len(parts) > 4 {
		return fmt.Errorf("node reference %s: want [layer, node index, tensor index]", b)
	}
	var ref NodeRef
	if err := json.Unmarshal(parts[0], &ref.Layer); err != nil {
		return fmt.Errorf("node reference %s: layer name: %w", b, err)
	}
	if len(parts) > 1 {
		if err := json.Unmarshal(parts[1], &ref.NodeIndex); err != nil {
			return fmt.Errorf("node reference %s: node index: %w", b, err)
		}
	}
	if len(parts) > 2 {
		if err := json.Unmarshal(parts[2], &ref.TensorIndex); err != nil {
			return fmt.Errorf("node reference %s: tensor index: %w", b, err)
		}
	}
	*r = ref
	return nil
}

func (r NodeRef) String() string {
	return fmt.Sprintf("%s[%d][%d]", r.Layer, r.NodeIndex, r.TensorIndex)
}

func layerConfig(l layers.Layer) (LayerConfig, error) {
	c := l.Config()
	if c == nil {
		return LayerConfig{}, fmt.Errorf("layer %s (%s) has no config", l.Name(), l.ClassName())
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return LayerConfig{}, fmt.Errorf("layer %s (%s): config: %w", l.Name(), l.ClassName(), err)
	}
	return LayerConfig{ClassName: l.ClassName(), Name: l.Name(), Config: raw}, nil
}

// Config describes the model's architecture; ModelFromConfig rebuilds it.
func (m *Model) Config() (ModelConfig, error) {
	if m.err != nil {
		return ModelConfig{}, m.err
	}
	cfg := ModelConfig{ClassName: m.class, Name: m.name, Layers: []LayerConfig{}}
	if m.class == "Sequential" {
		for _, l := range m.seq {
			lc, err := layerConfig(l)
			if err != nil {
				return ModelConfig{}, fmt.Errorf("keras: model %q: %w", m.name, err)
			}
			cfg.Layers = append(cfg.Layers, lc)
		}
		return cfg, nil
	}
	g, err := m.ready()
	if err != nil {
		return ModelConfig{}, err
	}
	ref := func(i int) NodeRef { return NodeRef{Layer: g.nodes[i].name, NodeIndex: g.nodes[i].call} }
	// Inputs are described from their name and shape, so a model whose inputs were made
	// without an InputLayer saves the same way.
	for _, i := range g.inputs {
		nd := &g.nodes[i]
		lc, err := layerConfig(layers.NewInputLayer(nd.shape, layers.Name(nd.name)))
		if err != nil {
			return ModelConfig{}, err
		}
		cfg.Layers = append(cfg.Layers, lc)
		cfg.InputLayers = append(cfg.InputLayers, ref(i))
	}
	for _, l := range g.layers {
		lc, err := layerConfig(l)
		if err != nil {
			return ModelConfig{}, fmt.Errorf("keras: model %q: %w", m.name, err)
		}
		for j := range g.nodes {
			nd := &g.nodes[j]
			if nd.layer != l {
				continue
			}
			refs := make([]NodeRef, len(nd.inputs))
			for k, in := range nd.inputs {
				refs[k] = ref(in)
			}
			lc.InboundNodes = append(lc.InboundNodes, refs)
		}
		cfg.Layers = append(cfg.Layers, lc)
	}
	for _, o := range g.outputs {
		cfg.OutputLayers = append(cfg.OutputLayers, ref(o))
	}
	return cfg, nil
}

// ModelFromConfig rebuilds a model from its config alone, through the layers registry
// (layers.FromConfig). Its weights are freshly initialised from the current seed; a bundle
// then overwrites them by weight name.
func ModelFromConfig(cfg ModelConfig) (*Model, error) {
	return modelFromConfig(cfg, nil)
}

// modelFromConfig builds the layers within budget when it is not nil (see
// layers.WeightBudget): Load passes the element count of the weights it is about to assign.
func modelFromConfig(cfg ModelConfig, budget *layers.WeightBudget) (*Model, error) {
	if cfg.Name == "" {
		return nil, errors.New("keras: model config has no name")
	}
	seen := make(map[string]bool, len(cfg.Layers))
	built := make([]layers.Layer, len(cfg.Layers))
	for i, lc := range cfg.Layers {
		if lc.Name == "" {
			return nil, fmt.Errorf("keras: model config %q: layer %d (%s) has no name", cfg.Name, i, lc.ClassName)
		}
		if seen[lc.Name] {
			return nil, fmt.Errorf("keras: model config %q: two layers are named %q", cfg.Name, lc.Name)
		}
		seen[lc.Name] = true
		l, err := layers.FromConfig(lc.ClassName, lc.Config)
		if err != nil {
			return nil, fmt.Errorf("keras: model config %q: layer %q: %w", cfg.Name, lc.Name, err)
		}
		if budget != nil && !layers.LimitWeights(l, budget) {
			return nil, fmt.Errorf("keras: model config %q: layer %q (%T) does not embed layers.Base, so its weight allocations cannot be bounded while loading", cfg.Name, lc.Name, l)
		}
		if l.Name() != lc.Name {
			return nil, fmt.Errorf("keras: model config %q: layer %q rebuilt from its config is named %q", cfg.Name, lc.Name, l.Name())
		}
		built[i] = l
	}
	switch cfg.ClassName {
	case "Sequential":
		if len(cfg.InputLayers) > 0 || len(cfg.OutputLayers) > 0 {
			return nil, fmt.Errorf("keras: model config %q: a Sequential model has no input_layers or output_layers", cfg.Name)
		}
		m := newSequential(cfg.Name, built)
		if m.err != nil {
			return nil, m.err
		}
		return m, nil
	case "Functional":
		return functionalFromConfig(cfg, built)
	}
	return nil, fmt.Errorf("keras: model config %q: class %q: want Sequential or Functional", cfg.Name, cfg.ClassName)
}

func functionalFromConfig(cfg ModelConfig, built []layers.Layer) (*Model, error) {
	fail := func(format string, args ...any) (*Model, error) {
		return nil, fmt.Errorf("keras: model config %q: "+format, append([]any{cfg.Name}, args...)...)
	}
	type call struct {
		layer   layers.Layer
		index   int
		inbound []NodeRef
	}
	nodes := make(map[NodeRef]*layers.Node)
	byName := make(map[string]layers.Layer, len(built))
	var pending []call
	for i, l := range built {
		lc := cfg.Layers[i]
		byName[lc.Name] = l
		if lc.ClassName == "InputLayer" {
			if len(lc.InboundNodes) > 0 {
				return fail("input layer %q has inbound nodes", lc.Name)
			}
			out, ok := l.(interface{ Output() *layers.Node })
			if !ok {
				return fail("input layer %q (%T) cannot make an input node", lc.Name, l)
			}
			nodes[NodeRef{Layer: lc.Name}] = out.Output()
			continue
		}
		if len(lc.InboundNodes) == 0 {
			return fail("layer %q has no inbound nodes", lc.Name)
		}
		for k, in := range lc.InboundNodes {
			if len(in) == 0 {
				return fail("layer %q call %d reads no node", lc.Name, k)
			}
			pending = append(pending, call{layer: l, index: k, inbound: in})
		}
	}
	// Calls are made once every node they read exists; the config's order need not be
	// topological (a shared layer's second call may come after layers listed later).
	for len(pending) > 0 {
		progress := false
		rest := pending[:0]
		for _, c := range pending {
			ins := make([]*layers.Node, len(c.inbound))
			ready := true
			for k, r := range c.inbound {
				if r.TensorIndex != 0 {
					return fail("layer %q reads %v, but layers have one output", c.layer.Name(), r)
				}
				if _, ok := byName[r.Layer]; !ok {
					return fail("layer %q reads %v from an unknown layer", c.layer.Name(), r)
				}
				n, ok := nodes[NodeRef{Layer: r.Layer, NodeIndex: r.NodeIndex}]
				if !ok {
					ready = false
					break
				}
				ins[k] = n
			}
			if !ready {
				rest = append(rest, c)
				continue
			}
			var n *layers.Node
			if a, ok := c.layer.(interface {
				Apply(...*layers.Node) *layers.Node
			}); ok {
				n = a.Apply(ins...)
			} else {
				n = &layers.Node{Layer: c.layer, Inputs: ins}
			}
			nodes[NodeRef{Layer: c.layer.Name(), NodeIndex: c.index}] = n
			progress = true
		}
		pending = rest
		if !progress {
			c := pending[0]
			return fail("layer %q call %d reads nodes that no call produces (or the calls form a cycle): %v", c.layer.Name(), c.index, c.inbound)
		}
	}
	lookup := func(kind string, refs []NodeRef) ([]*layers.Node, error) {
		out := make([]*layers.Node, len(refs))
		for i, r := range refs {
			n, ok := nodes[NodeRef{Layer: r.Layer, NodeIndex: r.NodeIndex}]
			if !ok || r.TensorIndex != 0 {
				return nil, fmt.Errorf("keras: model config %q: %s %d refers to %v, which no layer produces", cfg.Name, kind, i, r)
			}
			out[i] = n
		}
		return out, nil
	}
	ins, err := lookup("input", cfg.InputLayers)
	if err != nil {
		return nil, err
	}
	outs, err := lookup("output", cfg.OutputLayers)
	if err != nil {
		return nil, err
	}
	m := NewModel(ins, outs, ModelName(cfg.Name))
	if m.err != nil {
		return nil, m.err
	}
	return m, nil
}
