package balance

import (
	"aya/internal/httpx"
)

// maglevSize is the lookup table size: a prime, so every skip walks the whole table, and far
// above any realistic target count, which keeps each target's share within a few slots of
// its weight's and the keys moved by a set change close to the minimum. It is the paper's
// default; tables are 256 KiB.
const maglevSize = 65537

// maglev is Google's Maglev hashing (Eisenbud et al., NSDI 2016): each target walks its own
// permutation of a 65537-slot table, and the targets take turns claiming their next free
// slot, a weight-w target taking w turns for every turn of a weight-1 one. A key is then one
// table read, O(1) whatever the number of targets, and shares match weights closer than a
// ring's; in exchange a set change moves slightly more than the minimal set of keys.
type maglev struct {
	keys   keyHasher
	tables setCache[[]uint32]
}

func newMaglev(key keySource) *maglev {
	return &maglev{keys: keyHasher{key: key}, tables: setCache[[]uint32]{build: buildMaglev}}
}

func (b *maglev) Pick(r *httpx.Request, targets []*Target) *Target {
	if len(targets) == 0 {
		return nil
	}
	h := b.keys.sum(r)
	return targets[b.tables.get(targets)[reduce(h, maglevSize)]]
}

// buildMaglev fills the table. Target i's permutation starts at an offset and steps by a skip,
// both from its Name, so a target's preferences do not depend on the other targets.
func buildMaglev(targets []*Target) []uint32 {
	const empty = ^uint32(0)
	n := len(targets)
	pos := make([]uint64, n)
	skip := make([]uint64, n)
	due := make([]uint64, n) // a target claims a slot once turn × weight reaches due
	maxW := uint64(0)
	for i, t := range targets {
		h := hash(t.Name)
		pos[i] = h % maglevSize
		skip[i] = mix(h^prime2)%(maglevSize-1) + 1
		maxW = max(maxW, uint64(weightOf(t)))
	}
	table := make([]uint32, maglevSize)
	for i := range table {
		table[i] = empty
	}
	filled := 0
	for turn := uint64(1); filled < maglevSize; turn++ {
		for i := 0; i < n && filled < maglevSize; i++ {
			if turn*uint64(weightOf(targets[i])) < due[i] {
				continue
			}
			due[i] += maxW
			for table[pos[i]] != empty {
				pos[i] = (pos[i] + skip[i]) % maglevSize
			}
			table[pos[i]] = uint32(i)
			filled++
		}
	}
	return table
}
