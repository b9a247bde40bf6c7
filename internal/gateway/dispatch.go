package gateway

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/trace"

	"aya/internal/httpx"
	"aya/internal/observe"
	"aya/internal/policy"
	"aya/internal/proxy"
)

// dispatcher is the handler every listener serves: it loads the current snapshot, settles the
// client IP and request id, matches a route and runs the route's handler, then records the
// request (metrics, access log, trace, the sinks).
type dispatcher struct {
	snap    *atomic.Pointer[snapshot]
	ids     *idGen
	metrics *observe.Metrics
	sinks   *observe.Fanout
}

// reqState is per-request memory beyond the request itself, pooled so that serving and
// recording a request allocate nothing: the request id's bytes, the response writer that
// watches the answer, the record every sink reads, and what the proxy's observer adds per try.
//
// The request carries it in httpx.Request.Local, which is how the proxy's observer, the error
// writer and the policies find it without a context.WithValue per request. It is never a
// context itself: a context derived from the request may outlive the handler (a timer that
// fires late, a library's background work) and must not reach memory that the pool has
// already handed to the next request.
type reqState struct {
	id     [36]byte
	rw     recWriter
	hw     hijackWriter
	body   countingBody
	rec    observe.Record
	obs    *obsTables
	route  *routeObs
	ok     bool   // the handler returned (false: it panicked)
	errMsg string // why aya answered with an error of its own (proxy.ErrorNoter)
	// consumer is who the caller authenticated as (observe.NoteConsumer), when no policy set
	// pol.Consumer.
	consumer string
	// pol is what the route's policies learn about the request (policy.From).
	pol    policy.State
	tries  int
	target string
	// upstreamTime sums the tries' durations.
	upstreamTime time.Duration
	// ctx is the request's own context, put back when the handler returned.
	ctx context.Context
	// spanCtx carries the server span when tracing is on; trySpan is the try in progress.
	spanCtx context.Context
	span    trace.Span
	trySpan trace.Span
}

// PolicyState is what the route's policies share (policy.From).
func (st *reqState) PolicyState() *policy.State { return &st.pol }

// NoteConsumer records who the caller authenticated as.
func (st *reqState) NoteConsumer(name string) { st.consumer = name }

// NoteError keeps the first reason aya gives for answering with an error of its own.
func (st *reqState) NoteError(msg string) {
	if st.errMsg == "" {
		st.errMsg = msg
	}
}

var reqStates = sync.Pool{New: func() any { return new(reqState) }}

func (d *dispatcher) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	start := time.Now()
	s := d.snap.Load()
	r.ClientIP = proxy.ClientIP(r, s.trust[r.Listener])

	st := reqStates.Get().(*reqState)
	if id := r.Header.Get("X-Request-ID"); validRequestID(id) {
		r.ID = id
	} else {
		d.ids.next(&st.id, start)
		r.ID = unsafe.String(&st.id[0], len(st.id))
	}
	d.metrics.Begin()

	i, matched := s.table.Match(r)
	// With llm: configured, the LLM API paths are aya's own, whatever routes match them.
	isLLM := s.llm != nil && s.llm.Owns(r)
	matched = matched && !isLLM
	st.obs = s.obs
	switch {
	case isLLM:
		st.route = &s.obs.llm
	case matched:
		st.route = &s.obs.routes[i]
		st.pol.Route = s.routes[i]
	default:
		st.route = &s.obs.none
	}
	var rw httpx.ResponseWriter = &st.rw
	rec := &st.rw
	if _, ok := w.(httpx.Hijacker); ok {
		rw, rec = &st.hw, &st.hw.recWriter
	}
	rec.reset(w, start)
	body := r.Body
	if r.ContentLength != 0 {
		st.body = countingBody{r: body}
		r.Body = &st.body
	}
	r.Local = st
	st.ctx = r.Context()
	if s.obs.tracer != nil {
		st.spanCtx, st.span = s.obs.tracer.StartServer(st.ctx, r, st.route.name)
		r.SetContext(st.spanCtx)
	}
	defer d.finish(st, r, rec, body)

	switch {
	case isLLM:
		s.llm.ServeHTTPX(rw, r)
	case !matched:
		proxy.WriteError(rw, r, 404, "no route matches "+r.Method+" "+r.Host+r.Path)
	default:
		s.handler(r.Listener, i).ServeHTTPX(rw, r)
	}
	st.ok = true
}

