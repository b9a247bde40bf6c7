// Package h1 is aya's HTTP/1.1 engine: a server (accept loop, strict request parser, streaming
// response writer) and a pooled upstream client, both built for the proxy hot path: no
// allocation per request in steady state, no goroutine hand-off per request, and framing rules
// stricter than nginx's and HAProxy's so that no request can be smuggled past it.
//
// It speaks only HTTP/1.x on the wire. It must not know about config, routes, policies or
// upstream pools: the server calls an httpx.Handler, and the client sends httpx requests to
// an address it is given. HTTP/2 is handed off (h2c preface, see Server.OnH2C) to whoever set
// the hook.
package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"aya/internal/httpx"
)

// Server defaults, used when the matching field is zero.
const (
	srvReadHeaderTimeout   = 10 * time.Second
	srvIdleTimeout         = 60 * time.Second
	srvBodyReadTimeout     = 60 * time.Second
	srvWriteTimeout        = 60 * time.Second
	srvMaxRequestLineBytes = 8 << 10
	srvMaxHeaderBytes      = 64 << 10
	srvMaxHeaderCount      = 100
)

// bufSize is the per-connection read and write buffer size. A request head larger than this
// is still accepted (up to the limits): it is gathered into the connection's head buffer.
const bufSize = 4 << 10

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("h1: server closed")

// Server serves HTTP/1.x connections. Set the fields before the first Serve or ServeConn call
// and do not change them afterwards. One Server is meant per listener: MaxConns and
// ActiveConns count every connection the Server serves.
type Server struct {
	Handler  httpx.Handler
	Listener string // copied into each Request.Listener

	// ReadHeaderTimeout bounds the time from the first byte of a request head (or from the
	// accept, for the first request) to its end, so a client dribbling a head is cut off.
	// Default 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive connection. Default 60s.
	IdleTimeout time.Duration
	// BodyReadTimeout is the longest the server waits for more request body bytes. Default 60s.
	BodyReadTimeout time.Duration
	// WriteTimeout is the longest a single write to the client may stall. Default 60s.
	WriteTimeout time.Duration

	MaxRequestLineBytes int // default 8 KiB; above it: 414
	MaxHeaderBytes      int // all field lines together (also bounds trailers); default 64 KiB; above it: 431
	MaxHeaderCount      int // default 100; above it: 431

	MaxConns      int // per Server (listener); 0 = unlimited; beyond it new conns are closed
	MaxConnsPerIP int // 0 = unlimited

	// OnH2C, when set, receives connections that open with the HTTP/2 preface, together with
	// every byte already read from them (the preface included). It owns the connection then.
	OnH2C func(c net.Conn, preface []byte)

	Logger      *slog.Logger
	BaseContext context.Context

	initOnce sync.Once
	cfg      serverConfig
	readers  sync.Pool // *bufio.Reader of bufSize
	writers  sync.Pool // *bufio.Writer of bufSize
	date     dateCache

	active   atomic.Int64
	shutting atomic.Bool
	tick     atomic.Int64 // liveness ticks since the first connection, from 1
	stopOnce sync.Once
	watching sync.Once
	stop     chan struct{} // closed by Close/Shutdown: ends watchClients

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perIP     map[netip.Addr]int
}

// serverConfig is the Server's fields with defaults applied, read on the hot path.
type serverConfig struct {
	readHeaderTimeout, idleTimeout, bodyTimeout, writeTimeout time.Duration
	maxLine, maxHeaderBytes, maxHeaderCount                   int
	lim                                                       headLimits
	log                                                       *slog.Logger
	base                                                      context.Context
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		c := serverConfig{
			readHeaderTimeout: withDefault(s.ReadHeaderTimeout, srvReadHeaderTimeout),
			idleTimeout:       withDefault(s.IdleTimeout, srvIdleTimeout),
			bodyTimeout:       withDefault(s.BodyReadTimeout, srvBodyReadTimeout),
			writeTimeout:      withDefault(s.WriteTimeout, srvWriteTimeout),
			maxLine:           withDefault(s.MaxRequestLineBytes, srvMaxRequestLineBytes),
			maxHeaderBytes:    withDefault(s.MaxHeaderBytes, srvMaxHeaderBytes),
			maxHeaderCount:    withDefault(s.MaxHeaderCount, srvMaxHeaderCount),
			log:               s.Logger,
			base:              s.BaseContext,
		}
		c.lim = headLimits{maxLine: c.maxLine, maxHeaderBytes: c.maxHeaderBytes, maxFields: c.maxHeaderCount}
		if c.log == nil {
			c.log = slog.Default()
		}
		if c.base == nil {
			c.base = context.Background()
		}
		s.cfg = c
		s.readers.New = func() any { return bufio.NewReaderSize(nil, bufSize) }
		s.writers.New = func() any { return bufio.NewWriterSize(nil, bufSize) }
		s.stop = make(chan struct{})
		s.tick.Store(1)
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
		s.perIP = make(map[netip.Addr]int)
	})
}

