package main

import (
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// files are the dataset's four files and what each must hold: the IDX magic number (0x0803
// for images, 0x0801 for labels) and the item count.
var files = []struct {
	name  string
	magic uint32
	count uint32
}{
	{"train-images-idx3-ubyte.gz", 0x0803, 60000},
	{"train-labels-idx1-ubyte.gz", 0x0801, 60000},
	{"t10k-images-idx3-ubyte.gz", 0x0803, 10000},
	{"t10k-labels-idx1-ubyte.gz", 0x0801, 10000},
}

// mirrors are tried in order; the first is the address the dataset's authors publish, the
// second their repository's copy. Tests point it at a local server.
var mirrors = []string{
	"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
	"https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
}

// searchBases are where ../shared/data sits relative to the working directory: the
// repository root, or an example or package folder inside it.
func searchBases() []string {
	return []string{"..", filepath.Join("..", ".."), filepath.Join("..", "..", "..")}
}

func defaultCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = filepath.Join(os.TempDir(), "deepframe-cache")
	}
	return filepath.Join(dir, "deepframe", "fashion-mnist")
}

// existing returns path, or its unpacked twin (without .gz) when only that exists: the reader
// detects compression from the content, so both forms work.
func existing(path string) string {
	if _, err := os.Stat(path); err != nil {
		if plain := strings.TrimSuffix(path, ".gz"); plain != path {
			if _, err := os.Stat(plain); err == nil {
				return plain
			}
		}
	}
	return path
}

func missing(dir string) []string {
	var out []string
	for _, f := range files {
		if _, err := os.Stat(existing(filepath.Join(dir, f.name))); err != nil {
			out = append(out, f.name)
		}
	}
	return out
}

func howTo(cache string) string {
	var b strings.Builder
	b.WriteString("Put these four files in one folder and pass it with -data DIR")
	if cache != "" {
		fmt.Fprintf(&b, " (or put them in %s)", cache)
	}
	b.WriteString(":\n")
	for _, f := range files {
		fmt.Fprintf(&b, "  %s\n", f.name)
	}
	b.WriteString("They are published at\n")
	for _, m := range mirrors {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	return b.String()
}

// locateData finds the folder holding all four files: dataFlag when given, else
// shared/data/fashion-mnist under one of bases, else cache, downloading into cache what is
// missing there when download is set.
func locateData(ctx context.Context, dataFlag string, bases []string, cache string, download bool, log io.Writer) (string, error) {
	if dataFlag != "" {
		if m := missing(dataFlag); len(m) > 0 {
			return "", fmt.Errorf("-data %s: missing %s.\n%s", dataFlag, strings.Join(m, ", "), howTo(""))
		}
		return dataFlag, nil
	}
	for _, base := range bases {
		dir := filepath.Join(base, "shared", "data", "fashion-mnist")
		if len(missing(dir)) == 0 {
			return dir, nil
		}
	}
	need := missing(cache)
	if len(need) == 0 {
		return cache, nil
	}
	if !download {
		return "", fmt.Errorf("Fashion-MNIST is not on this machine (looked in -data, ../shared/data/fashion-mnist and %s) and -download=false.\n%s", cache, howTo(cache))
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("creating the download cache: %w\n%s", err, howTo(""))
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		// Fail fast on a machine without a network rather than hang for minutes.
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}}
	for _, f := range files {
		if !contains(need, f.name) {
			continue
		}
		var tries []string
		for _, m := range mirrors {
			url := m + f.name
			fmt.Fprintf(log, "fashion-mnist: downloading %s\n", url)
			err := fetch(ctx, client, url, filepath.Join(cache, f.name), f.magic, f.count)
			if err == nil {
				tries = nil
				break
			}
			tries = append(tries, fmt.Sprintf("%s: %v", url, err))
		}
		if tries != nil {
			return "", fmt.Errorf("Fashion-MNIST is not on this machine and could not be downloaded:\n  %s\n%s",
				strings.Join(tries, "\n  "), howTo(cache))
		}
	}
	return cache, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// fetch downloads url to dst through a temporary file, and keeps it only when it is a gzip
// IDX file with the expected header, so an error page or a cut-off transfer never poses as
// the dataset.
func fetch(ctx context.Context, client *http.Client, url, dst string, magic, count uint32) (err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".download-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, resp.Body); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = checkIDX(tmp.Name(), magic, count); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// checkIDX reads the whole gzip stream (which verifies its CRC and length) and checks the
// IDX header.
func checkIDX(path string, magic, count uint32) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("not a gzip file: %w", err)
	}
	var head [8]byte
	if _, err := io.ReadFull(z, head[:]); err != nil {
		return fmt.Errorf("reading the IDX header: %w", err)
	}
	if got := binary.BigEndian.Uint32(head[:4]); got != magic {
		return fmt.Errorf("IDX magic %#08x, want %#08x", got, magic)
	}
	if got := binary.BigEndian.Uint32(head[4:]); got != count {
		return fmt.Errorf("%d items, want %d", got, count)
	}
	if _, err := io.Copy(io.Discard, z); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errors.New("the download is truncated")
		}
		return err
	}
	return nil
}
