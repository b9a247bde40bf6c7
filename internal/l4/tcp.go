package l4

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"aya/internal/upstream"
)

// TCPConfig is one tcp listener's settings.
type TCPConfig struct {
	Listener string // the listener's name, for metrics and logs
	// Upstream receives every connection, or with SNI those whose server name matches no key.
	Upstream string
	// SNI routes by the ClientHello's server name (TLS passthrough): exact names, "*.suffix"
	// patterns and "*" (the default) → upstream names. nil: no peeking.
	SNI map[string]string
	// AcceptProxy requires a PROXY v1/v2 header from every client and takes the client's
	// address from it.
	AcceptProxy bool
	// SendProxy writes a PROXY header of this version (1 or 2) to targets; 0: none.
	SendProxy byte
	// Idle closes a connection that moved no bytes either way for this long; 0: never.
	Idle time.Duration
	// Handshake bounds the wait for the PROXY header and the ClientHello; 0: 10s.
	Handshake time.Duration
	// MaxConns and MaxConnsPerIP cap open connections; 0: unlimited.
	MaxConns, MaxConnsPerIP int
}

// TCP proxies the connections of one listener.
type TCP struct {
	cfg     TCPConfig
	ups     Resolver
	metrics *Metrics
	log     *slog.Logger
	sni     *sniTable
	limit   *limiter
	dial    dialFunc
	conns   connSet
}

// NewTCP returns a proxy for cfg; Serve runs it.
func NewTCP(cfg TCPConfig, ups Resolver, m *Metrics, log *slog.Logger) *TCP {
	p := &TCP{cfg: cfg, ups: ups, metrics: m, log: log, limit: newLimiter(cfg.MaxConns, cfg.MaxConnsPerIP)}
	if cfg.SNI != nil {
		p.sni = newSNITable(cfg.SNI, cfg.Upstream)
	}
	// No TCP keepalive probes (HAProxy's default too): the idle timeout ends dead connections,
	// and arming keepalive costs three setsockopt calls per connection.
	d := net.Dialer{KeepAlive: -1}
	p.dial = d.DialContext
	p.conns.init()
	return p
}

// Serve accepts connections on ln until ln is closed or Shutdown is called.
func (p *TCP) Serve(ln net.Listener) error {
	if !p.conns.serving(ln) {
		ln.Close()
		return net.ErrClosed
	}
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if p.conns.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: back off instead of spinning.
			backoff = min(max(backoff*2, 5*time.Millisecond), time.Second)
			p.log.Warn("accept failed", "error", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !p.conns.add(c) {
			c.Close()
			return nil
		}
		go p.handle(c)
	}
}

// Shutdown stops accepting and waits for open connections to end by themselves (a reload
// or SIGTERM lets them finish) until ctx ends; then it closes them and returns ctx's error.
func (p *TCP) Shutdown(ctx context.Context) error { return p.conns.shutdown(ctx) }

// Close stops accepting at once, releasing the address; open connections go on until
// Shutdown.
func (p *TCP) Close() { p.conns.stopAccepting() }

func (p *TCP) handle(c net.Conn) {
	defer p.conns.done(c)
	start := time.Now()
	peer := addrPort(c.RemoteAddr())
	ip := peer.Addr().Unmap()
	if !p.limit.acquire(ip) {
		p.metrics.rejected.WithLabelValues(p.cfg.Listener, rejectLimit).Inc()
		c.Close()
		return
	}
	defer p.limit.release(ip)
	active := p.metrics.active.WithLabelValues(p.cfg.Listener, "tcp")
	active.Inc()
	defer active.Dec()

	client, name, prefix, reason := p.open(c, peer)
	if reason != "" {
		p.metrics.rejected.WithLabelValues(p.cfg.Listener, reason).Inc()
		c.Close()
		return
	}
	u, ok := p.ups.Upstream(name)
	if !ok {
		p.metrics.rejected.WithLabelValues(p.cfg.Listener, rejectSNI).Inc()
		c.Close()
		return
	}
	if _, ok := u.Pool.Admit(); !ok {
		p.metrics.rejected.WithLabelValues(p.cfg.Listener, rejectAdmit).Inc()
		c.Close()
		return
	}
	defer u.Pool.Release()

	ctx, cancel := p.conns.context()
	defer cancel()
	up, t, err := connect(ctx, u, client, "tcp", p.dial, true, func(t *upstream.Target, err error) {
		p.metrics.connFail.WithLabelValues(p.cfg.Listener, u.Name, t.Name).Inc()
		p.log.Debug("connect failed", "upstream", u.Name, "target", t.Name, "error", err)
	})
	if err != nil {
		p.metrics.rejected.WithLabelValues(p.cfg.Listener, rejectNoTarget).Inc()
		p.log.Warn("connection dropped: no target reachable", "client", client.String(), "error", err)
		c.Close()
		return
	}
	p.conns.track(c, up)
	cm := p.metrics.forTarget(p.cfg.Listener, "tcp", u.Name, t.Name)
	failed := p.splice(c, up, client, prefix, cm)
	took := time.Since(start)
	u.Pool.End(t, took, failed)
	p.metrics.duration.WithLabelValues(p.cfg.Listener, "tcp", u.Name, t.Name).Observe(took.Seconds())
}

