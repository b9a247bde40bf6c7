package tps

import "math"

// SetCapacity changes the capacity the pool admits against, in requests per second, while it
// runs: a cluster node calls it with its lease on a capacity shared by several nodes. The
// margin still applies. The per-second window cap changes at once (so a smaller lease binds
// the next admission), the shares follow at the next tick. A cut from upstream 429s stays in
// force below the new capacity; without one the effective capacity follows it up and down.
// Config still reports the configured Capacity. A negative, NaN or infinite rps is ignored.
func (p *Pool) SetCapacity(rps float64) {
	if !(rps >= 0) || math.IsInf(rps, 0) {
		return
	}
	p.mu.Lock()
	old := p.base
	p.base = rps * (1 - p.cfg.Margin)
	if p.aimdCap >= old {
		p.aimdCap = p.base
	} else {
		p.aimdCap = math.Min(p.aimdCap, p.base)
	}
	p.refreshCapacity(p.now)
	p.recomputeNext()
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}: // a larger window may release waiting requests now
	default:
	}
}
