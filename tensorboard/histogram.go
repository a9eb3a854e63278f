package tensorboard

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// bucketLimits returns the upper edges of TensorFlow's default histogram
// buckets in increasing order: -MaxFloat64, then -1e20·(1/1.1)^k up to
// -1e-12, then 0, then 1e-12·1.1^k below 1e20, then MaxFloat64. They
// come from repeated multiplication, as in TensorFlow, rather than math.Pow,
// so that the edges line up with TensorFlow's own histograms.
var bucketLimits = sync.OnceValue(func() []float64 {
	var pos []float64
	for v := 1e-12; v < 1e20; v *= 1.1 {
		pos = append(pos, v)
	}
	pos = append(pos, math.MaxFloat64)
	limits := make([]float64, 0, 2*len(pos)+1)
	for i := len(pos) - 1; i >= 0; i-- {
		limits = append(limits, -pos[i])
	}
	limits = append(limits, 0)
	return append(limits, pos...)
})

// newHistogram summarises values with the default buckets (see the package
// documentation). Non-finite values are refused rather than dropped: a NaN
// weight is exactly what a user needs to hear about, and Inf would make Min,
// Max and Sum useless for every later reader.
func newHistogram(values []float32) (*Histogram, error) {
	if len(values) == 0 {
		return nil, fmt.Errorf("no values")
	}
	limits := bucketLimits()
	counts := make([]float64, len(limits))
	h := &Histogram{
		Min: math.Inf(1),
		Max: math.Inf(-1),
		Num: float64(len(values)),
	}
	for i, f := range values {
		v := float64(f)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("values[%d] is %v; a histogram needs finite values", i, f)
		}
		h.Min = min(h.Min, v)
		h.Max = max(h.Max, v)
		h.Sum += v
		h.SumSquares += v * v
		// A bucket holds values below its limit, so the bucket of v is the
		// first limit strictly greater than v. A float32 is always below
		// the last limit (MaxFloat64), so the index is in range.
		b, found := slices.BinarySearch(limits, v)
		if found {
			b++
		}
		counts[b]++
	}

	first := slices.IndexFunc(counts, func(c float64) bool { return c > 0 })
	last := len(counts) - 1
	for counts[last] == 0 {
		last--
	}
	// Buckets outside [first, last] are empty and omitted: bucket 0's range
	// starts at -MaxFloat64 by definition, and nothing lies above the last
	// limit. Inside, a run of empty buckets becomes one empty bucket that
	// ends where the run ends.
	for i := first; i <= last; i++ {
		if counts[i] == 0 && counts[i+1] == 0 {
			continue
		}
		h.BucketLimit = append(h.BucketLimit, limits[i])
		h.Bucket = append(h.Bucket, counts[i])
	}
	return h, nil
}
