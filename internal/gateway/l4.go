package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"time"

	"aya/internal/config"
	"aya/internal/l4"
)

// l4Set runs the tcp and udp listeners: each is an l4 proxy on its own socket, resolving
// upstream names against the live snapshot, so a reload sends new connections to the new
// pools while open ones keep theirs. Guarded by Gateway.mu.
type l4Set struct {
	metrics *l4.Metrics
	servers map[string]*l4Server // by listener name
}

// l4Server is one bound tcp or udp listener.
type l4Server struct {
	cfg  config.Listener
	addr net.Addr
	tcp  *l4.TCP // exactly one of tcp and udp is set
	udp  *l4.UDP
}

// l4 returns the gateway's set, creating it (and registering its metrics) on first use.
func (g *Gateway) l4set() (*l4Set, error) {
	if g.l4 != nil {
		return g.l4, nil
	}
	m := l4.NewMetrics()
	if err := g.metrics.Register(m.Collectors()...); err != nil {
		return nil, fmt.Errorf("l4 metrics: %w", err)
	}
	g.l4 = &l4Set{metrics: m, servers: map[string]*l4Server{}}
	return g.l4, nil
}

// upstream resolves a name against the live snapshot for the l4 proxies.
func (g *Gateway) l4Upstream(name string) (l4.Upstream, bool) {
	p, ok := g.snap.Load().pools[name]
	if !ok {
		return l4.Upstream{}, false
	}
	tries := 1
	if r := p.cfg.Retries; r.Attempts > 0 && retriesOnConnect(r) {
		tries += r.Attempts
	}
	return l4.Upstream{Name: name, Pool: p.pool, ConnectTimeout: p.cfg.Timeouts.Connect.D(), Tries: tries}, true
}

func retriesOnConnect(r config.Retries) bool {
	for _, on := range r.On {
		if on == config.RetryConnectError {
			return true
		}
	}
	return len(r.On) == 0
}

// startL4Server binds lc and serves it.
func (g *Gateway) startL4Server(set *l4Set, lc config.Listener) (*l4Server, error) {
	file := g.snap.Load().cfg.File
	fail := func(err error) error { return fmt.Errorf("%s:%d: listener %q: %w", file, lc.Line, lc.Name, err) }
	log := g.log.With("listener", lc.Name)
	ups := l4.ResolverFunc(g.l4Upstream)
	s := &l4Server{cfg: lc}
	// Accepted connections get no keepalive probes, as targets' (see l4.NewTCP).
	lcfg := net.ListenConfig{KeepAlive: -1}
	switch lc.Protocol {
	case config.ListenerTCP:
		ln, err := lcfg.Listen(g.ctx, "tcp", lc.Address)
		if err != nil {
			return nil, fail(err)
		}
		tc := l4.TCPConfig{Listener: lc.Name, Upstream: lc.Upstream, SNI: lc.SNI, Idle: lc.Timeouts.Idle.D(),
			Handshake: lc.Timeouts.ReadHeader.D(), MaxConns: lc.Limits.MaxConns, MaxConnsPerIP: lc.Limits.MaxConnsPerIP}
		if pp := lc.ProxyProtocol; pp != nil {
			tc.AcceptProxy = pp.Accept
			switch pp.Send {
			case config.ProxyProtocolV1:
				tc.SendProxy = 1
			case config.ProxyProtocolV2:
				tc.SendProxy = 2
			}
		}
		s.tcp, s.addr = l4.NewTCP(tc, ups, set.metrics, log), ln.Addr()
		go s.tcp.Serve(ln)
	case config.ListenerUDP:
		pc, err := lcfg.ListenPacket(g.ctx, "udp", lc.Address)
		if err != nil {
			return nil, fail(err)
		}
		uc := l4.UDPConfig{Listener: lc.Name, Upstream: lc.Upstream, Idle: lc.Timeouts.Idle.D(),
			MaxConns: lc.Limits.MaxConns, MaxConnsPerIP: lc.Limits.MaxConnsPerIP}
		s.udp, s.addr = l4.NewUDP(uc, ups, set.metrics, log), pc.LocalAddr()
		go s.udp.Serve(pc.(*net.UDPConn))
	default:
		return nil, fail(fmt.Errorf("protocol %q is not an L4 protocol", lc.Protocol))
	}
	g.log.Info("listening", "listener", lc.Name, "address", s.addr.String(), "protocol", lc.Protocol, "upstreams", lc.L4Upstreams())
	return s, nil
}

// shutdown stops accepting and drains open connections until ctx ends.
func (s *l4Server) shutdown(ctx context.Context) error {
	if s.tcp != nil {
		return s.tcp.Shutdown(ctx)
	}
	return s.udp.Shutdown(ctx)
}

