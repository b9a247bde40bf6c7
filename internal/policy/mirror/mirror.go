// Package mirror copies a sampled share of a route's requests to a shadow upstream, fire and
// forget: the client's request streams to the primary as usual while its body (up to a bound)
// is kept, and once the primary has answered, a copy goes to the shadow from a bounded set of
// goroutines. The shadow's answer is read and thrown away. Nothing the shadow does (slow,
// failing, saturated) reaches the client.
//
// It knows nothing of config files or upstream pools: the gateway hands it the shadow's
// handler.
package mirror

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"aya/internal/httpx"
	"aya/internal/policy"
)

// Options configure a mirror.
type Options struct {
	// Shadow serves the copies.
	Shadow httpx.Handler
	// Percent is the share of requests copied, from 0 to 1.
	Percent float64
	// MaxBody is the largest request body copied; a request with a bigger body is not mirrored.
	MaxBody int64
	// Timeout bounds each copy's exchange with the shadow.
	Timeout time.Duration
	// MaxInFlight bounds the copies under way; a sampled request beyond it is dropped.
	MaxInFlight int
	Log         *slog.Logger
}

// Stats count what happened to sampled requests.
type Stats struct {
	Sent     uint64 // copies the shadow answered (any status)
	Failed   uint64 // copies that got no answer (shadow down, timeout) or a 5xx
	Dropped  uint64 // sampled but not copied: MaxInFlight copies were already under way
	TooLarge uint64 // sampled but not copied: the body was over MaxBody, or the primary answered without reading it whole
}

// Mirror is a built mirror. Close it when its config retires.
type Mirror struct {
	o         Options
	threshold uint64 // a request is sampled when a random uint64 falls below it
	slots     chan struct{}
	ctx       context.Context
	cancel    context.CancelFunc

	mu     sync.Mutex // guards closed against late launches, so wg.Add never races Wait
	closed bool
	wg     sync.WaitGroup

	sent, failed, dropped, tooLarge atomic.Uint64
}

// New builds a mirror.
func New(o Options) (*Mirror, error) {
	switch {
	case o.Shadow == nil:
		return nil, errors.New("mirror needs a shadow handler")
	case o.Percent < 0 || o.Percent > 1 || math.IsNaN(o.Percent):
		return nil, errors.New("mirror percent must be between 0% and 100%")
	case o.MaxInFlight < 1:
		return nil, errors.New("mirror max_in_flight must be at least 1")
	case o.Timeout <= 0:
		return nil, errors.New("mirror timeout must be positive")
	case o.MaxBody < 0:
		return nil, errors.New("mirror max_body must not be negative")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	m := &Mirror{o: o, slots: make(chan struct{}, o.MaxInFlight)}
	switch {
	case o.Percent >= 1:
		m.threshold = math.MaxUint64
	default:
		m.threshold = uint64(math.Ldexp(o.Percent, 64))
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// Stats reads the counters.
func (m *Mirror) Stats() Stats {
	return Stats{Sent: m.sent.Load(), Failed: m.failed.Load(), Dropped: m.dropped.Load(), TooLarge: m.tooLarge.Load()}
}

// Close cancels the copies under way, waits for their goroutines and refuses new ones.
func (m *Mirror) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
}

// sampled decides whether to copy one request.
func (m *Mirror) sampled() bool {
	return m.threshold == math.MaxUint64 || rand.Uint64() < m.threshold
}

// Middleware copies sampled requests to the shadow after next has served them.
func (m *Mirror) Middleware() policy.Middleware {
	return func(next httpx.Handler) httpx.Handler {
		return httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
			// An upgrade (WebSocket) becomes a tunnel, which a copy cannot replay.
			if !m.sampled() || r.Header.Has("Upgrade") {
				next.ServeHTTPX(w, r)
				return
			}
			if r.ContentLength > m.o.MaxBody {
				m.tooLarge.Add(1)
				next.ServeHTTPX(w, r)
				return
			}
			// The copy is taken before next runs: later policies may rewrite the request
			// for the primary, and the shadow should see what the client sent.
			c := clone(r)
			if r.ContentLength == 0 {
				// Nothing to wait for: the copy leaves now and runs beside the primary.
				m.launch(c)
				next.ServeHTTPX(w, r)
				return
			}
			tee := bodies.Get().(*teeBody)
			tee.start(r.Body, m.o.MaxBody)
			body := r.Body
			r.Body = tee
			defer func() {
				r.Body = body
				if tee.eof && !tee.over {
					c.setBody(tee.buf.Bytes())
					m.launch(c)
				} else {
					m.tooLarge.Add(1)
				}
				tee.release()
			}()
			next.ServeHTTPX(w, r)
		})
	}
}

