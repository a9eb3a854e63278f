package backend

import (
	"fmt"

	"github.com/deepframe/deepframe/backend/internal/par"
)

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
	gatherTask{table: table, out: out, idx: idx, cols: cols}.run(len(idx), max(1, elemGrain/cols))
	return nil
}

// gatherTask copies rows [lo, hi) of idx (gather) or adds columns [lo, hi) of src into dst
// (scatter).
type gatherTask struct {
	scatter         bool
	table, out, src []float32
	idx             []int64
	cols, dstRows   int
}

var gatherTasks par.Pool[gatherTask, *gatherTask]

func (t gatherTask) run(n, grain int) {
	if threads, inline := split(n, grain); inline {
		t.Run(0, max(n, 0))
	} else {
		gatherTasks.For(threads, n, grain, t)
	}
}

func (t *gatherTask) Run(lo, hi int) {
	cols := t.cols
	if !t.scatter {
		for i := lo; i < hi; i++ {
			r := int(t.idx[i])
			copy(t.out[i*cols:i*cols+cols], t.table[r*cols:r*cols+cols])
		}
		return
	}
	c0, c1 := lo, hi
	for i, r := range t.idx {
		if r < 0 || r >= int64(t.dstRows) {
			continue
		}
		d := t.out[int(r)*cols+c0 : int(r)*cols+c1]
		s := t.src[i*cols+c0 : i*cols+c1]
		for j, v := range s {
			d[j] += v
		}
	}
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
	gatherTask{scatter: true, out: dst, src: src, idx: idx, cols: cols, dstRows: dstRows}.run(cols, grain)
}
