package ml

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	bundleFormat = "deepframe.ml"
	// BundleFormatVersion is the layout version Save writes and the newest Load reads.
	BundleFormatVersion = 1

	metadataName = "metadata.json"
	dataName     = "data"
	stagesName   = "stages"

	maxMetadataBytes = 16 << 20
	maxDepth         = 32
	maxZipEntries    = 1 << 16
)

// FrameworkVersion is the deepframe version recorded in every bundle. It must equal
// keras.FrameworkVersion; it is repeated here so that pipelines of feature stages do not pull in
// the whole network stack (a shared version package would remove the copy).
const FrameworkVersion = "0.1.0"

type fileEntry struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type metadata struct {
	Format           string               `json:"format"`
	FormatVersion    int                  `json:"formatVersion"`
	FrameworkVersion string               `json:"frameworkVersion"`
	Class            string               `json:"class"`
	UID              string               `json:"uid"`
	Timestamp        int64                `json:"timestamp,omitempty"`
	Params           json.RawMessage      `json:"params"`
	HasData          bool                 `json:"hasData,omitempty"`
	Stages           []string             `json:"stages,omitempty"`
	Files            map[string]fileEntry `json:"files,omitempty"`
}

// Save writes stage, with its params, its DataWriter state and (for a Pipeline or
// PipelineModel) all its stages, as one bundle at path: a directory laid out like Spark ML's,
// or the same tree in one zip file when path ends in ".zip":
//
//	metadata.json                      class, uid, params, format and framework versions, the
//	                                   time of saving, and (top level only) the size and
//	                                   SHA-256 of every other file in the bundle
//	data/...                           what the stage's DataWriter wrote, if it has one
//	stages/00_<uid>/metadata.json      for a Pipeline or PipelineModel: one sub-bundle per
//	stages/00_<uid>/data/...           stage, numbered in pipeline order (a nested pipeline
//	stages/01_<uid>/...                repeats the layout one level down)
//
// The tree is written into a temporary sibling of path and renamed into place, so a reader
// never sees a half-written bundle, and an existing bundle at path is replaced only once the
// new one is complete (a failed save leaves it as it was). A path that holds something other
// than a bundle is left alone and reported. Missing parent folders are created.
func Save(stage Stage, path string) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("ml: save %s: %w", path, err)
		}
	}()
	if stage == nil {
		return errors.New("nil stage")
	}
	if path == "" {
		return errors.New("empty path")
	}
	if err := checkSavable(stage, "", 0); err != nil {
		return err
	}
	path = filepath.Clean(path)
	zipped := strings.EqualFold(filepath.Ext(path), ".zip")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if fi, err := os.Lstat(path); err == nil {
		if err := checkReplaceable(path, fi, zipped); err != nil {
			return err
		}
	}
	// The temporary tree sits beside path so the final rename stays on one file system.
	tmp, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "bundle")
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	meta, err := writeStage(stage, root, "", 0, time.Now().UnixMilli())
	if err != nil {
		return err
	}
	if meta.Files, err = manifest(root); err != nil {
		return err
	}
	if err := writeMetadata(filepath.Join(root, metadataName), meta); err != nil {
		return err
	}
	if !zipped {
		return replaceDir(root, path)
	}
	zpath := filepath.Join(tmp, "bundle.zip")
	if err := zipTree(root, zpath); err != nil {
		return err
	}
	if err := os.Rename(zpath, path); err != nil {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// checkReplaceable refuses to overwrite what is not a bundle of the same kind, so a typo in a
// path cannot replace a user's folder.
func checkReplaceable(path string, fi fs.FileInfo, zipped bool) error {
	switch {
	case zipped && fi.IsDir():
		return fmt.Errorf("%s is a directory; a path ending in .zip names a zip bundle", path)
	case zipped && !fi.Mode().IsRegular():
		return fmt.Errorf("%s exists and is not a regular file", path)
	case zipped:
		return nil
	case !fi.IsDir():
		return fmt.Errorf("%s exists and is not a directory (name a zip bundle with a .zip path)", path)
	}
	if _, err := os.Lstat(filepath.Join(path, metadataName)); err != nil {
		return fmt.Errorf("%s exists and is not a bundle (it has no %s); refusing to replace it", path, metadataName)
	}
	return nil
}

// replaceDir moves the finished tree to path. A directory cannot be renamed over a non-empty
// one, so an old bundle is first moved aside and restored if the second rename fails.
func replaceDir(tree, path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(tree, path); err != nil {
			return err
		}
		syncDir(filepath.Dir(path))
		return nil
	}
	old := filepath.Join(filepath.Dir(tree), "old")
	if err := os.Rename(path, old); err != nil {
		return fmt.Errorf("moving the old bundle aside: %w", err)
	}
	if err := os.Rename(tree, path); err != nil {
		if rerr := os.Rename(old, path); rerr != nil {
			return fmt.Errorf("%w; the old bundle could not be put back and is at %s: %v", err, old, rerr)
		}
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

func syncDir(dir string) {
	// Best effort: a directory sync makes the rename durable where the file system supports it.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// checkSavable walks the stage tree before anything is written, so an unloadable bundle is
// refused up front rather than after a large network has been serialised.
func checkSavable(s Stage, where string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%sstages nest more than %d deep", where, maxDepth)
	}
	if err := checkUID(s.UID()); err != nil {
		return fmt.Errorf("%sstage %s: %w", where, s.ClassName(), err)
	}
	registryMu.RLock()
	_, ok := registry[s.ClassName()]
	registryMu.RUnlock()
	if !ok {
		return fmt.Errorf("%sstage %s: class %q is not registered (ml.Register), so the bundle could not be loaded", where, s.UID(), s.ClassName())
	}
	if s.Params() == nil {
		return fmt.Errorf("%sstage %s has no params", where, s.UID())
	}
	if c, ok := s.(container); ok {
		for i, ch := range c.children() {
			if ch == nil {
				return fmt.Errorf("%sstage %s: stage %d is nil", where, s.UID(), i)
			}
			if err := checkSavable(ch, fmt.Sprintf("%s%s/", where, s.UID()), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkUID keeps uids usable as folder names on every platform.
func checkUID(uid string) error {
	if uid == "" || len(uid) > 200 || uid == "." || uid == ".." {
		return fmt.Errorf("uid %q: want 1 to 200 letters, digits, '_', '-' or '.'", uid)
	}
	for _, r := range uid {
		ok := r == '_' || r == '-' || r == '.' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
		if !ok {
			return fmt.Errorf("uid %q: want 1 to 200 letters, digits, '_', '-' or '.'", uid)
		}
	}
	return nil
}

func stageDirName(i, n int, uid string) string {
	width := max(2, len(strconv.Itoa(n-1)))
	return fmt.Sprintf("%0*d_%s", width, i, uid)
}

// writeStage writes s's data and sub-stages under dir and returns its metadata, which the
// caller writes (the top level adds the file list first).
func writeStage(s Stage, dir, rel string, depth int, now int64) (*metadata, error) {
	params, err := s.Params().MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%sparams: %w", relPrefix(rel), err)
	}
	meta := &metadata{
		Format: bundleFormat, FormatVersion: BundleFormatVersion, FrameworkVersion: FrameworkVersion,
		Class: s.ClassName(), UID: s.UID(), Timestamp: now, Params: params,
	}
	if dw, ok := s.(DataWriter); ok {
		data := filepath.Join(dir, dataName)
		if err := os.Mkdir(data, 0o755); err != nil {
			return nil, err
		}
		if err := dw.WriteData(data); err != nil {
			return nil, fmt.Errorf("%swriting the data of %s: %w", relPrefix(rel), s.UID(), err)
		}
		meta.HasData = true
	}
	if c, ok := s.(container); ok {
		kids := c.children()
		if len(kids) > 0 {
			if err := os.Mkdir(filepath.Join(dir, stagesName), 0o755); err != nil {
				return nil, err
			}
		}
		meta.Stages = make([]string, len(kids))
		for i, k := range kids {
			name := stageDirName(i, len(kids), k.UID())
			meta.Stages[i] = name
			kdir := filepath.Join(dir, stagesName, name)
			if err := os.Mkdir(kdir, 0o755); err != nil {
				return nil, err
			}
			krel := path.Join(rel, stagesName, name)
			km, err := writeStage(k, kdir, krel, depth+1, now)
			if err != nil {
				return nil, err
			}
			if err := writeMetadata(filepath.Join(kdir, metadataName), km); err != nil {
				return nil, err
			}
		}
	}
	return meta, nil
}

func relPrefix(rel string) string {
	if rel == "" {
		return ""
	}
	return rel + ": "
}

func writeMetadata(file string, m *metadata) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileSync(file, append(b, '\n'))
}

func writeFileSync(file string, b []byte) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// manifest lists every regular file under root except the top metadata.json with its size and
// SHA-256, syncing each to disk on the way (DataWriters need not sync their own files).
func manifest(root string) (map[string]fileEntry, error) {
	files := map[string]fileEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%s: a stage wrote something other than a regular file", rel)
		case rel == metadataName:
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		files[rel] = fileEntry{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
		return nil
	})
	return files, err
}

func zipTree(root, out string) error {
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	now := time.Now()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			// Directory entries keep folders a DataWriter left empty.
			_, err := zw.CreateHeader(&zip.FileHeader{Name: name + "/", Method: zip.Store, Modified: now})
			return err
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(w, src)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Load reads a bundle written by Save (a directory, or a zip file) and rebuilds its stage,
// through the registry for every class other than Pipeline and PipelineModel; import the
// packages that register the classes it holds (feature, nn). The bundle is untrusted: every
// file must match the checksums in the top metadata.json and every file present must be
// listed there, names may not leave the bundle, links are refused, and a zip is extracted (to
// a temporary folder, removed afterwards) only within the sizes its compressed entries can
// justify. Errors name the stage and the file that is wrong; a panicking loader becomes an
// error.
func Load(path string) (s Stage, err error) {
	defer func() {
		if err != nil {
			s = nil
			err = fmt.Errorf("ml: load %s: %w", path, err)
		}
	}()
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return loadTree(path)
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a directory or a zip file")
	}
	tmp, err := os.MkdirTemp("", "deepframe-ml-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := extractZip(path, fi.Size(), tmp); err != nil {
		return nil, err
	}
	return loadTree(tmp)
}

func loadTree(root string) (Stage, error) {
	meta, err := readMetadata(root, metadataName)
	if err != nil {
		return nil, err
	}
	if err := verifyFiles(root, meta.Files); err != nil {
		return nil, err
	}
	return loadStage(root, "", meta, 0)
}

func readMetadata(root, rel string) (*metadata, error) {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: missing (not a bundle written by ml.Save?)", rel)
		}
		return nil, fmt.Errorf("%s: %w", rel, unwrapPath(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetadataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, unwrapPath(err))
	}
	if len(b) > maxMetadataBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", rel, maxMetadataBytes)
	}
	var m metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	switch {
	case m.Format != bundleFormat:
		return nil, fmt.Errorf("%s: format %q, want %q", rel, printable(m.Format), bundleFormat)
	case m.FormatVersion > BundleFormatVersion:
		return nil, fmt.Errorf("%s: format version %d (written by deepframe %s) is newer than this deepframe %s reads (up to %d)",
			rel, m.FormatVersion, printable(m.FrameworkVersion), FrameworkVersion, BundleFormatVersion)
	case m.FormatVersion < 1:
		return nil, fmt.Errorf("%s: format version %d: want 1 to %d", rel, m.FormatVersion, BundleFormatVersion)
	case m.Class == "":
		return nil, fmt.Errorf("%s: no class", rel)
	}
	if err := checkUID(m.UID); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return &m, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// printable shortens and quotes text from a file before it goes into a message.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.Trim(strconv.Quote(s), `"`)
}

// verifyFiles checks the tree under root against the top metadata's file list: every listed
// file present with its size and checksum, nothing else present, no links.
func verifyFiles(root string, files map[string]fileEntry) error {
	present := map[string]int64{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%s: not a regular file (links are not allowed in a bundle)", rel)
		case rel == metadataName:
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		present[rel] = fi.Size()
		return nil
	})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		e := files[n]
		if err := checkRelName(n); err != nil {
			return fmt.Errorf("%s lists %w", metadataName, err)
		}
		size, ok := present[n]
		if !ok {
			return fmt.Errorf("%s: missing (%s lists it)", n, metadataName)
		}
		if size != e.Size {
			return fmt.Errorf("%s: %d bytes, but %s records %d (file truncated or replaced)", n, size, metadataName, e.Size)
		}
		sum, err := hashFile(filepath.Join(root, filepath.FromSlash(n)))
		if err != nil {
			return fmt.Errorf("%s: %w", n, unwrapPath(err))
		}
		if sum != strings.ToLower(e.SHA256) {
			return fmt.Errorf("%s: SHA-256 %s does not match %s's %s (file corrupted)", n, sum[:16], metadataName, printable(e.SHA256))
		}
	}
	extra := make([]string, 0)
	for n := range present {
		if _, ok := files[n]; !ok {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fmt.Errorf("%s: not listed in %s (files added to the bundle after it was saved)", extra[0], metadataName)
	}
	return nil
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkRelName accepts only clean relative slash paths that stay inside the bundle.
func checkRelName(n string) error {
	bad := n == "" || strings.ContainsAny(n, "\\\x00:") || strings.HasPrefix(n, "/") || path.Clean(n) != n
	for _, part := range strings.Split(n, "/") {
		bad = bad || part == ".." || part == "."
	}
	if bad {
		return fmt.Errorf("file name %q: want a relative path inside the bundle", printable(n))
	}
	return nil
}

func loadStage(root, rel string, meta *metadata, depth int) (Stage, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%s: stages nest more than %d deep", rel, maxDepth)
	}
	where := rel
	if where == "" {
		where = "top-level stage"
	}
	switch meta.Class {
	case "Pipeline", "PipelineModel":
		if meta.HasData {
			return nil, fmt.Errorf("%s (%s %s): a %s has no data folder", where, meta.Class, meta.UID, meta.Class)
		}
		if err := NewParams(meta.UID).Load(meta.Params); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		kids := make([]Stage, len(meta.Stages))
		for i, name := range meta.Stages {
			krel := path.Join(rel, stagesName, name)
			if strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
				return nil, fmt.Errorf("%s: stage folder name %q is not a plain name", where, printable(name))
			}
			km, err := readMetadata(root, path.Join(krel, metadataName))
			if err != nil {
				return nil, err
			}
			if want := stageDirName(i, len(meta.Stages), km.UID); name != want {
				return nil, fmt.Errorf("%s: folder name does not match stage %d with uid %s (want %s)", krel, i, km.UID, want)
			}
			k, err := loadStage(root, krel, km, depth+1)
			if err != nil {
				return nil, err
			}
			kids[i] = k
		}
		if meta.Class == "Pipeline" {
			return newPipeline(meta.UID, kids), nil
		}
		ts := make([]Transformer, len(kids))
		for i, k := range kids {
			t, ok := k.(Transformer)
			if !ok {
				return nil, fmt.Errorf("%s: stage %d (%s %s) is not a Transformer, so it cannot be part of a PipelineModel",
					where, i, k.ClassName(), k.UID())
			}
			ts[i] = t
		}
		return newPipelineModel(meta.UID, ts), nil
	}
	if len(meta.Stages) > 0 {
		return nil, fmt.Errorf("%s (%s %s): only a Pipeline or PipelineModel holds stages", where, meta.Class, meta.UID)
	}
	registryMu.RLock()
	load, ok := registry[meta.Class]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%s: unknown stage class %q (registered: %s); import the package that defines it",
			where, printable(meta.Class), strings.Join(RegisteredStages(), ", "))
	}
	dir := ""
	if meta.HasData {
		dir = filepath.Join(root, filepath.FromSlash(rel), dataName)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%s: missing (the stage %s %s saved data)", path.Join(rel, dataName), meta.Class, meta.UID)
		}
	}
	s, err := callLoader(load, meta, dir)
	if err != nil {
		return nil, fmt.Errorf("%s (%s %s): %w", where, meta.Class, meta.UID, err)
	}
	switch {
	case s == nil:
		return nil, fmt.Errorf("%s: the %s loader returned no stage", where, meta.Class)
	case s.ClassName() != meta.Class || s.UID() != meta.UID:
		return nil, fmt.Errorf("%s: the %s loader returned %s %s, want %s %s", where, meta.Class, s.ClassName(), s.UID(), meta.Class, meta.UID)
	}
	return s, nil
}

