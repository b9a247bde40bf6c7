// Package proxy forwards a client request to an upstream target and streams the answer back:
// it builds the upstream request (hop-by-hop headers removed, X-Forwarded-* and Forwarded set,
// route header rules applied), runs the exchange over the target's transport, and copies the
// response to the client as bytes arrive. It tunnels WebSocket upgrades.
//
// It knows nothing of routing, config files or policies: the gateway hands it a Route.
package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"aya/internal/httpx"
	"aya/internal/upstream"
)

// Route is what the proxy needs to know about the route that matched.
type Route struct {
	Name            string
	Pool            *upstream.Pool
	RequestHeaders  HeaderRules
	ResponseHeaders HeaderRules
	PreserveHost    bool
	StripPrefix     string
	Timeout         time.Duration // whole exchange; 0: none
	MaxBody         int64         // 0: unlimited
	Trust           Trust
	// RetryNonIdempotent lets the pool's retry policy repeat POST and PATCH requests.
	RetryNonIdempotent bool
	// Fallback serves requests when the pool has no usable target; nil: 502/503.
	Fallback *Fallback
}

// Proxy forwards requests for one route. It is immutable once built and safe for concurrent use.
type Proxy struct {
	route  Route
	log    *slog.Logger
	notify Observer
}

// Observer follows each try of an upstream exchange as it happens (metrics, access logs,
// traces). r is the client's request and try counts from 0. Both run on the request path and
// must not block.
type Observer interface {
	// BeginTry is called just before a try goes to t; it may add fields to out.Header (the
	// trace context of the try).
	BeginTry(r *httpx.Request, out *httpx.Request, t *upstream.Target, try int)
	// EndTry reports how the try ended: the target's status (aya's own for an exchange error),
	// how long it took (to the response head for a failed try, to the end of the body for the
	// one that answered), and its error, if any.
	EndTry(r *httpx.Request, t *upstream.Target, try int, status int, d time.Duration, err error)
}

// New returns a proxy for route.
func New(route Route, log *slog.Logger, obs Observer) *Proxy {
	if log == nil {
		log = slog.Default()
	}
	return &Proxy{route: route, log: log, notify: obs}
}

// exchange is the per-request working set, pooled so steady-state proxying allocates nothing.
type exchange struct {
	body   clientBody
	replay replayBody
	out    httpx.Request
	resp   httpx.Response
	sc     scratch
	buf    []byte
	tried  [maxTries]*upstream.Target
	try    int // the try in progress, from 0
	// The last failed try: its error (nil for a retriable status, left in resp), whether the
	// per-try timeout cut it, and the cancel of its per-try context.
	err           error
	perTryTimeout bool
	cancelTry     context.CancelFunc
}

// maxTries bounds the tries of one request: the first and config's at most 10 retries.
const maxTries = 11

var exchanges = sync.Pool{New: func() any {
	return &exchange{
		out:  httpx.Request{Header: make(httpx.Header, 0, 32)},
		resp: httpx.Response{Header: make(httpx.Header, 0, 32)},
		sc:   scratch{buf: make([]byte, 0, 512)},
		buf:  make([]byte, 32<<10),
	}
}}

func (x *exchange) release() {
	x.out.Header.Reset()
	x.out.Trailer.Reset()
	x.out.Body = nil
	x.body = clientBody{}
	x.replay.reset()
	clear(x.tried[:])
	x.err, x.perTryTimeout = nil, false
	if x.cancelTry != nil {
		x.cancelTry()
		x.cancelTry = nil
	}
	x.out.SetContext(context.Background())
	x.resp.Reset()
	x.sc.reset()
	exchanges.Put(x)
}