func withDefault[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// ActiveConns returns the number of connections being served, including hijacked ones
// whose handler has not returned and those handed to OnH2C that have not returned yet.
func (s *Server) ActiveConns() int64 { return s.active.Load() }

// Serve accepts connections on ln and serves each on its own goroutine until ln fails or the
// server is shut down; then it returns ErrServerClosed (after Shutdown/Close) or the error.
// Serve closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	if s.Handler == nil {
		return errors.New("h1: Server.Handler is nil: set it before calling Serve")
	}
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAccept(err) {
				// Out of file descriptors or similar: back off rather than spin, and let
				// connections finish so descriptors free up.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.cfg.log.Warn("h1: accept failed; retrying", "listener", s.Listener, "error", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("h1: listener %q: accept: %w", s.Listener, err)
		}
		backoff = 0
		c, ok := s.admit(nc)
		if !ok {
			continue
		}
		go c.serve()
	}
}

// ServeConn serves one already-accepted connection (typically a *tls.Conn after the ALPN
// decision) on the calling goroutine and returns when it is closed or hijacked.
func (s *Server) ServeConn(nc net.Conn) {
	s.init()
	if s.Handler == nil {
		s.cfg.log.Error("h1: Server.Handler is nil: set it before calling ServeConn", "listener", s.Listener)
		nc.Close()
		return
	}
	if c, ok := s.admit(nc); ok {
		c.serve()
	}
}

// admit applies the connection limits and registers the connection for Shutdown.
func (s *Server) admit(nc net.Conn) (*conn, bool) {
	if s.shutting.Load() {
		nc.Close()
		return nil, false
	}
	if n := s.active.Add(1); s.MaxConns > 0 && n > int64(s.MaxConns) {
		s.active.Add(-1)
		nc.Close()
		return nil, false
	}
	s.watching.Do(func() { go s.watchClients() })
	c := newConn(s, nc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.MaxConnsPerIP > 0 {
		ip := c.remote.Addr()
		if s.perIP[ip] >= s.MaxConnsPerIP {
			s.active.Add(-1)
			c.cancel()
			nc.Close()
			return nil, false
		}
		s.perIP[ip]++
	}
	s.conns[c] = struct{}{}
	return c, true
}

// untrack removes a connection from the set Shutdown and Close act on: it is closing, or
// it now belongs to a hijacker or to OnH2C.
func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// unadmit gives back what admit counted, once the connection's goroutine is done with it
// (a hijacked connection counts until its handler returns, an H2C one until OnH2C returns).
func (s *Server) unadmit(c *conn) {
	if s.MaxConnsPerIP > 0 {
		ip := c.remote.Addr()
		s.mu.Lock()
		if s.perIP[ip] <= 1 {
			delete(s.perIP, ip)
		} else {
			s.perIP[ip]--
		}
		s.mu.Unlock()
	}
	s.active.Add(-1)
}

// Shutdown stops accepting, closes idle connections at once and every other connection after
// its current response, and waits until all are gone. If ctx ends first, it closes the rest
// and returns ctx's error. Hijacked and H2C connections are not waited for.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.shutting.Store(true)
	s.closeListeners()
	wait := time.Millisecond
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		if s.closeIdle() == 0 {
			s.stopWatching()
			return nil
		}
		select {
		case <-ctx.Done():
			s.closeAll()
			s.stopWatching()
			return fmt.Errorf("h1: shutdown of listener %q cut short, remaining connections closed: %w", s.Listener, ctx.Err())
		case <-timer.C:
			wait = min(2*wait, 100*time.Millisecond)
			timer.Reset(wait)
		}
	}
}

// Close stops accepting and closes every connection now, canceling in-flight requests.
func (s *Server) Close() error {
	s.init()
	s.shutting.Store(true)
	s.closeListeners()
	s.closeAll()
	s.stopWatching()
	return nil
}

func (s *Server) stopWatching() { s.stopOnce.Do(func() { close(s.stop) }) }

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		ln.Close()
	}
}

// closeIdle closes the connections waiting for a request and returns how many remain.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.nc.Close()
		}
	}
	return len(s.conns)
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.state.Store(stateClosed)
		c.nc.Close() // first, so a handler woken by the cancel cannot answer any more
		c.cancel()
	}
}

// connTLS returns the connection's TLS state, completing the handshake (bounded by
// deadline) if the caller has not. The read deadline is left at deadline, since the first
// request head falls under the same bound.
func connTLS(ctx context.Context, nc net.Conn, deadline time.Time) (*tls.ConnectionState, error) {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return nil, nil
	}
	if !tc.ConnectionState().HandshakeComplete {
		tc.SetWriteDeadline(deadline)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, err
		}
		tc.SetWriteDeadline(time.Time{})
	}
	st := tc.ConnectionState()
	return &st, nil
}

// isTemporaryAccept reports accept errors that go away by themselves (descriptor exhaustion,
// memory pressure, a peer that reset before we accepted).
func isTemporaryAccept(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.ECONNABORTED)
}
