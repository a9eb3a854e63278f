package keras

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
	"github.com/deepframe/deepframe/tensorboard"
)

// scripted injects a made-up monitored value per epoch, so stopping rules can be tested
// without depending on how training goes.
func scripted(key string, values ...float64) Callback {
	return CallbackFuncs{EpochEnd: func(epoch int, logs map[string]float64) error {
		logs[key] = values[min(epoch, len(values)-1)]
		return nil
	}}
}

func TestCustomCallbackSeesEverything(t *testing.T) {
	x, y := quadrants(t, 50, 11)
	m := classifier(t)
	var events []string
	var batches, sizes int
	cb := CallbackFuncs{
		TrainBegin: func(got *Model) error {
			if got != m {
				t.Error("OnTrainBegin got another model")
			}
			events = append(events, "begin")
			return nil
		},
		EpochBegin: func(e int) error { events = append(events, "epoch"+string(rune('0'+e))); return nil },
		BatchEnd: func(b int, logs map[string]float64) error {
			batches++
			sizes += int(logs["size"])
			if _, ok := logs["accuracy"]; !ok {
				t.Errorf("batch logs %v lack accuracy", logs)
			}
			return nil
		},
		EpochEnd: func(e int, logs map[string]float64) error {
			events = append(events, "end"+string(rune('0'+e)))
			for _, k := range []string{"loss", "accuracy", "val_loss", "val_accuracy"} {
				if _, ok := logs[k]; !ok {
					t.Errorf("epoch %d logs %v lack %s", e, logs, k)
				}
			}
			logs["custom"] = float64(e) // callbacks may add to the history
			return nil
		},
		TrainEnd: func(logs map[string]float64) error {
			events = append(events, "done")
			return nil
		},
	}
	h, err := m.Fit(bg, mustDataset(t, x, y), Epochs(3), BatchSize(16), ValidationData(mustDataset(t, x, y)), Callbacks(cb), Verbose(0))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"begin", "epoch0", "end0", "epoch1", "end1", "epoch2", "end2", "done"}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events %v, want %v", events, want)
	}
	if batches != 3*4 || sizes != 3*50 {
		t.Errorf("%d batches of %d rows in all, want 12 and 150 (the last batch of 2 kept)", batches, sizes)
	}
	if !reflect.DeepEqual(h.Values["custom"], []float64{0, 1, 2}) || !reflect.DeepEqual(h.Epochs, []int{0, 1, 2}) {
		t.Errorf("history %v", h.Values)
	}

	// An error from a hook ends Fit with it; ErrStopTraining ends it cleanly.
	boom := errors.New("boom")
	_, err = m.Fit(bg, mustDataset(t, x, y), Epochs(3), Callbacks(CallbackFuncs{EpochEnd: func(int, map[string]float64) error { return boom }}), Verbose(0))
	if !errors.Is(err, boom) {
		t.Errorf("Fit error %v, want boom", err)
	}
	h, err = m.Fit(bg, mustDataset(t, x, y), Epochs(5), Callbacks(CallbackFuncs{EpochEnd: func(e int, _ map[string]float64) error {
		if e == 1 {
			return ErrStopTraining
		}
		return nil
	}}), Verbose(0))
	if err != nil || len(h.Epochs) != 2 {
		t.Errorf("ErrStopTraining: %v after %d epochs, want nil after 2", err, len(h.Epochs))
	}
	h, err = m.Fit(bg, mustDataset(t, x, y), Epochs(5), BatchSize(10), Callbacks(CallbackFuncs{BatchEnd: func(b int, _ map[string]float64) error {
		if b == 1 {
			m.StopTraining()
		}
		return nil
	}}), Verbose(0))
	if err != nil || len(h.Epochs) != 1 {
		t.Errorf("StopTraining: %v after %d epochs, want nil after 1", err, len(h.Epochs))
	}
}

