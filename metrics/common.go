package metrics

import (
	"fmt"

	"github.com/deepframe/deepframe/tensor"
)

// Err returns the error recorded when m was built with bad arguments (nil when usable). Update
// returns the same error, so a training loop needs no separate check. It is nil for metrics
// defined outside this package.
func Err(m Metric) error {
	if e, ok := m.(interface{ Err() error }); ok {
		return e.Err()
	}
	return nil
}

func checkInputs(name string, yTrue, yPred *tensor.Tensor) error {
	switch {
	case yTrue == nil:
		return fmt.Errorf("metrics: %s: targets are nil", name)
	case yPred == nil:
		return fmt.Errorf("metrics: %s: predictions are nil", name)
	}
	return nil
}

// fitsSparse reports whether labels of shape ts index predictions of shape ps: ts is ps without
// its class axis, optionally with a trailing 1.
func fitsSparse(ts, ps tensor.Shape) bool {
	if len(ps) < 1 {
		return false
	}
	lead := ps[:len(ps)-1]
	return ts.Equal(lead) || len(ts) == len(ps) && ts[len(ts)-1] == 1 && ts[:len(ts)-1].Equal(lead)
}

// sameData reports whether two shapes hold the same elements in the same order, allowing a
// trailing axis of 1 on either side ([N] against [N, 1]), as Keras squeezes them.
func sameData(a, b tensor.Shape) bool {
	return a.Equal(b) ||
		len(a) == len(b)+1 && a[len(a)-1] == 1 && a[:len(b)].Equal(b) ||
		len(b) == len(a)+1 && b[len(b)-1] == 1 && b[:len(a)].Equal(a)
}

// floats returns the elements as float32, without copying when they already are.
func floats(t *tensor.Tensor) []float32 {
	if t.DType() == tensor.Float32 {
		return t.Float32s()
	}
	return t.AsType(tensor.Float32).Float32s()
}
