package feature

// Image preprocessing, in the manner of BigDL's ChainedPreprocessing: Resize, CenterCrop,
// RandomCrop and HorizontalFlip work on decoded images (frame's image column, HWC bytes) and
// give images; ToTensor turns an image into a vector column; ChannelNormalize normalises
// that vector per channel. Each is a Transformer on its own, and ChainedPreprocessing applies
// several to every image in one pass without materialising the images in between. Applying
// the stages one by one or chained gives the same numbers.
//
// ToTensor's numbers, exactly: each byte b of the HWC image becomes b/255 (so [0, 1]); then
// every ChannelNormalize of the chain, in order, maps the value of channel c to
// (v - mean[c]) / std[c], wherever it sits in the chain (before ToTensor it waits for it). The
// vector keeps HWC order: element (y*W + x)*C + c. Values are computed in float64 and stored in
// frame's vector type; they become float32 when frame batches them into tensors.
//
// Images pass through unchanged in channel order and mode (L, RGB or RGBA). A null row stays
// null; a row whose image failed to decode stays such a row (ToTensor makes it null).

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// ImageStage is an image preprocessing stage: a Transformer on its own column and a step of a
// ChainedPreprocessing.
type ImageStage interface {
	ml.Transformer
	imageSteps() ([]imageStep, error)
}

// pixels is one image on its way through a chain.
type pixels struct {
	origin  string
	h, w, c int
	mode    string
	data    []byte
}

// imageStep is one operation of a chain: exactly one of spatial, norm or toTensor.
type imageStep struct {
	name     string
	spatial  func(p pixels) (pixels, error)
	norm     *channelNorm
	toTensor bool
}

type channelNorm struct{ mean, std []float64 }

// maxSide bounds Resize and crop sizes, keeping one image under frame's 2^28-pixel limit.
const maxSide = 1 << 14

func sideParam(ps *ml.Params, name, doc string) *ml.Param[int] {
	return ml.NewRequiredParam(ps, name, doc, ml.InRange(1, maxSide))
}

// imageCols are the columns of an image stage: in place by default.
type imageCols struct {
	inputCol, outputCol *ml.Param[string]
}

func newImageCols(ps *ml.Params) imageCols {
	return imageCols{
		inputCol:  ml.NewParam(ps, "inputCol", "input image column", "image", ml.NonEmpty),
		outputCol: ml.NewParam(ps, "outputCol", "output column; empty means replace inputCol", "", nil),
	}
}

func (c imageCols) names() (in, out string) {
	in, out = c.inputCol.Get(), c.outputCol.Get()
	if out == "" {
		out = in
	}
	return in, out
}

// imageBase carries what every image stage shares.
type imageBase struct {
	uid    string
	params *ml.Params
	cols   imageCols
}

func newImageBase(uid string) imageBase {
	ps := ml.NewParams(uid)
	return imageBase{uid: uid, params: ps, cols: newImageCols(ps)}
}

func (b *imageBase) UID() string        { return b.uid }
func (b *imageBase) Params() *ml.Params { return b.params }

func (b *imageBase) transform(ctx context.Context, df *frame.DataFrame, s ImageStage) (*frame.DataFrame, error) {
	if err := b.params.Validate(); err != nil {
		return nil, err
	}
	steps, err := s.imageSteps()
	if err != nil {
		return nil, err
	}
	in, out := b.cols.names()
	return runImageSteps(ctx, df, b.uid, in, out, steps)
}

// Resize scales images to height x width with bilinear interpolation, sampling at pixel
// centres as OpenCV's INTER_LINEAR does (source coordinate (x+0.5)*inW/outW-0.5, clamped to
// the image), computed in float64 and rounded to the nearest byte.
type Resize struct {
	imageBase
	height, width *ml.Param[int]
}

// NewResize returns a Resize to h x w pixels.
func NewResize(h, w int) *Resize {
	r := newResize(ml.NewUID("Resize"))
	r.height.Set(h)
	r.width.Set(w)
	return r
}

func newResize(uid string) *Resize {
	r := &Resize{imageBase: newImageBase(uid)}
	r.height = sideParam(r.params, "height", "output height in pixels")
	r.width = sideParam(r.params, "width", "output width in pixels")
	return r
}

func (r *Resize) ClassName() string             { return "Resize" }
func (r *Resize) SetInputCol(c string) *Resize  { r.cols.inputCol.Set(c); return r }
func (r *Resize) SetOutputCol(c string) *Resize { r.cols.outputCol.Set(c); return r }
func (r *Resize) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	return r.transform(ctx, df, r)
}