// open reads what comes before the byte stream (a PROXY header, a ClientHello to route by)
// and returns the client's address, the upstream to use and the bytes already read, which
// the target must get first; or why the connection is refused.
func (p *TCP) open(c net.Conn, peer netip.AddrPort) (client netip.AddrPort, name string, prefix []byte, reason string) {
	client, name = peer, p.cfg.Upstream
	if !p.cfg.AcceptProxy && p.sni == nil {
		return client, name, nil, ""
	}
	hs := p.cfg.Handshake
	if hs <= 0 {
		hs = 10 * time.Second
	}
	c.SetReadDeadline(time.Now().Add(hs))
	defer c.SetReadDeadline(time.Time{})
	br := bufio.NewReaderSize(c, 512)
	if p.cfg.AcceptProxy {
		var err error
		if client, err = readProxyHeader(br, peer); err != nil {
			p.log.Debug("connection refused", "client", peer.String(), "error", err)
			return client, "", nil, rejectProxy
		}
	}
	if p.sni != nil {
		sn, read, _ := peekServerName(br)
		name, prefix = p.sni.lookup(sn), read
		if name == "" {
			p.log.Debug("connection refused: no upstream for server name", "client", client.String(), "server_name", sn)
			return client, "", nil, rejectSNI
		}
		return client, name, prefix, ""
	}
	if n := br.Buffered(); n > 0 {
		prefix, _ = br.Peek(n)
	}
	return client, name, prefix, ""
}

// splice sends the PROXY header and prefix to the target, then copies both ways until both
// sides are done, or one fails or the connection idles; failed reports a broken target side.
func (p *TCP) splice(c, up net.Conn, client netip.AddrPort, prefix []byte, cm connMetrics) (failed bool) {
	defer c.Close()
	defer up.Close()
	var head []byte
	if p.cfg.SendProxy != 0 {
		h, err := proxyHeader(p.cfg.SendProxy, client, addrPort(c.LocalAddr()))
		if err != nil {
			p.log.Warn("PROXY header not written", "client", client.String(), "error", err)
			return false
		}
		head = h
	}
	if len(prefix) > 0 || len(head) > 0 {
		bufs := net.Buffers{head, prefix}
		n, err := bufs.WriteTo(up)
		cm.in.Add(float64(n - int64(len(head))))
		if err != nil {
			return true
		}
	}
	var act activity
	act.touch(time.Now())
	var wg sync.WaitGroup
	var upErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		if upErr = pipe(c, up, p.cfg.Idle, &act, cm.out); upErr != nil {
			c.Close()
			up.Close()
		}
	}()
	if err := pipe(up, c, p.cfg.Idle, &act, cm.in); err != nil {
		c.Close()
		up.Close()
	}
	wg.Wait()
	return upErr != nil && !p.conns.isClosed() && !errors.Is(upErr, net.ErrClosed) && !errors.Is(upErr, os.ErrDeadlineExceeded)
}

// addrPort is a net.Addr's address and port, zero when it has none.
func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	if ua, ok := a.(*net.UDPAddr); ok {
		return ua.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
