package gateway

import (
	"errors"
	"io"
	"net"
	"time"

	"aya/internal/httpx"
)

// recWriter passes a response through while noting what the access log and metrics need: the
// status, the body bytes, and when the answer began. It lives in the pooled reqState.
type recWriter struct {
	w        httpx.ResponseWriter
	start    time.Time // the request's arrival
	status   int
	bytes    int64
	ttfb     time.Duration // arrival to the head's write; 0 until then
	hijacked bool
}

func (w *recWriter) reset(inner httpx.ResponseWriter, start time.Time) {
	*w = recWriter{w: inner, start: start}
}

// began notes the time to the answer's head. time.Since reads only the monotonic clock: half
// the cost of time.Now, which matters at a few clock reads per request.
func (w *recWriter) began(status int) {
	w.status = status
	w.ttfb = max(time.Since(w.start), 1)
}

func (w *recWriter) Header() *httpx.Header { return w.w.Header() }

func (w *recWriter) WriteHeader(status int) {
	if w.status == 0 && status >= 200 {
		w.began(status)
	}
	w.w.WriteHeader(status)
}

func (w *recWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.began(200)
	}
	n, err := w.w.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *recWriter) Flush() error { return w.w.Flush() }

// SetTrailer passes trailers on when the engine can send them (gRPC needs them).
func (w *recWriter) SetTrailer(h httpx.Header) {
	if tw, ok := w.w.(httpx.TrailerWriter); ok {
		tw.SetTrailer(h)
	}
}

// hijackWriter is a recWriter over an engine that can hand over the connection (HTTP/1.1), so
// WebSocket upgrades still work through it. Two types rather than one with a failing Hijack:
// the proxy asks for httpx.Hijacker to decide whether it can tunnel at all.
type hijackWriter struct{ recWriter }

var errNoHijack = errors.New("gateway: the connection cannot be hijacked")

func (w *hijackWriter) Hijack() (net.Conn, []byte, error) {
	hj, ok := w.w.(httpx.Hijacker)
	if !ok {
		return nil, nil, errNoHijack
	}
	c, buf, err := hj.Hijack()
	if err == nil {
		w.hijacked = true
		if w.status == 0 {
			w.began(101)
		}
	}
	return c, buf, err
}

// countingBody counts the request body bytes the handler reads.
type countingBody struct {
	r io.Reader
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

var (
	_ httpx.TrailerWriter = (*recWriter)(nil)
	_ httpx.Hijacker      = (*hijackWriter)(nil)
)