// startL4 binds every tcp and udp listener of cfg (Start).
func (g *Gateway) startL4(cfg *config.Config) error {
	var set *l4Set
	for _, lc := range cfg.Listeners {
		if !lc.IsL4() {
			continue
		}
		var err error
		if set == nil {
			if set, err = g.l4set(); err != nil {
				return err
			}
		}
		s, err := g.startL4Server(set, lc)
		if err != nil {
			return err
		}
		set.servers[lc.Name] = s
	}
	return nil
}

// l4Change is what a reload does to the tcp and udp listeners: commit applies it once the
// rest of the reload succeeded, abort undoes what can be undone.
type l4Change struct {
	started map[string]*l4Server
	retire  []*l4Server
}

// reloadL4 starts the tcp and udp listeners cfg adds or changes. A changed listener stops
// accepting first (to bind its address again); its open connections drain after commit.
func (g *Gateway) reloadL4(cfg *config.Config) (*l4Change, error) {
	ch := &l4Change{started: map[string]*l4Server{}}
	want := map[string]bool{}
	for _, lc := range cfg.Listeners {
		if !lc.IsL4() {
			continue
		}
		want[lc.Name] = true
		set, err := g.l4set()
		if err != nil {
			return nil, err
		}
		cur, ok := set.servers[lc.Name]
		if ok && sameL4Listener(cur.cfg, lc) {
			continue
		}
		if ok {
			cur.stopAccepting()
			ch.retire = append(ch.retire, cur)
		}
		s, err := g.startL4Server(set, lc)
		if err != nil {
			ch.abort()
			return nil, err
		}
		ch.started[lc.Name] = s
	}
	if g.l4 != nil {
		for name, s := range g.l4.servers {
			if !want[name] {
				ch.retire = append(ch.retire, s)
			}
		}
	}
	return ch, nil
}

// abort closes the listeners the failed reload started.
func (ch *l4Change) abort() {
	for _, s := range ch.started {
		s.stopAccepting()
		s.shutdown(closedContext())
	}
}

// commit makes the change live and drains the retired listeners' connections in the
// background, for up to drain.
func (g *Gateway) commitL4(ch *l4Change, drain time.Duration) {
	if g.l4 == nil {
		return
	}
	for _, s := range ch.retire {
		if g.l4.servers[s.cfg.Name] == s {
			delete(g.l4.servers, s.cfg.Name)
		}
	}
	for name, s := range ch.started {
		g.l4.servers[name] = s
	}
	if len(ch.retire) == 0 {
		return
	}
	if drain <= 0 {
		drain = 30 * time.Second
	}
	g.draining.Add(1)
	go func() {
		defer g.draining.Done()
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		for _, s := range ch.retire {
			s.stopAccepting()
		}
		for _, s := range ch.retire {
			s.shutdown(ctx)
		}
	}()
}

// shutdownL4 stops every tcp and udp listener and drains their connections until ctx ends.
func (g *Gateway) shutdownL4(ctx context.Context) error {
	if g.l4 == nil {
		return nil
	}
	errs := make(chan error, len(g.l4.servers))
	for _, s := range g.l4.servers {
		go func() {
			if err := s.shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("listener %q: %w", s.cfg.Name, err)
				return
			}
			errs <- nil
		}()
	}
	var err error
	for range g.l4.servers {
		err = errors.Join(err, <-errs)
	}
	return err
}

// closeL4 closes every tcp and udp listener at once (a failed Start).
func (g *Gateway) closeL4() {
	if g.l4 == nil {
		return
	}
	for name, s := range g.l4.servers {
		s.stopAccepting()
		s.shutdown(closedContext())
		delete(g.l4.servers, name)
	}
}

// l4Addr is the bound address of a tcp or udp listener, or "".
func (g *Gateway) l4Addr(name string) string {
	if g.l4 == nil {
		return ""
	}
	if s, ok := g.l4.servers[name]; ok {
		return s.addr.String()
	}
	return ""
}

// stopAccepting closes the socket at once; open TCP connections go on until shutdown.
func (s *l4Server) stopAccepting() {
	if s.tcp != nil {
		s.tcp.Close()
		return
	}
	s.udp.Shutdown(closedContext())
}

// sameL4Listener reports whether a reload leaves a tcp or udp listener as it was (line
// numbers aside).
func sameL4Listener(a, b config.Listener) bool {
	a.Line, b.Line = 0, 0
	for _, l := range []*config.Listener{&a, &b} {
		if l.ProxyProtocol != nil {
			pp := *l.ProxyProtocol
			pp.Line = 0
			l.ProxyProtocol = &pp
		}
	}
	return reflect.DeepEqual(a, b)
}

func closedContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