// ServeHTTPX forwards r to a target of the route's pool, trying other targets as the
// upstream's retry policy allows, and streams the answer back.
func (p *Proxy) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	rt := &p.route
	pool := rt.Pool
	if rt.MaxBody > 0 && r.ContentLength > rt.MaxBody {
		WriteError(w, r, 413, "request body larger than the route's max_body")
		return
	}
	after, ok := pool.Admit()
	if !ok {
		if !p.fallback(w, r) {
			writeError(w, r, 503, "upstream "+pool.Name+" is refusing requests (circuit breaker open or request limit reached)", after)
		}
		return
	}
	t := pool.PickSticky(r)
	if t == nil {
		pool.Release()
		if !p.fallback(w, r) {
			WriteError(w, r, 503, "no target available in upstream "+pool.Name)
		}
		return
	}
	defer pool.Release()

	x := exchanges.Get().(*exchange)
	defer x.release()
	ctx := r.Context()
	if rt.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rt.Timeout)
		defer cancel()
	}

	policy := pool.Retry()
	repeatable := rt.RetryNonIdempotent || upstream.Idempotent(r.Method)
	for try := 0; ; try++ {
		x.tried[try] = t
		out := &x.out
		if try > 0 {
			out.Header.Reset()
			x.sc.reset()
			x.resp.Reset()
		}
		p.buildRequest(out, r, t, &x.sc)
		if out.ContentLength != 0 {
			if try == 0 {
				x.body.r = out.Body
				if policy != nil && out.ContentLength <= policy.MaxBody {
					// Kept for replay: a retry sends what this try read, then the rest.
					x.replay.start(&x.body, policy.MaxBody)
				}
			}
			out.Body = &x.body
			if x.replay.active {
				out.Body = &x.replay
			}
		}

		x.try = try
		if p.notify != nil {
			p.notify.BeginTry(r, out, t, try)
		}
		cond, done := p.try(w, r, ctx, x, t, policy, try)
		if done {
			return
		}
		if try+1 >= maxTries || policy == nil || try >= policy.Attempts || !policy.Allows(cond, repeatable) ||
			x.body.err != nil || ctx.Err() != nil || !x.replayable() {
			p.finish(w, r, ctx, x, t, cond)
			return
		}
		next := pool.Repick(r, x.tried[:try+1])
		if next == nil || !pool.BeginRetry() {
			p.finish(w, r, ctx, x, t, cond)
			return
		}
		if x.resp.Body != nil {
			x.resp.Body.Close()
		}
		// The first retry on a target not yet tried goes at once: the backoff is there to spare
		// a struggling upstream from a burst of retries, not to delay a detour.
		var wait time.Duration
		if try > 0 || slices.Contains(x.tried[:try+1], next) {
			wait = policy.Backoff(try + 1)
		}
		if err := sleep(ctx, wait); err != nil {
			x.resp.Body = nil
			p.finish(w, r, ctx, x, t, CondCanceled)
			return
		}
		p.log.Debug("retrying on another target", "upstream", pool.Name, "failed", t.Name, "next", next.Name,
			"request_id", r.ID, "retry", try+1)
		x.replay.rewind()
		t = next
	}
}

// CondCanceled is the proxy's own condition for a request whose client left during a
// backoff: it is answered with 499 (nothing is written).
const CondCanceled = upstream.Cond(255)

// replayable reports whether the request body may be sent again: it has none, nothing of it
// was read yet, or every byte read so far is in the replay record.
func (x *exchange) replayable() bool {
	return x.out.ContentLength == 0 || !x.body.started || x.replay.active && !x.replay.over
}

