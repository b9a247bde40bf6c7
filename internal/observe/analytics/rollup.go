package analytics

import (
	"math"
	"slices"
)

// How much history a rollup keeps: every second of the last 5 minutes, every minute of the
// last hour.
const (
	secSlots = 300
	minSlots = 60
)

// slot is one second or one minute of a rollup; at says which (unix seconds or minutes), so a
// slot left over from an earlier lap of the ring reads as empty.
type slot struct {
	at int64
	acc
}

// series is one name's history.
type series struct {
	name string
	// rate is the requests per second, smoothed over about a minute; it ranks names for top-N.
	rate float64
	got  uint64 // requests in the second being closed, for rate
	sec  [secSlots]slot
	min  [minSlots]slot
}

func (sr *series) add(sec int64, a *acc) {
	s := &sr.sec[sec%secSlots]
	if s.at != sec {
		*s = slot{at: sec}
	}
	s.merge(a)
	m := sec / 60
	ms := &sr.min[m%minSlots]
	if ms.at != m {
		*ms = slot{at: m}
	}
	ms.merge(a)
	sr.got += a.count
}

// absorb adds another series' history to this one, slot by slot: an evicted name's past
// becomes part of "other", so the dimension still adds up to the total.
func (sr *series) absorb(o *series) {
	for i := range o.sec {
		if os := &o.sec[i]; os.at != 0 {
			if s := &sr.sec[i]; s.at == os.at {
				s.merge(&os.acc)
			} else if s.at < os.at {
				*s = *os
			}
		}
	}
	for i := range o.min {
		if om := &o.min[i]; om.at != 0 {
			if m := &sr.min[i]; m.at == om.at {
				m.merge(&om.acc)
			} else if m.at < om.at {
				*m = *om
			}
		}
	}
}

// rateAlpha smooths rates over about a minute of seconds.
const rateAlpha = 1.0 / 60

// OtherName is the series that holds every name past a dimension's top-N.
const OtherName = "other"

// dimension holds the rollups of one dimension: at most top-N named series and "other".
// Names that do not fit are candidates, ranked by their smoothed rate; once a minute the best
// candidate replaces the weakest named series if it is clearly busier.
type dimension struct {
	named map[string]*series
	other *series
	cand  map[string]*candidate
}

type candidate struct {
	rate float64
	got  uint64
}

func newDimension() *dimension {
	return &dimension{named: map[string]*series{}, cand: map[string]*candidate{}}
}

func (d *dimension) otherSeries() *series {
	if d.other == nil {
		d.other = &series{name: OtherName}
	}
	return d.other
}

func (d *dimension) add(sec int64, name string, a *acc, topN int) {
	if sr, ok := d.named[name]; ok {
		sr.add(sec, a)
		return
	}
	if len(d.named) < topN {
		sr := &series{name: name}
		d.named[name] = sr
		delete(d.cand, name)
		sr.add(sec, a)
		return
	}
	d.otherSeries().add(sec, a)
	c := d.cand[name]
	if c == nil {
		c = &candidate{}
		d.cand[name] = c
	}
	c.got += a.count
}

// tick updates the smoothed rates after a second is closed and, once a minute, promotes
// candidates busier than twice the weakest named series.
func (d *dimension) tick(sec int64, topN int) {
	for _, sr := range d.named {
		sr.rate += rateAlpha * (float64(sr.got) - sr.rate)
		sr.got = 0
	}
	if d.other != nil {
		d.other.got = 0
	}
	for name, c := range d.cand {
		c.rate += rateAlpha * (float64(c.got) - c.rate)
		c.got = 0
		if c.rate < 1e-3 {
			delete(d.cand, name)
		}
	}
	d.trimCandidates(4 * topN)
	if sec%60 != 0 {
		return
	}
	for range topN {
		best, bestRate := "", 0.0
		for name, c := range d.cand {
			if c.rate > bestRate {
				best, bestRate = name, c.rate
			}
		}
		weak, weakRate := "", math.Inf(1)
		for name, sr := range d.named {
			if sr.rate < weakRate {
				weak, weakRate = name, sr.rate
			}
		}
		if best == "" || weak == "" || bestRate <= 2*weakRate {
			return
		}
		old := d.named[weak]
		d.otherSeries().absorb(old)
		delete(d.named, weak)
		d.cand[weak] = &candidate{rate: old.rate}
		d.named[best] = &series{name: best, rate: bestRate}
		delete(d.cand, best)
	}
}

// trimCandidates keeps the keep busiest candidates. Their number before the trim is bounded by
// what the shards remember in a second, so a burst of one-off names costs one sort.
func (d *dimension) trimCandidates(keep int) {
	if len(d.cand) <= keep {
		return
	}
	rates := make([]float64, 0, len(d.cand))
	for _, c := range d.cand {
		rates = append(rates, c.rate)
	}
	slices.Sort(rates)
	cut := rates[len(rates)-keep]
	for name, c := range d.cand {
		if len(d.cand) <= keep {
			return
		}
		if c.rate <= cut {
			delete(d.cand, name)
		}
	}
}
