package balance

import (
	"sync/atomic"

	"aya/internal/httpx"
)

// leastConn picks the target with the fewest requests in flight. The scan starts at a
// rotating position and keeps the first minimum it meets, so equally loaded targets take
// turns: an idle pool behaves like round robin instead of piling on the first target.
type leastConn struct {
	next atomic.Uint64
}

func (b *leastConn) Pick(_ *httpx.Request, targets []*Target) *Target {
	n := len(targets)
	if n == 0 {
		return nil
	}
	i := int((b.next.Add(1) - 1) % uint64(n))
	best, bestLoad := i, targets[i].InFlight()
	for range n - 1 {
		if i++; i == n {
			i = 0
		}
		if load := targets[i].InFlight(); load < bestLoad {
			best, bestLoad = i, load
		}
	}
	return targets[best]
}

// weightedLeastConn picks the target with the fewest requests in flight per unit of weight.
// The scan starts where smooth weighted round robin would pick, so ties (above all an idle
// pool, where every target has 0 in flight) are broken in proportion to weight rather than
// evenly.
type weightedLeastConn struct {
	next atomic.Uint64
	seqs setCache[[]uint32]
}

func newWeightedLeastConn() *weightedLeastConn {
	return &weightedLeastConn{seqs: setCache[[]uint32]{build: smoothSequence}}
}

func (b *weightedLeastConn) Pick(_ *httpx.Request, targets []*Target) *Target {
	n := len(targets)
	if n == 0 {
		return nil
	}
	seq := b.seqs.get(targets)
	i := int(seq[(b.next.Add(1)-1)%uint64(len(seq))])
	best := i
	bestLoad, bestWeight := targets[i].InFlight(), int64(weightOf(targets[i]))
	for range n - 1 {
		if i++; i == n {
			i = 0
		}
		load, weight := targets[i].InFlight(), int64(weightOf(targets[i]))
		// load/weight < bestLoad/bestWeight, cross-multiplied to stay in integers.
		if load*bestWeight < bestLoad*weight {
			best, bestLoad, bestWeight = i, load, weight
		}
	}
	return targets[best]
}
