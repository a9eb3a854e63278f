package main

// The orchestrator keeps one long-lived worker process per framework and drives it with
// one JSON request per line on the worker's stdin; the worker answers each with one JSON line
// on file descriptor 3 (stdout is left to the libraries, which print). Repetitions of a
// workload are interleaved across frameworks (deepframe rep 1, torch rep 1, ..., deepframe
// rep 2, ...), so a burst of load from another process on a shared machine hits every
// framework alike instead of skewing one framework's figures.
//
// Requests, in order:
//
//	{"op": "prepare", "task": {...}}  build the model and data, reset the RSS high-water
//	                                  mark, run the warm-up iterations
//	{"op": "rep"}                     one timed repetition of the prepared task
//	{"op": "finish"}                  report the task's peak RSS and drop it
//	{"op": "info"}                    versions and settings (asked last: some settings, like
//	                                  Keras's resolved jit_compile, are known only then)
//	{"op": "quit"}
//
// A worker's first line, unasked, is {"ready": true} once its imports have succeeded, or an
// error.

type request struct {
	Op   string `json:"op"`
	Task *Task  `json:"task,omitempty"`
}

type response struct {
	Ready   bool      `json:"ready,omitempty"`
	Error   string    `json:"error,omitempty"`
	Seconds float64   `json:"seconds,omitempty"`
	Calls   []float64 `json:"calls,omitempty"`
	PeakRSS int64     `json:"peak_rss_bytes,omitempty"`
	// Info answers "info".
	Versions map[string]string `json:"versions,omitempty"`
	Backend  string            `json:"backend,omitempty"`
	Threads  int               `json:"threads,omitempty"`
	Settings map[string]string `json:"settings,omitempty"`
}
