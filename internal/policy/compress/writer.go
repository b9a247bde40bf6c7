package compress

import (
	"strconv"

	"aya/internal/httpx"
)

// Writer states: what the response has become so far.
const (
	stateHead     = iota // nothing sent yet
	statePending         // compressible, length unknown: holding back up to min_size bytes
	statePlain           // sent as it is
	stateCompress        // sent through an encoder
)

// writer decides per response whether to compress, from the head and (when the length is
// unknown) the first min_size bytes, then streams. It never holds back more than min_size
// bytes, and a Flush before the decision decides at once: a flushed body of unknown length is
// a stream, and a stream is compressed (its flushes still go out as they come).
type writer struct {
	c       *Compressor
	w       httpx.ResponseWriter
	coding  coding // the client's pick; none: only Vary is added
	state   int8
	status  int
	trailer bool
	buf     []byte // the held-back start of a pending body
	enc     *pooledEncoder
}

func (cw *writer) Header() *httpx.Header { return cw.w.Header() }

func (cw *writer) WriteHeader(status int) {
	if cw.state != stateHead {
		return
	}
	if status < 200 {
		cw.w.WriteHeader(status) // informational (103 Early Hints): the final head follows
		return
	}
	cw.status = status
	h := cw.w.Header()
	if !cw.c.eligible(*h, status) {
		cw.plain()
		return
	}
	if !hasToken(*h, "Vary", "Accept-Encoding") && !hasToken(*h, "Vary", "*") {
		h.Add("Vary", "Accept-Encoding")
	}
	if cw.coding == none {
		cw.plain()
		return
	}
	switch n := contentLength(*h); {
	case n == 0 || n > 0 && n < cw.c.minSize:
		cw.plain()
	case n >= 0 || cw.c.minSize == 0:
		cw.start()
	default:
		cw.state = statePending
	}
}

func (cw *writer) Write(p []byte) (int, error) {
	switch cw.state {
	case stateHead:
		cw.WriteHeader(200)
		return cw.Write(p)
	case statePending:
		if len(cw.buf)+len(p) < cw.c.minSize {
			cw.buf = append(cw.buf, p...)
			return len(p), nil
		}
		if err := cw.start(); err != nil {
			return 0, err
		}
		fallthrough
	case stateCompress:
		return cw.enc.enc.Write(p)
	}
	return cw.w.Write(p)
}

func (cw *writer) Flush() error {
	switch cw.state {
	case stateHead:
		cw.WriteHeader(200)
		return cw.Flush()
	case statePending:
		if err := cw.start(); err != nil {
			return err
		}
		fallthrough
	case stateCompress:
		if err := cw.enc.enc.Flush(); err != nil {
			return err
		}
	}
	return cw.w.Flush()
}

// SetTrailer passes trailers on (gRPC needs them).
func (cw *writer) SetTrailer(h httpx.Header) {
	if tw, ok := cw.w.(httpx.TrailerWriter); ok {
		cw.trailer = true
		tw.SetTrailer(h)
	}
}

func (cw *writer) plain() {
	cw.state = statePlain
	cw.w.WriteHeader(cw.status)
}

// start switches to compressing: it rewrites the head, sends it, and feeds the encoder what
// was held back.
func (cw *writer) start() error {
	h := cw.w.Header()
	h.Set("Content-Encoding", cw.coding.String())
	h.Del("Content-Length")
	h.Del("Accept-Ranges")
	// The compressed bytes differ from the upstream's, so a strong validator would lie; a weak
	// one still lets the upstream answer If-None-Match with 304.
	for i := range *h {
		f := &(*h)[i]
		if httpx.EqualFold(f.Name, "ETag") && len(f.Value) > 0 && f.Value[0] == '"' {
			f.Value = "W/" + f.Value
		}
	}
	cw.state = stateCompress
	cw.enc = cw.c.pools[cw.coding].get(cw.w)
	cw.w.WriteHeader(cw.status)
	if len(cw.buf) > 0 {
		_, err := cw.enc.enc.Write(cw.buf)
		cw.buf = cw.buf[:0]
		return err
	}
	return nil
}

// finish ends the response once the handler returned: a pending body turned out smaller than
// min_size and goes out as it is, with its length now known; a compressed one gets its end.
func (cw *writer) finish() {
	switch cw.state {
	case statePending:
		if !cw.trailer {
			cw.w.Header().Set("Content-Length", strconv.Itoa(len(cw.buf)))
		}
		cw.plain()
		cw.w.Write(cw.buf)
	case stateCompress:
		cw.enc.enc.Close()
		cw.c.pools[cw.coding].put(cw.enc)
	}
}

// contentLength is the response's declared length, -1 when unknown or malformed.
func contentLength(h httpx.Header) int {
	v, ok := h.Lookup("Content-Length")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

var _ httpx.TrailerWriter = (*writer)(nil)
