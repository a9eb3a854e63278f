package keras

import (
	"strconv"
	"sync/atomic"

	"github.com/deepframe/deepframe/tensor"
)

// DefaultSeed is the seed in force until SetRandomSeed is called, so that two runs of the same
// program agree even when nobody chose a seed.
const DefaultSeed uint64 = 1337

var globalSeed atomic.Uint64

func init() { globalSeed.Store(DefaultSeed) }

// SetRandomSeed fixes every random choice of models made afterwards: weight initialisation,
// the shuffle order of Fit and dropout masks, as keras.utils.set_random_seed does. A model
// remembers the seed in force when it was made, so changing the seed later does not change a
// model that already exists.
func SetRandomSeed(seed uint64) { globalSeed.Store(seed) }

// RandomSeed returns the seed that models made now will use.
func RandomSeed() uint64 { return globalSeed.Load() }

// The streams below are derived from the model's seed by purpose and index alone, never by
// how many numbers another stream drew, so adding a callback, a validation set or a layer
// with no weights cannot change the shuffle order or another layer's weights.

// layerRNG is the generator layer number i (in the model's topological order) is built with.
// Positions rather than names key it: auto-numbered names ("dense_7") depend on how many
// layers the process made before, which must not change the weights.
func layerRNG(seed uint64, i int) *tensor.RNG {
	return tensor.NewRNG(seed).Derive("layer/" + strconv.Itoa(i))
}

// shuffleRNG orders the rows of one epoch. epoch counts every epoch the model has trained,
// across Fit calls, so a second Fit continues the sequence rather than repeating it.
func shuffleRNG(seed uint64, epoch int) *tensor.RNG {
	return tensor.NewRNG(seed).Derive("shuffle/" + strconv.Itoa(epoch))
}

// stepRNGs are the generators of one training pass, kept with the pass and reseeded in place
// every step, so that deriving them allocates nothing. Their streams are numbered, not named
// by formatted strings, for the same reason.
type stepRNGs struct {
	root, step tensor.RNG
	calls      []tensor.RNG // by node index
}

// forStep returns the generator that feeds dropout and other random layers in one training
// step (counted across Fits).
func (s *stepRNGs) forStep(seed uint64, step int64) *tensor.RNG {
	s.root.Reseed(seed)
	return s.root.DeriveNInto(&s.step, "step/", uint64(step))
}

// forCall returns the generator of node j's call in a pass whose generator is parent: keyed
// by the node's position, not the layer's (possibly auto-numbered) name, so that dropout
// masks depend on the seed and the architecture alone. It is valid until the next pass.
func (s *stepRNGs) forCall(parent *tensor.RNG, j, nodes int) *tensor.RNG {
	if len(s.calls) != nodes {
		s.calls = make([]tensor.RNG, nodes)
	}
	return parent.DeriveNInto(&s.calls[j], "node/", uint64(j))
}
