package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unsafe"

	"aya/internal/httpx"
)

// Connection states, for Shutdown: only a connection waiting for a request may be closed
// under its feet.
const (
	stateActive int32 = iota
	stateIdle
	stateClosed
)

// readPhase says which timeout governs the next read from the socket.
type readPhase uint8

const (
	phaseHead readPhase = iota // a request head is arriving: fixed deadline, set on entry
	phaseIdle                  // waiting for the next request: IdleTimeout
	phaseBody                  // reading a request body: BodyReadTimeout since the last read
)

// maxDrain is how much unread request body the server reads and discards after the handler
// returns to keep the connection; a longer rest costs more than a new connection.
const maxDrain = 256 << 10

// h2Preface is the HTTP/2 client connection preface (RFC 9113 §3.4).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// conn is one client connection. Everything a request needs lives here and is reused for
// every request on the connection, which is how the steady state allocates nothing.
type conn struct {
	srv    *Server
	cfg    *serverConfig
	nc     net.Conn
	br     *bufio.Reader // reads through conn.Read (deadlines)
	bw     *bufio.Writer // writes through conn.Write (deadlines)
	ctx    context.Context
	cancel context.CancelFunc
	remote netip.AddrPort
	local  netip.AddrPort
	tls    *tls.ConnectionState
	state  atomic.Int32
	// busySince is the liveness tick at which the running handler started, 0 when none runs
	// (see Server.watchClients).
	busySince atomic.Int64

	phase    readPhase
	rdl, wdl time.Time // deadlines currently set on nc
	served   int       // requests served so far

	scan    headScanner
	hbuf    []byte // request head when it did not arrive whole in br
	hdrs    httpx.Header
	params  []httpx.Param
	req     httpx.Request
	framing reqFraming
	body    requestBody
	cr      chunkedReader
	rw      response
	scratch []byte // for draining chunked bodies, allocated on first need

	handedOff bool // hijacked or given to OnH2C: not ours to close
	linger    bool // the peer may still be sending: half-close before closing
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, cfg: &s.cfg, nc: nc}
	c.ctx, c.cancel = context.WithCancel(s.cfg.base)
	c.remote = addrPort(nc.RemoteAddr())
	c.local = addrPort(nc.LocalAddr())
	c.hdrs = make(httpx.Header, 0, 32)
	c.params = make([]httpx.Param, 0, 8)
	c.body.c = c
	c.rw.c = c
	c.rw.own = make(httpx.Header, 0, 32)
	c.rw.header = c.rw.own
	return c
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case nil:
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// serve runs the connection until it closes, is hijacked or is handed to OnH2C.
func (c *conn) serve() {
	defer c.close()
	// The first request is held to ReadHeaderTimeout from the accept, TLS handshake included:
	// a connection that never sends anything is a slowloris too.
	deadline := time.Now().Add(c.cfg.readHeaderTimeout)
	c.setReadDeadline(deadline)
	tlsState, err := connTLS(c.ctx, c.nc, deadline)
	if err != nil {
		c.cfg.log.Debug("h1: TLS handshake failed", "remote", c.remote, "error", err)
		return
	}
	c.tls = tlsState
	c.br = c.srv.readers.Get().(*bufio.Reader)
	c.br.Reset(c)
	c.bw = c.srv.writers.Get().(*bufio.Writer)
	c.bw.Reset(c)
	if c.srv.OnH2C != nil && c.handOffH2C() {
		return
	}
	for c.serveOne() {
	}
}

// close releases everything the connection holds. A hijacked or handed-off net.Conn is left
// open for its new owner.
func (c *conn) close() {
	if !c.handedOff {
		c.closeSocket()
		c.srv.untrack(c)
	}
	c.srv.unadmit(c)
	c.cancel()
	if c.br != nil {
		c.br.Reset(nil)
		c.srv.readers.Put(c.br)
		c.bw.Reset(nil)
		c.srv.writers.Put(c.bw)
		c.br, c.bw = nil, nil
	}
}

// closeSocket closes nc. When the client may still be sending (an error answered before its
// body was read, a body too long to drain), closing at once would make the kernel answer
// with a reset that can destroy our response before the client reads it; so half-close
// first and discard what still arrives for a short while.
func (c *conn) closeSocket() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok && c.linger && c.state.Load() != stateClosed {
		if cw.CloseWrite() == nil {
			c.nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			io.Copy(io.Discard, io.LimitReader(c.nc, maxDrain))
		}
	}
	c.nc.Close()
}

