package h1

import (
	"sync"
	"sync/atomic"
	"time"
)

// connPool keeps one upstream's idle keep-alive connections. It is a LIFO stack: the most
// recently used connection is handed out first, because it is the least likely to have been
// closed by the upstream's own idle timeout, and the ones at the bottom age out. A mutex
// around a small slice costs tens of nanoseconds per exchange; each Client has its own, so
// upstreams never contend with each other.
//
// Expired connections are dropped when get walks past them and by a janitor: one timer per
// pool, armed only while there are idle connections, that fires when the oldest expires.
type connPool struct {
	maxIdle     int
	idleTimeout time.Duration

	mu      sync.Mutex
	idle    []*clientConn // oldest first
	closed  atomic.Bool   // set under mu, read without it by Do
	janitor *time.Timer
	armed   bool // janitor is scheduled

	nidle  atomic.Int64
	active atomic.Int64 // connections handed out and not yet returned or closed
}

// get pops the newest idle connection that has not expired, or returns nil. Expired ones
// met on the way are closed. now is the caller's clock reading.
func (p *connPool) get(now time.Time) *clientConn {
	p.mu.Lock()
	n := len(p.idle)
	if n == 0 {
		p.mu.Unlock()
		return nil
	}
	cc := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	if now.Sub(cc.idleSince) < p.idleTimeout {
		p.nidle.Add(-1)
		p.active.Add(1)
		p.mu.Unlock()
		return cc
	}
	// The newest has expired, so all have: the stack is ordered by age. They are closed
	// outside the lock, from a copy, since put may refill p.idle meanwhile.
	stale := append(make([]*clientConn, 0, n), p.idle...)
	stale = append(stale, cc)
	clear(p.idle)
	p.idle = p.idle[:0]
	p.nidle.Store(0)
	p.mu.Unlock()
	for _, s := range stale {
		s.closeConn()
	}
	return nil
}

// put returns a healthy connection for reuse. When the pool is full the oldest idle
// connection is closed to make room: the newer one has more life left.
func (p *connPool) put(cc *clientConn, now time.Time) {
	cc.idleSince = now
	p.mu.Lock()
	p.active.Add(-1)
	if p.closed.Load() || p.maxIdle <= 0 {
		p.mu.Unlock()
		cc.closeConn()
		return
	}
	var evicted *clientConn
	if len(p.idle) >= p.maxIdle {
		evicted = p.idle[0]
		copy(p.idle, p.idle[1:])
		p.idle[len(p.idle)-1] = cc
	} else {
		p.idle = append(p.idle, cc)
		p.nidle.Add(1)
	}
	if !p.armed {
		p.armed = true
		if p.janitor == nil {
			p.janitor = time.AfterFunc(p.idleTimeout, p.reap)
		} else {
			p.janitor.Reset(p.idleTimeout)
		}
	}
	p.mu.Unlock()
	if evicted != nil {
		evicted.closeConn()
	}
}

// track counts a freshly dialed connection as active.
func (p *connPool) track() { p.active.Add(1) }

// drop forgets an active connection that will not come back (closed, or upgraded and closed).
func (p *connPool) drop() { p.active.Add(-1) }

// reap is the janitor: it closes the connections that have been idle too long and schedules
// itself for when the next one will have.
func (p *connPool) reap() {
	now := time.Now()
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].idleSince) >= p.idleTimeout {
		n++
	}
	expired := make([]*clientConn, n)
	copy(expired, p.idle[:n])
	m := copy(p.idle, p.idle[n:])
	clear(p.idle[m:])
	p.idle = p.idle[:m]
	p.nidle.Store(int64(m))
	if m > 0 && !p.closed.Load() {
		p.janitor.Reset(p.idleTimeout - now.Sub(p.idle[0].idleSince))
	} else {
		p.armed = false
	}
	p.mu.Unlock()
	for _, cc := range expired {
		cc.closeConn()
	}
}

// close closes every idle connection and makes put close the ones still in use when they
// come back.
func (p *connPool) close() {
	p.mu.Lock()
	p.closed.Store(true)
	idle := p.idle
	p.idle = nil
	p.nidle.Store(0)
	if p.janitor != nil {
		p.janitor.Stop()
	}
	p.armed = false
	p.mu.Unlock()
	for _, cc := range idle {
		cc.closeConn()
	}
}
