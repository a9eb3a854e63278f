package bench

import (
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

// Workload is one model trained on a fixed batch, defined once so that the go test
// benchmarks, the peer comparison (bench/cmd/peerbench) and bench/peers.py measure the same
// thing. MACs is the multiply-accumulates of one sample's forward pass; a training step costs
// 6·MACs FLOPs per sample (forward 2, backward 4), the convention of the peers' published
// figures.
type Workload struct {
	Name    string // go test sub-benchmark name
	ID      string // key shared with bench/peers.py and the JSON results
	Build   func() *keras.Model
	Opt     func() optim.Optimizer
	Input   []int // one sample's shape
	Batch   int
	Classes int
	MACs    int
}

// MLP is the 784-512-512-10 network of the first workload (and the inference one).
func MLP() *keras.Model {
	return keras.Sequential(
		layers.Dense(512, layers.Activation("relu"), layers.InputShape(784)),
		layers.Dense(512, layers.Activation("relu")),
		layers.Dense(10, layers.Activation("softmax")),
	)
}

// MLPMACs is MLP's forward multiply-accumulates per sample.
const MLPMACs = 784*512 + 512*512 + 512*10

// Iris is the README's 4-100-100-3 network.
func Iris() *keras.Model {
	return keras.Sequential(
		layers.Dense(100, layers.Activation("relu"), layers.InputShape(4)),
		layers.Dense(100, layers.Activation("relu")),
		layers.Dense(3, layers.Activation("softmax")),
	)
}

// CNN is the Fashion-MNIST network; examples/fashion-mnist trains the same one.
func CNN() *keras.Model {
	return keras.Sequential(
		layers.Conv2D(32, []int{5}, layers.Padding("same"), layers.Activation("relu"), layers.InputShape(28, 28, 1)),
		layers.MaxPooling2D(),
		layers.Conv2D(64, []int{5}, layers.Padding("same"), layers.Activation("relu")),
		layers.MaxPooling2D(),
		layers.Flatten(),
		layers.Dense(512, layers.Activation("relu")),
		layers.Dropout(0.5),
		layers.Dense(10, layers.Activation("softmax")),
	)
}

// Training workloads, in the order the issue lists them.
var (
	MLPTrain = Workload{Name: "mlp-784-512-512-10/adam/batch128", ID: "mlp_train", Build: MLP,
		Opt: func() optim.Optimizer { return optim.Adam(1e-3) }, Input: []int{784}, Batch: 128, Classes: 10, MACs: MLPMACs}
	CNNTrain = Workload{Name: "cnn-fashion-mnist/adam/batch64", ID: "cnn_train", Build: CNN,
		Opt: func() optim.Optimizer { return optim.Adam(1e-3) }, Input: []int{28, 28, 1}, Batch: 64, Classes: 10,
		MACs: 28*28*32*25 + 14*14*64*25*32 + 7*7*64*512 + 512*10}
	IrisTrain = Workload{Name: "iris-4-100-100-3/sgd/batch32", ID: "iris_train", Build: Iris,
		Opt: func() optim.Optimizer { return optim.SGD(0.01) }, Input: []int{4}, Batch: 32, Classes: 3,
		MACs: 4*100 + 100*100 + 100*3}
)

// TrainWorkloads lists the training workloads.
var TrainWorkloads = []Workload{MLPTrain, CNNTrain, IrisTrain}

// RandomBatch returns a standard-normal input batch and uniformly drawn labels. Speed does
// not depend on the values, so the peers draw theirs the same way rather than byte-equal.
func RandomBatch(w Workload, seed uint64) (x, y *tensor.Tensor) {
	rng := tensor.NewRNG(seed)
	x = rng.RandN(append([]int{w.Batch}, w.Input...)...)
	y = tensor.New(tensor.Int64, w.Batch)
	for i := range y.Int64s() {
		y.Int64s()[i] = int64(rng.IntN(w.Classes))
	}
	return x, y
}
