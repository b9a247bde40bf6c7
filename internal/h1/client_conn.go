package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// clientConn is one upstream connection with everything an exchange on it needs, allocated
// once per connection and reused for every exchange it carries: the read buffer, the head
// buffer the response's strings point into, the body readers and the request writer state.
type clientConn struct {
	c    *Client
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer // created on the first streamed request body
	cw   chunkedWriter // over bw
	// raw reaches the TCP socket under conn (under TLS too) for the liveness probe; nil when
	// the connection offers none (a custom Dialer's wrapper).
	raw   syscall.RawConn
	isTLS bool

	wbuf []byte // request head, and a small body after it, as written
	head []byte // current response head: resp.Header's strings point here
	rh   respHead

	body respBody
	upg  upgradeConn
	up   upload
	cr   chunkedReader

	// Exchange state.
	ctx       context.Context
	stopWatch func() bool // stops context.AfterFunc's watch; nil when not used
	watched   bool        // the exchange is in the client's ctxWatch
	watchIdx  int         // index in ctxWatch.entries; guarded by its mutex
	onCancel  func()      // cancelIO as a func value, made once
	canceled  atomic.Bool
	reusable  bool // the exchange left the connection clean for another one

	// rdl and wdl are the deadlines armed on conn, so an exchange re-arms only when they are
	// no longer right for it (see armDeadline); clientDeadlineUnknown forces the next arming.
	rdl, wdl  time.Time
	idleSince time.Time

	probeFn  func(uintptr) bool // probeFD as a func value, made once
	probeBuf [1]byte
	probeOK  bool // the probe saw nothing pending and no error
}

// clientDeadlineUnknown marks a deadline someone else may have changed (an interrupted writer, a
// cancellation): never equal to one the client would arm, so the next arming always happens.
var clientDeadlineUnknown = time.Unix(1, 0)

const (
	clientReadBufferSize  = 4 << 10
	clientWriteBufferSize = 4 << 10
	// maxKeptBuf bounds the request and response head buffers a connection keeps between
	// exchanges, so an occasional large head or small body does not pin memory on every idle
	// connection.
	maxKeptBuf = 32 << 10
)

func (c *Client) newClientConn(conn net.Conn) *clientConn {
	cc := &clientConn{c: c, conn: conn, br: bufio.NewReaderSize(conn, clientReadBufferSize)}
	cc.onCancel = cc.cancelIO
	cc.probeFn = cc.probeFD
	cc.rdl, cc.wdl = clientDeadlineUnknown, clientDeadlineUnknown
	tcp := conn
	if tc, ok := conn.(*tls.Conn); ok {
		cc.isTLS = true
		tcp = tc.NetConn()
	}
	if sc, ok := tcp.(syscall.Conn); ok {
		cc.raw, _ = sc.SyscallConn()
	}
	cc.body.cc = cc
	cc.upg.cc = cc
	cc.up.cc = cc
	cc.up.done = make(chan struct{}, 1)
	return cc
}

// dial opens a new connection, with the TLS handshake when the client has a TLS config.
// Every failure is KindConnect (or the context's own error): nothing was sent.
func (c *Client) dial(ctx context.Context) (*clientConn, error) {
	dctx, cancel := withTimeout(ctx, c.dialTimeout)
	conn, err := c.dialFn(dctx, "tcp", c.Addr)
	cancel()
	if err != nil {
		return nil, c.classify(ctx, "dial", err, KindConnect).asConnect()
	}
	if c.tlsConfig != nil {
		tc := tls.Client(conn, c.tlsConfig)
		hctx, cancel := withTimeout(ctx, c.tlsHandshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err == nil {
			if p := tc.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
				err = errBadALPN
			}
		}
		if err != nil {
			conn.Close()
			return nil, c.classify(ctx, "tls handshake", err, KindConnect).asConnect()
		}
		conn = tc
	}
	c.pool.track()
	return c.newClientConn(conn), nil
}

// withTimeout is context.WithTimeout where d <= 0 means no timeout.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// asConnect keeps a connect-phase timeout KindConnect: nothing was sent, so the proxy may
// try another target, and Timeout() still reports it for a 504.
func (e *Error) asConnect() *Error {
	if e.Kind == KindTimeout && e.Err != nil && !isContextErr(e.Err) {
		e.Kind = KindConnect
	}
	return e
}