func (r *Resize) imageSteps() ([]imageStep, error) {
	if err := r.params.Validate(); err != nil {
		return nil, err
	}
	h, w := r.height.Get(), r.width.Get()
	return []imageStep{{name: r.uid, spatial: func(p pixels) (pixels, error) { return resizeBilinear(p, h, w), nil }}}, nil
}

func resizeBilinear(p pixels, h, w int) pixels {
	if p.h == h && p.w == w {
		return p
	}
	out := pixels{origin: p.origin, h: h, w: w, c: p.c, mode: p.mode, data: make([]byte, h*w*p.c)}
	if p.h == 0 || p.w == 0 {
		return out
	}
	type tap struct {
		i0, i1 int
		f      float64
	}
	taps := func(outN, inN int) []tap {
		t := make([]tap, outN)
		scale := float64(inN) / float64(outN)
		for i := range t {
			s := (float64(i)+0.5)*scale - 0.5
			s = math.Max(0, math.Min(s, float64(inN-1)))
			i0 := int(s)
			t[i] = tap{i0, min(i0+1, inN-1), s - float64(i0)}
		}
		return t
	}
	ys, xs := taps(h, p.h), taps(w, p.w)
	c, rowIn := p.c, p.w*p.c
	for y, ty := range ys {
		r0, r1 := p.data[ty.i0*rowIn:], p.data[ty.i1*rowIn:]
		for x, tx := range xs {
			for k := 0; k < c; k++ {
				a := float64(r0[tx.i0*c+k])*(1-tx.f) + float64(r0[tx.i1*c+k])*tx.f
				b := float64(r1[tx.i0*c+k])*(1-tx.f) + float64(r1[tx.i1*c+k])*tx.f
				v := a*(1-ty.f) + b*ty.f
				out.data[(y*w+x)*c+k] = byte(math.Min(255, math.Max(0, math.Floor(v+0.5))))
			}
		}
	}
	return out
}

func crop(p pixels, y0, x0, h, w int) pixels {
	out := pixels{origin: p.origin, h: h, w: w, c: p.c, mode: p.mode, data: make([]byte, h*w*p.c)}
	row := w * p.c
	for y := 0; y < h; y++ {
		src := ((y0+y)*p.w + x0) * p.c
		copy(out.data[y*row:(y+1)*row], p.data[src:src+row])
	}
	return out
}

func cropError(p pixels, h, w int) error {
	if p.h < h || p.w < w {
		return fmt.Errorf("image %q is %dx%d, smaller than the %dx%d crop; resize it first", p.origin, p.h, p.w, h, w)
	}
	return nil
}

// CenterCrop cuts the height x width window at the centre of each image (offsets rounded
// down). An image smaller than the window is an error.
type CenterCrop struct {
	imageBase
	height, width *ml.Param[int]
}

// NewCenterCrop returns a CenterCrop of h x w pixels.
func NewCenterCrop(h, w int) *CenterCrop {
	c := newCenterCrop(ml.NewUID("CenterCrop"))
	c.height.Set(h)
	c.width.Set(w)
	return c
}

func newCenterCrop(uid string) *CenterCrop {
	c := &CenterCrop{imageBase: newImageBase(uid)}
	c.height = sideParam(c.params, "height", "crop height in pixels")
	c.width = sideParam(c.params, "width", "crop width in pixels")
	return c
}

func (c *CenterCrop) ClassName() string                 { return "CenterCrop" }
func (c *CenterCrop) SetInputCol(s string) *CenterCrop  { c.cols.inputCol.Set(s); return c }
func (c *CenterCrop) SetOutputCol(s string) *CenterCrop { c.cols.outputCol.Set(s); return c }
func (c *CenterCrop) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	return c.transform(ctx, df, c)
}

func (c *CenterCrop) imageSteps() ([]imageStep, error) {
	if err := c.params.Validate(); err != nil {
		return nil, err
	}
	h, w := c.height.Get(), c.width.Get()
	return []imageStep{{name: c.uid, spatial: func(p pixels) (pixels, error) {
		if err := cropError(p, h, w); err != nil {
			return p, err
		}
		return crop(p, (p.h-h)/2, (p.w-w)/2, h, w), nil
	}}}, nil
}

// RandomCrop cuts a height x width window at a random position of each image. The position
// depends only on the seed and the image itself (its origin and pixels), not on the row's
// place in the frame: it is the same in every run, epoch and partitioning. Change the seed to
// draw new positions.
type RandomCrop struct {
	imageBase
	height, width *ml.Param[int]
	seed          *ml.Param[int64]
}

// NewRandomCrop returns a RandomCrop of h x w pixels.
func NewRandomCrop(h, w int, seed int64) *RandomCrop {
	c := newRandomCrop(ml.NewUID("RandomCrop"))
	c.height.Set(h)
	c.width.Set(w)
	c.seed.Set(seed)
	return c
}

