package balance

import (
	"sync/atomic"

	"aya/internal/httpx"
)

const (
	// maxSequence bounds one smooth-WRR period (4 bytes per entry, so 256 KiB).
	maxSequence = 1 << 16
	// maxSequenceWork bounds the build (period × targets steps), about 10 ms, so that a
	// health flap in a pool of thousands of targets does not stall the picks that rebuild.
	maxSequenceWork = 1 << 24
)

// weightedRoundRobin is nginx's smooth weighted round robin: weights 5,1,1 give a a b a c a a,
// spreading the heavy target's turns instead of sending it five in a row. The period is
// computed once per target set and indexed with an atomic counter, so picks never lock.
type weightedRoundRobin struct {
	next atomic.Uint64
	seqs setCache[[]uint32]
}

func newWeightedRoundRobin() *weightedRoundRobin {
	return &weightedRoundRobin{seqs: setCache[[]uint32]{build: smoothSequence}}
}

func (b *weightedRoundRobin) Pick(_ *httpx.Request, targets []*Target) *Target {
	if len(targets) == 0 {
		return nil
	}
	seq := b.seqs.get(targets)
	return targets[seq[(b.next.Add(1)-1)%uint64(len(seq))]]
}

// smoothSequence returns one period of smooth WRR over targets as indexes into targets. Each
// step every target gains its weight, the richest (first on ties) is picked and pays the total.
func smoothSequence(targets []*Target) []uint32 {
	w := sequenceWeights(targets)
	total := 0
	for _, x := range w {
		total += x
	}
	seq := make([]uint32, total)
	current := make([]int, len(w))
	for s := range seq {
		best := 0
		for i := range current {
			current[i] += w[i]
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		seq[s] = uint32(best)
	}
	return seq
}

// sequenceWeights reduces the weights by their gcd (2,2,4 has the period of 1,1,2) and, when
// the period would exceed the build limits, scales them down: proportions then become
// approximate, never below one turn per target per period.
func sequenceWeights(targets []*Target) []int {
	w := make([]int, len(targets))
	g := 0
	for i, t := range targets {
		w[i] = weightOf(t)
		g = gcd(g, w[i])
	}
	total := 0
	for i := range w {
		w[i] /= g
		total += w[i]
	}
	limit := min(maxSequence, max(len(w), maxSequenceWork/len(w)))
	if total > limit {
		for i := range w {
			w[i] = max(1, w[i]*limit/total)
		}
	}
	return w
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
