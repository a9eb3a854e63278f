package backend

// reference is the pure-Go backend. STUB: being implemented (see helper task).
type reference struct{}

var referenceBackend Backend = reference{}

// Reference returns the pure-Go backend, which is always available.
func Reference() Backend { return referenceBackend }

func (reference) Name() string                                                { return "reference" }
func (reference) Version() string                                             { return "reference (pure Go)" }
func (reference) Gemm(p GemmParams, a, b, c []float32)                        { panic("unimplemented") }
func (reference) Conv2DForward(p Conv2DParams, x, kernel, bias, y []float32)  { panic("unimplemented") }
func (reference) Conv2DBackwardData(p Conv2DParams, dy, kernel, dx []float32) { panic("unimplemented") }
func (reference) Conv2DBackwardWeights(p Conv2DParams, x, dy, dkernel, dbias []float32) {
	panic("unimplemented")
}
func (reference) Pool2DForward(p Pool2DParams, x, y []float32, argmax []int32) {
	panic("unimplemented")
}
func (reference) Pool2DBackward(p Pool2DParams, dy []float32, argmax []int32, dx []float32) {
	panic("unimplemented")
}
func (reference) BatchNormForwardTraining(rows, channels int, eps float32, x, gamma, beta, y, mean, invStd []float32) {
	panic("unimplemented")
}
func (reference) BatchNormForwardInference(rows, channels int, eps float32, x, gamma, beta, movingMean, movingVar, y []float32) {
	panic("unimplemented")
}
func (reference) BatchNormBackward(rows, channels int, x, dy, gamma, mean, invStd, dx, dgamma, dbeta []float32) {
	panic("unimplemented")
}
func (reference) Unary(op UnaryOp, alpha float32, x, y []float32) { panic("unimplemented") }
func (reference) UnaryBackward(op UnaryOp, alpha float32, x, y, dy, dx []float32) {
	panic("unimplemented")
}
func (reference) Binary(op BinaryOp, a []float32, aShape []int, b []float32, bShape []int, y []float32, yShape []int) {
	panic("unimplemented")
}
func (reference) Reduce(op ReduceOp, x []float32, xShape []int, axes []int, y []float32) {
	panic("unimplemented")
}
func (reference) Transpose(x []float32, xShape []int, perm []int, y []float32) {
	panic("unimplemented")
}
func (reference) Softmax(rows, cols int, x, y []float32)                 { panic("unimplemented") }
func (reference) LogSoftmax(rows, cols int, x, y []float32)              { panic("unimplemented") }
func (reference) SoftmaxBackward(rows, cols int, y, dy, dx []float32)    { panic("unimplemented") }
func (reference) LogSoftmaxBackward(rows, cols int, y, dy, dx []float32) { panic("unimplemented") }
func (reference) Gather(table []float32, tableRows, cols int, idx []int64, out []float32) error {
	panic("unimplemented")
}
func (reference) ScatterAdd(dst []float32, dstRows, cols int, idx []int64, src []float32) {
	panic("unimplemented")
}
