package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"aya/internal/config"
	"aya/internal/h1"
	"aya/internal/httpx"
)

// listener is one bound socket with its engines: the h1 server for HTTP/1.x, and net/http's
// HTTP/2 server for TLS connections that chose h2 by ALPN and for h2c prior-knowledge
// connections. The HTTP/2 server never accepts by itself: the accept loop hands it connections
// through h2ln once it knows they speak HTTP/2. With http3, h3 serves QUIC on the same port
// number over UDP, and alt advertises it on the h1 and h2 responses.
type listener struct {
	cfg   config.Listener
	ln    net.Listener
	h1    *h1.Server
	h2    *http.Server
	h2ln  *connListener
	h2h   *h2Adapter
	tls   *tls.Config
	certs *certStore
	limit *connLimiter
	h3    *h3Server
	alt   *altSvc
	log   *slog.Logger

	stopCerts context.CancelFunc
	closed    atomic.Bool
	h2conns   atomic.Int64 // open HTTP/2 connections, for metrics
}

func newListener(cfg config.Listener, d *dispatcher, log *slog.Logger) (*listener, error) {
	l := &listener{cfg: cfg, log: log.With("listener", cfg.Name)}
	t := cfg.Timeouts
	lim := cfg.Limits
	var handler httpx.Handler = d
	if cfg.HTTP3 && cfg.TLS != nil {
		l.alt = &altSvc{next: d}
		handler = l.alt
	}
	l.h1 = &h1.Server{
		Handler:             handler,
		Listener:            cfg.Name,
		ReadHeaderTimeout:   t.ReadHeader.D(),
		IdleTimeout:         t.Idle.D(),
		BodyReadTimeout:     t.BodyRead.D(),
		WriteTimeout:        t.Write.D(),
		MaxRequestLineBytes: int(lim.MaxRequestLine),
		MaxHeaderBytes:      int(lim.MaxHeaderBytes),
		MaxHeaderCount:      lim.MaxHeaderCount,
		Logger:              l.log,
	}
	l.h2h = &h2Adapter{listener: cfg.Name, handler: handler}
	var protos http.Protocols
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(cfg.H2C)
	// net/http's HTTP/2 server bounds header lists (CONTINUATION floods) by MaxHeaderBytes and
	// limits rapid stream resets itself.
	l.h2 = &http.Server{
		Handler:           l.h2h,
		Protocols:         &protos,
		IdleTimeout:       t.Idle.D(),
		ReadHeaderTimeout: t.ReadHeader.D(),
		MaxHeaderBytes:    int(lim.MaxHeaderBytes),
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: int(cfg.H2.MaxConcurrentStreams),
			MaxReadFrameSize:     1 << 20,
		},
		ErrorLog: slog.NewLogLogger(l.log.Handler(), slog.LevelDebug),
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				l.h2conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				l.h2conns.Add(-1)
			}
		},
	}
	if cfg.H2C {
		l.h1.OnH2C = l.serveH2C
	}
	if cfg.TLS != nil {
		store, err := newCertStore(cfg.TLS.Certificates, l.log)
		if err != nil {
			return nil, err
		}
		l.certs = store
		if l.tls, err = serverTLS(&cfg, store); err != nil {
			return nil, err
		}
		if cfg.HTTP3 {
			l.h3 = newH3Server(&cfg, l.tls, &h3Adapter{h2Adapter{listener: cfg.Name, handler: d}}, l.log)
		}
	}
	if lim.MaxConns > 0 || lim.MaxConnsPerIP > 0 {
		l.limit = &connLimiter{max: int64(lim.MaxConns), perIP: lim.MaxConnsPerIP, byIP: map[netip.Addr]int{}}
		if l.h3 != nil {
			l.h3.limit = l.limit
		}
	}
	return l, nil
}

// listen binds the socket.
func (l *listener) listen(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", l.cfg.Address)
	if err != nil {
		return err
	}
	l.ln = ln
	if l.h3 != nil {
		host, _, _ := net.SplitHostPort(l.cfg.Address)
		port := ln.Addr().(*net.TCPAddr).Port
		if err := l.h3.listen(ctx, host, port); err != nil {
			ln.Close()
			return err
		}
		l.alt.field = altSvcField(port)
		l.ln = &h3Bound{Listener: ln, h3: l.h3}
		go l.h3.serve()
		l.log.Info("serving HTTP/3", "address", l.h3.addr().String())
	}
	l.h2ln = newConnListener(ln.Addr())
	go l.h2.Serve(l.h2ln)
	// Started here rather than in serve, which runs in its own goroutine: shutdown reads
	// stopCerts, and listen happens before it.
	if l.certs != nil {
		cctx, cancel := context.WithCancel(ctx)
		l.stopCerts = cancel
		go l.certs.watch(cctx, 2*time.Second)
	}
	return nil
}

