package demo

import (
	"math/rand/v2"
	"sync"
	"time"
)

// faults draws per-request latency and injected errors from a PRNG owned by one server, so
// that two servers never share random state and a fixed seed replays the same sequence.
type faults struct {
	latency   time.Duration
	jitter    time.Duration
	errorRate float64

	mu  sync.Mutex
	rng *rand.Rand
}

func newFaults(o EchoOptions) *faults {
	return &faults{
		latency:   o.Latency,
		jitter:    o.Jitter,
		errorRate: o.ErrorRate,
		rng:       rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
	}
}

// draw returns this request's delay and whether it must fail. Both values are always drawn, in
// the same order, so the error sequence does not depend on whether jitter is configured.
func (f *faults) draw() (time.Duration, bool) {
	f.mu.Lock()
	j, e := f.rng.Float64(), f.rng.Float64()
	f.mu.Unlock()
	return f.latency + time.Duration(j*float64(f.jitter)), e < f.errorRate
}
