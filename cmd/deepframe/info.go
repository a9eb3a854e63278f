package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/tensor"
)

var summaryCommand = &command{
	name:    "summary",
	args:    "MODEL.dfm",
	summary: "print a saved model's layers, signature, parameters and training state",
	flags:   noFlags,
	run: func(_ context.Context, inv *invocation) error {
		if err := exactArgs(inv, "MODEL.dfm"); err != nil {
			return err
		}
		b, err := keras.LoadBundle(inv.args[0])
		if err != nil {
			return err
		}
		return writeSummary(inv.stdout, inv.args[0], b)
	},
}

func writeSummary(w io.Writer, path string, b *keras.Bundle) error {
	if err := b.Model.Summary(w); err != nil {
		return err
	}
	man, md := b.Manifest, b.Metadata
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Bundle:\t%s (%s v%d, deepframe %s, created %s)\n", path, man.Format, man.FormatVersion,
		man.FrameworkVersion, man.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	for _, s := range md.Inputs {
		fmt.Fprintf(tw, "Input:\t%s %s %v\n", s.Name, s.DType, tensor.Shape(s.Shape))
	}
	for _, s := range md.Outputs {
		fmt.Fprintf(tw, "Output:\t%s %s %v\n", s.Name, s.DType, tensor.Shape(s.Shape))
	}
	p := md.Params
	fmt.Fprintf(tw, "Parameters:\t%s total, %s trainable, %s non-trainable\n",
		thousands(p.Total), thousands(p.Trainable), thousands(p.NonTrainable))
	m := b.Model
	if opt := m.Optimizer(); opt != nil {
		cfg := opt.Config()
		fmt.Fprintf(tw, "Optimizer:\t%s %s (%d steps taken)\n", cfg.ClassName, compactJSON(cfg.Config), opt.Iterations())
	} else {
		fmt.Fprintf(tw, "Optimizer:\tnone (saved for inference; compile before training)\n")
	}
	if l := m.Loss(); l != nil {
		fmt.Fprintf(tw, "Loss:\t%s\n", l.Name())
	}
	if ms := m.Metrics(); len(ms) > 0 {
		names := make([]string, len(ms))
		for i, mt := range ms {
			names[i] = mt.Name()
		}
		fmt.Fprintf(tw, "Metrics:\t%s\n", strings.Join(names, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(md.TrainingMetrics) > 0 {
		fmt.Fprintln(w, "\nTraining metrics:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, k := range sortedKeys(md.TrainingMetrics) {
			fmt.Fprintf(tw, "  %s\t%s\n", k, strconv.FormatFloat(md.TrainingMetrics[k], 'g', 6, 64))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(md.User) > 0 {
		fmt.Fprintln(w, "\nMetadata:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, k := range sortedKeys(md.User) {
			fmt.Fprintf(tw, "  %s\t%s\n", k, compactJSON(md.User[k]))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// compactJSON prints a config or metadata value on one line. Strings print bare; values JSON
// cannot encode (which a loaded bundle never holds) print with %v.
func compactJSON(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// thousands formats n as Keras's summary does: 10,903.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

var versionCommand = &command{
	name:    "version",
	summary: "print the deepframe, Go and compute backend versions",
	flags:   noFlags,
	run: func(_ context.Context, inv *invocation) error {
		if err := exactArgs(inv); err != nil {
			return err
		}
		return writeVersion(inv.stdout)
	},
}

func writeVersion(w io.Writer) error {
	b := backend.Current()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "deepframe\t%s (bundle format v%d)\n", keras.FrameworkVersion, keras.BundleFormatVersion)
	fmt.Fprintf(tw, "go\t%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	// Backends usually start their version string with their own name.
	if v := b.Version(); strings.HasPrefix(v, b.Name()) {
		fmt.Fprintf(tw, "backend\t%s\n", v)
	} else {
		fmt.Fprintf(tw, "backend\t%s %s\n", b.Name(), v)
	}
	fmt.Fprintf(tw, "threads\t%d\n", backend.NumThreads())
	// Why a faster backend was not chosen is the first thing to know when training is slow.
	for _, s := range backend.Skipped() {
		fmt.Fprintf(tw, "skipped\t%s\n", s)
	}
	return tw.Flush()
}
