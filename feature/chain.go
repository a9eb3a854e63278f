package feature

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// ChainedPreprocessing applies image stages in order to every image of its input column in
// one pass, like BigDL's ChainedPreprocessing: for example Resize, CenterCrop,
// ChannelNormalize, ToTensor. The chain's own inputCol and outputCol apply (by default it
// replaces the "image" column); the member stages' columns are ignored. Spatial stages must
// come before ToTensor; a chain without ToTensor gives images. A chain given as a member is
// flattened into its stages.
type ChainedPreprocessing struct {
	imageBase
	stages []ImageStage
}

// NewChainedPreprocessing returns a chain of the given stages.
func NewChainedPreprocessing(stages ...ImageStage) *ChainedPreprocessing {
	return newChainedPreprocessing(ml.NewUID("ChainedPreprocessing"), stages)
}

func newChainedPreprocessing(uid string, stages []ImageStage) *ChainedPreprocessing {
	c := &ChainedPreprocessing{imageBase: newImageBase(uid)}
	for _, s := range stages {
		if inner, ok := s.(*ChainedPreprocessing); ok && inner != nil {
			c.stages = append(c.stages, inner.stages...)
			continue
		}
		c.stages = append(c.stages, s)
	}
	return c
}

func (c *ChainedPreprocessing) ClassName() string { return "ChainedPreprocessing" }

// Stages returns the member stages in order.
func (c *ChainedPreprocessing) Stages() []ImageStage { return append([]ImageStage(nil), c.stages...) }

// SetInputCol sets the image column to read.
func (c *ChainedPreprocessing) SetInputCol(s string) *ChainedPreprocessing {
	c.cols.inputCol.Set(s)
	return c
}

// SetOutputCol sets the column to write; empty replaces inputCol.
func (c *ChainedPreprocessing) SetOutputCol(s string) *ChainedPreprocessing {
	c.cols.outputCol.Set(s)
	return c
}

// Transform applies the chain.
func (c *ChainedPreprocessing) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	return c.transform(ctx, df, c)
}

func (c *ChainedPreprocessing) imageSteps() ([]imageStep, error) {
	var steps []imageStep
	for i, s := range c.stages {
		if s == nil {
			return nil, fmt.Errorf("%s: stage %d is nil", c.uid, i)
		}
		st, err := s.imageSteps()
		if err != nil {
			return nil, fmt.Errorf("%s: stage %d: %w", c.uid, i, err)
		}
		steps = append(steps, st...)
	}
	return steps, nil
}

type chainEntry struct {
	Class  string          `json:"class"`
	UID    string          `json:"uid"`
	Params json.RawMessage `json:"params"`
}

// WriteData saves the member stages' classes, uids and params.
func (c *ChainedPreprocessing) WriteData(dir string) error {
	entries := make([]chainEntry, len(c.stages))
	for i, s := range c.stages {
		if s == nil {
			return fmt.Errorf("%s: stage %d is nil", c.uid, i)
		}
		p, err := s.Params().MarshalJSON()
		if err != nil {
			return err
		}
		entries[i] = chainEntry{Class: s.ClassName(), UID: s.UID(), Params: p}
	}
	return ml.WriteDataJSON(dir, "stages.json", entries)
}

func loadChainedPreprocessing(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
	var entries []chainEntry
	if err := ml.ReadDataJSON(dir, "stages.json", &entries); err != nil {
		return nil, err
	}
	stages := make([]ImageStage, len(entries))
	for i, e := range entries {
		if e.Class == "ChainedPreprocessing" {
			return nil, fmt.Errorf("data/stages.json: stage %d is a ChainedPreprocessing; chains are stored flat", i)
		}
		s, err := ml.LoadStage(e.Class, e.UID, e.Params, "")
		if err != nil {
			return nil, fmt.Errorf("data/stages.json: stage %d: %w", i, err)
		}
		is, ok := s.(ImageStage)
		if !ok {
			return nil, fmt.Errorf("data/stages.json: stage %d (%s) is not an image stage", i, e.Class)
		}
		stages[i] = is
	}
	return loadParams(newChainedPreprocessing(uid, stages), params)
}

func init() {
	ml.Register("ChainedPreprocessing", loadChainedPreprocessing)
}

