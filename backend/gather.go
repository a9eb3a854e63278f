package backend

import "fmt"

// Gather checks every index before copying anything, so on error out is left untouched.
func (reference) Gather(table []float32, tableRows, cols int, idx []int64, out []float32) error {
	for i, r := range idx {
		if r < 0 || r >= int64(tableRows) {
			return fmt.Errorf("backend: gather index %d at position %d is out of range [0, %d)", r, i, tableRows)
		}
	}
	if cols <= 0 {
		return nil
	}
	parallelFor(len(idx), max(1, elemGrain/cols), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := int(idx[i])
			copy(out[i*cols:i*cols+cols], table[r*cols:r*cols+cols])
		}
	})
	return nil
}

// ScatterAdd splits the work by columns, never by indices: a repeated index then always lands
// in one goroutine's columns, so there are no races and the additions happen in index order
// whatever the thread count. Indices outside [0, dstRows) are skipped (Gather, the forward,
// already rejected them), as TensorFlow's CPU segment sums do.
func (reference) ScatterAdd(dst []float32, dstRows, cols int, idx []int64, src []float32) {
	if cols <= 0 || len(idx) == 0 {
		return
	}
	// Column ranges narrower than a few cache lines would make goroutines share lines.
	const minCols = 64
	grain := max(minCols, elemGrain/len(idx))
	parallelFor(cols, grain, func(c0, c1 int) {
		for i, r := range idx {
			if r < 0 || r >= int64(dstRows) {
				continue
			}
			d := dst[int(r)*cols+c0 : int(r)*cols+c1]
			s := src[i*cols+c0 : i*cols+c1]
			for j, v := range s {
				d[j] += v
			}
		}
	})
}
