package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"aya/internal/tps"
)

// Metrics is how one allocator did on one scenario: the numbers `aya tps evaluate --json`
// prints, with exactly these keys.
type Metrics struct {
	// Utilization is requests the upstream served divided by Σ over ticks of
	// min(cap·tick, requests that arrived in the tick), the cap being the upstream's: 1 means
	// every request that could have been served was. The pool's 2% safety margin keeps it at
	// most about 0.98 under overload.
	Utilization float64 `json:"utilization"`
	// Upstream429 counts requests the upstream refused because more than its cap landed in a
	// sliding second.
	Upstream429 int64 `json:"upstream_429"`
	// Rejected counts requests aya itself refused (queue full or deadline), per priority.
	Rejected ByPriority[int64] `json:"rejected"`
	// QueueP99Ms is the 99th percentile of the time served requests waited in aya's queue
	// (0 for those admitted at once), per priority, in milliseconds.
	QueueP99Ms ByPriority[float64] `json:"queue_p99_ms"`
	// WeightedGoodput is the requests the upstream served, each weighted by its priority's
	// tps.Priority.GoodputWeight (critical 8, high 4, medium 2, low 1).
	WeightedGoodput float64 `json:"weighted_goodput"`
}

// ByPriority holds one number per priority level, indexed by tps.Priority. It marshals as an
// object with all four keys, in priority order.
type ByPriority[T int64 | float64] [4]T

// MarshalJSON writes {"critical":…,"high":…,"medium":…,"low":…}.
func (b ByPriority[T]) MarshalJSON() ([]byte, error) {
	buf := []byte{'{'}
	for i, p := range tps.Priorities {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = fmt.Appendf(buf, "%q:", p.String())
		v, err := json.Marshal(b[p])
		if err != nil {
			return nil, err
		}
		buf = append(buf, v...)
	}
	return append(buf, '}'), nil
}

// UnmarshalJSON reads the object MarshalJSON writes; a key that is not a priority is an error.
func (b *ByPriority[T]) UnmarshalJSON(data []byte) error {
	var m map[string]T
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*b = ByPriority[T]{}
	for k, v := range m {
		p, err := tps.ParsePriority(k)
		if err != nil {
			return err
		}
		b[p] = v
	}
	return nil
}

// waitHistogram records queue waits in fixed-width buckets up to the queue timeout, so a run
// of millions of requests needs no per-request memory and the p99 is exact to one bucket.
type waitHistogram struct {
	width   time.Duration
	zero    int64 // admitted without waiting
	buckets []int64
	n       int64
}

// histogramBuckets bounds the histogram's memory; below it the resolution is 100 µs.
const histogramBuckets = 20000

func newWaitHistogram(timeout time.Duration) *waitHistogram {
	width := max(100*time.Microsecond, timeout/histogramBuckets)
	return &waitHistogram{width: width, buckets: make([]int64, int(timeout/width)+2)}
}

func (h *waitHistogram) add(wait time.Duration) {
	h.n++
	if wait <= 0 {
		h.zero++
		return
	}
	i := min(int(wait/h.width), len(h.buckets)-1)
	h.buckets[i]++
}

// quantile is the upper edge of the bucket holding the q-quantile (0 when it falls among
// requests that never waited).
func (h *waitHistogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	seen := h.zero
	if seen >= rank {
		return 0
	}
	for i, c := range h.buckets {
		seen += c
		if seen >= rank {
			return time.Duration(i+1) * h.width
		}
	}
	return time.Duration(len(h.buckets)) * h.width
}
