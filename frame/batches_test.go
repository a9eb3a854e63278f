package frame

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Reading a record batch (decompressing a file, decoding images) is slow next to a training
// step. The loader reads the next record batch while the current one is cut into batches, so
// the consumer waits for the first record batch only, not at every record batch.
func TestBatchesReadAheadOfRecordBatches(t *testing.T) {
	const records, perRecord, readTime, stepTime = 8, 10, 30 * time.Millisecond, 3 * time.Millisecond
	base := labelled(t, records*perRecord*4, perRecord*4)
	slow := must[*DataFrame](t)(base.MapBatches(base.Schema(), func(r arrow.RecordBatch) (arrow.RecordBatch, error) {
		time.Sleep(readTime)
		return r, nil
	}))
	it := must[*BatchIter](t)(Batches(context.Background(), slow, []string{"id"}, "label", BatchSize(4), Prefetch(2)))
	defer it.Close()
	var first time.Duration
	steps := 0
	for it.Next() {
		if steps == 0 {
			first = it.Stats().WaitTime
		}
		time.Sleep(stepTime)
		steps++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	rest := it.Stats().WaitTime - first
	t.Logf("first batch after %v; %v waited over the other %d steps", first, rest, steps-1)
	if steps != records*perRecord {
		t.Fatalf("%d steps", steps)
	}
	// Reading in turn with cutting would wait about (30ms - 2 prefetched steps of 3ms) at each
	// of the 7 later record batches: some 170ms.
	if rest > 80*time.Millisecond {
		t.Errorf("waited %v after the first batch; the loader does not read ahead", rest)
	}
}

func TestBatchesReadDone(t *testing.T) {
	df := labelled(t, 100, 10)
	// With a shuffle buffer as large as the frame, the first batch comes only once all of it
	// is read.
	it := must[*BatchIter](t)(Batches(context.Background(), df, []string{"id"}, "label", BatchSize(10), Shuffle(1), ShuffleBuffer(100)))
	defer it.Close()
	if !it.Next() || !it.ReadDone() {
		t.Errorf("ReadDone %v at the first batch of a fully buffered shuffle", it.ReadDone())
	}
	for it.Next() {
	}
	if !it.ReadDone() || it.Err() != nil {
		t.Errorf("ReadDone %v, err %v at the end", it.ReadDone(), it.Err())
	}
	// A pass that fails has not read the frame.
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	failed := must[*BatchIter](t)(Batches(cctx, df, []string{"id"}, "label"))
	defer failed.Close()
	for failed.Next() {
	}
	if failed.ReadDone() {
		t.Error("ReadDone after a cancelled pass")
	}
}
