package keras

// A model bundle (.dfm) is one zip archive that holds everything needed to rebuild a model and
// resume training it:
//
//	config.json            the architecture (ModelConfig); ModelFromConfig rebuilds from it alone
//	metadata.json          input/output signature, parameter counts, training metrics, user data
//	model.safetensors      every weight, keyed by its name ("fc_1/kernel")
//	optimizer.json         optimizer, loss and metric configuration (only for compiled models)
//	optimizer.safetensors  the optimizer's slots and counters (only for compiled models)
//	manifest.json          format name and version, framework version, creation time, and the
//	                       size and SHA-256 of every other entry
//
// Entries are written in that order, so two saves of the same model with the same WithCreatedAt
// time give identical bytes. The manifest comes last because it describes the others; readers
// find entries through the zip central directory, so the order does not matter to them.
//
// Loading treats the file as untrusted. Every entry the manifest lists must be present with the
// listed size and checksum, and every entry present must be listed; entries this version does
// not know are verified and then ignored, so a later minor revision of the format can add
// entries that older readers skip. Entry names are plain file names: anything with a path
// separator or ".." is refused (nothing is ever extracted to disk, but such a name has no
// business in a bundle). Sizes are checked against the file's real length before anything is
// read, and memory grows only with bytes actually read, so a hostile archive cannot make Load
// allocate much more than its own size. One gap remains, noted at loadBundle: rebuilding the
// model from config.json allocates the layers' weights before they can be compared with
// model.safetensors.

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
	"github.com/deepframe/deepframe/tensor/safetensors"
)

// FrameworkVersion is deepframe's version. Every bundle records it, so a file can be traced to
// the code that wrote it.
const FrameworkVersion = "0.1.0"

const (
	// BundleFormat is the manifest's format name; a zip without it is not a bundle.
	BundleFormat = "deepframe.bundle"
	// BundleFormatVersion is the major version of the layout this package writes and the newest
	// it reads. It changes only when an older reader could misread a newer bundle.
	BundleFormatVersion = 1
)

// Entry names inside a bundle.
const (
	entryConfig         = "config.json"
	entryMetadata       = "metadata.json"
	entryWeights        = "model.safetensors"
	entryOptimizer      = "optimizer.json"
	entryOptimizerState = "optimizer.safetensors"
	entryManifest       = "manifest.json"
)

// Limits on what a bundle may claim. They are far above any real model's needs and exist so
// that a hostile file is refused before it costs memory or time.
const (
	maxBundleEntries = 64
	maxNameLen       = 255
	// JSON entries are read whole into memory, so they get a much smaller cap than tensors.
	maxManifestBytes = 1 << 20
	maxJSONBytes     = 16 << 20
	// maxEntryBytes matches the largest tensor the tensor package accepts (2^40 elements).
	maxEntryBytes = 1 << 42
	// Real deflated weights shrink by a few percent and JSON by 5-20x; only a zip bomb gets
	// near deflate's limit of about 1000x. Small entries get slack so that a short, repetitive
	// JSON file is never refused for its ratio.
	maxDeflateRatio = 100
	deflateSlack    = 1 << 20
)

// BundleEntry describes one entry of a bundle in its manifest.
type BundleEntry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// BundleManifest is manifest.json.
type BundleManifest struct {
	Format           string        `json:"format"`
	FormatVersion    int           `json:"format_version"`
	FrameworkVersion string        `json:"framework_version"`
	CreatedAt        time.Time     `json:"created_at"`
	Entries          []BundleEntry `json:"entries"`
}

// TensorSignature describes one model input or output. Shape includes the batch axis as -1.
type TensorSignature struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	DType string `json:"dtype"`
}

// ParamCounts are a model's parameter counts, as Summary prints them.
type ParamCounts struct {
	Total        int `json:"total"`
	Trainable    int `json:"trainable"`
	NonTrainable int `json:"non_trainable"`
}

// BundleMetadata is metadata.json: what a server or a person needs to know about a model without
// building it.
type BundleMetadata struct {
	FrameworkVersion string            `json:"framework_version"`
	Inputs           []TensorSignature `json:"inputs"`
	Outputs          []TensorSignature `json:"outputs"`
	Params           ParamCounts       `json:"params"`
	// TrainingMetrics are the figures given with WithTrainingMetrics (e.g. final loss and
	// validation accuracy). NaN and infinities are kept (JSON has no numbers for them, so they
	// are stored as the strings "NaN", "+Inf" and "-Inf").
	TrainingMetrics map[string]float64 `json:"-"`
	// User is what was given with WithMetadata, as decoded by encoding/json.
	User map[string]any `json:"user,omitempty"`
}

