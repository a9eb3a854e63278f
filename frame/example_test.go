package frame_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/deepframe/deepframe/frame"
)

// The iris walkthrough's data half: read a CSV, turn the class names into numbers, split,
// and batch into tensors for keras.Fit.
func Example() {
	const irisCSV = `sepal_len,sepal_wid,petal_len,petal_wid,class
5.1,3.5,1.4,0.2,Iris-setosa
7.0,3.2,4.7,1.4,Iris-versicolor
6.3,3.3,6.0,2.5,Iris-virginica
4.9,3.0,1.4,0.2,Iris-setosa
6.4,3.2,4.5,1.5,Iris-versicolor
5.8,2.7,5.1,1.9,Iris-virginica
`
	ctx := context.Background()
	// ReadCSV reads files; ReadCSVFrom reads any io.Reader (here, text embedded in the
	// program), naming it "iris.csv" in its error messages.
	df, err := frame.ReadCSVFrom(strings.NewReader(irisCSV), "iris.csv", frame.Header(), frame.InferSchema())
	if err != nil {
		fmt.Println(err)
		return
	}
	classes := map[string]int64{"Iris-setosa": 0, "Iris-versicolor": 1, "Iris-virginica": 2}
	// A typed, batch-at-a-time column: what feature stages such as StringIndexer are made of.
	df, err = df.WithColumn("label", arrow.PrimitiveTypes.Int64, []string{"class"}, func(cols []arrow.Array) (arrow.Array, error) {
		names := cols[0].(*array.String)
		b := array.NewInt64Builder(memory.DefaultAllocator)
		defer b.Release()
		for i := 0; i < names.Len(); i++ {
			b.Append(classes[names.Value(i)])
		}
		return b.NewArray(), nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	df.Show(ctx, os.Stdout, 3)

	parts, _ := df.RandomSplit([]float64{0.5, 0.5}, 31)
	n0, _ := parts[0].Count(ctx)
	n1, _ := parts[1].Count(ctx)
	fmt.Println("split:", n0+n1, "rows")

	features := []string{"sepal_len", "sepal_wid", "petal_len", "petal_wid"}
	ds, err := frame.ToDataset(ctx, df, features, "label")
	if err != nil {
		fmt.Println(err)
		return
	}
	x, y, _ := ds.Batch([]int{0, 1})
	fmt.Println("x", x[0].Shape(), x[0].DType(), "y", y[0].Shape(), y[0].DType(), y[0].Int64s())

	_, err = df.Select("clas")
	fmt.Println(err)
	// Output:
	// +---------+---------+---------+---------+---------------+-----+
	// |sepal_len|sepal_wid|petal_len|petal_wid|          class|label|
	// +---------+---------+---------+---------+---------------+-----+
	// |      5.1|      3.5|      1.4|      0.2|    Iris-setosa|    0|
	// |      7.0|      3.2|      4.7|      1.4|Iris-versicolor|    1|
	// |      6.3|      3.3|      6.0|      2.5| Iris-virginica|    2|
	// +---------+---------+---------+---------+---------------+-----+
	// only showing top 3 rows
	// split: 6 rows
	// x (2, 4) float32 y (2,) int64 [0 1]
	// frame: no column "clas" (columns: sepal_len, sepal_wid, petal_len, petal_wid, class, label)
}
