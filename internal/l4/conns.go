package l4

import (
	"context"
	"net"
	"sync"
)

// connSet tracks a proxy's listener and open connections, so Shutdown can stop accepting,
// wait for the connections to end, and close the stragglers when the drain time is up.
type connSet struct {
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn][]net.Conn // client conn → the conns it owns (its target's)
	closed bool
	wg     sync.WaitGroup
	// ctx is canceled when the drain time is up, to stop connects in progress.
	ctx    context.Context
	cancel context.CancelFunc
}

func (s *connSet) init() {
	s.conns = map[net.Conn][]net.Conn{}
	s.ctx, s.cancel = context.WithCancel(context.Background())
}

// serving records ln as the listener Shutdown closes; false when Shutdown came first.
func (s *connSet) serving(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ln = ln
	return !s.closed
}

func (s *connSet) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// add tracks a new client conn; false after Shutdown. Every add needs one done.
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = nil
	s.wg.Add(1)
	return true
}

// track records the target conn c opened, to close with it on a forced drain.
func (s *connSet) track(c net.Conn, owned ...net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; ok {
		s.conns[c] = append(s.conns[c], owned...)
	}
}

func (s *connSet) done(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// context is canceled when a drain runs out of time.
func (s *connSet) context() (context.Context, context.CancelFunc) {
	return context.WithCancel(s.ctx)
}

func (s *connSet) stopAccepting() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
}

func (s *connSet) shutdown(ctx context.Context) error {
	s.stopAccepting()
	drained := make(chan struct{})
	go func() { s.wg.Wait(); close(drained) }()
	select {
	case <-drained:
		s.cancel()
		return nil
	case <-ctx.Done():
	}
	s.cancel()
	s.mu.Lock()
	for c, owned := range s.conns {
		c.Close()
		for _, o := range owned {
			o.Close()
		}
	}
	s.mu.Unlock()
	<-drained
	return ctx.Err()
}
