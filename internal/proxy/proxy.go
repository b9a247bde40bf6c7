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
}

// Proxy forwards requests for one route. It is immutable once built and safe for concurrent use.
type Proxy struct {
	route  Route
	log    *slog.Logger
	notify Observer
}

// Observer learns the outcome of each upstream exchange (metrics, access logs).
type Observer interface {
	Exchange(route string, t *upstream.Target, status int, d time.Duration, err error)
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
	body clientBody
	out  httpx.Request
	resp httpx.Response
	sc   scratch
	buf  []byte
}

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
	x.out.SetContext(context.Background())
	x.resp.Reset()
	x.sc.reset()
	exchanges.Put(x)
}

// ServeHTTPX forwards r to a target of the route's pool.
func (p *Proxy) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	rt := &p.route
	if rt.MaxBody > 0 && r.ContentLength > rt.MaxBody {
		WriteError(w, r, 413, "request body larger than the route's max_body")
		return
	}
	t := rt.Pool.Pick(r)
	if t == nil {
		WriteError(w, r, 503, "no target available in upstream "+rt.Pool.Name)
		return
	}

	x := exchanges.Get().(*exchange)
	defer x.release()
	out := &x.out
	p.buildRequest(out, r, t, &x.sc)
	if out.ContentLength != 0 {
		x.body.r = out.Body
		out.Body = &x.body
	}

	ctx := r.Context()
	if rt.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rt.Timeout)
		defer cancel()
	}

	start := time.Now()
	t.Balance.Begin()
	err := t.Transport.Do(ctx, out, &x.resp)
	if err != nil {
		d := time.Since(start)
		status, msg := classify(err, ctx)
		// Only the target's own failures feed the balancer; a client that left is not one.
		t.Balance.End(d, status != 499)
		switch {
		case errors.Is(err, errBodyTooLarge) || errors.Is(x.body.err, errBodyTooLarge):
			status, msg = 413, "request body larger than the route's max_body"
			r.Close = true
		case x.body.err != nil:
			// The client's body broke (bad chunk framing, client gone): the client's fault,
			// and the connection cannot be trusted for another request.
			status, msg = 400, "malformed or incomplete request body"
			r.Close = true
		}
		p.log.Warn("upstream exchange failed", "upstream", rt.Pool.Name,
			"target", t.Name, "request_id", r.ID, "error", err)
		p.observe(t, status, d, err)
		WriteError(w, r, status, msg)
		return
	}
	resp := &x.resp
	if resp.Status == 101 {
		p.tunnel(w, r, resp)
		d := time.Since(start)
		t.Balance.End(d, false)
		p.observe(t, 101, d, nil)
		return
	}

	h := w.Header()
	copyEndToEnd(h, resp.Header)
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
	d := time.Since(start)
	// An HTTP error status is an answer, not a target failure: outlier detection judges those.
	t.Balance.End(d, false)
	p.observe(t, resp.Status, d, copyErr)
}

func (p *Proxy) observe(t *upstream.Target, status int, d time.Duration, err error) {
	if p.notify != nil {
		p.notify.Exchange(p.route.Name, t, status, d, err)
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
// blamed on the right side.
type clientBody struct {
	r   io.Reader
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

var errBodyTooLarge = errors.New("request body larger than the route's max_body")

// limitedBody fails a streamed body that grows past the route's limit.
type limitedBody struct {
	r    io.Reader
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, errBodyTooLarge
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
