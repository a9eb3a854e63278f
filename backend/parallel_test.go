package backend

import (
	"testing"

	"github.com/deepframe/deepframe/backend/internal/alloctest"
)

func TestScratchPool(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 5, 1000, 1 << 20} {
		p := scratch32.Get(n)
		if len(*p) != n {
			t.Fatalf("get(%d) has length %d", n, len(*p))
		}
		scratch32.Put(p)
		q := scratch32.Get(n)
		if len(*q) != n {
			t.Fatalf("get(%d) after put has length %d", n, len(*q))
		}
		scratch32.Put(q)
	}
}

// TestSteadyStateAllocations checks that repeated kernel calls allocate nothing, on the
// calling goroutine (small shapes) and shared among threads (large ones): scratch comes from
// pools, loop bodies are pooled structs rather than escaping closures, and shape bookkeeping
// lives in fixed-size arrays.
func TestSteadyStateAllocations(t *testing.T) {
	if testing.Short() || alloctest.Race {
		t.Skip("allocation counts need warm pools (and no race detector)")
	}
	t.Setenv("DEEPFRAME_NUM_THREADS", "2")
	r := newRNG(5)
	vec := func(n int) []float32 { return randVec(r, n, -1, 1) }
	type kernel struct {
		name string
		call func()
	}
	var ks []kernel
	add := func(name string, call func()) { ks = append(ks, kernel{name, call}) }
	for _, big := range []bool{false, true} {
		size := "small"
		rows, cols := 8, 10
		p := convCase(2, 6, 6, 3, 3, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1)
		strided := convCase(2, 7, 7, 3, 3, 3, 4, 2, 2, 1, 1, 0, 0, 0, 0)
		pp := poolCase(MaxPool, 2, 6, 6, 3, 2, 2, 2, 2, 0, 0, 0, 0)
		gm, gn, gk := 16, 10, 4
		if big {
			size = "parallel"
			rows, cols = 3000, 40
			p = convCase(4, 16, 16, 8, 3, 3, 16, 1, 1, 1, 1, 1, 1, 1, 1)
			strided = convCase(8, 33, 33, 8, 3, 3, 16, 2, 2, 1, 1, 0, 0, 0, 0)
			pp = poolCase(MaxPool, 16, 32, 32, 8, 2, 2, 2, 2, 0, 0, 0, 0)
			gm, gn, gk = 200, 150, 300
		}
		n := rows * cols
		x, y, dy, dx := vec(n), vec(n), vec(n), vec(n)
		pos := make([]float32, n)
		for i := range pos {
			pos[i] = 0.5 + float32(i%7)
		}
		rowVec, colVec := vec(rows), vec(cols)
		add(size+"/unary", func() { ref.Unary(Tanh, 0, x, y) })
		add(size+"/unary backward", func() { ref.UnaryBackward(Sigmoid, 0, x, y, dy, dx) })
		add(size+"/unary backward recomputing y", func() { ref.UnaryBackward(Sqrt, 0, pos, nil, dy, dx) })
		// Shapes are made once: a literal in the call would escape through the Backend
		// interface and count as the kernel's allocation.
		shape, colShape := []int{rows, cols}, []int{cols}
		split3, rowShape3 := []int{rows / 2, 2, cols}, []int{rows / 2, 1, 1}
		shape4, trShape := []int{2, rows / 4, 2, cols}, []int{2, rows / 2, cols}
		axes0, axes1, axes01, axes13 := []int{0}, []int{1}, []int{0, 1}, []int{1, 3}
		perm10, perm201 := []int{1, 0}, []int{2, 0, 1}
		add(size+"/binary", func() { ref.Binary(Add, x, shape, y, shape, dx, shape) })
		add(size+"/binary bias", func() { ref.Binary(Mul, x, shape, colVec, colShape, dx, shape) })
		add(size+"/binary strided", func() { ref.Binary(Sub, x, split3, rowVec[:rows/2], rowShape3, dx, split3) })
		add(size+"/reduce rows", func() { ref.Reduce(ReduceSum, x, shape, axes0, colVec) })
		add(size+"/reduce cols", func() { ref.Reduce(ReduceMax, x, shape, axes1, rowVec) })
		add(size+"/reduce all", func() { ref.Reduce(ReduceMean, x, shape, axes01, rowVec[:1]) })
		add(size+"/reduce alternating", func() { ref.Reduce(ReduceSum, x, shape4, axes13, rowVec[:4]) })
		add(size+"/transpose", func() { ref.Transpose(x, shape, perm10, y) })
		add(size+"/transpose general", func() { ref.Transpose(x, trShape, perm201, y) })
		add(size+"/softmax", func() { ref.Softmax(rows, cols, x, y) })
		add(size+"/log softmax", func() { ref.LogSoftmax(rows, cols, x, y) })
		add(size+"/softmax backward", func() { ref.SoftmaxBackward(rows, cols, y, dy, dx) })
		add(size+"/log softmax backward", func() { ref.LogSoftmaxBackward(rows, cols, y, dy, dx) })
		mean, inv := make([]float32, cols), make([]float32, cols)
		dg, db := make([]float32, cols), make([]float32, cols)
		add(size+"/batch norm", func() { ref.BatchNormForwardTraining(rows, cols, 1e-3, x, colVec, colVec, y, mean, inv) })
		add(size+"/batch norm inference", func() { ref.BatchNormForwardInference(rows, cols, 1e-3, x, nil, nil, mean, pos[:cols], y) })
		add(size+"/batch norm backward", func() { ref.BatchNormBackward(rows, cols, x, dy, colVec, mean, inv, dx, dg, db) })
		idx := make([]int64, rows)
		for i := range idx {
			idx[i] = int64(i * 7 % rows)
		}
		add(size+"/gather", func() {
			if err := ref.Gather(x, rows, cols, idx, y); err != nil {
				t.Fatal(err)
			}
		})
		add(size+"/scatter add", func() { ref.ScatterAdd(dx, rows, cols, idx, dy) })
		a, b, c, bias := vec(gm*gk), vec(gk*gn), vec(gm*gn), vec(gn)
		add(size+"/gemm", func() { ref.Gemm(GemmParams{M: gm, N: gn, K: gk, Alpha: 1, Bias: bias, Act: ActReLU}, a, b, c) })
		add(size+"/gemm transposed", func() { ref.Gemm(GemmParams{M: gm, N: gn, K: gk, Alpha: 1, TransA: true, TransB: true}, a, b, c) })
		add(size+"/gemm K=0", func() { ref.Gemm(GemmParams{M: gm, N: gn, Beta: 0.5}, nil, nil, c) })
		for _, cp := range []struct {
			name string
			p    Conv2DParams
		}{{"conv", p}, {"strided conv", strided}} {
			q := cp.p
			cx, ck := vec(q.N*q.H*q.W*q.C), vec(q.KH*q.KW*q.C*q.OutC)
			cy, cb := vec(q.N*q.OutH*q.OutW*q.OutC), vec(q.OutC)
			cdx, cdk, cdb := make([]float32, len(cx)), make([]float32, len(ck)), make([]float32, len(cb))
			add(size+"/"+cp.name+" forward", func() { ref.Conv2DForward(q, cx, ck, cb, cy) })
			add(size+"/"+cp.name+" backward data", func() { ref.Conv2DBackwardData(q, cy, ck, cdx) })
			add(size+"/"+cp.name+" backward weights", func() { ref.Conv2DBackwardWeights(q, cx, cy, cdk, cdb) })
		}
		for kind, name := range map[PoolKind]string{MaxPool: "max", AvgPool: "average"} {
			q := pp
			q.Kind = kind
			px, py := vec(q.N*q.H*q.W*q.C), vec(q.N*q.OutH*q.OutW*q.C)
			arg, pdx := make([]int32, len(py)), make([]float32, len(px))
			add(size+"/"+name+" pool forward", func() { ref.Pool2DForward(q, px, py, arg) })
			add(size+"/"+name+" pool backward", func() { ref.Pool2DBackward(q, py, arg, pdx) })
		}
	}
	for _, k := range ks {
		if a := alloctest.PerCall(k.call); a != 0 {
			t.Errorf("%s: %v allocations per call, want 0", k.name, a)
		}
	}
}
