package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedData is the copy of the dataset beside the repository, if this machine has one.
func sharedData(t *testing.T) string {
	dir := filepath.Join("..", "..", "..", "shared", "data", "fashion-mnist")
	if m := missing(dir); len(m) > 0 {
		t.Skipf("Fashion-MNIST is not at %s (missing %s); the short training run needs it", dir, strings.Join(m, ", "))
	}
	return dir
}

// TestShortTraining trains on the first 2,000 images for one epoch, as a user would run the
// example, and holds it to a bar any working CNN clears: 0.5 test accuracy on 2,000 test
// images (chance is 0.1), a bundle, TensorBoard logs and a well-formed -json line.
func TestShortTraining(t *testing.T) {
	dir := sharedData(t)
	out := t.TempDir()
	var stdout bytes.Buffer
	args := []string{"-data", dir, "-out", out, "-train-rows", "2000", "-test-rows", "2000", "-epochs", "1", "-json"}
	if err := run(context.Background(), args, &stdout); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line is not JSON: %q: %v", lines[len(lines)-1], err)
	}
	if res.Accuracy < 0.5 {
		t.Errorf("test accuracy %.4f after one epoch on 2,000 images, want >= 0.5", res.Accuracy)
	}
	if res.Epochs != 1 || res.TrainRows != 2000 || res.TestRows != 2000 {
		t.Errorf("epochs %d, train rows %d, test rows %d; want 1, 2000, 2000", res.Epochs, res.TrainRows, res.TestRows)
	}
	if res.TrainSeconds <= 0 || res.SamplesPerSecond <= 0 || res.TimeToAccuracy < res.TrainSeconds {
		t.Errorf("timings inconsistent: train %.3f s, %.0f samples/s, time to accuracy %.3f s", res.TrainSeconds, res.SamplesPerSecond, res.TimeToAccuracy)
	}
	if _, err := os.Stat(filepath.Join(out, "model.dfm")); err != nil {
		t.Errorf("bundle: %v", err)
	}
	for _, sub := range []string{"train", "validation"} {
		if ev, _ := filepath.Glob(filepath.Join(out, "tensorboard", "fashion-mnist", sub, "events.out.tfevents.*")); len(ev) == 0 {
			t.Errorf("no TensorBoard event file under %s", sub)
		}
	}
}

// TestNoDataSaysWhatToDo checks the message a user without the files and without a network
// gets: the file names, where they are published, and the -data flag.
func TestNoDataSaysWhatToDo(t *testing.T) {
	cache := t.TempDir()
	_, err := locateData(context.Background(), "", []string{t.TempDir()}, cache, false, &bytes.Buffer{})
	if err == nil {
		t.Fatal("locateData found data in empty folders")
	}
	for _, want := range append([]string{"-data DIR", cache, "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}, mirrors...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message does not mention %q:\n%v", want, err)
		}
	}

	_, err = locateData(context.Background(), t.TempDir(), nil, cache, true, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "-data") || !strings.Contains(err.Error(), "missing train-images-idx3-ubyte.gz") {
		t.Errorf("an empty -data folder gives %v, want a message naming -data and the missing files", err)
	}
}

// idxGzip makes a small IDX file: the header of a real one (magic and count) with empty
// content behind it, which is all the download check reads.
func idxGzip(t *testing.T, magic, count uint32) []byte {
	var raw bytes.Buffer
	binary.Write(&raw, binary.BigEndian, magic)
	binary.Write(&raw, binary.BigEndian, count)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return gz.Bytes()
}

// TestDownload serves the four files from a local server standing in for the mirrors: the
// first mirror fails, the second serves, one file arrives truncated the first time and is
// rejected rather than cached.
func TestDownload(t *testing.T) {
	body := map[string][]byte{}
	for _, f := range files {
		body[f.name] = idxGzip(t, f.magic, f.count)
	}
	truncateOnce := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/good/")
		b, ok := body[name]
		if !strings.HasPrefix(r.URL.Path, "/good/") || !ok {
			http.NotFound(w, r)
			return
		}
		if name == files[2].name && truncateOnce {
			truncateOnce = false
			b = b[:len(b)-4]
		}
		w.Write(b)
	}))
	defer srv.Close()
	saved := mirrors
	defer func() { mirrors = saved }()
	mirrors = []string{srv.URL + "/bad/", srv.URL + "/good/"}

	cache := filepath.Join(t.TempDir(), "cache")
	var log bytes.Buffer
	_, err := locateData(context.Background(), "", nil, cache, true, &log)
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), files[2].name) {
		t.Fatalf("with a truncated %s, got %v; want an error naming the file and each mirror's failure", files[2].name, err)
	}
	if _, err := os.Stat(filepath.Join(cache, files[2].name)); err == nil {
		t.Fatal("the truncated download was kept in the cache")
	}
	dir, err := locateData(context.Background(), "", nil, cache, true, &log)
	if err != nil {
		t.Fatalf("second try: %v\n%s", err, log.String())
	}
	if dir != cache || len(missing(cache)) > 0 {
		t.Fatalf("got %s with %v missing; want every file in %s", dir, missing(cache), cache)
	}
	// Once cached, nothing is downloaded again.
	log.Reset()
	if _, err := locateData(context.Background(), "", nil, cache, false, &log); err != nil || log.Len() > 0 {
		t.Fatalf("cached files: err %v, log %q", err, log.String())
	}
}