// armRead makes sure the read deadline is right for an operation that may take d from now.
// Re-arming a deadline costs a runtime timer update, so an armed deadline up to d/4 later
// than needed is kept: timeouts then fire between d and 1.25·d, and a busy connection re-arms
// once every d/4 instead of on every read. d <= 0 means no deadline.
func (cc *clientConn) armRead(now time.Time, d time.Duration) error {
	dl, keep := nextDeadline(cc.rdl, now, d)
	if keep {
		return nil
	}
	cc.rdl = dl
	return cc.setReadDeadline(dl)
}

// armWrite is armRead for writes.
func (cc *clientConn) armWrite(now time.Time, d time.Duration) error {
	dl, keep := nextDeadline(cc.wdl, now, d)
	if keep {
		return nil
	}
	cc.wdl = dl
	return cc.setWriteDeadline(dl)
}

// setReadDeadline and setWriteDeadline change a deadline without undoing a cancellation:
// cancelIO marks the connection before it expires the deadlines, so a setter that finds no
// mark is followed by cancelIO's expiry, and one that finds it expires them again itself.
func (cc *clientConn) setReadDeadline(t time.Time) error {
	err := cc.conn.SetReadDeadline(t)
	if cc.canceled.Load() {
		cc.conn.SetDeadline(clientDeadlineUnknown)
	}
	return err
}

func (cc *clientConn) setWriteDeadline(t time.Time) error {
	err := cc.conn.SetWriteDeadline(t)
	if cc.canceled.Load() {
		cc.conn.SetDeadline(clientDeadlineUnknown)
	}
	return err
}

func nextDeadline(cur, now time.Time, d time.Duration) (time.Time, bool) {
	if d <= 0 {
		return time.Time{}, cur.IsZero()
	}
	want := now.Add(d)
	if !cur.Before(want) && cur.Sub(want) <= d/4 {
		return cur, true
	}
	return want.Add(d / 4), false
}

// cancelIO runs (from context.AfterFunc or ctxWatch) when the exchange's context is done: a past deadline
// wakes every blocked read and write on the connection, which is then closed, never reused.
func (cc *clientConn) cancelIO() {
	cc.canceled.Store(true)
	cc.conn.SetDeadline(clientDeadlineUnknown)
}

// watch arranges for ctx's end to abort I/O on cc. A context that can never end (Background)
// costs nothing; one with a deadline is watched by context.AfterFunc, exactly; one that can
// only be canceled is polled by the client's ctxWatch, without allocating.
func (cc *clientConn) watch(ctx context.Context) {
	cc.ctx = ctx
	if ctx.Done() == nil {
		return
	}
	if _, ok := ctx.Deadline(); ok {
		cc.stopWatch = context.AfterFunc(ctx, cc.onCancel)
		return
	}
	cc.watched = true
	cc.c.watch.add(cc, ctx)
}

// unwatch stops the context watch. It reports false when the cancellation already fired (or
// is firing), in which case the connection's deadlines are spoiled and it must not be reused.
func (cc *clientConn) unwatch() bool {
	ok := true
	if cc.stopWatch != nil {
		ok = cc.stopWatch()
		cc.stopWatch = nil
	}
	if cc.watched {
		cc.watched = false
		cc.c.watch.remove(cc)
	}
	cc.ctx = nil
	return ok && !cc.canceled.Load()
}

// closeConn closes the connection for good.
func (cc *clientConn) closeConn() {
	cc.conn.Close()
}

// release ends an exchange: the connection goes back to the pool when it is clean, else it
// is closed. Either way it is no longer active.
func (cc *clientConn) release() {
	clean := cc.unwatch() && cc.reusable && cc.br.Buffered() == 0
	cc.reusable = false
	if cap(cc.wbuf) > maxKeptBuf {
		cc.wbuf = nil
	}
	if cap(cc.head) > maxKeptBuf {
		cc.head = nil
	}
	if clean {
		cc.c.pool.put(cc, time.Now())
		return
	}
	cc.c.pool.drop()
	cc.closeConn()
}