// try runs one try on t. It either answers the client (done) or reports why the try failed
// and leaves the failed answer in x: x.err for an exchange error, or x.resp (body unread) for a
// retriable status.
func (p *Proxy) try(w httpx.ResponseWriter, r *httpx.Request, ctx context.Context, x *exchange, t *upstream.Target,
	policy *upstream.RetryPolicy, try int) (upstream.Cond, bool) {
	pool := p.route.Pool
	if x.cancelTry != nil {
		x.cancelTry()
		x.cancelTry = nil
	}
	tctx, stop := ctx, func() bool { return true }
	if policy != nil && policy.PerTryTimeout > 0 {
		// The per-try timeout bounds the wait for the response head only: once it has come,
		// the answer streams to the client and is never retried.
		tctx, x.cancelTry = context.WithCancel(ctx)
		stop = time.AfterFunc(policy.PerTryTimeout, x.cancelTry).Stop
	}
	x.out.SetContext(tctx)
	start := time.Now()
	pool.Begin(t)
	err := t.Transport.Do(tctx, &x.out, &x.resp)
	inTime := stop()
	head := time.Since(start)
	x.err, x.perTryTimeout = err, !inTime
	if t.Protocol == "h2" && x.out.ContentLength != 0 {
		// The HTTP/2 transport may still be reading the body in its own goroutine.
		x.replay.over, x.body.started = true, true
	}
	if err != nil {
		cond, outcome := classifyTry(err, x, inTime)
		pool.Answered(t, outcome, head)
		pool.End(t, head, outcome == upstream.ConnectFailure || outcome == upstream.GatewayFailure)
		p.log.Warn("upstream exchange failed", "upstream", pool.Name, "target", t.Name, "request_id", r.ID,
			"try", try+1, "error", err)
		status, _ := classify(err, ctx)
		p.observe(r, x, t, status, head, err)
		return cond, false
	}
	resp := &x.resp
	outcome := upstream.OK
	if resp.Status >= 500 {
		outcome = upstream.Status5xx
	}
	pool.Answered(t, outcome, head)
	if policy != nil && try < policy.Attempts && policy.RetriesStatus(resp.Status) {
		pool.End(t, head, false)
		p.observe(r, x, t, resp.Status, head, nil)
		return upstream.CondStatus, false
	}
	p.respond(w, r, x, t, start, false)
	return upstream.CondNone, true
}

// respond streams the upstream's answer in x.resp to the client. reported says the try was
// already reported to the pool and the observer.
func (p *Proxy) respond(w httpx.ResponseWriter, r *httpx.Request, x *exchange, t *upstream.Target, start time.Time, reported bool) {
	rt := &p.route
	resp := &x.resp
	if resp.Status == 101 {
		p.tunnel(w, r, resp)
		d := time.Since(start)
		if !reported {
			rt.Pool.End(t, d, false)
			p.observe(r, x, t, 101, d, nil)
		}
		return
	}
	h := w.Header()
	copyEndToEnd(h, resp.Header)
	if c := rt.Pool.StickyCookie(r, t); c != "" {
		*h = append(*h, httpx.Field{Name: "Set-Cookie", Value: c})
	}
	if resp.ContentLength >= 0 && resp.Status != 204 && resp.Status != 304 && !(resp.Status >= 100 && resp.Status < 200) {
		*h = append(*h, httpx.Field{Name: "Content-Length", Value: x.sc.appendInt(resp.ContentLength)})
	}
	if r.ID != "" {
		h.Set("X-Request-ID", r.ID)
	}
	rt.ResponseHeaders.Apply(h)
	w.WriteHeader(resp.Status)

	copyErr := copyBody(w, resp.Body, x.buf, resp.ContentLength)
	if copyErr == nil && len(resp.Trailer) > 0 {
		if tw, ok := w.(httpx.TrailerWriter); ok {
			tw.SetTrailer(cloneHeader(resp.Trailer))
		}
	}
	resp.Body.Close()
	if reported {
		return
	}
	d := time.Since(start)
	// An HTTP error status is an answer, not a target failure: outlier detection judges those.
	rt.Pool.End(t, d, false)
	p.observe(r, x, t, resp.Status, d, copyErr)
}

