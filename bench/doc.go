// Package bench holds benchmarks of whole training and inference steps, the figures
// docs/PERFORMANCE.md quotes. Kernel benchmarks live beside the kernels (package backend).
package bench
