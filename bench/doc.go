// Package bench holds benchmarks of whole training and inference steps, the figures
// docs/PERFORMANCE.md quotes. Kernel benchmarks live beside the kernels (package backend).
//
// The workloads (workloads.go) are defined once and measured three ways:
//
//   - go test -bench in this package (BenchmarkTrainStep, BenchmarkPredict): deepframe alone,
//     with allocation counts;
//   - make bench (run.sh → cmd/peerbench, with peers.py for the Python side): the same work in
//     deepframe, PyTorch, TensorFlow/Keras, ONNX Runtime and NumPy, each in its own process
//     with the same thread budget, repetitions interleaved across frameworks, one markdown
//     table of medians and deepframe/peer ratios plus results/latest.json; venv.sh builds the
//     peers' environment in .venv on first use;
//   - make bench-fashion (fashion.sh): Fashion-MNIST time to 0.90 test accuracy,
//     examples/fashion-mnist beside fashion_mnist_torch.py.
package bench
