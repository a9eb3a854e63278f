package frame

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// ParseMode says what a reader does with a malformed record, as Spark's mode option does.
type ParseMode int

const (
	// FailFast stops at the first malformed record with an error naming the file, the line
	// (or row) and the column. It is the default: unlike Spark, deepframe would rather stop
	// than train on silently altered data.
	FailFast ParseMode = iota
	// DropMalformed skips malformed records.
	DropMalformed
	// Permissive keeps malformed records, with null for every field that could not be read
	// (missing fields included) and, if CorruptRecordColumn is set, the record's raw text in
	// that column.
	Permissive
)

func (m ParseMode) String() string {
	switch m {
	case FailFast:
		return "FailFast"
	case DropMalformed:
		return "DropMalformed"
	case Permissive:
		return "Permissive"
	}
	return fmt.Sprintf("ParseMode(%d)", int(m))
}

// ReadOption configures a reader. Each reader accepts the options listed in its
// documentation and rejects the others, so a misplaced option is an error rather than ignored.
type ReadOption struct {
	name string
	set  func(*readConfig) error
}

type readConfig struct {
	header      bool
	delim       byte
	quote       byte
	nullValues  []string
	infer       bool
	schema      *arrow.Schema
	mode        ParseMode
	corruptCol  string
	batchRows   int
	columns     []string
	resizeH     int
	resizeW     int
	colorMode   string
	labelParent bool
}

const defaultBatchRows = 4096

func newReadConfig(reader string, allowed []string, opts []ReadOption) (*readConfig, error) {
	c := &readConfig{delim: ',', quote: '"', nullValues: []string{""}, batchRows: defaultBatchRows}
	for _, o := range opts {
		if o.set == nil {
			continue
		}
		if !slices.Contains(allowed, o.name) {
			return nil, fmt.Errorf("frame: %s does not take option %s (it takes %s)", reader, o.name, strings.Join(allowed, ", "))
		}
		if err := o.set(c); err != nil {
			return nil, fmt.Errorf("frame: %s: %s: %w", reader, o.name, err)
		}
	}
	return c, nil
}

// Header treats the first line of each CSV file as column names (CSV).
func Header() ReadOption {
	return ReadOption{"Header", func(c *readConfig) error { c.header = true; return nil }}
}

// Delimiter sets the field separator, an ASCII character; the default is ',' (CSV).
func Delimiter(r rune) ReadOption {
	return ReadOption{"Delimiter", func(c *readConfig) error {
		if r <= 0 || r >= 0x80 || r == '\n' || r == '\r' {
			return fmt.Errorf("delimiter %q: want one ASCII character other than a line break", r)
		}
		c.delim = byte(r)
		return nil
	}}
}

// Quote sets the quote character, an ASCII character; the default is '"'. Inside a quoted
// field the quote is written twice (CSV).
func Quote(r rune) ReadOption {
	return ReadOption{"Quote", func(c *readConfig) error {
		if r <= 0 || r >= 0x80 || r == '\n' || r == '\r' {
			return fmt.Errorf("quote %q: want one ASCII character other than a line break", r)
		}
		c.quote = byte(r)
		return nil
	}}
}

// NullValues sets the unquoted field texts that mean null; the default is the empty field.
// A quoted field is never null, so "" reads as an empty string. An empty field in a
// non-string column is always null (CSV).
func NullValues(values ...string) ReadOption {
	return ReadOption{"NullValues", func(c *readConfig) error {
		c.nullValues = append([]string(nil), values...)
		return nil
	}}
}

// InferSchema reads the data once to choose each column's type: Int32, then Int64, then
// Float64, then Boolean, else String, as Spark does. Without it every column is a String
// (CSV, JSON lines always infer).
func InferSchema() ReadOption {
	return ReadOption{"InferSchema", func(c *readConfig) error { c.infer = true; return nil }}
}

// Schema gives the column names and types instead of reading them from the data (CSV,
// JSON lines). CSV columns are matched by position (a header line is skipped, not checked);
// JSON keys by name. Supported types: Int32, Int64, Float32, Float64, Boolean, String, and
// for JSON lines also vectors (VectorType).
func Schema(s *arrow.Schema) ReadOption {
	return ReadOption{"Schema", func(c *readConfig) error {
		if s == nil || s.NumFields() == 0 {
			return fmt.Errorf("empty schema")
		}
		c.schema = s
		return nil
	}}
}