// finish answers the client after the last try failed: with the target's own answer when it
// was a retriable status, else with aya's error for the exchange error.
func (p *Proxy) finish(w httpx.ResponseWriter, r *httpx.Request, ctx context.Context, x *exchange, t *upstream.Target, cond upstream.Cond) {
	if x.err == nil && x.resp.Body != nil && cond == upstream.CondStatus {
		p.respond(w, r, x, t, time.Now(), true)
		return
	}
	if x.resp.Body != nil {
		x.resp.Body.Close()
		x.resp.Body = nil
	}
	err := x.err
	if cond == CondCanceled || err == nil {
		return
	}
	if cond == upstream.CondConnect && !x.body.started && p.fallback(w, r) {
		return // no target could be reached, and the body is still whole
	}
	status, msg := classify(err, ctx)
	if x.perTryTimeout {
		status, msg = 504, "upstream timed out (per-try timeout)"
	}
	switch {
	case errors.Is(err, ErrBodyTooLarge) || errors.Is(x.body.err, ErrBodyTooLarge):
		status, msg = 413, "request body larger than the route's max_body"
		r.Close = true
	case x.body.err != nil:
		// The client's body broke (bad chunk framing, client gone): the client's fault,
		// and the connection cannot be trusted for another request.
		status, msg = 400, "malformed or incomplete request body"
		r.Close = true
	}
	WriteError(w, r, status, msg)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Proxy) observe(r *httpx.Request, x *exchange, t *upstream.Target, status int, d time.Duration, err error) {
	if p.notify != nil {
		p.notify.EndTry(r, t, x.try, status, d, err)
	}
}

// buildRequest fills out from r for target t.
func (p *Proxy) buildRequest(out *httpx.Request, r *httpx.Request, t *upstream.Target, sc *scratch) {
	rt := &p.route
	out.Method = r.Method
	out.Path, out.Query = r.Path, r.Query
	// Only whole segments: "/api" strips "/api" and "/api/x", never "/apiary".
	if sp := strings.TrimSuffix(rt.StripPrefix, "/"); sp != "" && strings.HasPrefix(out.Path, sp) {
		switch rest := out.Path[len(sp):]; {
		case rest == "":
			out.Path = "/"
		case rest[0] == '/':
			out.Path = rest
		}
	}
	out.Target = out.Path
	out.Proto, out.ProtoMajor, out.ProtoMinor = "HTTP/1.1", 1, 1
	out.RemoteAddr, out.ClientIP, out.TLS, out.ID = r.RemoteAddr, r.ClientIP, r.TLS, r.ID
	out.Body, out.ContentLength = r.Body, r.ContentLength
	if rt.MaxBody > 0 && r.ContentLength < 0 {
		out.Body = &limitedBody{r: r.Body, left: rt.MaxBody}
	}
	out.SetContext(r.Context())

	p.buildHeader(&out.Header, r, t, sc)
}

// copyBody streams src to w, flushing after every read so bytes reach the client as soon as the
// upstream produced them (SSE events, slow chunks). The one flush it skips is after the last
// bytes of a body of known length: the response's end flushes them anyway, and on HTTP/2 that
// lets the data and END_STREAM leave in one frame instead of two writes. length is -1 when
// unknown. It returns the first error other than EOF.
func copyBody(w httpx.ResponseWriter, src io.Reader, buf []byte, length int64) error {
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if length >= 0 {
				length -= int64(n)
			}
			if err == nil && length != 0 {
				if ferr := w.Flush(); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// clientBody remembers why reading the client's body failed, so a failed exchange can be
// blamed on the right side, and whether any of it was read (a try that read nothing can be
// retried whatever the body's size).
type clientBody struct {
	r       io.Reader
	err     error
	started bool
}

func (b *clientBody) Read(p []byte) (int, error) {
	b.started = true
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// ErrBodyTooLarge is what a request body returns once it grew past a limit: the route's
// max_body here, or a request_limits policy's reader in front. The proxy answers it with 413.
var ErrBodyTooLarge = errors.New("request body larger than the route's max_body")

// limitedBody fails a streamed body that grows past the route's limit.
type limitedBody struct {
	r    io.Reader
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, ErrBodyTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// cloneHeader copies h with its strings: trailers are sent after the upstream connection (and
// the buffer its strings point into) went back to the pool.
func cloneHeader(h httpx.Header) httpx.Header {
	c := make(httpx.Header, len(h))
	for i, f := range h {
		c[i] = httpx.Field{Name: strings.Clone(f.Name), Value: strings.Clone(f.Value)}
	}
	return c
}
