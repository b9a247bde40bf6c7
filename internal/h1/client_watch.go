package h1

import (
	"context"
	"sync"
	"time"
)

// ctxPollInterval is how often the contexts of exchanges in flight are checked for a
// cancellation. The server notices a client that left on a one-second tick of its own, so a
// quarter of that adds little to how soon an abandoned upstream exchange is dropped.
const ctxPollInterval = 250 * time.Millisecond

// ctxWatch aborts the exchanges whose context was canceled, for contexts that have no
// deadline: every request the server hands out carries its connection's context, which ends
// only when the client goes away or the server shuts down. context.AfterFunc would stop
// them at once, but costs two allocations and about a microsecond per exchange; registering
// here costs two short critical sections, and the check runs on a timer armed only while
// exchanges are in flight. Contexts with a deadline (a route timeout) still use AfterFunc,
// so a timeout fires exactly when it is due.
type ctxWatch struct {
	mu      sync.Mutex
	entries []watchEntry
	timer   *time.Timer
	armed   bool
}

type watchEntry struct {
	cc  *clientConn
	ctx context.Context
}

// add watches ctx for cc's current exchange.
func (w *ctxWatch) add(cc *clientConn, ctx context.Context) {
	w.mu.Lock()
	cc.watchIdx = len(w.entries)
	w.entries = append(w.entries, watchEntry{cc: cc, ctx: ctx})
	if !w.armed {
		w.armed = true
		if w.timer == nil {
			w.timer = time.AfterFunc(ctxPollInterval, w.poll)
		} else {
			w.timer.Reset(ctxPollInterval)
		}
	}
	w.mu.Unlock()
}

// remove stops watching cc. Once it returns, poll can no longer cancel cc's I/O.
func (w *ctxWatch) remove(cc *clientConn) {
	w.mu.Lock()
	i, last := cc.watchIdx, len(w.entries)-1
	w.entries[i] = w.entries[last]
	w.entries[i].cc.watchIdx = i
	w.entries[last] = watchEntry{}
	w.entries = w.entries[:last]
	w.mu.Unlock()
}

func (w *ctxWatch) poll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.entries {
		if e.ctx.Err() != nil {
			e.cc.cancelIO()
		}
	}
	if len(w.entries) == 0 {
		w.armed = false
		return
	}
	w.timer.Reset(ctxPollInterval)
}
