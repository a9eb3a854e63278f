package feature

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// Bucketizer maps a numeric column to bucket indices (Float64) given n+1 strictly increasing
// splits: bucket i holds [splits[i], splits[i+1]), except the last, which also holds its upper
// bound. Use -Inf and +Inf as the outer splits to cover every value; a value outside the
// splits is always an error, as in Spark. handleInvalid is about NaN (and nulls): "error"
// fails, "skip" drops the row, "keep" puts it in an extra bucket, index n. In "error" and
// "keep" modes a null stays null. Several columns take inputCols, outputCols and splitsArray.
type Bucketizer struct {
	uid           string
	params        *ml.Params
	cols          columnPairs
	splits        *ml.Param[[]float64]
	splitsArray   *ml.Param[[][]float64]
	handleInvalid *ml.Param[string]
}

// NewBucketizer returns a Bucketizer; set splits (or splitsArray) before use.
func NewBucketizer() *Bucketizer { return newBucketizer(ml.NewUID("Bucketizer")) }

func newBucketizer(uid string) *Bucketizer {
	ps := ml.NewParams(uid)
	b := &Bucketizer{uid: uid, params: ps, cols: newColumnPairs(ps, uid)}
	b.splits = ml.NewParam[[]float64](ps, "splits",
		"bucket boundaries, at least 3, strictly increasing; -Inf/+Inf at the ends cover every value", nil,
		func(s []float64) error {
			if s == nil {
				return nil
			}
			return checkSplits(s)
		})
	b.splitsArray = ml.NewParam[[][]float64](ps, "splitsArray", "splits for each of inputCols", nil,
		func(a [][]float64) error {
			for i, s := range a {
				if err := checkSplits(s); err != nil {
					return fmt.Errorf("splits %d: %w", i, err)
				}
			}
			return nil
		})
	b.handleInvalid = ml.NewParam(ps, "handleInvalid",
		"how to handle NaN and nulls: error, skip (drop the row) or keep (extra bucket)",
		HandleError, ml.OneOf(HandleError, HandleSkip, HandleKeep))
	return b
}

func checkSplits(s []float64) error {
	if len(s) < 3 {
		return fmt.Errorf("%d splits: want at least 3 (two buckets)", len(s))
	}
	for i, v := range s {
		if math.IsNaN(v) {
			return fmt.Errorf("split %d is NaN", i)
		}
		if i > 0 && !(s[i-1] < v) {
			return fmt.Errorf("splits must be strictly increasing, but split %d (%v) follows %v", i, v, s[i-1])
		}
	}
	return nil
}

func (b *Bucketizer) UID() string        { return b.uid }
func (b *Bucketizer) ClassName() string  { return "Bucketizer" }
func (b *Bucketizer) Params() *ml.Params { return b.params }

// SetInputCol sets the one column to bucket.
func (b *Bucketizer) SetInputCol(c string) *Bucketizer { b.cols.inputCol.Set(c); return b }

// SetOutputCol sets the bucket index column for inputCol.
func (b *Bucketizer) SetOutputCol(c string) *Bucketizer { b.cols.outputCol.Set(c); return b }

// SetInputCols sets several columns to bucket, each with its own splits in splitsArray.
func (b *Bucketizer) SetInputCols(c ...string) *Bucketizer { b.cols.inputCols.Set(c); return b }

// SetOutputCols sets one output column per input column.
func (b *Bucketizer) SetOutputCols(c ...string) *Bucketizer { b.cols.outputCols.Set(c); return b }

// SetSplits sets the boundaries for inputCol.
func (b *Bucketizer) SetSplits(s ...float64) *Bucketizer { b.splits.Set(s); return b }

// SetSplitsArray sets the boundaries for each of inputCols.
func (b *Bucketizer) SetSplitsArray(a ...[]float64) *Bucketizer { b.splitsArray.Set(a); return b }

// SetHandleInvalid sets "error", "skip" or "keep".
func (b *Bucketizer) SetHandleInvalid(v string) *Bucketizer { b.handleInvalid.Set(v); return b }