// serveOne reads and answers one request; it reports whether the connection stays open.
func (c *conn) serveOne() bool {
	st, msg, err := c.readRequest()
	if err != nil {
		if c.scan.n > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			c.writeError(408, "request head not received in time")
		}
		return false
	}
	if st != 0 {
		c.writeError(st, msg)
		return false
	}
	c.body.reset(&c.framing)
	switch {
	case c.framing.chunked:
		c.cr.reset(c.br, &c.req.Trailer, chunkLimits{MaxTrailerBytes: c.cfg.maxHeaderBytes, MaxTrailerFields: c.cfg.maxHeaderCount})
		c.req.Body = &c.body
	case c.framing.contentLength > 0:
		c.req.Body = &c.body
	default:
		c.req.Body = httpx.NoBody
	}
	c.rw.reset(&c.req)

	c.busySince.Store(c.srv.tick.Load())
	c.runHandler()
	c.busySince.Store(0)
	c.served++
	if c.rw.hijacked {
		return false
	}
	c.rw.finish()
	if c.rw.closeAfter || c.rw.err != nil || c.req.Close {
		// Unread input (a body, pipelined requests) would make our close a reset that can
		// destroy the response in flight.
		c.linger = c.linger || !c.body.done() || c.br.Buffered() > 0
		return false
	}
	if !c.body.drain() {
		c.linger = true
		return false
	}
	return !c.srv.shutting.Load()
}

// readRequest reads and parses the next request head into c.req and c.framing. The common
// case, a head that arrives whole in one read, is parsed in place in br's buffer: one pass,
// no copy. Otherwise the head is gathered in c.hbuf (see gatherHead) and parsed there.
func (c *conn) readRequest() (status int, msg string, err error) {
	c.scan.n = 0
	if c.br.Buffered() == 0 {
		if err := c.waitRequest(); err != nil {
			return 0, "", err
		}
	}
	buf, _ := c.br.Peek(c.br.Buffered())
	c.resetRequest()
	n, st, msg := parseRequest(buf, &c.req, &c.cfg.lim, &c.framing)
	c.hdrs = c.req.Header[:0] // keep what the parser grew
	if st != 0 {
		return st, msg, nil
	}
	if n > 0 {
		c.br.Discard(n)
		if c.framing.contentLength != 0 {
			// Reading the body refills br's buffer, which would overwrite the head the
			// request's strings point into; move the head out of the way first.
			c.hbuf = append(c.hbuf[:0], buf[:n]...)
			rebaseRequest(&c.req, buf[:n], c.hbuf)
		}
		return 0, "", nil
	}
	head, err := c.gatherHead()
	if err != nil {
		var he *headError
		if errors.As(err, &he) {
			return he.status, he.msg, nil
		}
		return 0, "", err
	}
	c.resetRequest()
	n, st, msg = parseRequest(head, &c.req, &c.cfg.lim, &c.framing)
	c.hdrs = c.req.Header[:0]
	if st == 0 && n != len(head) {
		// The scanner and the parser disagree on where the head ends: refuse rather than
		// guess.
		return 400, "malformed request head", nil
	}
	return st, msg, nil
}

func (c *conn) resetRequest() {
	c.req = httpx.Request{
		Header:     c.hdrs[:0],
		Params:     c.params[:0],
		RemoteAddr: c.remote,
		LocalAddr:  c.local,
		Listener:   c.srv.Listener,
		TLS:        c.tls,
	}
	c.req.SetContext(c.ctx)
}

// runHandler calls the handler, turning a panic into a logged 500 and a closed connection
// rather than a dead process.
func (c *conn) runHandler() {
	defer func() {
		if v := recover(); v != nil {
			c.cfg.log.Error("h1: handler panicked; connection closed",
				"listener", c.srv.Listener, "remote", c.remote, "method", c.req.Method,
				"path", c.req.Path, "panic", v, "stack", string(debug.Stack()))
			c.rw.abort()
		}
	}()
	c.srv.Handler.ServeHTTPX(&c.rw, &c.req)
}

// headError is a request head refused before parsing (size limits, line endings).
type headError struct {
	status int
	msg    string
}

func (e *headError) Error() string { return e.msg }

// errClosedIdle means Shutdown closed the connection while it waited for a request.
var errClosedIdle = errors.New("h1: idle connection closed by shutdown")

// gatherHead collects a request head that did not arrive in one piece into c.hbuf, with the
// scanner enforcing the size limits and line endings as bytes arrive.
func (c *conn) gatherHead() ([]byte, error) {
	c.scan.reset(c.cfg.maxLine, c.cfg.maxHeaderBytes)
	if cap(c.hbuf) > bufSize*4 {
		c.hbuf = nil // one huge head should not pin its buffer for the connection's life
	}
	c.hbuf = c.hbuf[:0]
	for {
		if c.br.Buffered() == 0 {
			if err := c.waitHead(); err != nil {
				return nil, err
			}
		}
		buf, _ := c.br.Peek(c.br.Buffered())
		used, done, st, msg := c.scan.scan(buf)
		if st != 0 {
			return nil, &headError{status: st, msg: msg}
		}
		c.hbuf = append(c.hbuf, buf[:used]...)
		c.br.Discard(used)
		if done {
			return c.hbuf, nil
		}
	}
}

