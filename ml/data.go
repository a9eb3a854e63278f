package ml

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// maxDataJSONBytes bounds what ReadDataJSON reads: stage state in JSON is labels and
// statistics, never bulk data, so a larger file is damage, not a model.
const maxDataJSONBytes = 1 << 30

// WriteDataJSON writes v as JSON to the file name in dir, for a DataWriter. Use Float64s for
// float slices that may hold NaN or infinities.
func WriteDataJSON(dir, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", dataName, name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("%s/%s: %w", dataName, name, unwrapPath(err))
	}
	return nil
}

// ReadDataJSON reads the file name in dir, as WriteDataJSON wrote it, into v, for a Loader.
// Unknown fields and trailing data are errors; errors name the file.
func ReadDataJSON(dir, name string, v any) error {
	if dir == "" {
		return fmt.Errorf("%s/%s: missing (the bundle holds no data for this stage)", dataName, name)
	}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s/%s: missing", dataName, name)
		}
		return fmt.Errorf("%s/%s: %w", dataName, name, unwrapPath(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxDataJSONBytes+1))
	if err != nil {
		return fmt.Errorf("%s/%s: %w", dataName, name, err)
	}
	if len(b) > maxDataJSONBytes {
		return fmt.Errorf("%s/%s: larger than %d bytes", dataName, name, maxDataJSONBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s/%s: %w", dataName, name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s/%s: trailing data after the JSON value", dataName, name)
	}
	return nil
}
