package l4

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"aya/internal/upstream"
)

// maxDatagram is the largest UDP payload (65535 - 8 byte header - 20 byte IPv4 header).
const maxDatagram = 65507

// UDPConfig is one udp listener's settings.
type UDPConfig struct {
	Listener string
	Upstream string
	// Idle ends a flow that carried no datagram either way for this long; 0: 60s.
	Idle time.Duration
	// MaxConns and MaxConnsPerIP cap open flows; 0: unlimited.
	MaxConns, MaxConnsPerIP int
}

// UDP proxies the datagrams of one listener. Each client address (IP and port) is a flow:
// its first datagram picks a target (the pool's balancer on the client's address), and the
// flow keeps that target, and a socket connected to it, until it is idle. A target that
// answers with ICMP port unreachable (a refused datagram) is reported to the pool as a
// connect failure, which ejects it when the upstream has outlier detection, and the flow
// ends so the client's next datagram picks again.
type UDP struct {
	cfg     UDPConfig
	ups     Resolver
	metrics *Metrics
	log     *slog.Logger
	limit   *limiter

	mu     sync.Mutex
	pc     *net.UDPConn
	flows  map[netip.AddrPort]*flow
	closed bool
	wg     sync.WaitGroup
}

// flow is one client's session with one target.
type flow struct {
	client   netip.AddrPort
	up       *net.UDPConn
	u        Upstream
	t        *upstream.Target
	cm       connMetrics
	start    time.Time
	act      activity
	answered atomic.Bool // the pool heard how the target did (first reply or refusal)
}

// NewUDP returns a proxy for cfg; Serve runs it.
func NewUDP(cfg UDPConfig, ups Resolver, m *Metrics, log *slog.Logger) *UDP {
	if cfg.Idle <= 0 {
		cfg.Idle = 60 * time.Second
	}
	return &UDP{cfg: cfg, ups: ups, metrics: m, log: log, limit: newLimiter(cfg.MaxConns, cfg.MaxConnsPerIP),
		flows: map[netip.AddrPort]*flow{}}
}

// Serve reads client datagrams from pc until it is closed or Shutdown is called.
func (p *UDP) Serve(pc *net.UDPConn) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		pc.Close()
		return net.ErrClosed
	}
	p.pc = pc
	p.mu.Unlock()
	buf := make([]byte, maxDatagram)
	for {
		n, client, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			p.log.Debug("udp read failed", "error", err)
			continue
		}
		f := p.flow(client)
		if f == nil {
			continue
		}
		if _, err := f.up.Write(buf[:n]); err != nil {
			// A refusal of an earlier datagram surfaces here as well as in the reader.
			p.end(f, err)
			continue
		}
		f.act.touch(time.Now())
		f.cm.in.Add(float64(n))
	}
}

// flow returns the client's flow, opening it on its first datagram; nil when the datagram
// is dropped (caps reached, no target).
func (p *UDP) flow(client netip.AddrPort) *flow {
	p.mu.Lock()
	f, ok := p.flows[client]
	p.mu.Unlock()
	if ok {
		return f
	}
	ip := client.Addr().Unmap()
	if !p.limit.acquire(ip) {
		p.metrics.rejected.WithLabelValues(p.cfg.Listener, rejectLimit).Inc()
		return nil
	}
	u, ok := p.ups.Upstream(p.cfg.Upstream)
	if !ok {
		p.limit.release(ip)
		p.metrics.rejected.WithLabelValues(p.cfg.Listener, rejectSNI).Inc()
		return nil
	}
	if _, ok := u.Pool.Admit(); !ok {
		p.limit.release(ip)
		p.metrics.rejected.WithLabelValues(p.cfg.Listener, rejectAdmit).Inc()
		return nil
	}
	// A UDP "connect" only binds the socket to the target; a dead target shows later, as
	// refused datagrams.
	c, t, err := connect(context.Background(), u, client, "udp", dialUDP, false, func(t *upstream.Target, err error) {
		p.metrics.connFail.WithLabelValues(p.cfg.Listener, u.Name, t.Name).Inc()
	})
	if err != nil {
		u.Pool.Release()
		p.limit.release(ip)
		p.metrics.rejected.WithLabelValues(p.cfg.Listener, rejectNoTarget).Inc()
		p.log.Warn("datagram dropped: no target", "client", client.String(), "error", err)
		return nil
	}
	f = &flow{client: client, up: c.(*net.UDPConn), u: u, t: t, start: time.Now(),
		cm: p.metrics.forTarget(p.cfg.Listener, "udp", u.Name, t.Name)}
	f.act.touch(f.start)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		f.up.Close()
		p.finish(f, nil)
		return nil
	}
	p.flows[client] = f
	p.wg.Add(1)
	p.mu.Unlock()
	p.metrics.active.WithLabelValues(p.cfg.Listener, "udp").Inc()
	go p.replies(f)
	return f
}

