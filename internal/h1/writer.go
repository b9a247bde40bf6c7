package h1

import (
	"bufio"
	"errors"
	"net"
	"time"
	"unsafe"

	"aya/internal/httpx"
)

var (
	// ErrHijacked is returned by writes after Hijack.
	ErrHijacked = errors.New("h1: connection has been hijacked")
	// ErrBodyNotAllowed is returned by Write for a status that has no body (1xx, 204, 304).
	ErrBodyNotAllowed = errors.New("h1: response status does not allow a body")
	// ErrContentLength is returned by Write when the body would exceed the Content-Length the
	// handler declared.
	ErrContentLength = errors.New("h1: response body longer than its Content-Length")
	// errResponseDone is returned to a handler that writes after it returned (it kept w).
	errResponseDone = errors.New("h1: response already finished")
)

type outMode uint8

const (
	outNone    outMode = iota // no body on the wire (HEAD, 204, 304, 1xx)
	outLength                 // Content-Length
	outChunked                // Transfer-Encoding: chunked
	outClose                  // HTTP/1.0 without length: the body ends when we close
)

// response is the connection's httpx.ResponseWriter, reused for every request.
//
// The head is written lazily: body bytes of a response without a declared Content-Length are
// held (up to bufSize) until the handler returns, flushes or writes more, so a small body gets
// a Content-Length instead of chunked framing. Either way the head and the first body bytes
// leave in one write.
type response struct {
	c       *conn
	req     *httpx.Request
	header  httpx.Header
	own     httpx.Header // the header's backing array, reused across requests
	trailer httpx.Header
	pending []byte // body held back until the framing is decided

	status      int
	declared    int64 // Content-Length set by the handler; -1 when none
	written     int64 // body bytes accepted from the handler
	wroteHeader bool  // status fixed
	headWritten bool  // head serialized into bw
	hijacked    bool
	done        bool // finished or aborted: nothing more may be written
	sentCont    bool // "100 Continue" went out
	mode        outMode
	closeAfter  bool
	err         error // first write error: later writes fail fast
	cw          chunkedWriter
}

var (
	_ httpx.ResponseWriter = (*response)(nil)
	_ httpx.Hijacker       = (*response)(nil)
	_ httpx.TrailerWriter  = (*response)(nil)
)

func (w *response) reset(req *httpx.Request) {
	// A handler may have replaced the header slice with one it shares with others (a static
	// header set): only our own array is cleared and reused.
	own := w.own
	if unsafe.SliceData(w.header) == unsafe.SliceData(own) {
		own = w.header
	}
	own.Reset()
	w.trailer.Reset()
	*w = response{
		c: w.c, req: req, header: own, own: own, trailer: w.trailer, pending: w.pending[:0],
		declared: -1, closeAfter: req.Close, cw: chunkedWriter{bw: w.c.bw},
	}
}

// Header returns the response header. Framing fields (Content-Length aside, which sets the
// body length) are the engine's: Transfer-Encoding and Connection set here are replaced.
func (w *response) Header() *httpx.Header { return &w.header }

// SetTrailer records trailer fields to send after a chunked body. A response whose trailers
// are set before the head goes out is sent chunked unless it declared a Content-Length; in that
// case, or for HTTP/1.0, trailers cannot be sent and are dropped.
func (w *response) SetTrailer(h httpx.Header) {
	w.trailer = append(w.trailer[:0], h...)
}

// WriteHeader fixes the status. A 1xx status other than 101 is sent at once as an interim
// response and may be followed by the final one.
func (w *response) WriteHeader(status int) {
	if w.hijacked || w.wroteHeader {
		return
	}
	if status < 100 || status > 999 {
		w.c.cfg.log.Error("h1: handler wrote an invalid status code; sending 500", "status", status, "path", w.req.Path)
		status = 500
	}
	if status < 200 && status != 101 {
		w.writeInterim(status)
		return
	}
	w.wroteHeader = true
	w.status = status
	if v, ok := w.header.Lookup("Content-Length"); ok && (bodyAllowed(status) || status == 304) {
		if n, valid := parseContentLength(trimOWSString(v)); valid {
			w.declared = n
		} else {
			w.c.cfg.log.Warn("h1: handler set an invalid Content-Length; ignored", "value", v, "path", w.req.Path)
		}
	}
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != 204 && status != 304
}

