package tps

import (
	"math"
	"time"
)

// Never is the time of an event that is not going to happen.
const Never = time.Duration(math.MaxInt64)

// tokenEps absorbs float rounding: a bucket at 0.9999999999 tokens holds one.
const tokenEps = 1e-9

// bucket is one service's token bucket. Its rate is the service's share, set every tick; its
// burst is one tick's worth of the share (at least one token), so a service can absorb the
// randomness of its arrivals within a tick but not hoard across ticks.
type bucket struct {
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Duration // when tokens was computed
}

func (b *bucket) refill(now time.Duration) {
	if now > b.last {
		b.tokens = math.Min(b.burst, b.tokens+b.rate*(now-b.last).Seconds())
		b.last = now
	}
}

func (b *bucket) has() bool { return b.tokens >= 1-tokenEps }

// idle: the bucket is full, so tokens arriving now would be thrown away; lending one costs
// its owner nothing it would have used.
func (b *bucket) idle() bool { return b.burst >= 1 && b.tokens >= b.burst-tokenEps }

// at is when the bucket will hold want tokens if nobody takes any (counting as has and idle
// do, within tokenEps): its last update time if it already does, Never if it cannot.
func (b *bucket) at(want float64) time.Duration {
	need := want - tokenEps - b.tokens
	if need <= 0 {
		return b.last
	}
	if b.rate <= 0 || want > b.burst+tokenEps {
		return Never
	}
	wait := math.Ceil(need / b.rate * 1e9)
	if wait >= float64(Never-b.last) { // a rate so small it never gets there
		return Never
	}
	return b.last + time.Duration(wait)
}

// setRate switches to a new share; the tokens already earned stay, up to the new burst.
func (b *bucket) setRate(rate float64, tick time.Duration) {
	b.rate = rate
	b.burst = 0
	if rate > 0 {
		b.burst = math.Max(1, rate*tick.Seconds())
	}
	b.tokens = math.Min(b.tokens, b.burst)
}
