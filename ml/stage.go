// Package ml is deepframe's Spark-ML-style pipeline layer: typed Params, the Transformer and
// Estimator stages, Pipeline and PipelineModel, and their persistence as one bundle. Feature
// stages live in package feature and the network stage in package nn; both build on these
// interfaces.
//
// Stages have no Spark-style copy(extra): a stage is configured through its setters and then
// used. Fit never changes an estimator and a fitted model snapshots the params it was fitted
// with (CopyParams), so reconfiguring an estimator later leaves its models alone; Transform
// captures the params when it is called, so a lazily built frame is not changed by a setter
// that runs before the frame is read. To vary a stage, make another one.
//
// Save and Load write and read any stage, including whole pipelines, as one bundle (a
// directory, or a zip file when the path ends in ".zip"); Save describes the layout.
package ml

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/deepframe/deepframe/frame"
)

// Stage is one step of a pipeline.
type Stage interface {
	// UID identifies this stage instance, e.g. "StringIndexer_4f2a9c1e0b7d".
	UID() string
	// ClassName keys the registry that loads saved stages, e.g. "StringIndexer".
	ClassName() string
	// Params are the stage's typed parameters, in declaration order.
	Params() *Params
}

// Transformer maps a frame to a frame, typically by appending columns. Transform is lazy where
// the input is: it adds steps to the frame's plan rather than reading it.
type Transformer interface {
	Stage
	Transform(ctx context.Context, df *frame.DataFrame) (*frame.DataFrame, error)
}

// Estimator learns a Model from a frame.
type Estimator interface {
	Stage
	Fit(ctx context.Context, df *frame.DataFrame) (Model, error)
}

// Model is what an Estimator learns: a Transformer that can be saved on its own, as Spark's
// models are MLWritable, so `fitted, _ := pipe.Fit(ctx, df); fitted.Save(path)` works for a
// pipeline and for any single stage alike.
type Model interface {
	Transformer
	// Save writes the model as a bundle at path (see package-level Save).
	Save(path string) error
}

// DataWriter is implemented by stages that carry state beyond their params (a fitted
// StringIndexer's labels, a scaler's statistics, a network's weights). WriteData writes that
// state as files into dir, which exists and is empty; the stage's loader reads them back.
type DataWriter interface {
	WriteData(dir string) error
}

// Loader rebuilds a saved stage of one class from its uid, its params (as saved by
// Params.MarshalJSON) and dir, the folder its DataWriter wrote (empty for stages without one).
// A loader must read everything it needs before it returns: when the bundle is a zip, dir is a
// temporary extraction that Load removes afterwards. Its files were checked against the
// bundle's checksums, but their contents are still untrusted: a loader validates what it
// reads and returns errors, never panics.
type Loader func(uid string, params json.RawMessage, dir string) (Stage, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Loader{}
)

// Register makes a stage class loadable, as database/sql drivers register themselves; stage
// packages call it from init.
func Register(className string, load Loader) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[className]; dup {
		panic("ml: Register called twice for " + className)
	}
	registry[className] = load
}

// LoadStage rebuilds a stage through the registry.
func LoadStage(className, uid string, params json.RawMessage, dir string) (Stage, error) {
	registryMu.RLock()
	load, ok := registry[className]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("ml: unknown stage class %q (registered: %s); import the package that defines it",
			className, strings.Join(RegisteredStages(), ", "))
	}
	s, err := load(uid, params, dir)
	if err != nil {
		return nil, fmt.Errorf("ml: load %s %s: %w", className, uid, err)
	}
	return s, nil
}

// RegisteredStages lists the registered stage classes, sorted.
func RegisteredStages() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewUID returns a fresh uid for a stage of the given class, Spark style.
func NewUID(className string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return className + "_" + hex.EncodeToString(b[:])
}
