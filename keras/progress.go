package keras

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// progress prints what Fit is doing. On a terminal it redraws one bar per epoch; elsewhere
// (logs, files, CI) it writes plain lines that tools can parse:
//
//	epoch 10/50 iter 48 samples 96/120 loss=0.4312 throughput=12873 samples/s lr=0.01
//	epoch 10/50 done loss=0.4100 accuracy=0.8700 val_loss=0.3900 val_accuracy=0.9000 time=0.02s
type progress struct {
	w        io.Writer
	level    int
	term     bool
	logEvery int
	total    int // rows per epoch; -1 when a stream does not say

	epoch, epochs int
	epochStart    time.Time
	lastTime      time.Time // of the last line or redraw
	lastSamples   int       // samples done at the last line
	lastDraw      time.Time
	drawn         bool // a bar is on screen and needs its line finished
}

// redrawEvery bounds how often the bar is redrawn, so that fast steps do not spend their time
// writing to the terminal.
const redrawEvery = 100 * time.Millisecond

func newProgress(cfg fitConfig, total int) *progress {
	p := &progress{w: cfg.out, level: cfg.verbose, logEvery: cfg.logEvery, total: total}
	if p.w == nil {
		p.level = 0
	}
	if f, ok := p.w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.term = true
	}
	return p
}

func (p *progress) begin(backendName, backendVersion string, train, valid int) {
	if p.level <= 0 {
		return
	}
	what := fmt.Sprintf("%d samples", train)
	if train < 0 {
		what = "a stream"
	}
	v := ""
	switch {
	case valid > 0:
		v = fmt.Sprintf(", validating on %d", valid)
	case valid < 0:
		v = ", validating on a stream"
	}
	desc := backendName + " " + backendVersion
	if strings.HasPrefix(backendVersion, backendName) {
		desc = backendVersion // versions often start with the name already
	}
	fmt.Fprintf(p.w, "training on %s%s; backend %s\n", what, v, desc)
}

func (p *progress) epochBegin(epoch, epochs int) {
	p.epoch, p.epochs = epoch, epochs
	now := time.Now()
	p.epochStart, p.lastTime, p.lastDraw = now, now, time.Time{}
	p.lastSamples = 0
}

// step reports a finished training step: fitStep counts steps of this Fit, iter the
// optimizer's iterations, done the samples of this epoch so far.
func (p *progress) step(fitStep int, iter int64, done int, loss, lr float64) {
	if p.level != 1 {
		return
	}
	now := time.Now()
	if p.term {
		if (done < p.total || p.total < 0) && now.Sub(p.lastDraw) < redrawEvery {
			return
		}
		p.lastDraw = now
		p.drawBar(now, done, loss)
		return
	}
	if p.logEvery == 0 || fitStep%p.logEvery != 0 {
		return
	}
	tp := throughput(done-p.lastSamples, now.Sub(p.lastTime))
	p.lastTime, p.lastSamples = now, done
	total := ""
	if p.total >= 0 {
		total = fmt.Sprintf("/%d", p.total)
	}
	fmt.Fprintf(p.w, "epoch %d/%d iter %d samples %d%s loss=%s throughput=%.0f samples/s lr=%g\n",
		p.epoch+1, p.epochs, iter, done, total, formatValue(loss), tp, lr)
}

func (p *progress) drawBar(now time.Time, done int, loss float64) {
	if p.total < 0 {
		// Without a total there is nothing to fill a bar or time an ETA against.
		tp := throughput(done, now.Sub(p.epochStart))
		fmt.Fprintf(p.w, "\repoch %d/%d %d samples loss=%s %.0f samples/s\x1b[K",
			p.epoch+1, p.epochs, done, formatValue(loss), tp)
		p.drawn = true
		return
	}
	const width = 30
	filled := width * done / max(p.total, 1)
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(".", width-filled-1)
	}
	elapsed := now.Sub(p.epochStart)
	tp := throughput(done, elapsed)
	eta := "0s"
	if tp > 0 {
		eta = formatSeconds(time.Duration(float64(p.total-done) / tp * float64(time.Second)))
	}
	fmt.Fprintf(p.w, "\repoch %d/%d [%s] %d/%d loss=%s %.0f samples/s ETA %s\x1b[K",
		p.epoch+1, p.epochs, bar, done, p.total, formatValue(loss), tp, eta)
	p.drawn = true
}

func (p *progress) epochEnd(epoch, epochs int, logs map[string]float64, order []string, took time.Duration) {
	if p.level <= 0 {
		return
	}
	prefix := ""
	if p.drawn {
		prefix = "\r"
		p.drawn = false
	}
	clearEnd := ""
	if p.term {
		clearEnd = "\x1b[K"
	}
	fmt.Fprintf(p.w, "%sepoch %d/%d done%s time=%s%s\n", prefix, epoch+1, epochs, formatLogs(logs, order), formatSeconds(took), clearEnd)
}

// abort ends a bar that is on screen, so an error message starts on its own line.
func (p *progress) abort() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func throughput(samples int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(samples) / d.Seconds()
}

// formatValue prints a metric with four decimals, switching to exponent form for values too
// small for that to show anything.
func formatValue(v float64) string {
	if v != 0 && math.Abs(v) < 1e-3 && !math.IsNaN(v) && !math.IsInf(v, 0) {
		return fmt.Sprintf("%.4e", v)
	}
	return fmt.Sprintf("%.4f", v)
}

func secondsDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func formatSeconds(d time.Duration) string {
	return fmt.Sprintf("%.2fs", d.Seconds())
}
