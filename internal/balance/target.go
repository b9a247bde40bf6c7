package balance

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// decayTime is the time constant of a target's latency estimate: a new answer counts in
	// proportion to how long it has been since the previous one, and an idle target's estimate
	// fades by e every decayTime. Ten seconds follows Linkerd and Finagle: long enough to smooth
	// out one noisy answer, short enough that a recovered target gets traffic back within
	// tens of seconds.
	decayTime = 10 * time.Second
	// failurePenalty is the least latency a failed request counts as, so that a target that
	// fails fast (connection refused in 100µs) does not look like the fastest target.
	failurePenalty = time.Second
	// unmeasuredPenalty is the latency assumed for a target that has requests outstanding but
	// has never answered: the first request probes it, the next ones wait for that answer.
	unmeasuredPenalty = time.Second
	// maxWeight bounds Weight so that every weight product in this package fits in 64 bits.
	maxWeight = 1_000_000
)

// epoch anchors nanotime to the monotonic clock; it is written once at package init.
var epoch = time.Now()

// nanotime is monotonic nanoseconds since epoch, immune to wall-clock steps.
func nanotime() int64 { return int64(time.Since(epoch)) }

// Target is one backend with the live counters balancers read. The transport calls Begin when
// a request to the target starts and End when it finishes; balancers read the counters without
// locks. Name and Weight must not change once the Target is in use: a new weight is a new
// Target in a new target slice.
type Target struct {
	// Name identifies the target, e.g. "http://127.0.0.1:9001". Consistent hashing places the
	// target by its Name, so the same name maps the same keys across reloads and across aya
	// instances.
	Name string
	// Weight is the target's relative share for weight-aware algorithms. Values below 1 count
	// as 1 and values above 1,000,000 as 1,000,000.
	Weight int

	inflight atomic.Int64
	// mu serializes End's read-modify-write of the estimate; readers never take it and may see
	// cost and stamp from two adjacent updates, which only shifts one fade by one answer's gap.
	mu sync.Mutex
	// cost is the latency estimate in nanoseconds (float64 bits) as of stamp; 0 means the target
	// has not answered yet. Stored samples are at least 1ns so that 0 keeps that meaning.
	cost  atomic.Uint64
	stamp atomic.Int64 // nanotime of the last answer
}

// NewTarget returns a target with no requests in flight and no latency measured yet.
func NewTarget(name string, weight int) *Target {
	return &Target{Name: name, Weight: weight}
}

// InFlight is the number of requests started and not yet ended.
func (t *Target) InFlight() int64 { return t.inflight.Load() }

// Begin records that a request to the target starts. Every Begin needs exactly one End.
func (t *Target) Begin() { t.inflight.Add(1) }

// End records that a request finished after latency. failed means the target did not answer
// properly (connect error, reset, timeout); such a request counts as at least one second, so
// least_time steers away from a target that fails fast. Client cancellations and HTTP
// statuses the proxy passes through are not failures of the target.
func (t *Target) End(latency time.Duration, failed bool) { t.endAt(nanotime(), latency, failed) }

// Latency is the current latency estimate: a peak-sensitive, time-weighted average of recent
// answers that fades while the target is idle. 0 means the target has not answered yet (or has
// been idle so long that the estimate faded away).
func (t *Target) Latency() time.Duration {
	return time.Duration(t.estimate(nanotime(), t.InFlight()))
}

func (t *Target) endAt(now int64, latency time.Duration, failed bool) {
	t.inflight.Add(-1)
	x := float64(max(latency, time.Nanosecond))
	if failed {
		x = max(x, float64(failurePenalty))
	}
	t.mu.Lock()
	// Peak EWMA: a worse answer is believed at once; a better one is averaged in with a weight
	// that grows with the time since the previous answer, so the estimate follows wall time
	// (about decayTime of memory) whatever the request rate.
	if c := math.Float64frombits(t.cost.Load()); c != 0 && x < c {
		w := math.Exp(-float64(max(now-t.stamp.Load(), 0)) / float64(decayTime))
		x = c*w + x*(1-w)
	}
	t.cost.Store(math.Float64bits(x))
	t.stamp.Store(now)
	t.mu.Unlock()
}

// estimate is the latency estimate in nanoseconds at now for a target with inflight requests.
// While idle the estimate fades toward 0, so an old slow answer stops keeping traffic away
// and the target is probed again. While busy it does not fade: the requests outstanding have
// not reported yet, and a hanging target must not look better the longer it hangs.
func (t *Target) estimate(now, inflight int64) float64 {
	c := math.Float64frombits(t.cost.Load())
	if c == 0 || inflight > 0 {
		return c
	}
	idle := now - t.stamp.Load()
	if idle <= 0 {
		return c
	}
	return c * math.Exp(-float64(idle)/float64(decayTime))
}

// weightOf is t.Weight clamped to [1, maxWeight].
func weightOf(t *Target) int {
	return min(max(t.Weight, 1), maxWeight)
}
