package feature

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/ml"
)

// VectorAssembler concatenates numeric, Boolean and vector columns into one vector column, in
// the order of inputCols. Invalid values are nulls and NaN (in a scalar or inside a vector):
// handleInvalid "error" (the default) fails, "skip" drops the row, "keep" writes NaN for a
// null (a null vector becomes that many NaN) and keeps NaN. Spark's documentation gives this
// meaning to "error" as well; Spark's code lets NaN through in that mode.
type VectorAssembler struct {
	uid           string
	params        *ml.Params
	inputCols     *ml.Param[[]string]
	outputCol     *ml.Param[string]
	handleInvalid *ml.Param[string]
}

// NewVectorAssembler returns a VectorAssembler.
func NewVectorAssembler() *VectorAssembler { return newVectorAssembler(ml.NewUID("VectorAssembler")) }

func newVectorAssembler(uid string) *VectorAssembler {
	ps := ml.NewParams(uid)
	return &VectorAssembler{
		uid:    uid,
		params: ps,
		inputCols: ml.NewRequiredParam(ps, "inputCols", "input columns: numeric, Boolean or vector", func(v []string) error {
			if len(v) == 0 {
				return fmt.Errorf("want at least one column")
			}
			return nonEmptyStrings(v)
		}),
		outputCol: ml.NewParam(ps, "outputCol", "output vector column", uid+"__output", ml.NonEmpty),
		handleInvalid: ml.NewParam(ps, "handleInvalid",
			"how to handle nulls and NaN: error, skip (drop the row) or keep (as NaN)",
			HandleError, ml.OneOf(HandleError, HandleSkip, HandleKeep)),
	}
}

func (a *VectorAssembler) UID() string        { return a.uid }
func (a *VectorAssembler) ClassName() string  { return "VectorAssembler" }
func (a *VectorAssembler) Params() *ml.Params { return a.params }

// SetInputCols sets the columns to concatenate, in order.
func (a *VectorAssembler) SetInputCols(c ...string) *VectorAssembler { a.inputCols.Set(c); return a }

// SetOutputCol sets the vector column to add.
func (a *VectorAssembler) SetOutputCol(c string) *VectorAssembler { a.outputCol.Set(c); return a }

// SetHandleInvalid sets "error", "skip" or "keep".
func (a *VectorAssembler) SetHandleInvalid(v string) *VectorAssembler {
	a.handleInvalid.Set(v)
	return a
}

// Transform adds the assembled vector column.
func (a *VectorAssembler) Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error) {
	if err := a.params.Validate(); err != nil {
		return nil, err
	}
	ins, out, mode := append([]string(nil), a.inputCols.Get()...), a.outputCol.Get(), a.handleInvalid.Get()
	widths := make([]int, len(ins))
	vector := make([]bool, len(ins))
	total := 0
	for i, c := range ins {
		f, err := field(df, c)
		if err != nil {
			return nil, err
		}
		switch n, ok := frame.IsVector(f.Type); {
		case ok:
			widths[i], vector[i] = n, true
		case frame.IsNumeric(f.Type):
			widths[i] = 1
		default:
			return nil, fmt.Errorf("%s: input column %q is %s; want a numeric, Boolean or vector column", a.uid, c, f.Type)
		}
		total += widths[i]
	}
	if err := checkNewColumn(df, a.uid, out); err != nil {
		return nil, err
	}
	uid := a.uid
	vf, err := vectorField(a.uid, out, total)
	if err != nil {
		return nil, err
	}
	fields := []arrow.Field{vf}
	return addColumns(df, ins, fields, mode == HandleSkip, func(cols []arrow.Array, n int) ([]arrow.Array, []bool, error) {
		flat := make([]float64, n*total)
		var keep []bool
		drop := func(r int) {
			if keep == nil {
				keep = make([]bool, n)
				for i := range keep {
					keep[i] = true
				}
			}
			keep[r] = false
		}
		invalid := func(i, r int, what string) error {
			switch mode {
			case HandleSkip:
				drop(r)
				return nil
			case HandleKeep:
				return nil
			}
			return fmt.Errorf("%s: %s in column %q while assembling a row; set handleInvalid to skip or keep, or clean the column", uid, what, ins[i])
		}
		off := 0
		for i, col := range cols {
			w := widths[i]
			if vector[i] {
				vals, _, err := frame.VectorValues(col)
				if err != nil {
					return nil, nil, err
				}
				for r := 0; r < n; r++ {
					dst := flat[r*total+off : r*total+off+w]
					if col.IsNull(r) {
						for j := range dst {
							dst[j] = math.NaN()
						}
						if err := invalid(i, r, "null"); err != nil {
							return nil, nil, err
						}
						continue
					}
					src := vals[r*w : (r+1)*w]
					copy(dst, src)
					for _, v := range src {
						if math.IsNaN(v) {
							if err := invalid(i, r, "NaN"); err != nil {
								return nil, nil, err
							}
							break
						}
					}
				}
			} else {
				vals, err := frame.ToFloat64(nil, col)
				if err != nil {
					return nil, nil, err
				}
				for r, v := range vals {
					flat[r*total+off] = v
					if math.IsNaN(v) {
						what := "NaN"
						if col.IsNull(r) {
							what = "null"
						}
						if err := invalid(i, r, what); err != nil {
							return nil, nil, err
						}
					}
				}
			}
			off += w
		}
		vec, err := newVectors(total, n, flat, nil)
		if err != nil {
			return nil, nil, err
		}
		return []arrow.Array{vec}, keep, nil
	})
}

func init() {
	ml.Register("VectorAssembler", func(uid string, params json.RawMessage, dir string) (ml.Stage, error) {
		return loadParams(newVectorAssembler(uid), params)
	})
}
