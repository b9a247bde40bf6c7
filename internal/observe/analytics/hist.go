package analytics

import (
	"math/bits"
	"time"

	"aya/internal/observe"
)

// Latency histogram: log-linear buckets, 4 per doubling, so any percentile read from it is
// within ±9% of the true value, and histograms of different seconds, shards and names merge by
// adding counts. Bucket 0 holds everything under 2^minShift ns (8.2 µs), the last everything
// from 2^37 ns (137 s).
const (
	minShift = 13
	subBits  = 2
	octaves  = 24
	nBuckets = 1 + octaves<<subBits
)

type hist [nBuckets]uint32

// bucket returns the histogram bucket of a duration; integer-only, so it costs a few ns.
func bucket(d time.Duration) int {
	ns := uint64(max(d, 0))
	if ns < 1<<minShift {
		return 0
	}
	e := bits.Len64(ns) - 1
	i := (e-minShift)<<subBits | int(ns>>(e-subBits)&(1<<subBits-1))
	return min(i+1, nBuckets-1)
}

// bounds returns the durations a bucket covers, [lo, hi).
func bounds(i int) (lo, hi float64) {
	if i == 0 {
		return 0, 1 << minShift
	}
	j := i - 1
	e := j>>subBits + minShift
	step := float64(uint64(1) << (e - subBits))
	lo = float64(uint64(1)<<e) + float64(j&(1<<subBits-1))*step
	return lo, lo + step
}

// quantile estimates the q-quantile (0..1) of n samples, interpolating inside the bucket.
func (h *hist) quantile(q float64, n uint64) time.Duration {
	if n == 0 {
		return 0
	}
	rank := q * float64(n)
	var seen float64
	for i, c := range h {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo, hi := bounds(i)
			return time.Duration(lo + (hi-lo)*(rank-seen)/float64(c))
		}
		seen += float64(c)
	}
	_, hi := bounds(nBuckets - 1)
	return time.Duration(hi)
}

// acc accumulates requests: one per shard and name for the running second, one per slot of a
// series' history.
type acc struct {
	count    uint64
	c4xx     uint64
	c5xx     uint64
	c429     uint64
	bytesIn  uint64
	bytesOut uint64
	durSum   uint64 // nanoseconds
	hist     hist
}

func (a *acc) add(r *observe.Record, b int) {
	a.count++
	switch {
	case r.Status >= 500:
		a.c5xx++
	case r.Status >= 400:
		a.c4xx++
		if r.Status == 429 {
			a.c429++
		}
	}
	a.bytesIn += uint64(max(r.BytesIn, 0))
	a.bytesOut += uint64(max(r.BytesOut, 0))
	a.durSum += uint64(max(r.Duration, 0))
	a.hist[b]++
}

func (a *acc) merge(o *acc) {
	a.count += o.count
	a.c4xx += o.c4xx
	a.c5xx += o.c5xx
	a.c429 += o.c429
	a.bytesIn += o.bytesIn
	a.bytesOut += o.bytesOut
	a.durSum += o.durSum
	for i, c := range o.hist {
		a.hist[i] += c
	}
}
