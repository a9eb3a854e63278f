package tensorboard

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// fileVersion is what TensorBoard expects in a file's first event; version 2
// means summaries carry wall times and steps, as ours do.
const fileVersion = "brain.Event:2"

// ErrClosed is returned (wrapped, with the file's path) by a Writer's methods
// after Close.
var ErrClosed = errors.New("event writer is closed")

// writerSeq numbers the writers of this process, for unique file names.
var writerSeq atomic.Uint64

// Writer appends summaries to one event file. Its methods are safe for
// concurrent use. Writes are buffered: they reach the file when the buffer
// fills, on Flush, and on Close, so a training loop should Flush at the
// points where a user will want to see progress (the end of an epoch).
type Writer struct {
	path string

	mu     sync.Mutex
	f      *os.File
	bw     *bufio.Writer
	err    error // the first write error; every later write reports it
	closed bool
}

// LogDirs returns the directories deepframe writes a run's training and
// validation summaries to: logdir/appName/train and
// logdir/appName/validation. Pointing TensorBoard at logdir shows each
// application as a pair of runs.
func LogDirs(logdir, appName string) (train, validation string) {
	base := filepath.Join(logdir, appName)
	return filepath.Join(base, "train"), filepath.Join(base, "validation")
}

// NewWriter creates dir if needed and a new event file in it, and writes the
// file-version event, flushed, so that TensorBoard sees the run at once.
func NewWriter(dir string) (*Writer, error) {
	if dir == "" {
		return nil, errors.New("tensorboard: NewWriter: empty directory name")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tensorboard: create log directory: %w", err)
	}
	host := hostname()
	var f *os.File
	// The sequence number already makes names unique within this process;
	// O_EXCL and the retry guard against another process with a reused pid
	// (containers often all run as pid 1) writing to a shared directory.
	for try := 0; ; try++ {
		name := fmt.Sprintf("events.out.tfevents.%d.%s.%d.%d",
			time.Now().Unix(), host, os.Getpid(), writerSeq.Add(1))
		var err error
		f, err = os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || try == 100 {
			return nil, fmt.Errorf("tensorboard: create event file: %w", err)
		}
	}
	w := &Writer{path: f.Name(), f: f, bw: bufio.NewWriterSize(f, 64<<10)}
	err := w.write(&Event{WallTime: wallTime(), FileVersion: fileVersion})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		// A file without its version event would confuse TensorBoard more
		// than no file at all.
		f.Close()
		os.Remove(w.path)
		return nil, err
	}
	return w, nil
}

// hostname returns the machine's name made safe for use inside a file name.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, h)
}

func wallTime() float64 {
	return float64(time.Now().UnixNano()) / 1e9
}

// Path returns the event file's path.
func (w *Writer) Path() string { return w.path }

// AddScalar records value for tag at step. The event format stores scalars
// as float32, so value is rounded to the nearest float32 (and overflows to
// ±Inf beyond its range); NaN and ±Inf are recorded as they are, since
// TensorBoard displays them.
func (w *Writer) AddScalar(tag string, step int64, value float64) error {
	if err := checkTag(tag); err != nil {
		return fmt.Errorf("tensorboard: AddScalar: %w", err)
	}
	v := float64(float32(value))
	return w.write(&Event{
		WallTime: wallTime(),
		Step:     step,
		Values:   []Value{{Tag: tag, Simple: &v}},
	})
}

// AddHistogram records the distribution of values for tag at step, using
// the bucket layout described in the package documentation. values must be
// non-empty and finite; the error names the first offending element.
func (w *Writer) AddHistogram(tag string, step int64, values []float32) error {
	if err := checkTag(tag); err != nil {
		return fmt.Errorf("tensorboard: AddHistogram: %w", err)
	}
	h, err := newHistogram(values)
	if err != nil {
		return fmt.Errorf("tensorboard: AddHistogram %q at step %d: %w", tag, step, err)
	}
	return w.write(&Event{
		WallTime: wallTime(),
		Step:     step,
		Values:   []Value{{Tag: tag, Histogram: h}},
	})
}

// checkTag refuses tags that would make the file unreadable elsewhere: the
// tag is a proto3 string, which protobuf parsers reject if not UTF-8, and an
// empty tag cannot be shown.
func checkTag(tag string) error {
	if tag == "" {
		return errors.New("empty tag")
	}
	if !utf8.ValidString(tag) {
		return fmt.Errorf("tag %q is not valid UTF-8", tag)
	}
	return nil
}

// write encodes outside the lock, so concurrent callers serialise only on
// the copy into the buffer.
func (w *Writer) write(e *Event) error {
	rec := appendRecord(nil, marshalEvent(e))
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if _, err := w.bw.Write(rec); err != nil {
		w.err = fmt.Errorf("tensorboard: write %s: %w", w.path, err)
		return w.err
	}
	return nil
}

// usable reports why the writer cannot take more data, if it cannot.
// w.mu must be held.
func (w *Writer) usable() error {
	if w.closed {
		return fmt.Errorf("tensorboard: %s: %w", w.path, ErrClosed)
	}
	return w.err
}

// Flush writes buffered events to the file and syncs it to stable storage,
// so they survive a crash of the process or the machine.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("tensorboard: write %s: %w", w.path, err)
		return w.err
	}
	if err := w.f.Sync(); err != nil {
		w.err = fmt.Errorf("tensorboard: sync %s: %w", w.path, err)
		return w.err
	}
	return nil
}

// Close flushes and closes the file. Closing an already closed Writer does
// nothing and returns nil, so a deferred Close may follow an explicit one.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.err
	if err == nil {
		err = w.flushLocked()
	}
	if cerr := w.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("tensorboard: close %s: %w", w.path, cerr)
	}
	return err
}