// serve runs the accept loop until the listener is closed.
func (l *listener) serve(_ context.Context) {
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off instead of spinning.
			backoff = min(max(backoff*2, 5*time.Millisecond), time.Second)
			l.log.Warn("accept failed", "error", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if l.limit != nil {
			lc, ok := l.limit.admit(c)
			if !ok {
				c.Close()
				continue
			}
			c = lc
		}
		go l.handle(c)
	}
}

func (l *listener) handle(c net.Conn) {
	if l.tls == nil {
		l.h1.ServeConn(c)
		return
	}
	tc := tls.Server(c, l.tls)
	hsTimeout := l.cfg.Timeouts.ReadHeader.D()
	if hsTimeout <= 0 {
		hsTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		l.log.Debug("TLS handshake failed", "remote", c.RemoteAddr().String(), "error", err)
		c.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		l.serveH2(tc)
		return
	}
	l.h1.ServeConn(tc)
}

func (l *listener) serveH2(c net.Conn) {
	if !l.h2ln.push(c) {
		c.Close()
	}
}

// serveH2C takes a plain connection whose first bytes were the HTTP/2 preface.
func (l *listener) serveH2C(c net.Conn, preface []byte) {
	l.serveH2(&prefixConn{Conn: c, r: io.MultiReader(bytes.NewReader(preface), c)})
}

// shutdown stops accepting and drains: h1 connections finish their current request, h2
// connections (HTTP/2 and HTTP/3) get GOAWAY and finish their streams, until ctx ends.
func (l *listener) shutdown(ctx context.Context) error {
	l.closed.Store(true)
	if l.stopCerts != nil {
		l.stopCerts()
	}
	h3done := make(chan error, 1)
	if l.h3 != nil {
		// Before l.ln.Close, which would otherwise end HTTP/3 at once (as for a reload).
		l.h3.draining.Store(true)
		go func() { h3done <- l.h3.shutdown(ctx) }()
	} else {
		h3done <- nil
	}
	l.ln.Close()
	h2done := make(chan error, 1)
	go func() { h2done <- l.h2.Shutdown(ctx) }()
	return errors.Join(l.h1.Shutdown(ctx), <-h2done, <-h3done)
}

// connListener is a net.Listener fed by the accept loop, so net/http's server can own HTTP/2
// connections (and their graceful GOAWAY on shutdown) without owning the socket.
type connListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closer sync.Once
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// push hands c to the server; false when the listener is closed.
func (l *connListener) push(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.closer.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

// prefixConn replays bytes the h1 engine already read.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// connLimiter caps open connections per listener and per client IP. Over a cap the new
// connection is closed at once: cheaper for aya than queueing it, and clear to the client.
type connLimiter struct {
	max   int64
	perIP int
	open  atomic.Int64
	mu    sync.Mutex
	byIP  map[netip.Addr]int
}

func (cl *connLimiter) admit(c net.Conn) (net.Conn, bool) {
	var ip netip.Addr
	if cl.perIP > 0 {
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
			ip = ap.Addr().Unmap()
		}
	}
	if !cl.take(ip) {
		return nil, false
	}
	return &limitedConn{Conn: c, cl: cl, ip: ip}, true
}

// take counts one more connection from ip, or reports that a cap is reached; release undoes it.
func (cl *connLimiter) take(ip netip.Addr) bool {
	if cl.max > 0 && cl.open.Add(1) > cl.max {
		cl.open.Add(-1)
		return false
	} else if cl.max <= 0 {
		cl.open.Add(1)
	}
	if cl.perIP > 0 {
		cl.mu.Lock()
		if cl.byIP[ip] >= cl.perIP {
			cl.mu.Unlock()
			cl.open.Add(-1)
			return false
		}
		cl.byIP[ip]++
		cl.mu.Unlock()
	}
	return true
}

func (cl *connLimiter) release(ip netip.Addr) {
	cl.open.Add(-1)
	if cl.perIP > 0 {
		cl.mu.Lock()
		if n := cl.byIP[ip] - 1; n > 0 {
			cl.byIP[ip] = n
		} else {
			delete(cl.byIP, ip)
		}
		cl.mu.Unlock()
	}
}

type limitedConn struct {
	net.Conn
	cl   *connLimiter
	ip   netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.cl.release(c.ip) })
	return c.Conn.Close()
}

func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
