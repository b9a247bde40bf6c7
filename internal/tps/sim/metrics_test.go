package sim

import (
	"encoding/json"
	"testing"
	"time"
)

func TestByPriorityJSON(t *testing.T) {
	b := ByPriority[int64]{1, 0, 3, 0}
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"critical":1,"high":0,"medium":3,"low":0}` {
		t.Errorf("marshal: %s", out)
	}
	var back ByPriority[int64]
	if err := json.Unmarshal(out, &back); err != nil || back != b {
		t.Errorf("unmarshal: %v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"urgent":1}`), &back); err == nil {
		t.Error("unknown priority key accepted")
	}
}

func TestWaitHistogramQuantile(t *testing.T) {
	h := newWaitHistogram(2 * time.Second)
	for range 98 {
		h.add(0)
	}
	if got := h.quantile(0.99); got != 0 {
		t.Errorf("p99 of zeros = %v", got)
	}
	h.add(15 * time.Millisecond)
	h.add(40 * time.Millisecond)
	// 100 values: the 99th is 15 ms, reported as the upper edge of its 100 µs bucket.
	if got := h.quantile(0.99); got != 15*time.Millisecond+100*time.Microsecond {
		t.Errorf("p99 = %v, want 15.1ms", got)
	}
	if got := h.quantile(1); got != 40*time.Millisecond+100*time.Microsecond {
		t.Errorf("max = %v, want 40.1ms", got)
	}
	h.add(time.Hour)
	if got := h.quantile(1); got < 2*time.Second {
		t.Errorf("a wait above the timeout lands in the last bucket, got %v", got)
	}
	if newWaitHistogram(time.Second).quantile(0.99) != 0 {
		t.Error("an empty histogram has a p99")
	}
}

func BenchmarkWaitHistogramAdd(b *testing.B) {
	b.ReportAllocs()
	h := newWaitHistogram(2 * time.Second)
	for i := 0; b.Loop(); i++ {
		h.add(time.Duration(i%2000) * time.Millisecond)
	}
}