// runImageSteps adds column out computed from column in by the steps.
func runImageSteps(ctx context.Context, df *frame.DataFrame, uid, in, out string, steps []imageStep) (*frame.DataFrame, error) {
	f, err := field(df, in)
	if err != nil {
		return nil, err
	}
	if out != in {
		if err := checkNewColumn(df, uid, out); err != nil {
			return nil, err
		}
	}
	tensorAt := -1
	var spatial []imageStep
	var norms []channelNorm
	for i, s := range steps {
		switch {
		case s.toTensor:
			if tensorAt >= 0 {
				return nil, fmt.Errorf("%s: ToTensor appears twice (%s and %s)", uid, steps[tensorAt].name, s.name)
			}
			tensorAt = i
		case s.spatial != nil:
			if tensorAt >= 0 {
				return nil, fmt.Errorf("%s: %s comes after ToTensor, but it works on images; put it before ToTensor", uid, s.name)
			}
			spatial = append(spatial, s)
		case s.norm != nil:
			norms = append(norms, *s.norm)
		}
	}
	switch n, isVec := frame.IsVector(f.Type); {
	case isVec:
		if tensorAt >= 0 || len(spatial) > 0 {
			return nil, fmt.Errorf("%s: column %q is a vector; only ChannelNormalize applies to vectors, the other image stages need an image column", uid, in)
		}
		return normalizeVectors(df, uid, in, out, n, norms)
	case !frame.IsImage(f.Type):
		return nil, fmt.Errorf("%s: input column %q is %s; want an image column (%s)", uid, in, f.Type, frame.ImageType())
	case tensorAt < 0 && len(norms) > 0:
		return nil, fmt.Errorf("%s: ChannelNormalize needs the values ToTensor makes; an image column holds bytes (add ToTensor to the chain)", uid)
	case tensorAt < 0:
		return imagesToImages(df, in, out, spatial)
	}
	return imagesToTensors(ctx, df, uid, in, out, spatial, norms)
}

