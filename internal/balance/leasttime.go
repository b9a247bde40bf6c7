package balance

import (
	"aya/internal/httpx"
)

// leastTime is P2C over expected waiting time, Finagle/Linkerd "peak EWMA" style: each of the
// two sampled targets is scored latency estimate × (in flight + 1), and the lower score wins.
// A target that has never answered scores 0 while idle, so new targets are tried at once.
type leastTime struct {
	now func() int64 // the clock, replaceable in tests
}

func (b *leastTime) Pick(_ *httpx.Request, targets []*Target) *Target {
	x, y := pickTwo(targets)
	if y == nil {
		return x
	}
	now := b.now()
	if score(y, now) < score(x, now) {
		return y
	}
	return x
}

// score is the expected time a new request would take on t at now.
func score(t *Target, now int64) float64 {
	inflight := t.InFlight()
	c := t.estimate(now, inflight)
	if c == 0 && inflight > 0 {
		c = float64(unmeasuredPenalty)
	}
	return c * float64(inflight+1)
}
