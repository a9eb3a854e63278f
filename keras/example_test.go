package keras_test

import (
	"context"
	"fmt"
	"os"

	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

func ExampleSequential() {
	model := keras.Sequential(
		layers.Dense(100, layers.Activation("relu"), layers.InputShape(4), layers.Name("fc_1")),
		layers.Dense(100, layers.Activation("relu"), layers.Name("fc_2")),
		layers.Dense(3, layers.Activation("softmax"), layers.Name("fc_3")),
	)
	model.SetName("iris")
	if err := model.Summary(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// Model: "iris"
	// _________________________________________________________________
	// Layer (type)                 Output Shape              Param #
	// =================================================================
	// fc_1 (Dense)                 (None, 100)               500
	// _________________________________________________________________
	// fc_2 (Dense)                 (None, 100)               10100
	// _________________________________________________________________
	// fc_3 (Dense)                 (None, 3)                 303
	// =================================================================
	// Total params: 10,903
	// Trainable params: 10,903
	// Non-trainable params: 0
	// _________________________________________________________________
}

func ExampleModel_Fit() {
	// XOR: four points no straight line separates.
	x, _ := tensor.FromFloat32([]float32{0, 0, 0, 1, 1, 0, 1, 1}, 4, 2)
	y, _ := tensor.FromFloat32([]float32{0, 1, 1, 0}, 4, 1)
	data, err := keras.NewTensorDataset(x, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	model := keras.Sequential(
		layers.Dense(8, layers.Activation("tanh"), layers.InputShape(2)),
		layers.Dense(1, layers.Activation("sigmoid")),
	)
	if err := model.Compile(optim.Adam(0.05), losses.BinaryCrossEntropy(), metrics.Accuracy()); err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if _, err := model.Fit(ctx, data, keras.Epochs(200), keras.BatchSize(4), keras.Verbose(0)); err != nil {
		fmt.Println(err)
		return
	}
	results, err := model.Evaluate(ctx, data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("accuracy: %.2f\n", results["accuracy"])
	// Output: accuracy: 1.00
}

func ExampleNewModel() {
	features, extra := keras.Input(4), keras.Input(3)
	merged := layers.Concatenate().Apply(
		layers.Dense(8, layers.Activation("relu")).Apply(features),
		layers.Dense(8, layers.Activation("relu")).Apply(extra),
	)
	out := layers.Dense(2, layers.Activation("softmax")).Apply(merged)
	model := keras.NewModel([]*layers.Node{features, extra}, []*layers.Node{out}, keras.ModelName("two_towers"))
	total, _ := model.CountParams()
	fmt.Println(model.Err(), total, model.OutputShapes())
	// Output: <nil> 106 [(2,)]
}