// Write sends body bytes (see the type comment for when they actually leave).
func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, ErrHijacked
	}
	if w.done {
		return 0, errResponseDone
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.wroteHeader {
		w.WriteHeader(200)
	}
	if !bodyAllowed(w.status) {
		return 0, ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		w.closeAfter = true
		return 0, ErrContentLength
	}
	w.written += int64(len(p))
	if w.req.Method == "HEAD" {
		return len(p), nil
	}
	if !w.headWritten {
		if w.declared < 0 && len(w.pending)+len(p) <= bufSize {
			w.pending = append(w.pending, p...)
			return len(p), nil
		}
		w.writeHead(false)
	}
	return w.writeBody(p)
}

func (w *response) writeBody(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	var (
		n   int
		err error
	)
	switch w.mode {
	case outChunked:
		n, err = w.cw.Write(p)
	case outLength, outClose:
		n, err = w.c.bw.Write(p)
	}
	if err != nil {
		w.fail(err)
	}
	return n, err
}

// Flush sends everything written so far to the client now.
func (w *response) Flush() error {
	if w.hijacked {
		return ErrHijacked
	}
	if w.done {
		return errResponseDone
	}
	if w.err != nil {
		return w.err
	}
	if !w.wroteHeader {
		w.WriteHeader(200)
	}
	if !w.headWritten {
		w.writeHead(false)
	}
	if err := w.c.bw.Flush(); err != nil {
		w.fail(err)
	}
	return w.err
}

// fail records a write error: the client is gone or stalled, so later writes fail at once,
// the connection closes, and the request context is canceled so the handler stops working
// for nobody.
func (w *response) fail(err error) {
	if w.err == nil {
		w.err = err
		w.closeAfter = true
		w.c.cancel()
	}
}

// Hijack hands the connection to the caller, with any bytes already read past the request
// head. Response bytes already written are flushed first; the server forgets the connection.
func (w *response) Hijack() (net.Conn, []byte, error) {
	if w.hijacked {
		return nil, nil, ErrHijacked
	}
	if w.done {
		return nil, nil, errResponseDone
	}
	if w.wroteHeader && !w.headWritten {
		w.writeHead(false)
	}
	if err := w.c.bw.Flush(); err != nil {
		return nil, nil, err
	}
	w.hijacked = true
	c := w.c
	c.handedOff = true
	c.srv.untrack(c)
	c.nc.SetDeadline(time.Time{})
	var buffered []byte
	if n := c.br.Buffered(); n > 0 {
		b, _ := c.br.Peek(n)
		buffered = append([]byte(nil), b...)
		c.br.Discard(n)
	}
	return c.nc, buffered, nil
}

// sendContinue answers "Expect: 100-continue" when the handler starts reading the body,
// unless a final response is already under way.
func (w *response) sendContinue() {
	if w.headWritten || w.sentCont || w.err != nil || w.hijacked {
		return
	}
	w.sentCont = true
	w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	if err := w.c.bw.Flush(); err != nil {
		w.fail(err)
	}
}

// writeInterim sends a 1xx response now (103 Early Hints carries the current header).
func (w *response) writeInterim(status int) {
	if w.req.ProtoMinor == 0 || w.headWritten || w.err != nil {
		return // HTTP/1.0 clients do not understand 1xx
	}
	if status == 100 {
		if w.sentCont {
			return
		}
		w.sentCont = true
	}
	bw := w.c.bw
	writeStatusLine(bw, status)
	for _, f := range w.header {
		if validField(f) && !isFramingField(f.Name) {
			writeField(bw, f.Name, f.Value)
		}
	}
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		w.fail(err)
	}
}

