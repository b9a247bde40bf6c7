package transform

import (
	"net"
	"strconv"
	"strings"

	"aya/internal/httpx"
)

// respWriter applies the response edits on the way to the client. Header edits happen when
// the head is sent. A body is held back for editing only when it is JSON, unencoded, not a
// stream and within MaxSize; anything else (or a body that turns out longer than declared
// bounds) streams through untouched.
type respWriter struct {
	w httpx.ResponseWriter
	r *httpx.Request
	t *transform

	status    int
	wrote     bool // WriteHeader was called (by the handler or by Write)
	buffering bool // holding the body back for editing
	buf       []byte
}

func (rw *respWriter) start(w httpx.ResponseWriter, r *httpx.Request, t *transform) {
	rw.w, rw.r, rw.t = w, r, t
}

// maxKeptBuffer bounds the buffer a pooled writer keeps for the next response.
const maxKeptBuffer = 64 << 10

func (h *hijackWriter) release() {
	buf := h.buf[:0]
	if cap(buf) > maxKeptBuffer {
		buf = nil
	}
	*h = hijackWriter{respWriter: respWriter{buf: buf}}
	respWriters.Put(h)
}

func (rw *respWriter) Header() *httpx.Header { return rw.w.Header() }

func (rw *respWriter) WriteHeader(status int) {
	if rw.wrote {
		return
	}
	if status >= 100 && status < 200 && status != 101 {
		rw.w.WriteHeader(status) // an interim answer; the real head follows
		return
	}
	rw.wrote, rw.status = true, status
	h := rw.w.Header()
	rw.t.ResponseHeaders.applyHeader(h, rw.r)
	if rw.editable(status, *h) {
		rw.buffering = true
		return
	}
	rw.w.WriteHeader(status)
}

// editable decides whether the body is held back for editing.
func (rw *respWriter) editable(status int, h httpx.Header) bool {
	b := &rw.t.ResponseBody
	if b.empty() || rw.r.Method == "HEAD" || status < 200 || status == 204 || status == 304 {
		return false
	}
	if !isJSON(h.Get("Content-Type")) || encoded(h) {
		return false
	}
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
		return err == nil && n <= b.MaxSize
	}
	return true // unknown length: held up to MaxSize, then streamed
}

func (rw *respWriter) Write(p []byte) (int, error) {
	if !rw.wrote {
		rw.WriteHeader(200)
	}
	if !rw.buffering {
		return rw.w.Write(p)
	}
	if int64(len(rw.buf)+len(p)) > rw.t.ResponseBody.MaxSize {
		// Beyond the bound: give up editing and send what was held, then stream.
		rw.buffering = false
		rw.w.WriteHeader(rw.status)
		if len(rw.buf) > 0 {
			if _, err := rw.w.Write(rw.buf); err != nil {
				return 0, err
			}
		}
		return rw.w.Write(p)
	}
	rw.buf = append(rw.buf, p...)
	return len(p), nil
}

// Flush is held back while the body is buffered: it is sent whole once edited.
func (rw *respWriter) Flush() error {
	if rw.buffering {
		return nil
	}
	return rw.w.Flush()
}

// SetTrailer passes trailers through (gRPC needs them; gRPC bodies are never edited).
func (rw *respWriter) SetTrailer(h httpx.Header) {
	if tw, ok := rw.w.(httpx.TrailerWriter); ok {
		tw.SetTrailer(h)
	}
}

// finish sends a held-back body, edited when it could be, unedited otherwise.
func (rw *respWriter) finish() {
	if !rw.buffering {
		return
	}
	rw.buffering = false
	out, err := rw.buf, error(nil)
	if len(rw.buf) > 0 {
		out, err = rw.t.ResponseBody.apply(rw.buf, rw.r)
	}
	if err != nil {
		rw.t.Log.Debug("transform: response body left unedited", "request_id", rw.r.ID, "error", err)
		out = rw.buf
	}
	rw.w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	rw.w.WriteHeader(rw.status)
	rw.w.Write(out)
}

// hijackWriter is respWriter over a writer that can hand over its connection (WebSocket). It
// is what the pool holds, so that either kind is served without an allocation.
type hijackWriter struct {
	respWriter
	hj httpx.Hijacker
}

func (h *hijackWriter) Hijack() (net.Conn, []byte, error) { return h.hj.Hijack() }