func newRandomCrop(uid string) *RandomCrop {
	c := &RandomCrop{imageBase: newImageBase(uid)}
	c.height = sideParam(c.params, "height", "crop height in pixels")
	c.width = sideParam(c.params, "width", "crop width in pixels")
	c.seed = ml.NewParam[int64](c.params, "seed", "random seed", 0, nil)
	return c
}

func (c *RandomCrop) ClassName() string                 { return "RandomCrop" }
func (c *RandomCrop) SetInputCol(s string) *RandomCrop  { c.cols.inputCol.Set(s); return c }
func (c *RandomCrop) SetOutputCol(s string) *RandomCrop { c.cols.outputCol.Set(s); return c }
func (c *RandomCrop) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	return c.transform(ctx, df, c)
}

func (c *RandomCrop) imageSteps() ([]imageStep, error) {
	if err := c.params.Validate(); err != nil {
		return nil, err
	}
	h, w, seed := c.height.Get(), c.width.Get(), c.seed.Get()
	return []imageStep{{name: c.uid, spatial: func(p pixels) (pixels, error) {
		if err := cropError(p, h, w); err != nil {
			return p, err
		}
		k := imageKey(seed, p)
		y0 := int(uniform(k) * float64(p.h-h+1))
		x0 := int(uniform(mix(k)) * float64(p.w-w+1))
		return crop(p, y0, x0, h, w), nil
	}}}, nil
}

// HorizontalFlip mirrors each image left to right with probability prob. Whether an image is
// flipped depends only on the seed and the image itself, as for RandomCrop.
type HorizontalFlip struct {
	imageBase
	prob *ml.Param[float64]
	seed *ml.Param[int64]
}

// NewHorizontalFlip returns a HorizontalFlip with the given probability (1 flips every image).
func NewHorizontalFlip(prob float64, seed int64) *HorizontalFlip {
	f := newHorizontalFlip(ml.NewUID("HorizontalFlip"))
	f.prob.Set(prob)
	f.seed.Set(seed)
	return f
}

func newHorizontalFlip(uid string) *HorizontalFlip {
	f := &HorizontalFlip{imageBase: newImageBase(uid)}
	f.prob = ml.NewParam(f.params, "prob", "probability of flipping an image", 0.5, ml.InRange(0.0, 1.0))
	f.seed = ml.NewParam[int64](f.params, "seed", "random seed", 0, nil)
	return f
}

func (f *HorizontalFlip) ClassName() string                     { return "HorizontalFlip" }
func (f *HorizontalFlip) SetInputCol(s string) *HorizontalFlip  { f.cols.inputCol.Set(s); return f }
func (f *HorizontalFlip) SetOutputCol(s string) *HorizontalFlip { f.cols.outputCol.Set(s); return f }
func (f *HorizontalFlip) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	return f.transform(ctx, df, f)
}

func (f *HorizontalFlip) imageSteps() ([]imageStep, error) {
	if err := f.params.Validate(); err != nil {
		return nil, err
	}
	prob, seed := f.prob.Get(), f.seed.Get()
	return []imageStep{{name: f.uid, spatial: func(p pixels) (pixels, error) {
		if prob <= 0 || (prob < 1 && uniform(imageKey(seed, p)) >= prob) {
			return p, nil
		}
		out := pixels{origin: p.origin, h: p.h, w: p.w, c: p.c, mode: p.mode, data: make([]byte, len(p.data))}
		for y := 0; y < p.h; y++ {
			for x := 0; x < p.w; x++ {
				src, dst := (y*p.w+x)*p.c, (y*p.w+p.w-1-x)*p.c
				copy(out.data[dst:dst+p.c], p.data[src:src+p.c])
			}
		}
		return out, nil
	}}}, nil
}

// ChannelNormalize maps each value of channel c of a tensor to (v - mean[c]) / std[c], with
// values in ToTensor's [0, 1] scale (e.g. ImageNet's mean 0.485, 0.456, 0.406). One mean and
// std apply to every channel. On its own it works on a vector column in HWC order (channel =
// index mod len(mean)); in a chain it may also come before ToTensor.
type ChannelNormalize struct {
	imageBase
	mean, std *ml.Param[[]float64]
}

// NewChannelNormalize returns a ChannelNormalize with per-channel means and deviations.
func NewChannelNormalize(mean, std []float64) *ChannelNormalize {
	c := newChannelNormalize(ml.NewUID("ChannelNormalize"))
	c.mean.Set(append([]float64(nil), mean...))
	c.std.Set(append([]float64(nil), std...))
	return c
}