func TestEarlyStopping(t *testing.T) {
	x, y := quadrants(t, 40, 12)
	m := classifier(t)
	var atBest []*tensor.Tensor
	keep := CallbackFuncs{EpochEnd: func(e int, _ map[string]float64) error {
		if e == 1 {
			atBest = m.GetWeights()
		}
		return nil
	}}
	es := EarlyStopping("score", 2, 0.01, "auto", true)
	// score: 1, 0.5 (best), 0.495 (not better by more than minDelta), 0.6 → stop after epoch 3.
	h, err := m.Fit(bg, mustDataset(t, x, y), Epochs(10), Callbacks(scripted("score", 1, 0.5, 0.495, 0.6), keep, es), Verbose(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Epochs) != 4 || es.StoppedEpoch() != 3 || es.BestEpoch() != 1 || es.Best() != 0.5 {
		t.Errorf("ran %d epochs, stopped in %d, best %v in %d", len(h.Epochs), es.StoppedEpoch(), es.Best(), es.BestEpoch())
	}
	if !weightsEqual(m.GetWeights(), atBest) {
		t.Error("best weights not restored")
	}

	// "auto" maximises accuracies.
	es = EarlyStopping("val_accuracy", 1, 0, "auto", false)
	h, err = m.Fit(bg, mustDataset(t, x, y), Epochs(10), Callbacks(scripted("val_accuracy", 0.5, 0.7, 0.6)), Callbacks(es), Verbose(0))
	if err != nil || len(h.Epochs) != 3 || es.BestEpoch() != 1 {
		t.Errorf("max mode: %v, %d epochs, best epoch %d", err, len(h.Epochs), es.BestEpoch())
	}

	_, err = m.Fit(bg, mustDataset(t, x, y), Callbacks(EarlyStopping("val_los", 1, 0, "min", false)), Verbose(0))
	if err == nil || !strings.Contains(err.Error(), `"val_los" is not in the epoch logs (have: accuracy, data_wait_s, loss)`) {
		t.Errorf("misspelt monitor: %v", err)
	}
	if _, err = m.Fit(bg, mustDataset(t, x, y), Callbacks(EarlyStopping("loss", 1, 0, "down", false)), Verbose(0)); err == nil {
		t.Error("mode \"down\" accepted")
	}
}

func TestLearningRateCallbacks(t *testing.T) {
	x, y := quadrants(t, 40, 13)
	m := classifier(t)
	var seen []float64
	probe := CallbackFuncs{EpochBegin: func(int) error {
		seen = append(seen, m.Optimizer().LearningRate())
		return nil
	}}
	sched := LearningRateScheduler(func(epoch int, lr float64) float64 {
		if epoch == 0 {
			return 0.1
		}
		return lr / 2
	})
	h, err := m.Fit(bg, mustDataset(t, x, y), Epochs(4), Callbacks(sched, probe), Verbose(0))
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.1, 0.05, 0.025, 0.0125}
	if !reflect.DeepEqual(seen, want) || !reflect.DeepEqual(h.Values["learning_rate"], want) {
		t.Errorf("rates %v, history %v, want %v", seen, h.Values["learning_rate"], want)
	}

	if err := m.Compile(optim.SGD(0.1), losses.SparseCategoricalCrossEntropy()); err != nil {
		t.Fatal(err)
	}
	plateau := ReduceLROnPlateau("score", optim.PlateauPatience(1), optim.PlateauFactor(0.5))
	h, err = m.Fit(bg, mustDataset(t, x, y), Epochs(4), Callbacks(scripted("score", 1, 1, 1, 1), plateau), Verbose(0))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Values["learning_rate"]; !reflect.DeepEqual(got, []float64{0.1, 0.05, 0.025, 0.0125}) {
		t.Errorf("plateau rates %v", got)
	}
}

