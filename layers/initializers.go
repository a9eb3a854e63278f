package layers

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/deepframe/deepframe/tensor"
)

// truncatedStdCorrection is the standard deviation of a unit normal truncated to [-2, 2].
// Keras divides by it so that truncated draws keep the variance the scaling rule asks for.
const truncatedStdCorrection = 0.87962566103423978

// Fans returns a weight shape's fan-in and fan-out as Keras computes them: [in, out] for a
// dense kernel; for a convolution kernel [kh, kw, ..., in, out] both are multiplied by the
// receptive field kh*kw*...; a vector counts its length for both and a scalar 1.
func Fans(shape tensor.Shape) (fanIn, fanOut float64) {
	switch len(shape) {
	case 0:
		return 1, 1
	case 1:
		return float64(shape[0]), float64(shape[0])
	case 2:
		return float64(shape[0]), float64(shape[1])
	}
	receptive := float64(shape[:len(shape)-2].Size())
	return float64(shape[len(shape)-2]) * receptive, float64(shape[len(shape)-1]) * receptive
}

func checkFloat(t *tensor.Tensor) error {
	if t == nil {
		return fmt.Errorf("initializer: nil tensor")
	}
	if t.DType() != tensor.Float32 {
		return fmt.Errorf("initializer: cannot fill a %s tensor, want float32", t.DType())
	}
	return nil
}

func rngOrDefault(rng *tensor.RNG) *tensor.RNG {
	if rng == nil {
		return tensor.NewRNG(0)
	}
	return rng
}

// varianceScaling draws with a variance of scale/n, n chosen by mode from the weight's fans;
// Glorot, He and LeCun initializers are instances of it.
type varianceScaling struct {
	class string
	scale float64
	mode  string // "fan_in", "fan_out", "fan_avg"
	dist  string // "truncated_normal", "uniform"
}

func (v varianceScaling) Initialize(t *tensor.Tensor, rng *tensor.RNG) error {
	if err := checkFloat(t); err != nil {
		return err
	}
	fanIn, fanOut := Fans(t.Shape())
	n := fanIn
	switch v.mode {
	case "fan_out":
		n = fanOut
	case "fan_avg":
		n = (fanIn + fanOut) / 2
	}
	scale := v.scale / math.Max(1, n)
	rng = rngOrDefault(rng)
	if v.dist == "uniform" {
		limit := math.Sqrt(3 * scale)
		rng.FillUniform(t, -limit, limit)
		return nil
	}
	rng.FillTruncatedNormal(t, 0, math.Sqrt(scale)/truncatedStdCorrection)
	return nil
}

func (v varianceScaling) Config() InitializerConfig { return InitializerConfig{ClassName: v.class} }

// GlorotUniform draws from U(-limit, limit) with limit = sqrt(6/(fan_in+fan_out)); Keras's
// default for kernels.
func GlorotUniform() Initializer {
	return varianceScaling{class: "GlorotUniform", scale: 1, mode: "fan_avg", dist: "uniform"}
}

// GlorotNormal draws from a normal truncated at two standard deviations, with standard
// deviation sqrt(2/(fan_in+fan_out)) after truncation.
func GlorotNormal() Initializer {
	return varianceScaling{class: "GlorotNormal", scale: 1, mode: "fan_avg", dist: "truncated_normal"}
}

// HeNormal draws from a truncated normal with standard deviation sqrt(2/fan_in).
func HeNormal() Initializer {
	return varianceScaling{class: "HeNormal", scale: 2, mode: "fan_in", dist: "truncated_normal"}
}

// HeUniform draws from U(-limit, limit) with limit = sqrt(6/fan_in).
func HeUniform() Initializer {
	return varianceScaling{class: "HeUniform", scale: 2, mode: "fan_in", dist: "uniform"}
}

// LecunNormal draws from a truncated normal with standard deviation sqrt(1/fan_in).
func LecunNormal() Initializer {
	return varianceScaling{class: "LecunNormal", scale: 1, mode: "fan_in", dist: "truncated_normal"}
}

// LecunUniform draws from U(-limit, limit) with limit = sqrt(3/fan_in).
func LecunUniform() Initializer {
	return varianceScaling{class: "LecunUniform", scale: 1, mode: "fan_in", dist: "uniform"}
}

// constant fills every element with one value (Zeros, Ones, Constant).
type constant struct {
	class string
	value float64
}

func (c constant) Initialize(t *tensor.Tensor, _ *tensor.RNG) error {
	if err := checkFloat(t); err != nil {
		return err
	}
	t.Fill(float32(c.value))
	return nil
}

func (c constant) Config() InitializerConfig {
	if c.class == "Constant" {
		return InitializerConfig{ClassName: c.class, Config: map[string]float64{"value": c.value}}
	}
	return InitializerConfig{ClassName: c.class}
}

func (c constant) validate() error { return finite("value", c.value) }

// Zeros fills with 0; Keras's default for biases.
func Zeros() Initializer { return constant{class: "Zeros"} }