func newChannelNormalize(uid string) *ChannelNormalize {
	c := &ChannelNormalize{imageBase: newImageBase(uid)}
	c.mean = ml.NewRequiredParam(c.params, "mean", "per-channel mean, in [0, 1] pixel units", func(v []float64) error {
		if len(v) == 0 {
			return errors.New("want at least one value")
		}
		for _, x := range v {
			if err := checkFinite(x); err != nil {
				return err
			}
		}
		return nil
	})
	c.std = ml.NewRequiredParam(c.params, "std", "per-channel standard deviation, in [0, 1] pixel units", func(v []float64) error {
		if len(v) == 0 {
			return errors.New("want at least one value")
		}
		for _, x := range v {
			if !(x > 0) || math.IsInf(x, 0) {
				return errors.New("want finite positive deviations")
			}
		}
		return nil
	})
	return c
}

func (c *ChannelNormalize) ClassName() string                      { return "ChannelNormalize" }
func (c *ChannelNormalize) SetInputCol(s string) *ChannelNormalize { c.cols.inputCol.Set(s); return c }
func (c *ChannelNormalize) SetOutputCol(s string) *ChannelNormalize {
	c.cols.outputCol.Set(s)
	return c
}
func (c *ChannelNormalize) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	return c.transform(ctx, df, c)
}

func (c *ChannelNormalize) imageSteps() ([]imageStep, error) {
	if err := c.params.Validate(); err != nil {
		return nil, err
	}
	mean, std := c.mean.Get(), c.std.Get()
	if len(mean) != len(std) {
		return nil, fmt.Errorf("%s: %d means but %d deviations", c.uid, len(mean), len(std))
	}
	return []imageStep{{name: c.uid, norm: &channelNorm{mean: append([]float64(nil), mean...), std: append([]float64(nil), std...)}}}, nil
}

// ToTensor turns images into a vector column: HWC order, bytes divided by 255, then any
// ChannelNormalize of the chain. The vector length is fixed by the schema, so Transform reads
// the first image (through the stages before it) to learn it, and every image must then come
// out the same size (resize or crop them, and read them with one frame.ColorMode).
type ToTensor struct {
	imageBase
}

// NewToTensor returns a ToTensor.
func NewToTensor() *ToTensor { return newToTensor(ml.NewUID("ToTensor")) }

func newToTensor(uid string) *ToTensor { return &ToTensor{imageBase: newImageBase(uid)} }

func (t *ToTensor) ClassName() string               { return "ToTensor" }
func (t *ToTensor) SetInputCol(s string) *ToTensor  { t.cols.inputCol.Set(s); return t }
func (t *ToTensor) SetOutputCol(s string) *ToTensor { t.cols.outputCol.Set(s); return t }
func (t *ToTensor) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	return t.transform(ctx, df, t)
}

func (t *ToTensor) imageSteps() ([]imageStep, error) {
	return []imageStep{{name: t.uid, toTensor: true}}, nil
}

// imageKey hashes the seed with an image as a step sees it, so random steps are repeatable
// per image without knowing row positions.
func imageKey(seed int64, p pixels) uint64 {
	h := mix(uint64(seed) ^ 0x696d616765) // "image"
	h = mix(h ^ uint64(p.h)<<40 ^ uint64(p.w)<<16 ^ uint64(p.c))
	h = hashBytes(h, []byte(p.origin))
	return hashBytes(h, p.data)
}

func hashBytes(h uint64, b []byte) uint64 {
	for len(b) >= 8 {
		h = mix(h ^ binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	var tail [8]byte
	copy(tail[:], b)
	return mix(h ^ binary.LittleEndian.Uint64(tail[:]) ^ uint64(len(b))<<56)
}

// mix is the splitmix64 finaliser.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// uniform maps a hash to [0, 1).
func uniform(k uint64) float64 { return float64(k>>11) * 0x1p-53 }

func init() {
	reg := func(class string, mk func(uid string) ImageStage) {
		ml.Register(class, func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
			return loadParams(mk(uid), params)
		})
	}
	reg("Resize", func(uid string) ImageStage { return newResize(uid) })
	reg("CenterCrop", func(uid string) ImageStage { return newCenterCrop(uid) })
	reg("RandomCrop", func(uid string) ImageStage { return newRandomCrop(uid) })
	reg("HorizontalFlip", func(uid string) ImageStage { return newHorizontalFlip(uid) })
	reg("ChannelNormalize", func(uid string) ImageStage { return newChannelNormalize(uid) })
	reg("ToTensor", func(uid string) ImageStage { return newToTensor(uid) })
}
