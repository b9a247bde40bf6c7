package tps

import "time"

// Snapshot is a pool's state for the admin API, metrics and the dashboard.
type Snapshot struct {
	Pool      string
	Allocator string
	// Capacity is the configured cap; EffectiveCapacity what shares add up to now (after the
	// margin, upstream 429s and rate-limit headers); WindowLimit the exact admissions allowed
	// per sliding second.
	Capacity          float64
	EffectiveCapacity float64
	WindowLimit       int64
	// Shared is the capacity no service was given (EffectiveCapacity minus the allocations):
	// any request may use it, the most important waiting first.
	Shared      float64
	Upstream429 uint64        // since the start
	PausedFor   time.Duration // left of an upstream Retry-After
	Queued      int
	Services    []ServiceSnapshot
}

// ServiceSnapshot is one service's part of a Snapshot. Rates are per second over the last
// tick; totals count requests since the pool started.
type ServiceSnapshot struct {
	Name       string
	Priority   Priority
	Min, Max   float64
	Allocation float64 // share for the current tick, requests per second
	Demand     float64
	Served     float64
	Rejected   float64
	Queued     int // waiting now

	Arrived, Admitted, RejectedTotal, Cancelled uint64
}

// Snapshot copies the pool's current state.
func (p *Pool) Snapshot() Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Snapshot{
		Pool:              p.cfg.Name,
		Allocator:         p.alloc.Name(),
		Capacity:          p.cfg.Capacity,
		EffectiveCapacity: p.effective,
		WindowLimit:       p.win.limit,
		Shared:            p.buckets[p.sharedBucket()].rate,
		Upstream429:       p.total429,
		PausedFor:         max(p.pausedUntil-p.now, 0),
		Queued:            p.q.waiting,
		Services:          make([]ServiceSnapshot, len(p.cfg.Services)),
	}
	for i, sv := range p.cfg.Services {
		s.Services[i] = ServiceSnapshot{
			Name: sv.Name, Priority: sv.Priority, Min: sv.Min, Max: sv.Max,
			Allocation: p.share[i],
			Demand:     p.last[i].Demand, Served: p.last[i].Served, Rejected: p.last[i].Rejected,
			Queued:  p.q.length[i],
			Arrived: p.total[i].arrived, Admitted: p.total[i].served,
			RejectedTotal: p.total[i].rejected, Cancelled: p.total[i].cancelled,
		}
	}
	return s
}