// waitRequest waits for the first byte of the next request, under IdleTimeout (the first
// request excepted: serve set its deadline). Meanwhile the connection counts as idle, so
// Shutdown may close it.
func (c *conn) waitRequest() error {
	if c.srv.shutting.Load() {
		return errClosedIdle
	}
	if c.served > 0 {
		c.phase = phaseIdle
	}
	c.state.Store(stateIdle)
	_, err := c.br.Peek(1)
	if !c.state.CompareAndSwap(stateIdle, stateActive) {
		return errClosedIdle
	}
	return err
}

// waitHead waits for more bytes of a head already begun. The deadline is ReadHeaderTimeout
// from the first time a head turned out incomplete, and is not moved by later bytes, so a head
// is cut however slowly it dribbles.
func (c *conn) waitHead() error {
	if c.phase != phaseHead {
		c.phase = phaseHead
		c.setReadDeadline(time.Now().Add(c.cfg.readHeaderTimeout))
	}
	_, err := c.br.Peek(1)
	return err
}

// Read is the socket side of br. It moves the read deadline only when the phase needs it and
// the current one is off by more than a small slack, so a busy keep-alive connection does not
// reset its timer on every request.
func (c *conn) Read(p []byte) (int, error) {
	switch c.phase {
	case phaseIdle:
		c.slideReadDeadline(c.cfg.idleTimeout)
	case phaseBody:
		c.slideReadDeadline(c.cfg.bodyTimeout)
	}
	return c.nc.Read(p)
}

// Write is the socket side of bw, with WriteTimeout per write.
func (c *conn) Write(p []byte) (int, error) {
	now := time.Now()
	want := now.Add(c.cfg.writeTimeout)
	if outside(c.wdl, want, c.cfg.writeTimeout) {
		c.nc.SetWriteDeadline(want)
		c.wdl = want
	}
	return c.nc.Write(p)
}

func (c *conn) slideReadDeadline(d time.Duration) {
	want := time.Now().Add(d)
	if outside(c.rdl, want, d) {
		c.setReadDeadline(want)
	}
}

func (c *conn) setReadDeadline(t time.Time) {
	c.nc.SetReadDeadline(t)
	c.rdl = t
}

// outside reports whether the deadline cur is later than want or earlier than want by more
// than the slack allowed for a timeout of d (an eighth of it, at most 500ms): a timeout may fire
// that much early, never late.
func outside(cur, want time.Time, d time.Duration) bool {
	slack := min(d/8, 500*time.Millisecond)
	return cur.After(want) || cur.Before(want.Add(-slack))
}

// handOffH2C gives the connection to OnH2C if it opens with the HTTP/2 preface.
func (c *conn) handOffH2C() bool {
	for k := 1; ; {
		b, err := c.br.Peek(k) // blocks until k bytes are buffered
		if string(b) != h2Preface[:len(b)] {
			return false
		}
		if len(b) == len(h2Preface) {
			break
		}
		if err != nil {
			return false
		}
		k = min(max(c.br.Buffered(), len(b)+1), len(h2Preface))
	}
	b, _ := c.br.Peek(c.br.Buffered())
	preface := bytes.Clone(b)
	c.nc.SetDeadline(time.Time{})
	c.handedOff = true
	c.srv.untrack(c)
	c.srv.OnH2C(c.nc, preface)
	return true
}

// rebaseRequest re-points the request's strings from the old head buffer to a copy of it.
func rebaseRequest(r *httpx.Request, from, to []byte) {
	r.Method = rebase(r.Method, from, to)
	r.Target = rebase(r.Target, from, to)
	r.Path = rebase(r.Path, from, to)
	r.Query = rebase(r.Query, from, to)
	r.Host = rebase(r.Host, from, to)
	for i := range r.Header {
		f := &r.Header[i]
		f.Name = rebase(f.Name, from, to)
		f.Value = rebase(f.Value, from, to)
	}
}

// rebase returns the string at the same offset in to if s lies inside from, else s (a
// constant such as "/" or "*").
func rebase(s string, from, to []byte) string {
	if s == "" || len(from) == 0 {
		return s
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	base := uintptr(unsafe.Pointer(unsafe.SliceData(from)))
	if p < base || p >= base+uintptr(len(from)) {
		return s
	}
	off := int(p - base)
	return unsafe.String(&to[off], len(s))
}
