// Package tensorboard writes and reads TensorBoard event files, so that
// training progress logged by deepframe shows up in an unmodified
// TensorBoard (`tensorboard --logdir logdir`).
//
// An event file is a sequence of TFRecords, each holding one serialized
// tensorflow.Event protobuf. The first event carries only the file version
// ("brain.Event:2"); every later one carries a wall time, a step and a
// Summary with one value: a scalar (Summary.Value.simple_value) or a
// histogram (Summary.Value.histo). These are the legacy summary forms, which
// every TensorBoard release still reads; they need no plugin metadata.
//
// Files are named events.out.tfevents.<unix seconds>.<hostname>.<pid>.<n>,
// where n counts the writers this process has opened, so that writers
// created in the same second, directory and process never share a file.
// TensorBoard recognises event files by the "tfevents" in their name.
//
// Histogram buckets follow TensorFlow's default for HistogramProto: bucket
// edges grow by 10% from ±1e-12 to ±1e20, with 0 and ±math.MaxFloat64 as
// the outermost and middle edges. Buckets are 10% wide relative to their
// values for magnitudes from 1e-12 to 1e20, so one fixed layout suits
// weights near 1e-3 and activations near 1e3 alike, and histograms of a tag
// at different steps share their edges and compare directly. Only the span from the first to the last
// non-empty bucket is written, and runs of empty buckets inside it are
// merged into one, which keeps a histogram of a million weights to a few
// hundred buckets.
//
// The deepframe layout for a run is logdir/appName/train and
// logdir/appName/validation (see LogDirs); TensorBoard shows them as two
// runs that share tags, so training and validation curves overlay.
package tensorboard
