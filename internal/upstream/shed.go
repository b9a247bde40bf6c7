package upstream

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"aya/internal/config"
)

// Adaptive load shedding, after Netflix's concurrency-limits: an upstream takes at most limit
// requests at once, and the limit follows what the upstream can do. By Little's law a
// backend that slows down at the same request rate holds more requests in flight; letting
// them queue only makes every answer slower, so the limit falls and the excess is refused at
// once (503 with Retry-After), while the requests let in keep their usual latency.

// shedMinSamples is the fewest answers a window needs before the limit moves: one or two
// answers say little about latency.
const shedMinSamples = 10

// Gradient's long-term latency is an exponential average over about this many windows, after
// a plain average over the first shedWarmup ones.
const (
	shedLongWindows = 600
	shedWarmup      = 10
)

// limiter is one upstream's adaptive concurrency limit. Acquire and release are lock-free;
// sample takes a short lock to add to the current window.
type limiter struct {
	limit    atomic.Int64
	inflight atomic.Int64

	algorithm string
	minLimit  float64
	maxLimit  float64
	window    int64 // ns
	smoothing float64
	tolerance float64
	backoff   float64
	latency   time.Duration // aimd: slower counts as a failure; 0: off

	mu          sync.Mutex
	winStart    int64 // nanotime the window began; 0: no window yet
	n           int64 // answers in the window that count for latency
	failures    int64
	sum         time.Duration // of the n answers' latencies
	maxInflight int64
	est         float64 // the limit before rounding
	long        float64 // gradient: long-term latency, ns
	longN       int     // windows averaged into long, up to shedWarmup
}

func newLimiter(c *config.LoadShedding) *limiter {
	l := &limiter{
		algorithm: c.Algorithm,
		minLimit:  float64(c.MinLimit),
		maxLimit:  float64(c.MaxLimit),
		window:    int64(c.Window),
		smoothing: float64(c.Smoothing),
		tolerance: float64(c.Tolerance),
		backoff:   float64(c.Backoff),
		latency:   c.Latency.D(),
		est:       float64(c.InitialLimit),
	}
	l.limit.Store(int64(c.InitialLimit))
	return l
}

// limiter returns the upstream's load-shedding limiter for c: the one of the previous config
// when c is unchanged, so a reload neither forgets the learned limit nor the requests in flight
// on the old pool. us may be nil (a pool outside a Registry).
func (us *upstreamState) limiter(c *config.LoadShedding) *limiter {
	if us == nil {
		return newLimiter(c)
	}
	us.mu.Lock()
	defer us.mu.Unlock()
	if us.shed == nil || us.shedCfg != *c {
		us.shed, us.shedCfg = newLimiter(c), *c
	}
	return us.shed
}

// acquire takes a place for one request, or reports that the upstream is at its limit.
func (l *limiter) acquire() bool {
	limit := l.limit.Load()
	for {
		n := l.inflight.Load()
		if n >= limit {
			return false
		}
		if l.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (l *limiter) release() { l.inflight.Add(-1) }

// Limit is the current limit.
func (l *limiter) Limit() int64 { return l.limit.Load() }

// sample adds one answer at now: its latency to the response head and whether it failed. A
// window that is long enough and holds enough answers moves the limit.
func (l *limiter) sample(now int64, latency time.Duration, failed bool) {
	inflight := l.inflight.Load()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.winStart == 0 {
		l.winStart = now
	}
	if failed || l.algorithm == config.ShedAIMD && l.latency > 0 && latency > l.latency {
		l.failures++
	}
	if !failed {
		// A failed exchange's latency is that of the failure (a refused connect is quick),
		// not of an answer.
		l.n++
		l.sum += latency
	}
	l.maxInflight = max(l.maxInflight, inflight)
	if now-l.winStart < l.window || l.n+l.failures < shedMinSamples {
		return
	}
	switch l.algorithm {
	case config.ShedAIMD:
		l.aimd()
	default:
		l.gradient()
	}
	l.est = min(max(l.est, l.minLimit), l.maxLimit)
	l.limit.Store(int64(l.est))
	l.winStart, l.n, l.failures, l.sum, l.maxInflight = now, 0, 0, 0, 0
}

// appLimited reports whether the window never came near the limit: the clients, not the
// upstream, set the pace, so the window says nothing about a higher limit.
func (l *limiter) appLimited() bool { return float64(l.maxInflight) < l.est/2 }

// aimd cuts the limit by the backoff factor after a window with a failure (or, with latency
// set, a slow answer) and adds one after a window without, unless the window was app-limited.
func (l *limiter) aimd() {
	switch {
	case l.failures > 0:
		l.est *= l.backoff
	case !l.appLimited():
		l.est++
	}
}

// gradient is Netflix's Gradient2: the limit is scaled by tolerance × long-term latency /
// recent latency (between 0.5 and 1, so it falls at most by half and grows only by the queue
// allowance √limit), smoothed. The long-term latency drifts toward a lasting new level, so a
// permanently slower upstream gets its limit back.
func (l *limiter) gradient() {
	grad := 0.5 // a window of failures only counts as the slowest
	if l.n > 0 {
		short := float64(l.sum) / float64(l.n)
		switch {
		case l.longN < shedWarmup:
			l.longN++
			l.long += (short - l.long) / float64(l.longN)
		default:
			l.long += (short - l.long) * 2 / (shedLongWindows + 1)
		}
		// Recovering from a slow period: let the long-term latency come down faster, so the
		// limit does not stay high because of latency that is gone.
		if short > 0 && l.long/short > 2 {
			l.long *= 0.95
		}
		if short > 0 {
			grad = min(max(l.tolerance*l.long/short, 0.5), 1)
		}
	}
	next := l.est*grad + math.Sqrt(l.est)
	if next > l.est && l.failures == 0 && l.appLimited() {
		next = l.est
	}
	l.est = l.est*(1-l.smoothing) + next*l.smoothing
}
