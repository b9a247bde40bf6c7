package h1

import (
	"time"
)

// livenessTick is how often handlers that run long are checked for a client that left.
const livenessTick = time.Second

// watchClients refreshes the Date line each tick, and cancels the context of requests whose client has gone away while the handler
// still works (an LLM answer being generated for nobody, an upstream call still waiting).
// Writes notice a gone client by themselves; this covers handlers that have not written yet.
//
// Instead of net/http's background read per request (a goroutine hand-off on every request),
// one goroutine per Server wakes each tick and peeks at the sockets of handlers that have run
// for a full tick. Peeking consumes nothing, so it never races with the handler's body reads.
func (s *Server) watchClients() {
	t := time.NewTicker(livenessTick)
	defer t.Stop()
	var busy []*conn
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.date.refresh(now)
		}
		now := s.tick.Add(1)
		busy = busy[:0]
		s.mu.Lock()
		for c := range s.conns {
			if since := c.busySince.Load(); since != 0 && now-since >= 2 {
				busy = append(busy, c)
			}
		}
		s.mu.Unlock()
		for _, c := range busy {
			if peerGone(c.nc) {
				c.cancel()
			}
		}
		clear(busy)
	}
}
