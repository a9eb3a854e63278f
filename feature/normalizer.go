package feature

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// Normalizer scales each vector to unit p-norm (default p = 2; p = +Inf uses the largest
// absolute value), as Spark's Normalizer does. A zero vector stays zero; null rows stay null.
type Normalizer struct {
	uid    string
	params *ml.Params
	cols   vectorStage
	p      *ml.Param[float64]
}

// NewNormalizer returns a Normalizer with p = 2.
func NewNormalizer() *Normalizer { return newNormalizer(ml.NewUID("Normalizer")) }

func newNormalizer(uid string) *Normalizer {
	ps := ml.NewParams(uid)
	return &Normalizer{uid: uid, params: ps, cols: newVectorStage(ps, uid),
		p: ml.NewParam(ps, "p", "the norm's p, at least 1 (+Inf for the max norm)", 2.0, func(v float64) error {
			if !(v >= 1) {
				return fmt.Errorf("want p >= 1")
			}
			return nil
		})}
}

func (n *Normalizer) UID() string        { return n.uid }
func (n *Normalizer) ClassName() string  { return "Normalizer" }
func (n *Normalizer) Params() *ml.Params { return n.params }

// SetInputCol sets the vector column to normalise.
func (n *Normalizer) SetInputCol(c string) *Normalizer { n.cols.inputCol.Set(c); return n }

// SetOutputCol sets the normalised vector column.
func (n *Normalizer) SetOutputCol(c string) *Normalizer { n.cols.outputCol.Set(c); return n }

// SetP sets the norm's p.
func (n *Normalizer) SetP(p float64) *Normalizer { n.p.Set(p); return n }

// Transform adds the normalised column.
func (n *Normalizer) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	if err := n.params.Validate(); err != nil {
		return nil, err
	}
	p := n.p.Get()
	return n.cols.transform(df, n.uid, -1, func(dst, src []float64) {
		norm := pNorm(src, p)
		for j, x := range src {
			if norm != 0 {
				x /= norm
			}
			dst[j] = x
		}
	})
}

func pNorm(v []float64, p float64) float64 {
	var s float64
	switch {
	case p == 1:
		for _, x := range v {
			s += math.Abs(x)
		}
		return s
	case p == 2:
		for _, x := range v {
			s += x * x
		}
		return math.Sqrt(s)
	case math.IsInf(p, 1):
		for _, x := range v {
			s = math.Max(s, math.Abs(x))
		}
		return s
	}
	for _, x := range v {
		s += math.Pow(math.Abs(x), p)
	}
	return math.Pow(s, 1/p)
}

func init() {
	ml.Register("Normalizer", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		return loadParams(newNormalizer(uid), params)
	})
}
