package balance

import (
	"sync/atomic"

	"aya/internal/httpx"
)

// roundRobin hands requests to targets in turn, ignoring weights.
type roundRobin struct {
	next atomic.Uint64
}

func (b *roundRobin) Pick(_ *httpx.Request, targets []*Target) *Target {
	if len(targets) == 0 {
		return nil
	}
	return targets[(b.next.Add(1)-1)%uint64(len(targets))]
}