// Mode sets what happens to malformed records (CSV, JSON lines, images); the default is
// FailFast.
func Mode(m ParseMode) ReadOption {
	return ReadOption{"Mode", func(c *readConfig) error {
		if m < FailFast || m > Permissive {
			return fmt.Errorf("unknown mode %d", int(m))
		}
		c.mode = m
		return nil
	}}
}

// CorruptRecordColumn adds a String column with this name that holds the raw text of each
// malformed record kept in Permissive mode and null elsewhere (CSV, JSON lines).
func CorruptRecordColumn(name string) ReadOption {
	return ReadOption{"CorruptRecordColumn", func(c *readConfig) error {
		if name == "" {
			return fmt.Errorf("empty column name")
		}
		c.corruptCol = name
		return nil
	}}
}

// BatchRows sets how many rows each Arrow record batch holds while reading; the default is
// 4096 (all readers). Smaller batches lower peak memory, larger ones lower overhead.
func BatchRows(n int) ReadOption {
	return ReadOption{"BatchRows", func(c *readConfig) error {
		if n < 1 {
			return fmt.Errorf("%d rows: want at least 1", n)
		}
		c.batchRows = n
		return nil
	}}
}

// Columns reads only the named columns, in this order (Parquet reads only their data; the
// other readers drop the rest after parsing).
func Columns(names ...string) ReadOption {
	return ReadOption{"Columns", func(c *readConfig) error {
		if len(names) == 0 {
			return fmt.Errorf("no columns named")
		}
		c.columns = append([]string(nil), names...)
		return nil
	}}
}

// Resize scales every image to height h and width w (bilinear) as it is read (images).
func Resize(h, w int) ReadOption {
	return ReadOption{"Resize", func(c *readConfig) error {
		if h < 1 || w < 1 {
			return fmt.Errorf("%dx%d: want positive sizes", h, w)
		}
		c.resizeH, c.resizeW = h, w
		return nil
	}}
}

// ColorMode converts every image to "L" (gray, 1 channel), "RGB" (3) or "RGBA" (4) as it is
// read, so that a folder of mixed files batches into one tensor shape (images). Without it each
// image keeps its own mode: L for gray files, RGBA for files with transparency, RGB otherwise.
func ColorMode(mode string) ReadOption {
	return ReadOption{"ColorMode", func(c *readConfig) error {
		if channelsOf(mode) == 0 {
			return fmt.Errorf("mode %q: want L, RGB or RGBA", mode)
		}
		c.colorMode = mode
		return nil
	}}
}

// LabelFromParentDir adds a String column "label" holding the name of each image's parent
// directory, the usual layout of classification data sets (images).
func LabelFromParentDir() ReadOption {
	return ReadOption{"LabelFromParentDir", func(c *readConfig) error { c.labelParent = true; return nil }}
}

// resolvePaths expands a reader's path argument: a file, a directory (every file in it with
// one of exts, lexical order, not recursive) or a glob pattern.
func resolvePaths(reader, path string, exts ...string) ([]string, error) {
	st, err := os.Stat(path)
	if err == nil && !st.IsDir() {
		return []string{path}, nil
	}
	if err == nil {
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("frame: %s: %w", reader, err)
		}
		var out []string
		for _, e := range ents {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
				continue
			}
			if hasExt(e.Name(), exts) {
				out = append(out, filepath.Join(path, e.Name()))
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("frame: %s: no %s files in directory %s", reader, strings.Join(exts, "/"), path)
		}
		return out, nil
	}
	if strings.ContainsAny(path, "*?[") {
		out, gerr := filepath.Glob(path)
		if gerr != nil {
			return nil, fmt.Errorf("frame: %s: pattern %q: %w", reader, path, gerr)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("frame: %s: no files match %q", reader, path)
		}
		slices.Sort(out)
		return out, nil
	}
	return nil, fmt.Errorf("frame: %s: %w", reader, err)
}

func hasExt(name string, exts []string) bool {
	lower := strings.ToLower(name)
	for _, e := range exts {
		if strings.HasSuffix(lower, e) {
			return true
		}
	}
	return false
}
