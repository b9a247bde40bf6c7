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
	status   int
	bytes    int64
	first    time.Time // when the head was written; zero until then
	hijacked bool
}

func (w *recWriter) reset(inner httpx.ResponseWriter) {
	*w = recWriter{w: inner}
}

func (w *recWriter) Header() *httpx.Header { return w.w.Header() }

func (w *recWriter) WriteHeader(status int) {
	if w.status == 0 && status >= 200 {
		w.status = status
		w.first = time.Now()
	}
	w.w.WriteHeader(status)
}

func (w *recWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
		w.first = time.Now()
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
			w.status = 101
			w.first = time.Now()
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
