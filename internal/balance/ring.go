package balance

import (
	"cmp"
	"slices"
	"strconv"

	"aya/internal/httpx"
)

const (
	// DefaultVirtualNodes is the number of points consistent_hash puts on the ring per unit of
	// weight when Options.VirtualNodes is 0. A target with k points owns a share whose relative
	// error is about 1/√k: ketama's 160 give 8%, which breaks "removing one of five targets
	// moves at most 22% of keys" for one target in fourteen; 1024 give 3%, which keeps every
	// target of a pool of five or more within 2% of the keys of its fair share. The cost is
	// 12 KiB per weight unit and a binary search a few steps longer.
	DefaultVirtualNodes = 1024
	// maxVirtualNodes bounds Options.VirtualNodes.
	maxVirtualNodes = 10_000
	// maxRingPoints bounds a ring (12 bytes per point, so 12 MiB); see buildRing.
	maxRingPoints = 1 << 20
)

// consistentHash is a hash ring (Karger et al., ketama): each target owns weight × virtual
// nodes points, point v placed by hashing "Name#v", and a key goes to the first point at or
// after its hash. Removing a target moves only the keys it owned; adding one takes keys only
// for itself; raising a weight adds points and takes keys only for that target. Lookup is a
// binary search, O(log points).
type consistentHash struct {
	keys  keyHasher
	rings setCache[ring]
}

func newConsistentHash(key keySource, virtualNodes int) *consistentHash {
	return &consistentHash{
		keys:  keyHasher{key: key},
		rings: setCache[ring]{build: func(t []*Target) ring { return buildRing(t, virtualNodes, maxRingPoints) }},
	}
}

func (b *consistentHash) Pick(r *httpx.Request, targets []*Target) *Target {
	if len(targets) == 0 {
		return nil
	}
	h := b.keys.sum(r)
	rg := b.rings.get(targets)
	i, _ := slices.BinarySearch(rg.points, h)
	if i == len(rg.points) {
		i = 0
	}
	return targets[rg.owners[i]]
}

// ring is a sorted list of points and, beside it, the index (into the target slice) of
// each point's owner; two flat arrays keep the binary search on 8-byte keys.
type ring struct {
	points []uint64
	owners []uint32
}

func buildRing(targets []*Target, virtualNodes, maxPoints int) ring {
	sum := 0
	for _, t := range targets {
		sum += weightOf(t)
	}
	// A target's points must depend on the target alone, or a change of the set would move
	// keys between unchanged targets. When the ring would exceed maxPoints, the points per
	// weight unit halve instead: each target keeps a prefix of its points, so crossing such a
	// boundary moves about half the keys once, and nothing moves within a band. Weight sums
	// beyond maxPoints (absurd weights) get points in proportion to weight, consistency
	// lost.
	perWeight := virtualNodes
	for perWeight > 1 && sum*perWeight > maxPoints {
		perWeight /= 2
	}
	type point struct {
		hash  uint64
		owner uint32
	}
	pts := make([]point, 0, min(sum*perWeight, maxPoints)+len(targets))
	var buf []byte
	for i, t := range targets {
		n := weightOf(t) * perWeight
		if sum*perWeight > maxPoints {
			n = max(1, weightOf(t)*maxPoints/sum)
		}
		for v := range n {
			buf = strconv.AppendInt(append(append(buf[:0], t.Name...), '#'), int64(v), 10)
			pts = append(pts, point{hash(buf), uint32(i)})
		}
	}
	// Ties (two targets with one name, or a 64-bit collision) go to the earlier target, so
	// the ring is a function of the slice alone.
	slices.SortFunc(pts, func(a, b point) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.owner, b.owner))
	})
	rg := ring{points: make([]uint64, len(pts)), owners: make([]uint32, len(pts))}
	for i, p := range pts {
		rg.points[i], rg.owners[i] = p.hash, p.owner
	}
	return rg
}
