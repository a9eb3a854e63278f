package tensor

import (
	"math"
	"math/rand/v2"
)

// RNG is the one source of randomness in deepframe: initialisation, shuffling, splits and
// dropout all draw from RNGs derived from a single seed, so a seed fixes a whole run. It is not
// safe for concurrent use; give each goroutine its own with Split.
type RNG struct {
	src  *rand.PCG
	r    *rand.Rand
	seed uint64
	n    uint64 // how many children Split has made, so each child stream differs
}

// NewRNG returns a generator whose sequence depends only on seed.
func NewRNG(seed uint64) *RNG {
	src := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	return &RNG{src: src, r: rand.New(src), seed: seed}
}

// Reseed restarts g as NewRNG(seed) would start a new generator, without allocating one: a
// generator remade every training step (a step's dropout stream) can live in the step's
// reusable state. The zero RNG may be reseeded.
func (g *RNG) Reseed(seed uint64) {
	if g.src == nil {
		g.src = rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
		g.r = rand.New(g.src)
	} else {
		// rand.Rand keeps no state of its own beyond its source, so this is a fresh start.
		g.src.Seed(seed, seed^0x9e3779b97f4a7c15)
	}
	g.seed, g.n = seed, 0
}

// Split returns an independent child generator; the i-th child of a given seed is always the same.
func (g *RNG) Split() *RNG {
	g.n++
	return NewRNG(mix(g.seed, g.n))
}

// Derive returns a generator for a named purpose (e.g. "shuffle", "dropout") that does not
// depend on how many numbers g has drawn: adding a layer must not change the shuffle order.
func (g *RNG) Derive(purpose string) *RNG { return g.DeriveInto(nil, purpose) }

// DeriveInto makes dst what g.Derive(purpose) would return and returns it; a nil dst is
// allocated. Reusing dst keeps a per-step derivation allocation-free.
func (g *RNG) DeriveInto(dst *RNG, purpose string) *RNG {
	return reseeded(dst, g.purposeSeed(purpose))
}

// DeriveN returns the generator for the n-th instance of a purpose (a step number, a node
// index): g.Derive(purpose + decimal n) in spirit, without formatting a string. Its seed
// mixes in a separator no byte of a purpose equals, so it never hashes the same input as a
// Derive of g.
func (g *RNG) DeriveN(purpose string, n uint64) *RNG { return g.DeriveNInto(nil, purpose, n) }

// DeriveNInto makes dst what g.DeriveN(purpose, n) would return and returns it; a nil dst is
// allocated.
func (g *RNG) DeriveNInto(dst *RNG, purpose string, n uint64) *RNG {
	return reseeded(dst, mix(mix(g.purposeSeed(purpose), 256), n))
}

func (g *RNG) purposeSeed(purpose string) uint64 {
	h := g.seed
	for i := 0; i < len(purpose); i++ {
		h = mix(h, uint64(purpose[i]))
	}
	return h
}

func reseeded(dst *RNG, seed uint64) *RNG {
	if dst == nil {
		return NewRNG(seed)
	}
	dst.Reseed(seed)
	return dst
}

func mix(a, b uint64) uint64 {
	z := a + 0x9e3779b97f4a7c15*(b+1)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Uint64 returns a uniformly random 64-bit value.
func (g *RNG) Uint64() uint64 { return g.r.Uint64() }

// Float32 returns a uniform value in [0, 1).
func (g *RNG) Float32() float32 { return g.r.Float32() }

// Float64 returns a uniform value in [0, 1).
func (g *RNG) Float64() float64 { return g.r.Float64() }

// NormFloat64 returns a standard normal value.
func (g *RNG) NormFloat64() float64 { return g.r.NormFloat64() }

// IntN returns a uniform value in [0, n).
func (g *RNG) IntN(n int) int { return g.r.IntN(n) }

// Perm returns a random permutation of [0, n).
func (g *RNG) Perm(n int) []int { return g.r.Perm(n) }

// Shuffle permutes idx in place.
func (g *RNG) Shuffle(idx []int) {
	g.r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
}

// FillUniform sets t (float32) to values uniform in [lo, hi).
func (g *RNG) FillUniform(t *Tensor, lo, hi float64) {
	for i := range t.f32 {
		t.f32[i] = float32(lo + (hi-lo)*g.r.Float64())
	}
}

// FillNormal sets t (float32) to normal values with the given mean and standard deviation.
func (g *RNG) FillNormal(t *Tensor, mean, std float64) {
	for i := range t.f32 {
		t.f32[i] = float32(mean + std*g.r.NormFloat64())
	}
}

// FillTruncatedNormal draws normal values and redraws any farther than two standard deviations
// from the mean, as Keras's truncated_normal does.
func (g *RNG) FillTruncatedNormal(t *Tensor, mean, std float64) {
	for i := range t.f32 {
		v := g.r.NormFloat64()
		for math.Abs(v) > 2 {
			v = g.r.NormFloat64()
		}
		t.f32[i] = float32(mean + std*v)
	}
}

// RandN returns a float32 tensor of standard normal values.
func (g *RNG) RandN(shape ...int) *Tensor {
	t := Zeros(shape...)
	g.FillNormal(t, 0, 1)
	return t
}

// RandU returns a float32 tensor of values uniform in [lo, hi).
func (g *RNG) RandU(lo, hi float64, shape ...int) *Tensor {
	t := Zeros(shape...)
	g.FillUniform(t, lo, hi)
	return t
}
