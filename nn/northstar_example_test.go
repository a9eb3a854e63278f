package nn_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/deepframe/deepframe/feature"
	"github.com/deepframe/deepframe/frame"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/ml"
	"github.com/deepframe/deepframe/ml/evaluation"
	"github.com/deepframe/deepframe/nn"
	"github.com/deepframe/deepframe/optim"
)

// The pipeline form of the design's north-star program, as the README shows it: if this
// stops compiling or stops learning iris, the README is wrong.
func Example_northStarPipeline() {
	ctx := context.Background()
	df, err := frame.ReadCSV("../examples/iris/iris.csv", frame.Header(), frame.InferSchema())
	if err != nil {
		fmt.Println(err)
		return
	}
	parts, err := df.RandomSplit([]float64{0.8, 0.1, 0.1}, 31)
	if err != nil {
		fmt.Println(err)
		return
	}
	train, eval := parts[0], parts[2]

	keras.SetRandomSeed(31)
	model := keras.Sequential(
		layers.Dense(100, layers.Activation("relu"), layers.InputShape(4), layers.Name("fc_1")),
		layers.Dense(100, layers.Activation("relu"), layers.Name("fc_2")),
		layers.Dense(3, layers.Activation("softmax"), layers.Name("fc_3")),
	)
	cols := []string{"sepal_len", "sepal_wid", "petal_len", "petal_wid"}
	pipe := ml.NewPipeline(
		feature.NewStringIndexer().SetInputCol("class").SetOutputCol("label"),
		feature.NewVectorAssembler().SetInputCols(cols...).SetOutputCol("raw"),
		feature.NewStandardScaler().SetInputCol("raw").SetOutputCol("features"),
		nn.NewClassifier(model).SetFeaturesCol("features").SetLabelCol("label").
			SetBatchSize(32).SetMaxEpoch(50).SetOptimizer(optim.SGD(0.05)),
	)
	fitted, err := pipe.Fit(ctx, train)
	if err != nil {
		fmt.Println(err)
		return
	}
	scored, err := fitted.Transform(ctx, eval)
	if err != nil {
		fmt.Println(err)
		return
	}
	acc, err := evaluation.NewMulticlassClassificationEvaluator().SetMetricName("accuracy").Evaluate(ctx, scored)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "northstar")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := fitted.Save(filepath.Join(dir, "iris-pipeline")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("accuracy >= 0.9:", acc >= 0.9)
	// Output: accuracy >= 0.9: true
}
