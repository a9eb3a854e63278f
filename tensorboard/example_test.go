package tensorboard_test

import (
	"fmt"
	"log"
	"os"

	"github.com/deepframe/deepframe/tensorboard"
)

func Example() {
	logdir, err := os.MkdirTemp("", "tensorboard-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(logdir)

	train, _ := tensorboard.LogDirs(logdir, "iris-example")
	w, err := tensorboard.NewWriter(train)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	for epoch, loss := range []float64{1.1, 0.6, 0.35} {
		if err := w.AddScalar("Loss", int64(epoch), loss); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.AddHistogram("fc_1/kernel", 2, []float32{-0.5, 0.25, 0.5}); err != nil {
		log.Fatal(err)
	}
	if err := w.Flush(); err != nil { // now `tensorboard --logdir` shows it
		log.Fatal(err)
	}

	events, err := tensorboard.ReadEvents(w.Path())
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		for _, v := range e.Values {
			switch {
			case v.Simple != nil:
				fmt.Printf("%s step %d: %.2f\n", v.Tag, e.Step, *v.Simple)
			case v.Histogram != nil:
				h := v.Histogram
				fmt.Printf("%s step %d: %v values in [%v, %v]\n", v.Tag, e.Step, h.Num, h.Min, h.Max)
			}
		}
	}
	// Output:
	// Loss step 0: 1.10
	// Loss step 1: 0.60
	// Loss step 2: 0.35
	// fc_1/kernel step 2: 3 values in [-0.5, 0.5]
}
