package tensorboard

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestBucketLimits(t *testing.T) {
	limits := bucketLimits()
	// 1e-12·1.1^k < 1e20 holds for k = 0..773 (log(1e32)/log(1.1) ≈ 773.1),
	// plus MaxFloat64, on each side of the 0 edge.
	const perSide = 774 + 1
	if len(limits) != 2*perSide+1 {
		t.Fatalf("%d limits, want %d", len(limits), 2*perSide+1)
	}
	mid := perSide
	checks := []struct {
		i    int
		want float64
	}{
		{0, -math.MaxFloat64},
		{mid - 1, -1e-12},
		{mid, 0},
		{mid + 1, 1e-12},
		{len(limits) - 1, math.MaxFloat64},
	}
	for _, c := range checks {
		if limits[c.i] != c.want {
			t.Errorf("limits[%d] = %g, want %g", c.i, limits[c.i], c.want)
		}
	}
	for i := 1; i < len(limits); i++ {
		if limits[i] <= limits[i-1] {
			t.Fatalf("limits not increasing at %d: %g, %g", i, limits[i-1], limits[i])
		}
		if limits[i] != -limits[len(limits)-1-i] {
			t.Fatalf("limits not symmetric at %d", i)
		}
	}
	for i := mid + 2; i < len(limits)-1; i++ {
		if r := limits[i] / limits[i-1]; math.Abs(r-1.1) > 1e-9 {
			t.Fatalf("limits[%d]/limits[%d] = %v, want 1.1", i, i-1, r)
		}
	}
	if top := limits[len(limits)-2]; top >= 1e20 || top*1.1 < 1e20 {
		t.Errorf("largest finite limit %g is not the last step below 1e20", top)
	}
}

func TestNewHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	normal := make([]float32, 10000)
	for i := range normal {
		normal[i] = float32(rng.NormFloat64() * 0.05)
	}
	tests := []struct {
		name                           string
		values                         []float32
		min, max, num, sum, sumSquares float64
		buckets                        int // expected bucket count; 0 to skip
	}{
		{"zero", []float32{0}, 0, 0, 1, 0, 0, 1},
		{"one value twice", []float32{3, 3}, 3, 3, 2, 6, 18, 1},
		{"both signs", []float32{-2, 0.5, 4}, -2, 4, 3, 2.5, 20.25, 0},
		{"tiny negative", []float32{-1e-13}, -1e-13, -1e-13, 1, -1e-13, 1e-26, 1},
		{"float32 extremes", []float32{-math.MaxFloat32, math.MaxFloat32}, -math.MaxFloat32, math.MaxFloat32, 2, 0, 2 * math.MaxFloat32 * math.MaxFloat32, 3},
		{"normal weights", normal, math.NaN(), 0, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := newHistogram(tt.values)
			if err != nil {
				t.Fatal(err)
			}
			if !math.IsNaN(tt.min) { // NaN: statistics not worked out by hand
				got := [5]float64{h.Min, h.Max, h.Num, h.Sum, h.SumSquares}
				want := [5]float64{tt.min, tt.max, tt.num, tt.sum, tt.sumSquares}
				// float32 inputs are exact in float64; only the sums round.
				for i := range got {
					if !closeTo(got[i], want[i]) {
						t.Errorf("min,max,num,sum,sum_squares = %v, want %v", got, want)
						break
					}
				}
			}
			if tt.buckets != 0 && len(h.Bucket) != tt.buckets {
				t.Errorf("%d buckets, want %d: limits %v counts %v", len(h.Bucket), tt.buckets, h.BucketLimit, h.Bucket)
			}
			checkHistogram(t, h, tt.values)
		})
	}
}

func closeTo(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-6*math.Max(math.Abs(a), math.Abs(b))
}

// checkHistogram verifies h against the HistogramProto contract and the
// package's documented layout, by recounting values into h's buckets.
func checkHistogram(t *testing.T, h *Histogram, values []float32) {
	t.Helper()
	n := len(h.Bucket)
	if n == 0 || n != len(h.BucketLimit) {
		t.Fatalf("%d buckets, %d limits", n, len(h.BucketLimit))
	}
	if h.Bucket[0] == 0 || h.Bucket[n-1] == 0 {
		t.Errorf("leading or trailing empty bucket: %v", h.Bucket)
	}
	for i := 1; i < n; i++ {
		if h.BucketLimit[i] <= h.BucketLimit[i-1] {
			t.Fatalf("limits not increasing: %v", h.BucketLimit)
		}
		if h.Bucket[i] == 0 && h.Bucket[i-1] == 0 {
			t.Errorf("adjacent empty buckets %d and %d not merged", i-1, i)
		}
	}
	limits := bucketLimits()
	for _, l := range h.BucketLimit {
		found := false
		for _, d := range limits {
			found = found || d == l
		}
		if !found {
			t.Fatalf("limit %g is not a default bucket edge", l)
		}
	}
	counts := make([]float64, n)
	for _, f := range values {
		v := float64(f)
		i := 0
		for i < n && !(v < h.BucketLimit[i]) {
			i++
		}
		if i == n {
			t.Fatalf("value %g is above the last limit %g", v, h.BucketLimit[n-1])
		}
		counts[i]++
	}
	for i := range counts {
		if counts[i] != h.Bucket[i] {
			t.Fatalf("bucket %d (limit %g) holds %v, recount says %v", i, h.BucketLimit[i], h.Bucket[i], counts[i])
		}
	}
}

func TestNewHistogramErrors(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	tests := []struct {
		name   string
		values []float32
		want   string
	}{
		{"nil", nil, "no values"},
		{"empty", []float32{}, "no values"},
		{"NaN", []float32{1, 2, nan}, "values[2] is NaN"},
		{"+Inf", []float32{inf}, "values[0] is +Inf"},
		{"-Inf", []float32{0, -inf}, "values[1] is -Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newHistogram(tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func BenchmarkNewHistogram(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([]float32, 1<<20)
	for i := range values {
		values[i] = float32(rng.NormFloat64())
	}
	b.SetBytes(int64(4 * len(values)))
	for b.Loop() {
		if _, err := newHistogram(values); err != nil {
			b.Fatal(err)
		}
	}
}