// Transform adds the bucket index columns.
func (b *Bucketizer) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	if err := b.params.Validate(); err != nil {
		return nil, err
	}
	ins, outs, err := b.cols.resolve(b.uid)
	if err != nil {
		return nil, err
	}
	var splits [][]float64
	if len(b.cols.inputCols.Get()) > 0 {
		if b.splits.Get() != nil {
			return nil, fmt.Errorf("%s: with inputCols set splitsArray, not splits", b.uid)
		}
		if len(b.splitsArray.Get()) != len(ins) {
			return nil, fmt.Errorf("%s: %d inputCols but %d entries in splitsArray", b.uid, len(ins), len(b.splitsArray.Get()))
		}
		for _, s := range b.splitsArray.Get() {
			splits = append(splits, append([]float64(nil), s...))
		}
	} else {
		if b.splits.Get() == nil {
			return nil, fmt.Errorf("%s: param splits is required with inputCol", b.uid)
		}
		if b.splitsArray.Get() != nil {
			return nil, fmt.Errorf("%s: with inputCol set splits, not splitsArray", b.uid)
		}
		splits = [][]float64{append([]float64(nil), b.splits.Get()...)}
	}
	fields := make([]arrow.Field, len(ins))
	for k, c := range ins {
		f, err := field(df, c)
		if err != nil {
			return nil, err
		}
		if !frame.IsNumeric(f.Type) {
			return nil, fmt.Errorf("%s: input column %q is %s; want a numeric column", b.uid, c, f.Type)
		}
		if err := checkNewColumn(df, b.uid, outs[k]); err != nil {
			return nil, err
		}
		fields[k] = arrow.Field{Name: outs[k], Type: arrow.PrimitiveTypes.Float64, Nullable: true}
	}
	mode, uid := b.handleInvalid.Get(), b.uid
	return addColumns(df, ins, fields, mode == HandleSkip, func(in []arrow.Array, n int) ([]arrow.Array, []bool, error) {
		var keep []bool
		out := make([]arrow.Array, 0, len(in))
		release := func() {
			for _, a := range out {
				a.Release()
			}
		}
		for k, col := range in {
			vals, valid, err := numbers(col)
			if err != nil {
				release()
				return nil, nil, err
			}
			s := splits[k]
			res := make([]float64, n)
			for r, v := range vals {
				null := valid != nil && !valid[r]
				if null || math.IsNaN(v) {
					switch mode {
					case HandleSkip:
						if keep == nil {
							keep = make([]bool, n)
							for i := range keep {
								keep[i] = true
							}
						}
						keep[r] = false
					case HandleKeep:
						res[r] = float64(len(s) - 1)
					default:
						if !null {
							release()
							return nil, nil, fmt.Errorf("%s: NaN in column %q; set handleInvalid to skip or keep", uid, ins[k])
						}
					}
					continue
				}
				i, err := bucket(s, v)
				if err != nil {
					release()
					return nil, nil, fmt.Errorf("%s: column %q: %w", uid, ins[k], err)
				}
				res[r] = float64(i)
			}
			if valid != nil && mode != HandleSkip {
				out = append(out, float64Array(res, valid))
			} else {
				out = append(out, float64Array(res, nil))
			}
		}
		return out, keep, nil
	})
}

// bucket finds the bucket of v; splits are strictly increasing.
func bucket(splits []float64, v float64) (int, error) {
	last := len(splits) - 1
	if v == splits[last] {
		return last - 1, nil
	}
	i := sort.SearchFloat64s(splits, v) // first split >= v
	switch {
	case i < len(splits) && splits[i] == v:
		return i, nil
	case i == 0 || i == len(splits):
		return 0, fmt.Errorf("value %v is outside the splits [%v, %v]; widen them (for example with -Inf and +Inf)", v, splits[0], splits[last])
	}
	return i - 1, nil
}

func init() {
	ml.Register("Bucketizer", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		return loadParams(newBucketizer(uid), params)
	})
}