func TestTensorBoard(t *testing.T) {
	dir := t.TempDir()
	x, y := quadrants(t, 40, 14)
	m := classifier(t)
	m.SetTensorBoard(dir, "app")
	if _, err := m.Fit(bg, mustDataset(t, x, y), Epochs(2), BatchSize(10), ValidationSplit(0.25), Verbose(0)); err != nil {
		t.Fatal(err)
	}
	// A second Fit continues the steps; a TensorBoard callback adds histograms.
	m.SetTensorBoard("", "")
	cb := TensorBoard(dir, "app", Histograms(true))
	if _, err := m.Fit(bg, mustDataset(t, x, y), Epochs(1), BatchSize(10), ValidationSplit(0.25), Callbacks(cb), Verbose(0)); err != nil {
		t.Fatal(err)
	}

	read := func(sub string) map[string][]int64 {
		files, err := filepath.Glob(filepath.Join(dir, "app", sub, "*"))
		if err != nil || len(files) != 2 {
			t.Fatalf("%s: event files %v (%v), want 2", sub, files, err)
		}
		steps := map[string][]int64{}
		for _, f := range files {
			evs, err := tensorboard.ReadEvents(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				for _, v := range e.Values {
					if v.Simple != nil && (math.IsNaN(*v.Simple) || *v.Simple < 0) {
						t.Errorf("%s %s step %d = %v", sub, v.Tag, e.Step, *v.Simple)
					}
					if v.Simple == nil && v.Histogram == nil {
						t.Errorf("%s %s has no value", sub, v.Tag)
					}
					steps[v.Tag] = append(steps[v.Tag], e.Step)
				}
			}
		}
		for _, s := range steps {
			sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		}
		return steps
	}
	train := read("train")
	// 30 training rows in batches of 10: 3 steps per epoch, 9 in all.
	perStep := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	for _, tag := range []string{"Loss", "Throughput", "LearningRate"} {
		if !reflect.DeepEqual(train[tag], perStep) {
			t.Errorf("train %s at steps %v, want %v", tag, train[tag], perStep)
		}
	}
	if !reflect.DeepEqual(train["Accuracy"], []int64{3, 6, 9}) {
		t.Errorf("train Accuracy at steps %v", train["Accuracy"])
	}
	if !reflect.DeepEqual(train["h1/kernel"], []int64{9}) || !reflect.DeepEqual(train["out/bias"], []int64{9}) {
		t.Errorf("histograms: %v", train)
	}
	valid := read("validation")
	for _, tag := range []string{"Loss", "Accuracy"} {
		if !reflect.DeepEqual(valid[tag], []int64{3, 6, 9}) {
			t.Errorf("validation %s at steps %v", tag, valid[tag])
		}
	}
	if len(valid) != 2 {
		t.Errorf("validation tags %v", valid)
	}
}

func TestModelCheckpoint(t *testing.T) {
	dir := t.TempDir()
	x, y := quadrants(t, 40, 15)
	m := classifier(t)
	every := ModelCheckpoint(filepath.Join(dir, "every-{epoch:02d}.dfm"), "", false)
	best := ModelCheckpoint(filepath.Join(dir, "best-{epoch}-{score:.2f}.dfm"), "score", true)
	_, err := m.Fit(bg, mustDataset(t, x, y), Epochs(4), Callbacks(scripted("score", 0.9, 0.5, 0.7, 0.4), every, best), Verbose(0))
	if err != nil {
		t.Fatal(err)
	}
	names := func(paths []string) []string {
		out := make([]string, len(paths))
		for i, p := range paths {
			out[i] = filepath.Base(p)
			if _, err := os.Stat(p); err != nil {
				t.Error(err)
			}
		}
		return out
	}
	if got := names(every.Saved()); !reflect.DeepEqual(got, []string{"every-01.dfm", "every-02.dfm", "every-03.dfm", "every-04.dfm"}) {
		t.Errorf("saved %v", got)
	}
	if got := names(best.Saved()); !reflect.DeepEqual(got, []string{"best-1-0.90.dfm", "best-2-0.50.dfm", "best-4-0.40.dfm"}) {
		t.Errorf("saved best %v", got)
	}
	if _, err := formatPath("x-{nope}.dfm", 1, map[string]float64{"loss": 1}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown placeholder: %v", err)
	}
}

func TestSetRandomSeedInit(t *testing.T) {
	build := func(seed uint64) []*tensor.Tensor {
		SetRandomSeed(seed)
		defer SetRandomSeed(DefaultSeed)
		return Sequential(layers.Dense(4, layers.InputShape(3)), layers.Dense(2)).GetWeights()
	}
	if !weightsEqual(build(5), build(5)) {
		t.Error("same seed, different initial weights")
	}
	if weightsEqual(build(5), build(6)) {
		t.Error("different seeds, same initial weights")
	}
	if RandomSeed() != DefaultSeed {
		t.Errorf("RandomSeed() = %d", RandomSeed())
	}
}
