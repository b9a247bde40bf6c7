package observe

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// asyncWriter takes log lines on the request path and writes them from its own goroutine, so
// a slow disk or a stalled stdout pipe never holds up a request. Lines wait in a bounded
// buffer; when it is full, new lines are dropped and counted instead of waiting.
//
// The writer wakes when the first line lands in an empty buffer, then lets lines gather for
// flushInterval (less if the buffer gets half full) and writes them in one call: waking a
// goroutine per line would cost more than formatting the line.
type asyncWriter struct {
	out     io.Writer
	limit   int
	dropped atomic.Uint64
	onDrop  prometheus.Counter // nil: only counted here

	mu      sync.Mutex
	pending []byte
	closed  bool
	idle    *sync.Cond // signalled when the writer has written everything
	writing bool

	spare []byte        // the writer's second buffer, swapped with pending
	wake  chan struct{} // cap 1: "pending is no longer empty" or "pending is half full"
	done  chan struct{} // closed by close
	exit  chan struct{} // closed when run returns
}

// flushInterval is how long lines gather before a write: short enough for a human tailing
// the log, long enough to batch thousands of lines under load.
const flushInterval = 100 * time.Millisecond

func newAsyncWriter(out io.Writer, limit int, onDrop prometheus.Counter) *asyncWriter {
	w := &asyncWriter{
		out: out, limit: limit, onDrop: onDrop,
		pending: make([]byte, 0, min(limit, 64<<10)),
		spare:   make([]byte, 0, min(limit, 64<<10)),
		wake:    make(chan struct{}, 1), done: make(chan struct{}), exit: make(chan struct{}),
	}
	w.idle = sync.NewCond(&w.mu)
	go w.run()
	return w
}

// write queues line (copied). It reports false when the line was dropped.
func (w *asyncWriter) write(line []byte) bool {
	w.mu.Lock()
	if w.closed || len(w.pending)+len(line) > w.limit {
		w.mu.Unlock()
		w.dropped.Add(1)
		if w.onDrop != nil {
			w.onDrop.Inc()
		}
		return false
	}
	n := len(w.pending)
	w.pending = append(w.pending, line...)
	half := n < w.limit/2 && len(w.pending) >= w.limit/2
	w.mu.Unlock()
	if n == 0 || half {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return true
}

func (w *asyncWriter) run() {
	defer close(w.exit)
	gather := time.NewTimer(flushInterval)
	gather.Stop()
	for {
		select {
		case <-w.wake:
		case <-w.done:
			w.flushOnce()
			return
		}
		gather.Reset(flushInterval)
		select {
		case <-gather.C:
		case <-w.wake: // half full, or sync is waiting
			gather.Stop()
		case <-w.done:
			gather.Stop()
			w.flushOnce()
			return
		}
		w.flushOnce()
	}
}

// flushOnce swaps the pending lines out and writes them.
func (w *asyncWriter) flushOnce() {
	w.mu.Lock()
	batch := w.pending
	w.pending = w.spare[:0]
	w.writing = len(batch) > 0
	w.mu.Unlock()
	if len(batch) > 0 {
		// A failed write loses the batch: there is nowhere better to report it than the
		// drop counter, and retrying would only grow the backlog.
		if _, err := w.out.Write(batch); err != nil {
			w.dropped.Add(1)
			if w.onDrop != nil {
				w.onDrop.Inc()
			}
		}
	}
	w.mu.Lock()
	w.spare = batch[:0]
	w.writing = false
	if len(w.pending) == 0 {
		w.idle.Broadcast()
	} else {
		// Lines came in during the write; their wake may have been consumed by the wait.
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	w.mu.Unlock()
}

// sync waits until every line queued before it was written.
func (w *asyncWriter) sync() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for (len(w.pending) > 0 || w.writing) && !w.closed {
		select {
		case w.wake <- struct{}{}:
		default:
		}
		w.idle.Wait()
	}
}

// close writes what is queued and stops the goroutine; later lines are dropped.
func (w *asyncWriter) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.exit
		return
	}
	w.closed = true
	w.idle.Broadcast()
	w.mu.Unlock()
	close(w.done)
	<-w.exit
}
