package l4

import (
	"net/netip"
	"sync"
)

// limiter caps open connections (or flows) per listener and per client IP. Over a cap the
// new connection is closed at once, as the HTTP listeners do: cheaper than queueing it.
type limiter struct {
	max, perIP int
	mu         sync.Mutex
	open       int
	byIP       map[netip.Addr]int
}

func newLimiter(maxConns, perIP int) *limiter {
	if maxConns <= 0 && perIP <= 0 {
		return nil
	}
	return &limiter{max: maxConns, perIP: perIP, byIP: map[netip.Addr]int{}}
}

// acquire takes a place for a connection from ip; false when a cap is reached. A nil
// limiter admits everything.
func (l *limiter) acquire(ip netip.Addr) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.open >= l.max || l.perIP > 0 && l.byIP[ip] >= l.perIP {
		return false
	}
	l.open++
	if l.perIP > 0 {
		l.byIP[ip]++
	}
	return true
}

func (l *limiter) release(ip netip.Addr) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perIP > 0 {
		if n := l.byIP[ip] - 1; n > 0 {
			l.byIP[ip] = n
		} else {
			delete(l.byIP, ip)
		}
	}
}