// launch hands the copy to a goroutine, or drops it when MaxInFlight copies are under way.
func (m *Mirror) launch(c *shadowRequest) {
	select {
	case m.slots <- struct{}{}:
	default:
		m.dropped.Add(1)
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.slots
		m.dropped.Add(1)
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer func() {
			<-m.slots
			m.wg.Done()
		}()
		m.send(c)
	}()
}

// send runs one copy and reads its answer into the void.
func (m *Mirror) send(c *shadowRequest) {
	ctx, cancel := context.WithTimeout(m.ctx, m.o.Timeout)
	defer cancel()
	c.req.SetContext(ctx)
	var w discard
	m.o.Shadow.ServeHTTPX(&w, &c.req)
	switch {
	case w.status == 0 && ctx.Err() != nil, w.status >= 500:
		m.failed.Add(1)
		m.o.Log.Debug("mirror copy failed", "request_id", c.req.ID, "status", w.status, "error", ctx.Err())
	default:
		m.sent.Add(1)
	}
}

// shadowRequest is a request copied off the client's, owning all its memory.
type shadowRequest struct {
	req  httpx.Request
	body bytes.Reader
}

// clone copies r's head; its strings die when the handler returns.
func clone(r *httpx.Request) *shadowRequest {
	// One buffer holds every text field: one allocation for all of them.
	n := len(r.Method) + len(r.Target) + len(r.Path) + len(r.Query) + len(r.Host) + len(r.ID) + len(r.Listener)
	for _, f := range r.Header {
		n += len(f.Name) + len(f.Value)
	}
	var a arena
	a.b.Grow(n)
	c := &shadowRequest{}
	q := &c.req
	q.Method, q.Target, q.Path, q.Query = a.put(r.Method), a.put(r.Target), a.put(r.Path), a.put(r.Query)
	q.Host, q.ID, q.Listener = a.put(r.Host), a.put(r.ID), a.put(r.Listener)
	q.Header = make(httpx.Header, len(r.Header))
	for i, f := range r.Header {
		q.Header[i] = httpx.Field{Name: a.put(f.Name), Value: a.put(f.Value)}
	}
	q.Proto, q.ProtoMajor, q.ProtoMinor = "HTTP/1.1", 1, 1
	q.RemoteAddr, q.ClientIP, q.LocalAddr, q.TLS = r.RemoteAddr, r.ClientIP, r.LocalAddr, r.TLS
	q.Body, q.ContentLength = httpx.NoBody, 0
	return c
}

// setBody gives the copy its own copy of body.
func (c *shadowRequest) setBody(body []byte) {
	q := &c.req
	c.body.Reset(bytes.Clone(body))
	// The transport frames the copy by ContentLength, whatever framing the client used.
	q.Body, q.ContentLength = &c.body, int64(len(body))
}

// arena copies strings into one buffer grown once to the total size. Grow guarantees the
// writes that follow do not move the buffer, so each span handed out stays valid.
type arena struct{ b strings.Builder }

func (a *arena) put(s string) string {
	start := a.b.Len()
	a.b.WriteString(s)
	return a.b.String()[start:]
}

// teeBody passes the client's body through to the primary and keeps a copy of up to max bytes.
type teeBody struct {
	r    io.Reader
	buf  bytes.Buffer
	max  int64
	over bool // the body grew past max: it is not mirrored
	eof  bool // the primary read the whole body
}

var bodies = sync.Pool{New: func() any { return new(teeBody) }}

func (t *teeBody) start(r io.Reader, max int64) {
	t.r, t.max, t.over, t.eof = r, max, false, false
	t.buf.Reset()
}

func (t *teeBody) release() {
	t.r = nil
	if t.buf.Cap() > 1<<20 {
		t.buf = bytes.Buffer{} // keep the pool's memory bounded after a large body
	}
	bodies.Put(t)
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 && !t.over {
		if int64(t.buf.Len()+n) > t.max {
			t.over = true
		} else {
			t.buf.Write(p[:n])
		}
	}
	if err == io.EOF {
		t.eof = true
	}
	return n, err
}

// discard is the shadow's response writer: it keeps the status and drops the rest.
type discard struct {
	h      httpx.Header
	status int
}

func (d *discard) Header() *httpx.Header { return &d.h }
func (d *discard) WriteHeader(s int) {
	if d.status == 0 {
		d.status = s
	}
}
func (d *discard) Write(p []byte) (int, error) { d.WriteHeader(200); return len(p), nil }
func (d *discard) Flush() error                { return nil }