// MarshalJSON stores TrainingMetrics so that non-finite values survive.
func (md BundleMetadata) MarshalJSON() ([]byte, error) {
	type plain BundleMetadata // drops the methods, so this does not recurse
	out := struct {
		plain
		TrainingMetrics map[string]jsonFloat `json:"training_metrics,omitempty"`
	}{plain: plain(md)}
	if len(md.TrainingMetrics) > 0 {
		out.TrainingMetrics = make(map[string]jsonFloat, len(md.TrainingMetrics))
		for k, v := range md.TrainingMetrics {
			out.TrainingMetrics[k] = jsonFloat(v)
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON is MarshalJSON's inverse.
func (md *BundleMetadata) UnmarshalJSON(b []byte) error {
	type plain BundleMetadata
	var in struct {
		plain
		TrainingMetrics map[string]jsonFloat `json:"training_metrics"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*md = BundleMetadata(in.plain)
	md.TrainingMetrics = nil
	if len(in.TrainingMetrics) > 0 {
		md.TrainingMetrics = make(map[string]float64, len(in.TrainingMetrics))
		for k, v := range in.TrainingMetrics {
			md.TrainingMetrics[k] = float64(v)
		}
	}
	return nil
}

// jsonFloat is a float64 that JSON can carry even when it is NaN or infinite: a training loss
// that diverged is worth recording, and encoding/json would refuse the whole save over it.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		switch s {
		case "NaN":
			*f = jsonFloat(math.NaN())
		case "+Inf", "Inf":
			*f = jsonFloat(math.Inf(1))
		case "-Inf":
			*f = jsonFloat(math.Inf(-1))
		default:
			return fmt.Errorf("%q is not a number", s)
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

// trainingConfig is optimizer.json: how the model was compiled, and how far training got, so
// that a loaded model's next Fit continues the shuffle and dropout sequences where the saved
// model stopped instead of starting them over.
type trainingConfig struct {
	CompileConfig
	Seed   uint64 `json:"seed"`
	Epochs int    `json:"epochs"`
	Steps  int64  `json:"steps"`
}

// SaveOption changes what Save writes.
type SaveOption func(*saveSettings)

type saveSettings struct {
	withoutOptimizer bool
	user             map[string]any
	trainingMetrics  map[string]float64
	createdAt        time.Time
}

// WithoutOptimizer leaves out the optimizer, loss and metrics and the optimizer's state: the
// bundle is for inference, smaller, and a loaded model must be compiled again before training.
func WithoutOptimizer() SaveOption {
	return func(s *saveSettings) { s.withoutOptimizer = true }
}

// WithMetadata stores md (anything encoding/json can encode) in metadata.json under "user", for
// the caller's own bookkeeping: data set, git commit, preprocessing. Several calls merge, later
// keys winning.
func WithMetadata(md map[string]any) SaveOption {
	return func(s *saveSettings) {
		if s.user == nil {
			s.user = map[string]any{}
		}
		maps.Copy(s.user, md)
	}
}

// WithTrainingMetrics records training results (e.g. {"loss": 0.21, "val_accuracy": 0.97}) in
// metadata.json. Several calls merge, later keys winning.
func WithTrainingMetrics(m map[string]float64) SaveOption {
	return func(s *saveSettings) {
		if s.trainingMetrics == nil {
			s.trainingMetrics = map[string]float64{}
		}
		maps.Copy(s.trainingMetrics, m)
	}
}

// WithHistory records the last epoch's value of every key in h (what Fit returned) as training
// metrics, as WithTrainingMetrics does.
func WithHistory(h *History) SaveOption {
	return func(s *saveSettings) {
		if h == nil {
			return
		}
		if s.trainingMetrics == nil {
			s.trainingMetrics = map[string]float64{}
		}
		for k := range h.Values {
			if v, ok := h.Last(k); ok {
				s.trainingMetrics[k] = v
			}
		}
	}
}

// WithCreatedAt sets the creation time recorded in the manifest and on the zip entries
// (default: now). A fixed time makes saves byte-for-byte reproducible, e.g. for builds that
// honour SOURCE_DATE_EPOCH.
func WithCreatedAt(t time.Time) SaveOption {
	return func(s *saveSettings) { s.createdAt = t }
}

// Save writes the model to path as a bundle (by convention a .dfm file): a zip archive holding
// the architecture (config.json), the weights (model.safetensors), the signature, parameter
// counts and any WithMetadata or WithTrainingMetrics values (metadata.json), for a compiled
// model the optimizer, loss and metrics and the optimizer's state (optimizer.json and
// optimizer.safetensors, unless WithoutOptimizer), and manifest.json with the format version and
// every other entry's size and SHA-256.
//
// The bytes go to a temporary file in the same directory that is renamed over path only when
// complete, so a failed save leaves an existing file at path untouched. Save may be called from
// a Fit callback to checkpoint: the bundle then resumes training from that point.
func (m *Model) Save(path string, opts ...SaveOption) error {
	if err := m.save(path, opts); err != nil {
		return fmt.Errorf("keras: save %s: %w", path, err)
	}
	return nil
}

func (m *Model) save(path string, opts []SaveOption) error {
	if m == nil {
		return errors.New("model is nil")
	}
	if err := m.Err(); err != nil {
		return unprefixed(err)
	}
	s := saveSettings{createdAt: time.Now()}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	cfg, err := m.Config()
	if err != nil {
		return fmt.Errorf("model config: %w", unprefixed(err))
	}
	cfgJSON, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", entryConfig, err)
	}
	// Training steps take the write lock, so under the read lock the weights and the
	// optimizer state form one snapshot even if a training step is due. Fit calls callbacks
	// without holding the lock, so a checkpoint callback can Save.
	m.mu.RLock()
	defer m.mu.RUnlock()
	// Everything that can fail for a reason other than I/O is done before the file is
	// created, so bad input never leaves even a temporary file behind.
	parts, err := m.bundleParts(&s, cfgJSON)
	if err != nil {
		return err
	}
	return writeAtomic(path, func(w io.Writer) error {
		return writeBundle(w, s.createdAt, parts)
	})
}

// bundlePart is one entry to write: either fixed bytes or a streaming writer (weights are
// written straight from the tensors, without a serialised copy in memory).
type bundlePart struct {
	name   string
	method uint16
	data   []byte
	write  func(io.Writer) error
}

// bundleParts runs with m.mu held for reading.
func (m *Model) bundleParts(s *saveSettings, cfgJSON []byte) ([]bundlePart, error) {
	weights, err := weightMap(m.Weights())
	if err != nil {
		return nil, err
	}

	mdJSON, err := json.MarshalIndent(m.bundleMetadata(s), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", entryMetadata, err)
	}

	parts := []bundlePart{
		{name: entryConfig, method: zip.Deflate, data: cfgJSON},
		{name: entryMetadata, method: zip.Deflate, data: mdJSON},
		// Float data barely compresses, and storing it keeps loading a plain read.
		{name: entryWeights, method: zip.Store, write: func(w io.Writer) error {
			return safetensors.Write(w, weights, nil)
		}},
	}

	opt := m.Optimizer()
	if opt == nil || s.withoutOptimizer {
		return parts, nil
	}
	cc := m.CompileConfig()
	if cc == nil {
		return nil, errors.New("model has an optimizer but no compile config")
	}
	tc := trainingConfig{CompileConfig: *cc}
	tc.Seed, tc.Epochs, tc.Steps = m.trainingProgress()
	tcJSON, err := json.MarshalIndent(tc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", entryOptimizer, err)
	}
	state := opt.State()
	for name, t := range state {
		if t == nil {
			return nil, fmt.Errorf("%s: optimizer state %q is nil", entryOptimizerState, name)
		}
	}
	parts = append(parts,
		bundlePart{name: entryOptimizer, method: zip.Deflate, data: tcJSON},
		bundlePart{name: entryOptimizerState, method: zip.Store, write: func(w io.Writer) error {
			return safetensors.Write(w, state, nil)
		}},
	)
	return parts, nil
}

// weightMap keys the weights by name, refusing duplicates: in a bundle the name is the only
// link between a tensor and the layer it belongs to.
func weightMap(ws []*layers.Weight) (map[string]*tensor.Tensor, error) {
	out := make(map[string]*tensor.Tensor, len(ws))
	for i, w := range ws {
		if w == nil || w.Var == nil || w.Value() == nil {
			return nil, fmt.Errorf("weight %d has no value", i)
		}
		if _, dup := out[w.Name]; dup {
			return nil, fmt.Errorf("two weights are named %q; bundles key weights by name", w.Name)
		}
		out[w.Name] = w.Value()
	}
	return out, nil
}

func (m *Model) bundleMetadata(s *saveSettings) *BundleMetadata {
	total, trainable := m.CountParams()
	return &BundleMetadata{
		FrameworkVersion: FrameworkVersion,
		Inputs:           signatures(m.InputNames(), m.InputShapes()),
		Outputs:          signatures(m.OutputNames(), m.OutputShapes()),
		Params:           ParamCounts{Total: total, Trainable: trainable, NonTrainable: total - trainable},
		TrainingMetrics:  s.trainingMetrics,
		User:             s.user,
	}
}

// signatures describes tensors of the given per-sample shapes. Models compute in float32, so
// that is the dtype they take and give.
func signatures(names []string, shapes []tensor.Shape) []TensorSignature {
	out := make([]TensorSignature, len(shapes))
	for i, s := range shapes {
		name := ""
		if i < len(names) {
			name = names[i]
		}
		out[i] = TensorSignature{
			Name:  name,
			Shape: append([]int{-1}, s...),
			DType: tensor.Float32.String(),
		}
	}
	return out
}

// writeBundle writes the zip: parts in order, then the manifest describing them.
func writeBundle(w io.Writer, created time.Time, parts []bundlePart) error {
	created = created.UTC().Truncate(time.Second)
	zw := zip.NewWriter(w)
	man := BundleManifest{
		Format:           BundleFormat,
		FormatVersion:    BundleFormatVersion,
		FrameworkVersion: FrameworkVersion,
		CreatedAt:        created,
	}
	for _, p := range parts {
		ew, err := createEntry(zw, p.name, p.method, created)
		if err != nil {
			return err
		}
		h := sha256.New()
		cw := &countWriter{w: io.MultiWriter(ew, h)}
		if p.write != nil {
			err = p.write(cw)
		} else {
			_, err = cw.Write(p.data)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		man.Entries = append(man.Entries, BundleEntry{Name: p.name, Size: cw.n, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	manJSON, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", entryManifest, err)
	}
	ew, err := createEntry(zw, entryManifest, zip.Deflate, created)
	if err != nil {
		return err
	}
	if _, err := ew.Write(manJSON); err != nil {
		return fmt.Errorf("%s: %w", entryManifest, err)
	}
	return zw.Close()
}

func createEntry(zw *zip.Writer, name string, method uint16, modified time.Time) (io.Writer, error) {
	fh := &zip.FileHeader{Name: name, Method: method, Modified: modified}
	// A regular, world-readable file, so that unzip recreates it sensibly.
	fh.SetMode(0o644)
	w, err := zw.CreateHeader(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return w, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeAtomic writes a new file at path through write. The data goes to a temporary file in the
// same directory (a rename across file systems would not be atomic), which is synced and then
// renamed over path; on any error the temporary file is removed and path is untouched.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return errors.New("path names a directory, not a file")
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	// CreateTemp makes the file private; a model is an output the user means to share.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	// Without the sync a crash right after the rename can leave path naming an empty file.
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename durable. The file is already complete where the caller wanted it, so a
	// failure here is not worth failing the save for.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Bundle is a loaded bundle: the model with its weights (and, when the bundle had one, its
// optimizer and training state), plus the bundle's manifest and metadata.
type Bundle struct {
	Manifest BundleManifest
	Metadata BundleMetadata
	Model    *Model
}

// Load reads the bundle at path and rebuilds its model. When the bundle holds an optimizer, the
// model comes back compiled with it, its loss and metrics, and the optimizer's state, so Fit
// continues exactly where the saved model stopped.
func Load(path string) (*Model, error) {
	b, err := LoadBundle(path)
	if err != nil {
		return nil, err
	}
	return b.Model, nil
}

// LoadReader is Load for a bundle held in r, which is size bytes long.
func LoadReader(r io.ReaderAt, size int64) (*Model, error) {
	b, err := LoadBundleReader(r, size)
	if err != nil {
		return nil, err
	}
	return b.Model, nil
}

// LoadBundle is Load that also returns the bundle's manifest and metadata.
func LoadBundle(path string) (*Bundle, error) {
	b, err := loadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keras: load %s: %w", path, err)
	}
	return b, nil
}

// LoadBundleReader is LoadBundle for a bundle held in r, which is size bytes long.
func LoadBundleReader(r io.ReaderAt, size int64) (*Bundle, error) {
	b, err := loadBundle(r, size)
	if err != nil {
		return nil, fmt.Errorf("keras: load bundle: %w", err)
	}
	return b, nil
}

func loadFile(path string) (*Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if !st.Mode().IsRegular() {
		// A zip is read from its end, which needs a file of known size.
		return nil, fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	return loadBundle(f, st.Size())
}

// unwrapPathError drops the path that *fs.PathError repeats, since the caller's prefix
// already names the file.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func loadBundle(r io.ReaderAt, size int64) (*Bundle, error) {
	br, err := openBundle(r, size)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Manifest: br.manifest}

	cfgJSON, ok := br.json[entryConfig]
	if !ok {
		return nil, fmt.Errorf("%s is missing", entryConfig)
	}
	mdJSON, ok := br.json[entryMetadata]
	if !ok {
		return nil, fmt.Errorf("%s is missing", entryMetadata)
	}
	if _, ok := br.files[entryWeights]; !ok {
		return nil, fmt.Errorf("%s is missing", entryWeights)
	}
	if err := json.Unmarshal(mdJSON, &b.Metadata); err != nil {
		return nil, fmt.Errorf("%s: %w", entryMetadata, err)
	}
	var cfg ModelConfig
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", entryConfig, err)
	}

	// The weights are decoded before the model is built, so a damaged weights file is
	// reported before any time goes into building.
	weights, err := br.safetensors(entryWeights)
	if err != nil {
		return nil, err
	}

	// Every weight must match one in the file, so the config is built within a budget tied to
	// what the file holds: a hostile config (a Dense with 2^38 units) is refused before it
	// allocates. The slack lets a config that is only slightly off reach assignWeights, whose
	// error names the mismatched weight and both shapes.
	var elements int64
	for _, t := range weights {
		elements += int64(t.Len())
	}
	elements = 2*elements + 1<<20
	m, err := modelFromConfig(cfg, layers.NewWeightBudget(elements))
	if err == nil {
		err = m.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", entryConfig, unprefixed(err))
	}
	if err := checkSignature(&b.Metadata, m); err != nil {
		return nil, err
	}
	if err := assignWeights(m.Weights(), weights); err != nil {
		return nil, fmt.Errorf("%s: %w", entryWeights, err)
	}
	if err := restoreTraining(br, m); err != nil {
		return nil, err
	}
	b.Model = m
	return b, nil
}

// checkSignature makes sure metadata.json describes the model config.json builds, so a tool
// that reads only the metadata (a server deciding its request format) is not misled.
func checkSignature(md *BundleMetadata, m *Model) error {
	check := func(kind string, sig []TensorSignature, shapes []tensor.Shape) error {
		if len(sig) != len(shapes) {
			return fmt.Errorf("%s lists %d %ss, but the model built from %s has %d",
				entryMetadata, len(sig), kind, entryConfig, len(shapes))
		}
		for i, s := range sig {
			want := append(tensor.Shape{-1}, shapes[i]...)
			if !want.Equal(s.Shape) {
				return fmt.Errorf("%s: %s %d (%s) has shape %v, but the model built from %s takes %v",
					entryMetadata, kind, i, s.Name, tensor.Shape(s.Shape), entryConfig, want)
			}
		}
		return nil
	}
	if err := check("input", md.Inputs, m.InputShapes()); err != nil {
		return err
	}
	return check("output", md.Outputs, m.OutputShapes())
}

// assignWeights copies the loaded tensors into the model's weights. Each must exist with the
// same dtype and shape, and the file may hold no weight the model lacks: either would mean the
// weights were saved from a different architecture.
func assignWeights(ws []*layers.Weight, loaded map[string]*tensor.Tensor) error {
	seen := make(map[string]bool, len(ws))
	var missing []string
	for _, w := range ws {
		if seen[w.Name] {
			return fmt.Errorf("the model built from %s has two weights named %q", entryConfig, w.Name)
		}
		seen[w.Name] = true
		t, ok := loaded[w.Name]
		if !ok {
			missing = append(missing, w.Name)
			continue
		}
		v := w.Value()
		if t.DType() != v.DType() {
			return fmt.Errorf("weight %s is %s, but the model needs %s", w.Name, t.DType(), v.DType())
		}
		if !t.Shape().Equal(v.Shape()) {
			return fmt.Errorf("weight %s has shape %v, but the model needs %v", w.Name, t.Shape(), v.Shape())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s %s", plural(len(missing), "weight", "weights"), listNames(missing))
	}
	var extra []string
	for name := range loaded {
		if !seen[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fmt.Errorf("%s %s not in the model built from %s", plural(len(extra), "weight", "weights"), listNames(extra), entryConfig)
	}
	// Only now, with every weight checked, is anything changed.
	for _, w := range ws {
		if err := w.Value().CopyFrom(loaded[w.Name]); err != nil {
			return fmt.Errorf("weight %s: %w", w.Name, err)
		}
	}
	return nil
}

// unprefixed drops the "keras: " that errors from the rest of the package start with, since
// Save and Load put their own "keras: save PATH: " in front. errors.Is and As still see err.
func unprefixed(err error) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, "keras: ") {
		return err
	}
	return &trimmedError{msg: strings.TrimPrefix(msg, "keras: "), err: err}
}

type trimmedError struct {
	msg string
	err error
}

func (e *trimmedError) Error() string { return e.msg }
func (e *trimmedError) Unwrap() error { return e.err }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// listNames quotes up to a few names; a model with thousands of weights would otherwise print
// an unreadable error.
func listNames(names []string) string {
	const show = 5
	q := make([]string, 0, show)
	for i, n := range names {
		if i == show {
			q = append(q, fmt.Sprintf("and %d more", len(names)-show))
			break
		}
		q = append(q, strconv.Quote(n))
	}
	return strings.Join(q, ", ")
}

// trainingProgress and setTrainingProgress carry the counters that key Fit's random streams
// (see seed.go) through a bundle. Save calls the first with m.mu held; Load calls the second
// before anyone else can see the model.
func (m *Model) trainingProgress() (seed uint64, epochs int, steps int64) {
	return m.seed, m.epochs, m.steps
}

func (m *Model) setTrainingProgress(seed uint64, epochs int, steps int64) {
	m.seed, m.epochs, m.steps = seed, epochs, steps
}

// restoreTraining compiles the model as it was saved and restores the optimizer's state.
func restoreTraining(br *bundleReader, m *Model) error {
	tcJSON, hasConfig := br.json[entryOptimizer]
	_, hasState := br.files[entryOptimizerState]
	if !hasConfig {
		if hasState {
			return fmt.Errorf("%s is present without %s", entryOptimizerState, entryOptimizer)
		}
		return nil
	}
	var tc trainingConfig
	if err := json.Unmarshal(tcJSON, &tc); err != nil {
		return fmt.Errorf("%s: %w", entryOptimizer, err)
	}
	opt, err := optim.FromConfig(tc.Optimizer)
	if err != nil {
		return fmt.Errorf("%s: optimizer: %w", entryOptimizer, err)
	}
	loss, err := losses.FromConfig(tc.Loss)
	if err != nil {
		return fmt.Errorf("%s: loss: %w", entryOptimizer, err)
	}
	ms := make([]metrics.Metric, 0, len(tc.Metrics))
	for _, name := range tc.Metrics {
		mt, err := metrics.ByName(name)
		if err != nil {
			return fmt.Errorf("%s: metric %q: %w", entryOptimizer, name, err)
		}
		ms = append(ms, mt)
	}
	if err := m.Compile(opt, loss, ms...); err != nil {
		return fmt.Errorf("%s: compile: %w", entryOptimizer, unprefixed(err))
	}
	if tc.Epochs < 0 || tc.Steps < 0 {
		return fmt.Errorf("%s: negative training progress (epochs %d, steps %d)", entryOptimizer, tc.Epochs, tc.Steps)
	}
	m.setTrainingProgress(tc.Seed, tc.Epochs, tc.Steps)
	if !hasState {
		return nil
	}
	state, err := br.safetensors(entryOptimizerState)
	if err != nil {
		return err
	}
	if err := opt.LoadState(state); err != nil {
		return fmt.Errorf("%s: %w", entryOptimizerState, err)
	}
	return nil
}

// bundleReader is an opened, verified bundle: every entry has been checked against the
// manifest, and the JSON entries (small) are held in memory.
type bundleReader struct {
	files    map[string]*zip.File
	manifest BundleManifest
	json     map[string][]byte
}

// openBundle reads the zip directory and the manifest and verifies every entry's size and
// checksum. Nothing is decoded from an entry before its checksum has been checked.
func openBundle(r io.ReaderAt, size int64) (*bundleReader, error) {
	if size < 0 {
		return nil, fmt.Errorf("negative size %d", size)
	}
	zr, err := zip.NewReader(r, size)
	// ErrInsecurePath (under GODEBUG=zipinsecurepath=0) comes with a usable reader; checkName
	// below refuses such names with a message that says which.
	if err != nil && !(errors.Is(err, zip.ErrInsecurePath) && zr != nil) {
		return nil, notZipError(r, size, err)
	}
	if len(zr.File) > maxBundleEntries {
		return nil, fmt.Errorf("%d entries in the archive; a bundle has at most %d", len(zr.File), maxBundleEntries)
	}
	br := &bundleReader{files: make(map[string]*zip.File, len(zr.File)), json: map[string][]byte{}}
	var total uint64
	for _, f := range zr.File {
		if err := checkName(f.Name); err != nil {
			return nil, err
		}
		if _, dup := br.files[f.Name]; dup {
			return nil, fmt.Errorf("entry %q appears twice in the archive", f.Name)
		}
		if err := checkSizes(f, size); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		total += f.UncompressedSize64
		br.files[f.Name] = f
	}
	// Entries may share their data (an overlapping-entries zip bomb), so the sum is bounded
	// too, by what the whole file could expand to.
	limit := uint64(maxEntryBytes)
	if expand := uint64(size); expand < limit/maxDeflateRatio {
		limit = expand*maxDeflateRatio + deflateSlack
	}
	if total > limit {
		return nil, fmt.Errorf("entries total %d bytes uncompressed, more than a %d-byte file can hold", total, size)
	}

	mf, ok := br.files[entryManifest]
	if !ok {
		return nil, fmt.Errorf("not a deepframe bundle (no %s)", entryManifest)
	}
	if mf.UncompressedSize64 > maxManifestBytes {
		return nil, fmt.Errorf("%s: %d bytes, over the %d-byte limit", entryManifest, mf.UncompressedSize64, maxManifestBytes)
	}
	// The manifest has no checksum of its own, so the zip CRC-32 is what catches damage to it.
	manJSON, _, crc, err := readEntry(mf, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", entryManifest, err)
	}
	if crc != mf.CRC32 {
		return nil, fmt.Errorf("%s: %w", entryManifest, crcError(mf, crc))
	}
	if err := br.parseManifest(manJSON); err != nil {
		return nil, err
	}
	for _, e := range br.manifest.Entries {
		if err := br.verify(e); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
	}
	return br, nil
}

// notZipError explains why the zip directory could not be read: a file that starts like a zip
// but has no directory at its end was most likely cut short.
func notZipError(r io.ReaderAt, size int64, err error) error {
	var head [4]byte
	if size >= 4 {
		if _, rerr := r.ReadAt(head[:], 0); rerr == nil && string(head[:]) == "PK\x03\x04" {
			return fmt.Errorf("truncated or damaged zip archive (%v)", err)
		}
	}
	if size == 0 {
		return errors.New("not a deepframe bundle (empty file)")
	}
	return fmt.Errorf("not a deepframe bundle (not a zip archive: %v)", err)
}

func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("archive has an entry with an empty name")
	case len(name) > maxNameLen:
		return fmt.Errorf("archive has an entry with a %d-byte name", len(name))
	case strings.ContainsAny(name, "/\\") || strings.Contains(name, ".."):
		return fmt.Errorf("entry name %q is not a plain file name", name)
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("entry name %q has a control character", name)
		}
	}
	return nil
}

// checkSizes refuses entries whose declared sizes the file cannot back: stored data must fit in
// the file, and deflated data may not claim a zip bomb's expansion.
func checkSizes(f *zip.File, fileSize int64) error {
	if f.Flags&0x1 != 0 {
		return errors.New("entry is encrypted")
	}
	comp, raw := f.CompressedSize64, f.UncompressedSize64
	if comp > uint64(fileSize) {
		return fmt.Errorf("compressed size %d is larger than the %d-byte file", comp, fileSize)
	}
	if raw > maxEntryBytes {
		return fmt.Errorf("size %d is over the %d-byte limit", raw, uint64(maxEntryBytes))
	}
	switch f.Method {
	case zip.Store:
		if raw != comp {
			return fmt.Errorf("stored entry claims %d bytes but holds %d", raw, comp)
		}
	case zip.Deflate:
		if raw > deflateSlack && (raw-deflateSlack)/maxDeflateRatio > comp {
			return fmt.Errorf("%d bytes deflated to %d is a suspicious ratio (limit %d:1)", raw, comp, maxDeflateRatio)
		}
	default:
		return fmt.Errorf("unsupported compression method %d (bundles use store or deflate)", f.Method)
	}
	return nil
}

func (br *bundleReader) parseManifest(b []byte) error {
	// The format and version are read first and alone: a later version may change the rest of
	// the manifest, and its reader deserves "upgrade" rather than a JSON type error.
	var probe struct {
		Format           string `json:"format"`
		FormatVersion    int    `json:"format_version"`
		FrameworkVersion string `json:"framework_version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return fmt.Errorf("%s: %w", entryManifest, err)
	}
	if probe.Format != BundleFormat {
		return fmt.Errorf("not a deepframe bundle (%s names format %q, want %q)", entryManifest, printable(probe.Format), BundleFormat)
	}
	switch {
	case probe.FormatVersion > BundleFormatVersion:
		return fmt.Errorf("bundle format version %d (written by deepframe %s) is newer than this deepframe %s reads (up to %d); upgrade deepframe to load it",
			probe.FormatVersion, printable(probe.FrameworkVersion), FrameworkVersion, BundleFormatVersion)
	case probe.FormatVersion < 1:
		return fmt.Errorf("%s: invalid format version %d", entryManifest, probe.FormatVersion)
	}
	var man BundleManifest
	if err := json.Unmarshal(b, &man); err != nil {
		return fmt.Errorf("%s: %w", entryManifest, err)
	}
	if len(man.Entries) > maxBundleEntries {
		return fmt.Errorf("%s lists %d entries; a bundle has at most %d", entryManifest, len(man.Entries), maxBundleEntries)
	}
	listed := make(map[string]bool, len(man.Entries))
	for _, e := range man.Entries {
		if err := checkName(e.Name); err != nil {
			return fmt.Errorf("%s: %w", entryManifest, err)
		}
		if e.Name == entryManifest {
			return fmt.Errorf("%s lists itself", entryManifest)
		}
		if listed[e.Name] {
			return fmt.Errorf("%s lists %q twice", entryManifest, e.Name)
		}
		listed[e.Name] = true
		if _, ok := br.files[e.Name]; !ok {
			return fmt.Errorf("%s: listed in %s but missing from the archive", e.Name, entryManifest)
		}
		if len(e.SHA256) != 2*sha256.Size {
			return fmt.Errorf("%s: %s gives no valid sha256 (%q)", e.Name, entryManifest, printable(e.SHA256))
		}
		if _, err := hex.DecodeString(e.SHA256); err != nil {
			return fmt.Errorf("%s: %s gives no valid sha256 (%q)", e.Name, entryManifest, printable(e.SHA256))
		}
	}
	for name := range br.files {
		if name != entryManifest && !listed[name] {
			return fmt.Errorf("%s: entry is not listed in %s", name, entryManifest)
		}
	}
	br.manifest = man
	return nil
}

// printable shortens a string taken from the file and makes it valid UTF-8, for an error
// message.
func printable(s string) string {
	const limit = 40
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// verify checks one listed entry's size and SHA-256. The JSON entries Load reads are kept (they
// are small and needed next); other entries are only hashed here and decoded in a second pass,
// so a large weights file is never held in memory as raw bytes.
func (br *bundleReader) verify(e BundleEntry) error {
	f := br.files[e.Name]
	if e.Size < 0 || uint64(e.Size) != f.UncompressedSize64 {
		return fmt.Errorf("size mismatch (manifest %d bytes, archive %d)", e.Size, f.UncompressedSize64)
	}
	keep := e.Name == entryConfig || e.Name == entryMetadata || e.Name == entryOptimizer
	if keep && e.Size > maxJSONBytes {
		return fmt.Errorf("%d bytes, over the %d-byte limit for JSON", e.Size, maxJSONBytes)
	}
	data, sum, crc, err := readEntry(f, keep)
	if err != nil {
		return err
	}
	// The SHA-256 is compared first: real damage to the data fails both checks, and this
	// message names the checksums. A CRC-32 failure alone means a damaged zip header.
	if got := hex.EncodeToString(sum); !strings.EqualFold(got, e.SHA256) {
		return fmt.Errorf("checksum mismatch (manifest sha256 %s…, file %s…)", shortHash(e.SHA256), shortHash(got))
	}
	if crc != f.CRC32 {
		return crcError(f, crc)
	}
	if keep {
		br.json[e.Name] = data
	}
	return nil
}

func shortHash(h string) string { return strings.ToLower(h[:min(len(h), 16)]) }

// readEntry reads one entry in full, checking that it holds exactly its declared size, and
// returns its SHA-256 and CRC-32 (and its bytes when keep is set).
func readEntry(f *zip.File, keep bool) (data, sum []byte, crc uint32, err error) {
	rc, err := openEntry(f)
	if err != nil {
		return nil, nil, 0, err
	}
	defer rc.Close()
	h := sha256.New()
	c := crc32.NewIEEE()
	var buf bytes.Buffer
	w := io.MultiWriter(h, c)
	if keep {
		w = io.MultiWriter(h, c, &buf)
	}
	want := int64(f.UncompressedSize64)
	// One byte past the declared size is read so that an entry longer than it claims is caught.
	n, err := io.Copy(w, io.LimitReader(rc, want+1))
	if err != nil {
		return nil, nil, 0, readError(err)
	}
	switch {
	case n < want:
		return nil, nil, 0, fmt.Errorf("truncated: %d of %d bytes", n, want)
	case n > want:
		return nil, nil, 0, fmt.Errorf("holds more than its declared %d bytes", want)
	}
	return buf.Bytes(), h.Sum(nil), c.Sum32(), nil
}

func crcError(f *zip.File, got uint32) error {
	return fmt.Errorf("CRC-32 mismatch (zip header %08x, data %08x)", f.CRC32, got)
}

func readError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("truncated")
	}
	var ce flate.CorruptInputError
	if errors.As(err, &ce) {
		return fmt.Errorf("corrupt deflate data (%v)", err)
	}
	return err
}

// openEntry returns the entry's uncompressed bytes. It bypasses archive/zip's own decompressing
// reader so that damage is reported by the SHA-256 comparison, which names both checksums,
// rather than as zip's bare "checksum error".
func openEntry(f *zip.File) (io.ReadCloser, error) {
	raw, err := f.OpenRaw()
	if err != nil {
		return nil, fmt.Errorf("reading local header: %w", err)
	}
	switch f.Method {
	case zip.Store:
		return io.NopCloser(raw), nil
	case zip.Deflate:
		return flate.NewReader(raw), nil
	}
	return nil, fmt.Errorf("unsupported compression method %d", f.Method)
}

// safetensors decodes a verified safetensors entry.
func (br *bundleReader) safetensors(name string) (map[string]*tensor.Tensor, error) {
	f := br.files[name]
	rc, err := openEntry(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer rc.Close()
	// The limit keeps the decoder to the size that was verified, even if the file changed
	// between the checksum pass and this one.
	size := int64(f.UncompressedSize64)
	ts, _, err := safetensors.Read(io.LimitReader(rc, size), size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ts, nil
}