func applySpatial(p pixels, steps []imageStep) (pixels, error) {
	for _, s := range steps {
		var err error
		if p, err = s.spatial(p); err != nil {
			return p, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return p, nil
}

func pixelsOf(img frame.Image) pixels {
	return pixels{origin: img.Origin, h: img.Height, w: img.Width, c: img.Channels, mode: img.Mode, data: img.Data}
}

func imagesToImages(df *frame.DataFrame, in, out string, spatial []imageStep) (*frame.DataFrame, error) {
	fields := []arrow.Field{{Name: out, Type: frame.ImageType(), Nullable: true}}
	return addColumns(df, []string{in}, fields, false, func(cols []arrow.Array, n int) ([]arrow.Array, []bool, error) {
		imgs, err := frame.Images(cols[0])
		if err != nil {
			return nil, nil, err
		}
		b := frame.NewImageBuilder()
		defer b.Release()
		for r := 0; r < n; r++ {
			img, ok := imgs.At(r)
			switch {
			case !ok && cols[0].IsNull(r):
				b.AppendNull()
				continue
			case !ok:
				b.AppendInvalid(img.Origin)
				continue
			}
			p, err := applySpatial(pixelsOf(img), spatial)
			if err != nil {
				return nil, nil, err
			}
			if err := b.Append(frame.Image{Origin: p.origin, Height: p.h, Width: p.w, Channels: p.c, Mode: p.mode, Data: p.data}); err != nil {
				return nil, nil, err
			}
		}
		return []arrow.Array{b.NewArray()}, nil, nil
	})
}

var errFound = errors.New("found")

// firstShape runs the spatial steps on the first decodable image to learn the tensor shape.
func firstShape(ctx context.Context, df *frame.DataFrame, in string, spatial []imageStep) (shape [3]int, ok bool, err error) {
	j := df.Schema().FieldIndices(in)[0]
	err = df.Iterate(ctx, func(rec arrow.RecordBatch) error {
		imgs, err := frame.Images(rec.Column(j))
		if err != nil {
			return err
		}
		for r := 0; r < imgs.Len(); r++ {
			img, valid := imgs.At(r)
			if !valid {
				continue
			}
			p, err := applySpatial(pixelsOf(img), spatial)
			if err != nil {
				return err
			}
			shape, ok = [3]int{p.h, p.w, p.c}, true
			return errFound
		}
		return nil
	})
	if errors.Is(err, errFound) {
		err = nil
	}
	return shape, ok, err
}

func normalize(dst []float64, channels int, norms []channelNorm) error {
	for _, nm := range norms {
		if len(nm.mean) != 1 && len(nm.mean) != channels {
			return fmt.Errorf("ChannelNormalize has %d means for %d channels", len(nm.mean), channels)
		}
		if len(nm.mean) == 1 {
			for i, v := range dst {
				dst[i] = (v - nm.mean[0]) / nm.std[0]
			}
			continue
		}
		for i, v := range dst {
			k := i % channels
			dst[i] = (v - nm.mean[k]) / nm.std[k]
		}
	}
	return nil
}

func imagesToTensors(ctx context.Context, df *frame.DataFrame, uid, in, out string, spatial []imageStep, norms []channelNorm) (*frame.DataFrame, error) {
	shape, found, err := firstShape(ctx, df, in, spatial)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the first image to size the tensor: %w", uid, err)
	}
	if !found {
		return nil, fmt.Errorf("%s: column %q holds no decodable image to size the tensor from", uid, in)
	}
	width := shape[0] * shape[1] * shape[2]
	if width == 0 {
		return nil, fmt.Errorf("%s: the first image of column %q is empty (%dx%dx%d)", uid, in, shape[0], shape[1], shape[2])
	}
	vf, err := vectorField(uid, out, width)
	if err != nil {
		return nil, err
	}
	fields := []arrow.Field{vf}
	return addColumns(df, []string{in}, fields, false, func(cols []arrow.Array, n int) ([]arrow.Array, []bool, error) {
		imgs, err := frame.Images(cols[0])
		if err != nil {
			return nil, nil, err
		}
		flat := make([]float64, n*width)
		var valid []bool
		for r := 0; r < n; r++ {
			img, ok := imgs.At(r)
			if !ok {
				if valid == nil {
					valid = make([]bool, n)
					for i := range valid {
						valid[i] = true
					}
				}
				valid[r] = false
				continue
			}
			p, err := applySpatial(pixelsOf(img), spatial)
			if err != nil {
				return nil, nil, err
			}
			if got := [3]int{p.h, p.w, p.c}; got != shape {
				return nil, nil, fmt.Errorf("%s: image %q is %dx%dx%d after preprocessing, but the tensor column holds %dx%dx%d (the first image's size); resize or crop every image to one size and read them with one frame.ColorMode",
					uid, p.origin, got[0], got[1], got[2], shape[0], shape[1], shape[2])
			}
			dst := flat[r*width : (r+1)*width]
			for i, b := range p.data {
				dst[i] = float64(b) / 255
			}
			if err := normalize(dst, p.c, norms); err != nil {
				return nil, nil, fmt.Errorf("%s: image %q: %w", uid, p.origin, err)
			}
		}
		vec, err := newVectors(width, n, flat, valid)
		if err != nil {
			return nil, nil, err
		}
		return []arrow.Array{vec}, nil, nil
	})
}

func normalizeVectors(df *frame.DataFrame, uid, in, out string, width int, norms []channelNorm) (*frame.DataFrame, error) {
	for _, nm := range norms {
		if len(nm.mean) > 1 && width%len(nm.mean) != 0 {
			return nil, fmt.Errorf("%s: vectors of %d values in column %q do not divide into %d channels", uid, width, in, len(nm.mean))
		}
	}
	vf, err := vectorField(uid, out, width)
	if err != nil {
		return nil, err
	}
	fields := []arrow.Field{vf}
	return addColumns(df, []string{in}, fields, false, func(cols []arrow.Array, n int) ([]arrow.Array, []bool, error) {
		var nerr error
		a, err := mapVectors(cols[0], width, width, func(dst, src []float64) {
			copy(dst, src)
			for _, nm := range norms {
				if err := normalize(dst, len(nm.mean), []channelNorm{nm}); err != nil && nerr == nil {
					nerr = err
				}
			}
		})
		if err == nil {
			err = nerr
		}
		if err != nil {
			return nil, nil, err
		}
		return []arrow.Array{a}, nil, nil
	})
}
