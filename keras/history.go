package keras

import (
	"math"
	"time"
)

// History is what Fit returns: the epochs run (numbered from 0, as Keras's history.epoch) and,
// for every logged key ("loss", "accuracy", "val_loss", ...), one value per epoch (Keras's
// history.history).
type History struct {
	Epochs []int
	Values map[string][]float64

	dataWait, stepTime time.Duration
}

func newHistory() *History { return &History{Values: map[string][]float64{}} }

func (h *History) record(epoch int, logs map[string]float64) {
	h.Epochs = append(h.Epochs, epoch)
	for k, v := range logs {
		// A key first logged in a later epoch (a callback that starts reporting late) is
		// padded so that every series lines up with Epochs.
		s := h.Values[k]
		for len(s) < len(h.Epochs)-1 {
			s = append(s, math.NaN())
		}
		h.Values[k] = append(s, v)
	}
	for k, s := range h.Values {
		if len(s) < len(h.Epochs) {
			h.Values[k] = append(s, math.NaN())
		}
	}
}

// Last returns the value of key in the last epoch, and false when there is none.
func (h *History) Last(key string) (float64, bool) {
	if h == nil {
		return 0, false
	}
	s := h.Values[key]
	if len(s) == 0 {
		return 0, false
	}
	return s[len(s)-1], true
}

// Keys lists the logged keys, sorted.
func (h *History) Keys() []string {
	if h == nil {
		return nil
	}
	return sortedKeys(h.Values)
}

// DataWait is how long the training steps of this Fit waited for their batches, in all epochs
// (each epoch's share is logged under DataWaitKey). Validation is not counted.
func (h *History) DataWait() time.Duration {
	if h == nil {
		return 0
	}
	return h.dataWait
}

// StepTime is how long the training steps of this Fit took, each from asking for its batch to
// the end of its update, waits included. DataWait/StepTime is the share of training spent
// waiting for input: near zero when the input pipeline keeps up.
func (h *History) StepTime() time.Duration {
	if h == nil {
		return 0
	}
	return h.stepTime
}
