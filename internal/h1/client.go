package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"aya/internal/httpx"
)

// Client is aya's pooled HTTP/1.1 client for one upstream target (one host:port). It keeps
// idle keep-alive connections to it, and in steady state an exchange allocates nothing and
// starts no goroutine: the request head is written with one write, the response head is read
// into a per-connection buffer, and resp.Body reads straight from the connection.
//
// Set the exported fields before the first Do; zero values take the defaults, and a negative
// timeout means none. Timeouts fire up to a quarter late (see armRead): re-arming a deadline
// on every request costs more than the precision is worth. A Client is safe for concurrent
// use.
type Client struct {
	// Addr is the host:port to dial.
	Addr string
	// TLS, when set, makes the client speak TLS with it. Verification (ServerName, RootCAs,
	// InsecureSkipVerify) and client certificates are the caller's to set; when ServerName is
	// empty the host of Addr is used, as net/http does. NextProtos must not offer h2.
	TLS *tls.Config
	// MaxIdle is how many idle connections are kept (default 64; negative: none).
	MaxIdle int
	// IdleTimeout closes connections idle longer than this (default 90s; negative: default).
	IdleTimeout time.Duration
	// DialTimeout bounds the TCP connect (default 5s).
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake (default 10s).
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait from the request fully written to the response
	// head read (default 60s). Interim 1xx responses do not restart it.
	ResponseHeaderTimeout time.Duration
	// ReadTimeout and WriteTimeout bound inactivity while reading the response body and while
	// writing the request (default 60s each).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// MaxHeaderBytes bounds a response head, interim ones each on their own (default 64 KiB).
	MaxHeaderBytes int
	// Dialer, when set, replaces the default TCP dialer (for tests, proxies, unix sockets).
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

	once                  sync.Once
	dialFn                func(ctx context.Context, network, addr string) (net.Conn, error)
	tlsConfig             *tls.Config
	dialTimeout           time.Duration
	tlsHandshakeTimeout   time.Duration
	responseHeaderTimeout time.Duration
	readTimeout           time.Duration
	writeTimeout          time.Duration
	maxHeaderBytes        int
	probeAfter            time.Duration // probeIdleAfter; tests shorten it
	pool                  connPool
	watch                 ctxWatch
	bodies                sync.Pool // *outBody
}

// Default settings, applied to zero fields.
const (
	DefaultMaxIdle               = 64
	DefaultIdleTimeout           = 90 * time.Second
	DefaultDialTimeout           = 5 * time.Second
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	DefaultReadTimeout           = 60 * time.Second
	DefaultWriteTimeout          = 60 * time.Second
	DefaultMaxHeaderBytes        = 64 << 10
)

const (
	// maxInterimResponses bounds the 1xx responses skipped before the final one.
	maxInterimResponses = 16
	// probeIdleAfter is how long a connection must have been idle before it is probed for a
	// close the upstream sent meanwhile. A connection idle for less is almost never closed
	// (upstream keep-alive timeouts are seconds), and the probe costs a system call; a
	// close that races past it is caught by the transparent retry instead.
	probeIdleAfter = time.Second
)

func clientDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func (c *Client) setup() {
	c.dialTimeout = clientDefault(c.DialTimeout, DefaultDialTimeout)
	c.tlsHandshakeTimeout = clientDefault(c.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	c.responseHeaderTimeout = clientDefault(c.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	c.readTimeout = clientDefault(c.ReadTimeout, DefaultReadTimeout)
	c.writeTimeout = clientDefault(c.WriteTimeout, DefaultWriteTimeout)
	c.maxHeaderBytes = clientDefault(max(c.MaxHeaderBytes, 0), DefaultMaxHeaderBytes)
	c.probeAfter = clientDefault(c.probeAfter, probeIdleAfter)
	c.pool.maxIdle = clientDefault(c.MaxIdle, DefaultMaxIdle)
	c.pool.idleTimeout = clientDefault(max(c.IdleTimeout, 0), DefaultIdleTimeout)
	c.dialFn = c.Dialer
	if c.dialFn == nil {
		d := &net.Dialer{}
		c.dialFn = d.DialContext
	}
	if c.TLS != nil {
		c.tlsConfig = c.TLS
		if c.TLS.ServerName == "" {
			c.tlsConfig = c.TLS.Clone()
			if host, _, err := net.SplitHostPort(c.Addr); err == nil {
				c.tlsConfig.ServerName = host
			}
		}
	}
	c.bodies.New = func() any { return &outBody{rec: make([]byte, 0, maxReplayBody)} }
}

// IdleConns returns how many idle connections the pool holds.
func (c *Client) IdleConns() int { return int(c.pool.nidle.Load()) }

// ActiveConns returns how many connections are in use: carrying an exchange whose body is not
// closed yet, or upgraded (101) and not closed yet.
func (c *Client) ActiveConns() int { return int(c.pool.active.Load()) }

// Close closes the idle connections and makes every later Do fail with ErrClientClosed.
// Exchanges in flight finish; their connections are closed instead of kept.
func (c *Client) Close() {
	c.once.Do(c.setup)
	c.pool.close()
}

// Do sends req to the upstream and reads the response head into resp.
//
// req must be ready to send as is: Host set as a field, hop-by-hop fields removed. Do adds only
// the framing it decides itself (Content-Length when req.ContentLength > 0, or 0 for POST, PUT
// and PATCH without a body; Transfer-Encoding: chunked with req.Trailer when it is -1 and there
// is a body) and drops any Content-Length or Transfer-Encoding found in req.Header. Bodies are
// streamed, never held whole: one of up to 64 KiB is read before it is sent, so it can be sent
// again if a reused connection turns out to be closed; a longer one is written by a goroutine
// while Do waits for the response, so an upstream that answers early (413, 401) is heard.
// req and req.Body may be used until resp.Body is closed.
//
// On success the caller must close resp.Body exactly once, and must not use resp.Body, or the
// strings of resp.Header and resp.Trailer, after that: they belong to the connection, which
// may then carry another exchange. Closing after reading the body to io.EOF returns the
// connection to the pool. A 101 response's Body is an io.ReadWriteCloser over the upgraded
// connection, which never returns to the pool.
//
// ctx bounds the whole exchange, body reads included: when it ends, blocked I/O is aborted and
// the connection closed — at its deadline exactly, and within a quarter second of a
// cancellation (see ctxWatch). Every error is an *Error; see Kind.
func (c *Client) Do(ctx context.Context, req *httpx.Request, resp *httpx.Response) error {
	c.once.Do(c.setup)
	resp.Reset()
	if c.pool.closed.Load() {
		return &Error{Kind: KindConnect, Addr: c.Addr, Op: "get connection", Err: ErrClientClosed}
	}
	if err := ctx.Err(); err != nil {
		return c.classify(ctx, "send request", err, KindCanceled)
	}
	ob, err := c.prepareBody(req)
	if err != nil {
		return err
	}
	cc, reused, err := c.getConn(ctx, ob != nil && ob.mode == reqBodyStream)
	if err == nil {
		var retry bool
		retry, err = c.exchange(ctx, cc, req, resp, ob, reused)
		if retry && reused && (ob == nil || !ob.overflow) && ctx.Err() == nil {
			// A reused connection the upstream had closed before it read anything of ours:
			// the request never reached it, so sending it again is safe for any method.
			resp.Reset()
			if cc, err = c.dial(ctx); err == nil {
				_, err = c.exchange(ctx, cc, req, resp, ob, false)
			}
		} else if retry && reused && ob != nil && ob.overflow {
			err = &Error{Kind: KindReset, Addr: c.Addr, Op: "send request", Err: errors.Join(errNoRetryBody, err)}
		}
	}
	if ob != nil && (err != nil || !cc.up.running) {
		c.putBody(ob)
	}
	return err
}

// getConn returns a pooled connection, probing it first when it has been idle for a while, or
// dials a new one. A streamed body always has the connection probed: the writer can consume
// more than the replay buffer holds before a reset comes back, so a closed connection must
// be caught before, and a system call is cheap next to such a body.
func (c *Client) getConn(ctx context.Context, probe bool) (cc *clientConn, reused bool, err error) {
	now := time.Now()
	for {
		cc = c.pool.get(now)
		if cc == nil {
			break
		}
		if !probe && now.Sub(cc.idleSince) < c.probeAfter || cc.alive(now) {
			return cc, true, nil
		}
		c.pool.drop()
		cc.closeConn()
	}
	cc, err = c.dial(ctx)
	return cc, false, err
}

// alive arms the read deadline the exchange will need anyway (the probe fails on an expired
// one) and probes the connection.
func (cc *clientConn) alive(now time.Time) bool {
	if cc.armRead(now, cc.c.responseHeaderTimeout) != nil {
		return false
	}
	return cc.probe()
}

// exchange runs one attempt on cc. On success resp is filled and cc belongs to resp.Body. On
// failure cc has been closed, and retry reports whether the failure is what a connection the
// upstream had already closed produces: no byte of a response and a reset or EOF, or, on a
// reused connection, a 408 (see below).
func (c *Client) exchange(ctx context.Context, cc *clientConn, req *httpx.Request, resp *httpx.Response, ob *outBody, reused bool) (retry bool, err error) {
	cc.watch(ctx)
	var reqClose bool
	cc.wbuf, reqClose, err = appendRequestHead(cc.wbuf[:0], req, ob)
	if err != nil {
		// Nothing was sent: the connection is as good as it was.
		cc.reusable = true
		cc.release()
		return false, &Error{Kind: KindRequest, Addr: c.Addr, Op: "write request", Err: err}
	}

	stream := ob != nil && ob.mode == reqBodyStream
	var werr error
	if stream {
		cc.up.start(req, ob)
	} else {
		werr = cc.writeRequest(ob)
		if werr != nil && !isStale(werr) {
			cc.fail()
			return false, c.classify(ctx, "write request", werr, KindReset)
		}
		// A reset or broken pipe may mean the upstream answered early and closed: read what
		// it sent before deciding.
		cc.armRead(time.Now(), c.responseHeaderTimeout)
	}

	got, herr := cc.readResponse(req, resp)
	final := herr == nil && resp.Status != 101
	if stream {
		herr = cc.up.afterHead(final, herr)
	}
	if herr == nil && (werr != nil || reqClose) {
		cc.rh.keepAlive = false
	}
	if herr != nil {
		cc.fail()
		stale := !got && (isStale(herr) || isStale(werr))
		if stale {
			herr = fmt.Errorf("connection closed before any response byte: %w", herr)
		}
		e := c.classify(ctx, "read response header", herr, KindReset)
		return stale && e.Kind == KindReset && ctx.Err() == nil, e
	}

	if resp.Status == 101 {
		return cc.upgrade(req, resp)
	}
	if resp.Status == 408 && reused && !cc.up.running && (ob == nil || !ob.overflow) {
		// Some servers send 408 on a connection idle for too long, then close it: on a
		// reused connection that is the likely author, not an answer to this request. net/http
		// reads it the same way.
		cc.fail()
		return true, &Error{Kind: KindReset, Addr: c.Addr, Op: "read response header", Err: errIdle408}
	}
	cc.body.start(resp)
	resp.Body = &cc.body
	return false, nil
}

// fail ends an exchange that went wrong: the connection is closed, never reused.
func (cc *clientConn) fail() {
	cc.unwatch()
	cc.reusable = false
	cc.c.pool.drop()
	cc.closeConn()
}

// readResponse reads response heads until the final one, skipping interim 1xx responses
// (100 Continue, 103 Early Hints) but not 101, which ends the exchange as HTTP/1.1.
func (cc *clientConn) readResponse(req *httpx.Request, resp *httpx.Response) (got bool, err error) {
	for range maxInterimResponses {
		head, g, err := readRespHead(cc.br, cc.head, cc.c.maxHeaderBytes)
		cc.head = head
		got = got || g
		if err != nil {
			return got, err
		}
		if err := parseResponseHead(head, req.Method, resp, &cc.rh); err != nil {
			return true, err
		}
		if resp.Status >= 200 || resp.Status == 101 {
			return true, nil
		}
	}
	return true, errTooManyInterim
}