// Ones fills with 1.
func Ones() Initializer { return constant{class: "Ones", value: 1} }

// Constant fills with v.
func Constant(v float64) Initializer { return constant{class: "Constant", value: v} }

type randomNormal struct{ mean, std float64 }

func (r randomNormal) Initialize(t *tensor.Tensor, rng *tensor.RNG) error {
	if err := checkFloat(t); err != nil {
		return err
	}
	if err := r.validate(); err != nil {
		return err
	}
	rngOrDefault(rng).FillNormal(t, r.mean, r.std)
	return nil
}

func (r randomNormal) Config() InitializerConfig {
	return InitializerConfig{ClassName: "RandomNormal", Config: map[string]float64{"mean": r.mean, "stddev": r.std}}
}

func (r randomNormal) validate() error { return meanStd(r.mean, r.std) }

// RandomNormal draws from a normal distribution (Keras's defaults are 0 and 0.05).
func RandomNormal(mean, stddev float64) Initializer { return randomNormal{mean, stddev} }

type truncatedNormal struct{ mean, std float64 }

func (r truncatedNormal) Initialize(t *tensor.Tensor, rng *tensor.RNG) error {
	if err := checkFloat(t); err != nil {
		return err
	}
	if err := r.validate(); err != nil {
		return err
	}
	rngOrDefault(rng).FillTruncatedNormal(t, r.mean, r.std)
	return nil
}

func (r truncatedNormal) Config() InitializerConfig {
	return InitializerConfig{ClassName: "TruncatedNormal", Config: map[string]float64{"mean": r.mean, "stddev": r.std}}
}

func (r truncatedNormal) validate() error { return meanStd(r.mean, r.std) }

// TruncatedNormal draws from a normal distribution and redraws values more than two standard
// deviations from the mean (Keras's defaults are 0 and 0.05). Unlike the He/Glorot/LeCun
// normals, stddev is not corrected for the truncation, as in Keras.
func TruncatedNormal(mean, stddev float64) Initializer { return truncatedNormal{mean, stddev} }

type randomUniform struct{ lo, hi float64 }

func (r randomUniform) Initialize(t *tensor.Tensor, rng *tensor.RNG) error {
	if err := checkFloat(t); err != nil {
		return err
	}
	if err := r.validate(); err != nil {
		return err
	}
	rngOrDefault(rng).FillUniform(t, r.lo, r.hi)
	return nil
}

func (r randomUniform) Config() InitializerConfig {
	return InitializerConfig{ClassName: "RandomUniform", Config: map[string]float64{"minval": r.lo, "maxval": r.hi}}
}

func (r randomUniform) validate() error {
	if err := finite("minval", r.lo); err != nil {
		return err
	}
	if err := finite("maxval", r.hi); err != nil {
		return err
	}
	if r.lo > r.hi {
		return fmt.Errorf("RandomUniform: minval %v > maxval %v", r.lo, r.hi)
	}
	return nil
}

// RandomUniform draws from U(lo, hi) (Keras's defaults are -0.05 and 0.05).
func RandomUniform(lo, hi float64) Initializer { return randomUniform{lo, hi} }

type orthogonal struct{ gain float64 }

// Initialize views t as a matrix of prod(shape[:-1]) rows and shape[-1] columns and fills it
// with a random matrix whose rows or columns (whichever are fewer) are orthonormal, times
// gain. It orthonormalises a Gaussian matrix; Gram-Schmidt yields the same Q as Keras's QR
// with its sign fix, because Gram-Schmidt's R has a positive diagonal by construction.
func (o orthogonal) Initialize(t *tensor.Tensor, rng *tensor.RNG) error {
	if err := checkFloat(t); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	s := t.Shape()
	if len(s) < 2 {
		return fmt.Errorf("Orthogonal: weight shape %v has rank %d, want rank >= 2", s, len(s))
	}
	rows, cols := s[:len(s)-1].Size(), s[len(s)-1]
	if rows == 0 || cols == 0 {
		return nil
	}
	m, n := max(rows, cols), min(rows, cols)
	rng = rngOrDefault(rng)
	// q holds n column vectors of length m, column-major for cheap column operations.
	q := make([]float64, m*n)
	for i := range q {
		q[i] = rng.NormFloat64()
	}
	for j := 0; j < n; j++ {
		cj := q[j*m : (j+1)*m]
		// Two passes of modified Gram-Schmidt keep the columns orthogonal to float64
		// precision even when the Gaussian columns happen to be nearly dependent.
		for pass := 0; pass < 2; pass++ {
			for k := 0; k < j; k++ {
				ck := q[k*m : (k+1)*m]
				dot := 0.0
				for i := range cj {
					dot += cj[i] * ck[i]
				}
				for i := range cj {
					cj[i] -= dot * ck[i]
				}
			}
		}
		norm := 0.0
		for _, v := range cj {
			norm += v * v
		}
		norm = math.Sqrt(norm)
		if norm == 0 {
			return fmt.Errorf("Orthogonal: degenerate random draw")
		}
		for i := range cj {
			cj[i] /= norm
		}
	}
	out := t.Float32s()
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			var v float64
			if rows >= cols {
				v = q[c*m+r] // Q is rows×cols
			} else {
				v = q[r*m+c] // Q is cols×rows; the weight is its transpose
			}
			out[r*cols+c] = float32(o.gain * v)
		}
	}
	return nil
}