// finish records the request and returns its state to the pool. It runs deferred so that a
// panicking handler (which the engine turns into a closed connection) is still counted.
func (d *dispatcher) finish(st *reqState, r *httpx.Request, w *recWriter, body io.Reader) {
	dur := time.Since(w.start)
	ctx := st.ctx
	r.SetContext(ctx)
	r.Local = nil
	r.Body = body

	status, errMsg := w.status, st.errMsg
	if st.consumer == "" && st.pol.Consumer != nil {
		st.consumer = st.pol.Consumer.Name
	}
	switch {
	case !st.ok:
		status, errMsg = 500, "handler panicked"
	case status == 0 && ctx.Err() != nil:
		status = 499 // the client left before an answer; nothing was written
	case status == 0:
		status = 200 // the engine sends an empty 200 for a handler that wrote nothing
	}
	rec := &st.rec
	*rec = observe.Record{
		Start:        w.start,
		ID:           r.ID,
		Listener:     r.Listener,
		Route:        st.route.name,
		Upstream:     st.route.upstream,
		Target:       st.target,
		Consumer:     st.consumer,
		Method:       r.Method,
		Host:         r.Host,
		Path:         r.Path,
		Proto:        r.Proto,
		Status:       status,
		BytesIn:      st.body.n,
		BytesOut:     w.bytes,
		Duration:     dur,
		TTFB:         w.ttfb,
		UpstreamTime: st.upstreamTime,
		ClientIP:     r.ClientIP,
		UserAgent:    r.Header.Get("User-Agent"),
		Retries:      max(st.tries-1, 0),
		Error:        errMsg,
	}
	st.route.metrics.Observe(rec)
	if st.route.log && st.obs.access != nil {
		st.obs.access.Record(rec)
	}
	d.sinks.Record(rec)
	if st.span != nil {
		observe.EndServer(st.span, rec)
	}
	d.metrics.End()

	*rec = observe.Record{}
	st.rw.reset(nil, time.Time{})
	st.hw.reset(nil, time.Time{})
	st.body = countingBody{}
	st.pol.Reset()
	st.ctx, st.spanCtx, st.span, st.trySpan = nil, nil, nil, nil
	st.obs, st.route, st.ok, st.errMsg, st.consumer, st.tries, st.target, st.upstreamTime = nil, nil, false, "", "", 0, "", 0
	reqStates.Put(st)
}

// validRequestID accepts incoming ids that are safe to log and forward: 1–128 visible ASCII
// characters from a conservative set.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '+' || c == '/' || c == '=':
		default:
			return false
		}
	}
	return true
}

// idGen makes UUIDv7 request ids: 48 bits of Unix milliseconds, then a per-process random base
// plus a counter. Sortable by time like any v7, unique within the process without a random read
// per request.
type idGen struct {
	base [10]byte
	ctr  atomic.Uint64
}

func newIDGen() *idGen {
	g := &idGen{}
	rand.Read(g.base[:])
	return g
}

const hexDigits = "0123456789abcdef"

// next writes the id of a request that arrived at now (the dispatcher's clock read, reused:
// reading the clock is not free).
func (g *idGen) next(dst *[36]byte, now time.Time) {
	var u [16]byte
	ms := uint64(now.UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	copy(u[6:], g.base[:])
	n := g.ctr.Add(1)
	tail := binary.BigEndian.Uint64(u[8:]) + n
	binary.BigEndian.PutUint64(u[8:], tail)
	u[6] = 0x70 | (u[6] & 0x0f) // version 7
	u[8] = 0x80 | (u[8] & 0x3f) // RFC 9562 variant
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j] = hexDigits[b>>4]
		dst[j+1] = hexDigits[b&0x0f]
		j += 2
	}
}

// handler is route i's chain for a request on listener: the one with the listener's default
// policies when it has some (one map lookup, only when some listener does), else the route's.
func (s *snapshot) handler(listener string, i int) httpx.Handler {
	if s.byListener != nil {
		if hs := s.byListener[listener]; hs != nil {
			return hs[i]
		}
	}
	return s.handlers[i]
}