// callLoader turns a panicking loader into an error: a loader bug must not let a hostile file
// crash the program that loads it.
func callLoader(load Loader, meta *metadata, dir string) (s Stage, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("loader panicked: %v", r)
		}
	}()
	params := meta.Params
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	return load(meta.UID, params, dir)
}

// extractZip unpacks a zip bundle into dst, refusing names that leave dst, anything but
// files and folders, and entries larger than their compressed size can justify.
func extractZip(file string, fileSize int64, dst string) error {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return fmt.Errorf("not a zip bundle: %w", err)
	}
	defer zr.Close()
	if len(zr.File) > maxZipEntries {
		return fmt.Errorf("zip holds %d entries, more than a bundle may (%d)", len(zr.File), maxZipEntries)
	}
	seen := map[string]bool{}
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, "/")
		isDir := strings.HasSuffix(f.Name, "/")
		if err := checkRelName(name); err != nil {
			return fmt.Errorf("zip entry: %w", err)
		}
		if seen[name] {
			return fmt.Errorf("zip entry %s appears twice", printable(name))
		}
		seen[name] = true
		target := filepath.Join(dst, filepath.FromSlash(name))
		if isDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("zip entry %s: %w", printable(name), unwrapPath(err))
			}
			continue
		}
		if !f.Mode().IsRegular() {
			return fmt.Errorf("zip entry %s: not a regular file", printable(name))
		}
		if err := extractEntry(f, name, target, fileSize); err != nil {
			return err
		}
	}
	return nil
}

func extractEntry(f *zip.File, name, target string, fileSize int64) error {
	size := f.UncompressedSize64
	switch f.Method {
	case zip.Store:
		if size != f.CompressedSize64 {
			return fmt.Errorf("%s: stored entry of %d bytes claims %d", name, f.CompressedSize64, size)
		}
	case zip.Deflate:
		// Deflate expands at most about 1032:1.
		if size > f.CompressedSize64*1040+1024 {
			return fmt.Errorf("%s: %d bytes compressed to %d is beyond what deflate produces", name, size, f.CompressedSize64)
		}
	default:
		return fmt.Errorf("%s: unsupported zip compression method %d", name, f.Method)
	}
	if f.CompressedSize64 > uint64(fileSize) {
		return fmt.Errorf("%s: compressed size %d exceeds the zip's %d bytes", name, f.CompressedSize64, fileSize)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("%s: %w", name, unwrapPath(err))
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %w", name, unwrapPath(err))
	}
	n, err := io.Copy(out, io.LimitReader(rc, int64(min(size, 1<<62))+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if uint64(n) != size {
		return fmt.Errorf("%s: %d bytes, but the zip records %d", name, n, size)
	}
	return nil
}
