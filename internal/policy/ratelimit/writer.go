package ratelimit

import (
	"errors"
	"net"
	"strconv"
	"time"
	"unsafe"

	"aya/internal/httpx"
	"aya/internal/state"
)

// headerWriter adds the RateLimit headers (and Retry-After on a denial) to the response head
// as it passes, so they are on every answer: the upstream's, another policy's, or aya's 429.
// Setting them on the way back, not before calling next, keeps them from being dropped by a
// handler that resets the header (as aya's error writer does).
type headerWriter struct {
	w    httpx.ResponseWriter
	d    state.Decision
	set  bool // the decision is to be reported
	done bool
	// num holds the header values' digits; the values point into it, like the proxy's own
	// scratch-built values, and die with the request.
	num [4 * 20]byte
}

func (hw *headerWriter) reset(w httpx.ResponseWriter) {
	hw.w, hw.d, hw.set, hw.done = w, state.Decision{}, false, false
}

func (hw *headerWriter) Header() *httpx.Header { return hw.w.Header() }

func (hw *headerWriter) WriteHeader(status int) {
	if !hw.done && status >= 200 {
		hw.done = true
		if hw.set {
			hw.addHeaders()
		}
	}
	hw.w.WriteHeader(status)
}

func (hw *headerWriter) addHeaders() {
	h := hw.w.Header()
	buf := hw.num[:0]
	var v string
	buf, v = appendNum(buf, hw.d.Limit)
	h.Set("RateLimit-Limit", v)
	buf, v = appendNum(buf, hw.d.Remaining)
	h.Set("RateLimit-Remaining", v)
	buf, v = appendNum(buf, seconds(hw.d.Reset))
	h.Set("RateLimit-Reset", v)
	if !hw.d.Allowed {
		_, v = appendNum(buf, max(seconds(hw.d.RetryAfter), 1))
		h.Set("Retry-After", v)
	}
}

// appendNum appends n's digits to buf (which never grows past its array) and returns them
// as a string over that memory.
func appendNum(buf []byte, n int64) ([]byte, string) {
	start := len(buf)
	buf = strconv.AppendInt(buf, n, 10)
	s := buf[start:]
	return buf, unsafe.String(unsafe.SliceData(s), len(s))
}

// seconds rounds d up to whole seconds: a client that waits that long is sure to pass.
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

func (hw *headerWriter) Write(p []byte) (int, error) {
	if !hw.done {
		hw.WriteHeader(200)
	}
	return hw.w.Write(p)
}

func (hw *headerWriter) Flush() error { return hw.w.Flush() }

// SetTrailer passes trailers on when the engine can send them (gRPC needs them).
func (hw *headerWriter) SetTrailer(h httpx.Header) {
	if tw, ok := hw.w.(httpx.TrailerWriter); ok {
		tw.SetTrailer(h)
	}
}

// hijackWriter is a headerWriter over an engine that can hand over the connection, so
// WebSocket upgrades still pass a rate-limited route. Two types rather than one with a failing
// Hijack: the proxy asks for httpx.Hijacker to decide whether it can tunnel at all.
type hijackWriter struct{ headerWriter }

var errNoHijack = errors.New("ratelimit: the connection cannot be hijacked")

func (hw *hijackWriter) Hijack() (net.Conn, []byte, error) {
	if hj, ok := hw.w.(httpx.Hijacker); ok {
		return hj.Hijack()
	}
	return nil, nil, errNoHijack
}

var (
	_ httpx.TrailerWriter = (*headerWriter)(nil)
	_ httpx.Hijacker      = (*hijackWriter)(nil)
)
