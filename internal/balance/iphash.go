package balance

import (
	"slices"

	"aya/internal/httpx"
)

// ipHash maps the request's key (the client IP by default) straight onto the weight line:
// target i owns a stretch of [0, total weight) as long as its weight. It is the cheapest
// sticky algorithm and stable while the target set is unchanged, but a change of the set
// moves most keys; consistent_hash and maglev move only the keys that must move.
type ipHash struct {
	keys  keyHasher
	lines setCache[[]uint64]
}

func newIPHash(key keySource) *ipHash {
	return &ipHash{keys: keyHasher{key: key}, lines: setCache[[]uint64]{build: weightLine}}
}

func (b *ipHash) Pick(r *httpx.Request, targets []*Target) *Target {
	if len(targets) == 0 {
		return nil
	}
	h := b.keys.sum(r)
	ends := b.lines.get(targets)
	x := reduce(h, ends[len(ends)-1])
	i, _ := slices.BinarySearch(ends, x+1)
	return targets[i]
}

// weightLine returns the running sums of the weights: target i owns [ends[i-1], ends[i]).
func weightLine(targets []*Target) []uint64 {
	ends := make([]uint64, len(targets))
	var sum uint64
	for i, t := range targets {
		sum += uint64(weightOf(t))
		ends[i] = sum
	}
	return ends
}
