package tensorboard

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

type scalar struct {
	tag   string
	step  int64
	value float64
}

func TestWriterRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs", "run") // NewWriter makes parents
	before := float64(time.Now().Unix())
	w, err := NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	scalars := []scalar{
		{"loss", 0, 2.5},
		{"loss", 1, 1.25},
		{"accuracy", 1, 0.75},
		{"loss", 2, 0}, // a zero must still read back as a scalar
		{"odd/values", -3, math.Inf(-1)},
		{"odd/values", 1 << 40, 1e39}, // beyond float32: stored as +Inf
		{"ünïcode tag", 5, 0.1},
	}
	for _, s := range scalars {
		if err := w.AddScalar(s.tag, s.step, s.value); err != nil {
			t.Fatal(err)
		}
	}
	weights := []float32{-0.5, -0.25, 0, 0.125, 0.125, 3}
	if err := w.AddHistogram("fc_1/kernel", 7, weights); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	after := float64(time.Now().Unix() + 1)

	if filepath.Dir(w.Path()) != dir || !strings.HasPrefix(filepath.Base(w.Path()), "events.out.tfevents.") {
		t.Errorf("Path() = %q, want events.out.tfevents.* in %q", w.Path(), dir)
	}
	events, err := ReadEvents(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1+len(scalars)+1 {
		t.Fatalf("%d events, want %d", len(events), 1+len(scalars)+1)
	}
	for i, e := range events {
		if e.WallTime < before || e.WallTime > after {
			t.Errorf("event %d: wall time %v not in [%v, %v]", i, e.WallTime, before, after)
		}
	}
	if v := events[0]; v.FileVersion != "brain.Event:2" || len(v.Values) != 0 {
		t.Errorf("first event %+v, want only file_version brain.Event:2", v)
	}
	for i, s := range scalars {
		e := events[1+i]
		want := float64(float32(s.value))
		if e.Step != s.step || e.FileVersion != "" || len(e.Values) != 1 {
			t.Fatalf("event %d: %+v, want step %d with one value", 1+i, e, s.step)
		}
		v := e.Values[0]
		if v.Tag != s.tag || v.Simple == nil || *v.Simple != want || v.Histogram != nil {
			t.Errorf("event %d: value %+v, want tag %q simple %v", 1+i, v, s.tag, want)
		}
	}
	e := events[len(events)-1]
	if e.Step != 7 || len(e.Values) != 1 || e.Values[0].Tag != "fc_1/kernel" || e.Values[0].Simple != nil {
		t.Fatalf("histogram event %+v", e)
	}
	want, err := newHistogram(weights)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Values[0].Histogram; !reflect.DeepEqual(got, want) {
		t.Errorf("histogram %+v, want %+v", got, want)
	}
	checkHistogram(t, e.Values[0].Histogram, weights)
}