func dialUDP(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// replies forwards the target's datagrams to the client until the flow ends.
func (p *UDP) replies(f *flow) {
	defer p.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		f.up.SetReadDeadline(time.Unix(0, f.act.last.Load()).Add(p.cfg.Idle))
		n, err := f.up.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && f.act.since(time.Now()) < p.cfg.Idle {
				continue
			}
			p.end(f, err)
			return
		}
		p.answered(f, upstream.OK)
		f.act.touch(time.Now())
		if _, err := p.pc.WriteToUDPAddrPort(buf[:n], f.client); err != nil {
			p.end(f, err)
			return
		}
		f.cm.out.Add(float64(n))
	}
}

// answered tells the pool how the target did, once per flow (each Begin needs one Answered).
func (p *UDP) answered(f *flow, o upstream.Outcome) {
	if f.answered.CompareAndSwap(false, true) {
		f.u.Pool.Answered(f.t, o, time.Since(f.start))
	}
}

// end removes the flow after err (idle, refused, closed) and releases what it holds.
func (p *UDP) end(f *flow, err error) {
	p.mu.Lock()
	cur, ok := p.flows[f.client]
	if ok && cur == f {
		delete(p.flows, f.client)
	}
	p.mu.Unlock()
	if !ok || cur != f {
		return // ended already
	}
	f.up.Close()
	refused := errors.Is(err, syscall.ECONNREFUSED)
	if refused {
		p.metrics.connFail.WithLabelValues(p.cfg.Listener, f.u.Name, f.t.Name).Inc()
		p.log.Warn("udp target refused a datagram", "upstream", f.u.Name, "target", f.t.Name)
	}
	p.metrics.active.WithLabelValues(p.cfg.Listener, "udp").Dec()
	p.finish(f, err)
}

// finish reports the flow's end to the pool and the metrics.
func (p *UDP) finish(f *flow, err error) {
	refused := errors.Is(err, syscall.ECONNREFUSED)
	switch {
	case refused:
		p.answered(f, upstream.ConnectFailure)
	default:
		// No answer at all says nothing: much UDP traffic is one way.
		p.answered(f, upstream.Canceled)
	}
	took := time.Since(f.start)
	f.u.Pool.End(f.t, took, refused)
	f.u.Pool.Release()
	p.limit.release(f.client.Addr().Unmap())
	p.metrics.duration.WithLabelValues(p.cfg.Listener, "udp", f.u.Name, f.t.Name).Observe(took.Seconds())
}

// Shutdown stops reading and ends every flow: a flow cannot outlive the socket its replies
// go out on, so UDP does not drain beyond the datagrams already answered.
func (p *UDP) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	if p.pc != nil {
		p.pc.Close()
	}
	flows := make([]*flow, 0, len(p.flows))
	for _, f := range p.flows {
		flows = append(flows, f)
	}
	p.mu.Unlock()
	for _, f := range flows {
		p.end(f, net.ErrClosed)
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Active is the number of open flows.
func (p *UDP) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.flows)
}
