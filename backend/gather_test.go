package backend

import (
	"strings"
	"testing"
)

func TestGather(t *testing.T) {
	r := newRNG(90)
	for _, tc := range []struct{ rows, cols, n int }{{5, 3, 7}, {50, 300, 400}} {
		table := randVec(r, tc.rows*tc.cols, -1, 1)
		idx := make([]int64, tc.n)
		for i := range idx {
			idx[i] = int64(r.IntN(tc.rows))
		}
		out := nanVec(tc.n * tc.cols)
		if err := ref.Gather(table, tc.rows, tc.cols, idx, out); err != nil {
			t.Fatal(err)
		}
		want := make([]float64, len(out))
		for i, row := range idx {
			for j := 0; j < tc.cols; j++ {
				want[i*tc.cols+j] = float64(table[int(row)*tc.cols+j])
			}
		}
		assertClose(t, "gather", out, want, 0, 0)
	}
}

func TestGatherOutOfRange(t *testing.T) {
	table := []float32{1, 2, 3, 4, 5, 6}
	for _, tc := range []struct {
		idx  []int64
		want []string
	}{
		{[]int64{0, 3, 1}, []string{"index 3", "position 1", "[0, 3)"}},
		{[]int64{2, -1}, []string{"index -1", "position 1", "[0, 3)"}},
	} {
		out := []float32{9, 9, 9, 9, 9, 9}
		err := ref.Gather(table, 3, 2, tc.idx, out)
		if err == nil {
			t.Fatalf("Gather(%v) on 3 rows: no error", tc.idx)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Gather(%v): error %q does not mention %q", tc.idx, err, w)
			}
		}
		for _, v := range out {
			if v != 9 {
				t.Errorf("Gather(%v) wrote output before failing: %v", tc.idx, out)
				break
			}
		}
	}
}

func TestScatterAdd(t *testing.T) {
	r := newRNG(91)
	for _, tc := range []struct {
		rows, cols int
		idx        []int64
	}{
		{4, 3, []int64{1, 3, 1, 1, 0}},
		{1, 2, []int64{0, 0, 0}},
		{6, 256, nil}, // many repeats, columns split across goroutines
	} {
		idx := tc.idx
		if idx == nil {
			idx = make([]int64, 1000)
			for i := range idx {
				idx[i] = int64(r.IntN(tc.rows))
			}
		}
		dst := randVec(r, tc.rows*tc.cols, -1, 1)
		src := randVec(r, len(idx)*tc.cols, -1, 1)
		want := to64(dst)
		for i, row := range idx {
			for j := 0; j < tc.cols; j++ {
				want[int(row)*tc.cols+j] += float64(src[i*tc.cols+j])
			}
		}
		ref.ScatterAdd(dst, tc.rows, tc.cols, idx, src)
		assertClose(t, "scatter-add", dst, want, 1e-5, 1e-5)
	}
}