func TestWriterConcurrent(t *testing.T) {
	w, err := NewWriter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, perG = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			tag := fmt.Sprintf("g%d", g)
			for i := range perG {
				if err := w.AddScalar(tag, int64(i), float64(g*perG+i)); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					if err := w.AddHistogram(tag+"/h", int64(i), []float32{float32(i), 1}); err != nil {
						t.Error(err)
					}
					if err := w.Flush(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	events, err := ReadEvents(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string][]int64{}
	for _, e := range events[1:] {
		if v := e.Values[0]; v.Simple != nil {
			if want := float64(int(v.Tag[1]-'0')*perG + int(e.Step)); *v.Simple != want {
				t.Errorf("%s step %d = %v, want %v", v.Tag, e.Step, *v.Simple, want)
			}
			steps[v.Tag] = append(steps[v.Tag], e.Step)
		}
	}
	for g := range goroutines {
		got := steps[fmt.Sprintf("g%d", g)]
		// One goroutine's writes land in the order it made them.
		if len(got) != perG || !slices.IsSorted(got) {
			t.Errorf("g%d: %d steps, sorted %v", g, len(got), slices.IsSorted(got))
		}
	}
	if want := 1 + goroutines*perG + goroutines*perG/50; len(events) != want {
		t.Errorf("%d events, want %d", len(events), want)
	}
}

func TestWriterFileNames(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]bool{}
	for range 20 { // many writers within the same second
		w, err := NewWriter(dir)
		if err != nil {
			t.Fatal(err)
		}
		if seen[w.Path()] {
			t.Fatalf("two writers share %s", w.Path())
		}
		seen[w.Path()] = true
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 20 {
		t.Errorf("%d files, want 20", len(entries))
	}
	host := hostname()
	for _, e := range entries {
		parts := strings.Split(strings.TrimPrefix(e.Name(), "events.out.tfevents."), ".")
		if !strings.HasPrefix(e.Name(), "events.out.tfevents.") || !strings.Contains(e.Name(), "."+host+".") || len(parts) < 4 {
			t.Errorf("file name %q, want events.out.tfevents.<secs>.%s.<pid>.<n>", e.Name(), host)
		}
	}
}

func TestWriterVisibleBeforeClose(t *testing.T) {
	w, err := NewWriter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// The version event is flushed by NewWriter so TensorBoard sees the run.
	if events, err := ReadEvents(w.Path()); err != nil || len(events) != 1 {
		t.Fatalf("after NewWriter: %d events, %v", len(events), err)
	}
	if err := w.AddScalar("loss", 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if events, err := ReadEvents(w.Path()); err != nil || len(events) != 2 {
		t.Fatalf("after Flush: %d events, %v", len(events), err)
	}
}

func TestWriterErrors(t *testing.T) {
	w, err := NewWriter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"empty scalar tag", func() error { return w.AddScalar("", 1, 1) }, "AddScalar: empty tag"},
		{"bad UTF-8 tag", func() error { return w.AddScalar("a\xffb", 1, 1) }, `tag "a\xffb" is not valid UTF-8`},
		{"empty histogram tag", func() error { return w.AddHistogram("", 1, []float32{1}) }, "AddHistogram: empty tag"},
		{"no histogram values", func() error { return w.AddHistogram("h", 4, nil) }, `AddHistogram "h" at step 4: no values`},
		{"NaN in histogram", func() error { return w.AddHistogram("h", 4, []float32{1, float32(math.NaN())}) }, "values[1] is NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// Refused input must not have touched the file.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if events, err := ReadEvents(w.Path()); err != nil || len(events) != 1 {
		t.Errorf("after refused writes: %d events, %v; want only the version event", len(events), err)
	}

	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, call := range map[string]func() error{
		"AddScalar":    func() error { return w.AddScalar("x", 1, 1) },
		"AddHistogram": func() error { return w.AddHistogram("x", 1, []float32{1}) },
		"Flush":        w.Flush,
	} {
		if err := call(); !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), w.Path()) {
			t.Errorf("%s after Close: %v, want ErrClosed naming %s", name, err, w.Path())
		}
	}
}

func TestNewWriterErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, want string
	}{
		{"empty", "", "empty directory name"},
		{"under a file", filepath.Join(file, "run"), file},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewWriter(tt.dir)
			if err == nil {
				w.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestLogDirs(t *testing.T) {
	tests := []struct {
		logdir, app, train, validation string
	}{
		{"logdir", "iris-example", "logdir/iris-example/train", "logdir/iris-example/validation"},
		{"/tmp/tb/", "app", "/tmp/tb/app/train", "/tmp/tb/app/validation"},
	}
	for _, tt := range tests {
		train, validation := LogDirs(tt.logdir, tt.app)
		if train != filepath.FromSlash(tt.train) || validation != filepath.FromSlash(tt.validation) {
			t.Errorf("LogDirs(%q, %q) = %q, %q; want %q, %q", tt.logdir, tt.app, train, validation, tt.train, tt.validation)
		}
	}
}

func BenchmarkAddScalar(b *testing.B) {
	w, err := NewWriter(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	var step int64
	for b.Loop() {
		step++
		if err := w.AddScalar("loss", step, 0.5); err != nil {
			b.Fatal(err)
		}
	}
}