// writeHead decides the framing and serializes the status line and header into bw, followed
// by any held-back body. final says the handler has returned, so held-back bytes are the
// whole body.
func (w *response) writeHead(final bool) {
	w.headWritten = true
	req := w.req
	var length int64 = -1
	switch {
	case !bodyAllowed(w.status):
		w.mode = outNone
		if w.status == 304 {
			length = w.declared
		}
	case req.Method == "HEAD":
		w.mode = outNone
		length = w.declared
		if length < 0 && final && w.written > 0 {
			length = w.written
		}
	case w.declared >= 0:
		w.mode, length = outLength, w.declared
	case final && (len(w.trailer) == 0 || req.ProtoMinor == 0):
		w.mode, length = outLength, int64(len(w.pending))
		w.declared = length
	case req.ProtoMinor == 1:
		w.mode = outChunked
	default:
		w.mode = outClose
		w.closeAfter = true
	}
	if req.Close || w.c.srv.shutting.Load() || w.c.body.wontDrain() {
		w.closeAfter = true
	}

	bw := w.c.bw
	writeStatusLine(bw, w.status)
	hasDate := false
	for _, f := range w.header {
		switch {
		case !validField(f):
			w.c.cfg.log.Warn("h1: handler set an invalid response header field; dropped", "name", f.Name, "path", req.Path)
			continue
		case w.status == 101 && (httpx.EqualFold(f.Name, "Connection") || httpx.EqualFold(f.Name, "Upgrade")):
		case isFramingField(f.Name):
			if httpx.EqualFold(f.Name, "Connection") && hasToken(f.Value, "close") {
				w.closeAfter = true
			}
			continue
		case len(f.Name) == 4 && httpx.EqualFold(f.Name, "Date"):
			hasDate = true
		}
		writeField(bw, f.Name, f.Value)
	}
	if !hasDate {
		bw.Write(w.c.srv.date.line())
	}
	if length >= 0 {
		bw.WriteString("Content-Length: ")
		writeInt(bw, length)
		bw.WriteString("\r\n")
	} else if w.mode == outChunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.status == 101:
		w.closeAfter = true // whatever follows is not HTTP/1.1; only a hijacker can use it
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case req.ProtoMinor == 0:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
	if len(w.pending) > 0 && w.mode != outNone {
		p := w.pending
		w.pending = w.pending[:0]
		w.writeBody(p)
	}
}

// finish completes the response after the handler returned: head if not yet written, the
// last chunk and trailers, and one flush.
func (w *response) finish() {
	if w.hijacked || w.done {
		return
	}
	w.done = true
	if !w.wroteHeader {
		w.WriteHeader(200)
	}
	if !w.headWritten && w.err == nil {
		w.writeHead(true)
	}
	switch w.mode {
	case outChunked:
		if w.err != nil {
			break
		}
		if err := w.cw.Close(w.trailer); err != nil {
			w.c.cfg.log.Warn("h1: handler set invalid trailers; dropped", "path", w.req.Path, "error", err)
			w.cw.Close(nil)
		}
	case outLength:
		if w.written < w.declared && w.req.Method != "HEAD" {
			// The client is waiting for bytes that will never come; closing tells it.
			w.closeAfter = true
		}
	}
	if w.err == nil {
		if err := w.c.bw.Flush(); err != nil {
			w.fail(err)
		}
	}
}

// abort ends a response after a handler panic: a 500 if nothing went out yet, and in every
// case a closed connection.
func (w *response) abort() {
	w.closeAfter = true
	if w.hijacked || w.done {
		return
	}
	w.done = true
	if !w.headWritten && w.err == nil {
		w.pending = w.pending[:0]
		w.c.writeError(500, "internal error")
	}
}

// isFramingField reports the fields the engine writes itself.
func isFramingField(name string) bool {
	switch len(name) {
	case 10:
		return httpx.EqualFold(name, "Connection") || httpx.EqualFold(name, "Keep-Alive")
	case 14:
		return httpx.EqualFold(name, "Content-Length")
	case 17:
		return httpx.EqualFold(name, "Transfer-Encoding")
	}
	return false
}

// validField guards the wire against a handler (or an upstream it copies from) putting CR,
// LF or other control bytes into a field: that would forge header lines or a whole response.
func validField(f httpx.Field) bool {
	return validTokenString(f.Name) && validValueString(f.Value)
}

func writeField(bw *bufio.Writer, name, value string) {
	if n := len(name) + len(value) + 4; bw.Available() < n {
		bw.Flush() // an error stays in bw and surfaces at the next flush
		if bw.Available() < n {
			bw.WriteString(name)
			bw.WriteString(": ")
			bw.WriteString(value)
			bw.WriteString("\r\n")
			return
		}
	}
	b := append(bw.AvailableBuffer(), name...)
	b = append(b, ':', ' ')
	b = append(b, value...)
	b = append(b, '\r', '\n')
	bw.Write(b)
}

// hasToken reports whether a comma-separated header value lists tok (ASCII case-insensitive).
func hasToken(v, tok string) bool {
	for v != "" {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		if httpx.EqualFold(trimOWSString(v[:i]), tok) {
			return true
		}
		v = v[min(i+1, len(v)):]
	}
	return false
}

func trimOWSString(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