func (o orthogonal) Config() InitializerConfig {
	return InitializerConfig{ClassName: "Orthogonal", Config: map[string]float64{"gain": o.gain}}
}

func (o orthogonal) validate() error { return finite("gain", o.gain) }

// Orthogonal fills a weight (rank >= 2) with a random orthogonal matrix times gain, the
// initializer Keras's recurrent layers use.
func Orthogonal(gain float64) Initializer { return orthogonal{gain} }

func finite(name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%s is %v, want a finite number", name, v)
	}
	return nil
}

func meanStd(mean, std float64) error {
	if err := finite("mean", mean); err != nil {
		return err
	}
	if err := finite("stddev", std); err != nil {
		return err
	}
	if std < 0 {
		return fmt.Errorf("stddev %v is negative", std)
	}
	return nil
}

// initializerSpec describes one initializer class: its config keys with Keras's defaults,
// and how to make it from them.
type initializerSpec struct {
	keys map[string]float64
	make func(args map[string]float64) Initializer
}

var initializerSpecs = map[string]initializerSpec{
	"glorot_uniform": {nil, func(map[string]float64) Initializer { return GlorotUniform() }},
	"glorot_normal":  {nil, func(map[string]float64) Initializer { return GlorotNormal() }},
	"he_normal":      {nil, func(map[string]float64) Initializer { return HeNormal() }},
	"he_uniform":     {nil, func(map[string]float64) Initializer { return HeUniform() }},
	"lecun_normal":   {nil, func(map[string]float64) Initializer { return LecunNormal() }},
	"lecun_uniform":  {nil, func(map[string]float64) Initializer { return LecunUniform() }},
	"zeros":          {nil, func(map[string]float64) Initializer { return Zeros() }},
	"ones":           {nil, func(map[string]float64) Initializer { return Ones() }},
	"constant": {map[string]float64{"value": 0}, func(a map[string]float64) Initializer {
		return Constant(a["value"])
	}},
	"random_normal": {map[string]float64{"mean": 0, "stddev": 0.05}, func(a map[string]float64) Initializer {
		return RandomNormal(a["mean"], a["stddev"])
	}},
	"truncated_normal": {map[string]float64{"mean": 0, "stddev": 0.05}, func(a map[string]float64) Initializer {
		return TruncatedNormal(a["mean"], a["stddev"])
	}},
	"random_uniform": {map[string]float64{"minval": -0.05, "maxval": 0.05}, func(a map[string]float64) Initializer {
		return RandomUniform(a["minval"], a["maxval"])
	}},
	"orthogonal": {map[string]float64{"gain": 1}, func(a map[string]float64) Initializer {
		return Orthogonal(a["gain"])
	}},
}

// initializerKey maps "GlorotUniform" and "glorot_uniform" alike to the spec key. Keras also
// accepts the aliases "zero", "one", "uniform" and "normal".
func initializerKey(name string) string {
	k := name
	if strings.ToLower(name) != name {
		k = snake(name)
	}
	switch k {
	case "zero":
		k = "zeros"
	case "one":
		k = "ones"
	case "uniform":
		k = "random_uniform"
	case "normal":
		k = "random_normal"
	}
	return k
}

func initializerNames() string {
	names := make([]string, 0, len(initializerSpecs))
	for n := range initializerSpecs {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// InitializerByName returns the initializer Keras knows by name ("glorot_uniform",
// "he_normal", "zeros", "random_uniform", ... or the class names "GlorotUniform", ...), with
// Keras's default arguments.
func InitializerByName(name string) (Initializer, error) {
	return InitializerFromConfig(InitializerConfig{ClassName: name})
}

// InitializerFromConfig rebuilds a saved initializer. Keys the class does not take are an
// error, except Keras's "seed", which deepframe replaces by the model's seed.
func InitializerFromConfig(c InitializerConfig) (Initializer, error) {
	spec, ok := initializerSpecs[initializerKey(c.ClassName)]
	if !ok {
		return nil, fmt.Errorf("unknown initializer %q (valid: %s)", c.ClassName, initializerNames())
	}
	args := map[string]float64{}
	for k, v := range spec.keys {
		args[k] = v
	}
	for k, v := range c.Config {
		if k == "seed" {
			continue
		}
		if _, ok := spec.keys[k]; !ok {
			return nil, fmt.Errorf("initializer %s does not take %q", c.ClassName, k)
		}
		args[k] = v
	}
	init := spec.make(args)
	if err := checkValid(init); err != nil {
		return nil, fmt.Errorf("initializer %s: %w", c.ClassName, err)
	}
	return init, nil
}
