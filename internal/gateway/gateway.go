// Package gateway turns a config into a running gateway: it builds an immutable runtime
// snapshot (route table, per-route handlers, upstream pools), serves it on every listener with
// the h1 engine and HTTP/2, swaps snapshots atomically on reload, and drains on shutdown.
//
// It is the one package that wires the others together; nothing imports it but cmd/aya.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"aya/internal/config"
	"aya/internal/observe"
	"aya/internal/store"
	"aya/internal/upstream"
)

// Gateway is a running aya.
type Gateway struct {
	log  *slog.Logger
	snap atomic.Pointer[snapshot]
	disp *dispatcher
	reg  *upstream.Registry // target state across reloads; health checks of the live snapshot

	mu        sync.Mutex // serializes Start, Reload and Shutdown
	listeners map[string]*listener
	admin     *adminServer
	ctx       context.Context
	cancel    context.CancelFunc
	ready     atomic.Bool

	reloads       atomic.Int64
	reloadErrors  atomic.Int64
	lastReload    atomic.Int64 // unix nanoseconds of the last successful reload
	lastReloadErr atomic.Pointer[string]
	draining      sync.WaitGroup

	metrics  *observe.Metrics
	sinks    *observe.Fanout
	stopped  chan struct{} // closed by Shutdown: retired access logs and tracers close at once
	shutting atomic.Bool   // Shutdown began: GET /ready says draining
	stopOnce sync.Once
	adminMu  sync.Mutex
	adminExt []adminRoute // handlers other packages add with HandleAdmin
	// live lists the serving listeners for scrapes, which must not wait on mu (held for a
	// whole reload or drain).
	live atomic.Pointer[[]*listener]

	insight *insight // analytics, alerts and the dashboard
	pol     *policyState
	l4      *l4Set        // tcp and udp listeners; nil until the first one starts
	llm     *llmState     // LLM key usage, admin keys, call log and metrics, across reloads
	store   *store.Store  // data_dir's durable state; nil without data_dir
	cluster *clusterState // nil when standalone
}

// New builds the first snapshot from cfg. Nothing is bound until Start.
func New(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	if log == nil {
		log = slog.Default()
	}
	g := &Gateway{log: log, listeners: map[string]*listener{}, reg: upstream.NewRegistry(log),
		metrics: observe.NewMetrics(), sinks: &observe.Fanout{}, stopped: make(chan struct{})}
	g.disp = &dispatcher{snap: &g.snap, ids: newIDGen(), metrics: g.metrics, sinks: g.sinks}
	g.pol = newPolicyState(log)
	g.llm = newLLMState()
	if err := g.openStore(cfg.DataDir); err != nil {
		return nil, err
	}
	built := false
	defer func() {
		if !built && g.store != nil {
			g.store.Close() // the next attempt (or process) must be able to open it
		}
	}()
	if err := g.openCluster(cfg); err != nil {
		return nil, err
	}
	defer func() {
		if !built {
			g.closeCluster()
		}
	}()
	s, err := buildSnapshot(cfg, nil, g.reg, g.pol, g.llm, log, observer{})
	if err != nil {
		return nil, err
	}
	if s.obs, err = buildObs(cfg, s, nil, g.metrics); err != nil {
		for _, p := range s.pools {
			p.pool.Close()
		}
		return nil, err
	}
	if err := g.metrics.Register(append(append(g.llm.collector, g.pol.metrics.collectors()...), stateCollector{g}, llmDeploymentCollector{g})...); err != nil {
		return nil, err
	}
	g.snap.Store(s)
	g.llm.pools.Track(s.llm)
	g.insight = newInsight(g, cfg)
	built = true
	return g, nil
}

// Sinks is where every finished request's observe.Record goes besides metrics, the access
// log and traces (the analytics store registers here). Add sinks at any time.
func (g *Gateway) Sinks() *observe.Fanout { return g.sinks }

// Metrics is the Prometheus registry served at admin /metrics; other packages may register
// their collectors on it.
func (g *Gateway) Metrics() *observe.Metrics { return g.metrics }

// Check builds a snapshot from cfg without serving it, to find the problems that only
// building shows (a route table that does not compile, a TLS file that does not load).
func Check(cfg *config.Config) error {
	if err := checkCluster(cfg); err != nil {
		return err
	}
	discard := slog.New(slog.DiscardHandler)
	pol := newPolicyState(discard)
	defer pol.close()
	s, err := buildSnapshot(cfg, nil, upstream.NewRegistry(discard), pol, newLLMState(), discard, nil)
	if err != nil {
		return err
	}
	s.closePolicies()
	for _, p := range s.pools {
		p.pool.Close()
	}
	return nil
}

// Start binds every listener and the admin API and starts serving. It returns once all are
// bound (so /health is 200 when Start returns nil), or the first bind error.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ctx, g.cancel = context.WithCancel(ctx)
	cfg := g.snap.Load().cfg
	for _, lc := range cfg.Listeners {
		if lc.IsL4() {
			continue
		}
		l, err := g.startListener(lc)
		if err != nil {
			g.closeAll()
			return err
		}
		g.listeners[lc.Name] = l
	}
	if err := g.startL4(cfg); err != nil {
		g.closeAll()
		return err
	}
	a, err := startAdmin(g, cfg.Admin)
	if err != nil {
		g.closeAll()
		return fmt.Errorf("%s:%d: admin: %w", cfg.File, cfg.Admin.Line, err)
	}
	g.admin = a
	g.joinCluster(g.ctx, a.addr())
	g.publishListeners()
	g.reg.Activate(g.snap.Load().livePools())
	startTPS(g.ctx, nil, g.snap.Load())
	g.insight.start(g.ctx)
	go g.llm.runFlush(g.ctx, time.Second, g.log)
	g.ready.Store(true)
	g.lastReload.Store(time.Now().UnixNano())
	g.log.Info("aya started", "listeners", len(cfg.Listeners), "routes", len(cfg.Routes), "upstreams", len(cfg.Upstreams), "admin", a.addr())
	return nil
}

func (g *Gateway) startListener(lc config.Listener) (*listener, error) {
	file := g.snap.Load().cfg.File
	l, err := newListener(lc, g.disp, g.log)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: listener %q: %w", file, lc.Line, lc.Name, err)
	}
	if err := l.listen(g.ctx); err != nil {
		return nil, fmt.Errorf("%s:%d: listener %q: %w", file, lc.Line, lc.Name, err)
	}
	go l.serve(g.ctx)
	g.log.Info("listening", "listener", lc.Name, "address", l.ln.Addr().String(), "tls", lc.TLS != nil, "h2c", lc.H2C)
	return l, nil
}

func (g *Gateway) closeAll() {
	for _, l := range g.listeners {
		l.closed.Store(true)
		l.ln.Close()
	}
	g.closeL4()
	if g.admin != nil {
		g.admin.close()
	}
}

// Ready reports whether every listener is up.
func (g *Gateway) Ready() bool { return g.ready.Load() }

// Reload builds a snapshot from cfg beside the running one and swaps it in. On any error the
// running config keeps serving and the error is returned (and counted).
func (g *Gateway) Reload(cfg *config.Config) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	err := g.reload(cfg)
	if err != nil {
		g.reloadErrors.Add(1)
		msg := err.Error()
		g.lastReloadErr.Store(&msg)
		g.log.Error("reload refused; the previous config keeps serving", "error", err)
		return err
	}
	g.reloads.Add(1)
	g.insight.reconfigure(cfg)
	g.lastReload.Store(time.Now().UnixNano())
	g.lastReloadErr.Store(nil)
	g.log.Info("config reloaded", "routes", len(cfg.Routes), "upstreams", len(cfg.Upstreams))
	return nil
}

// ReloadFailed counts a reload that failed before a config could be built (parse errors).
func (g *Gateway) ReloadFailed(err error) {
	g.reloadErrors.Add(1)
	msg := err.Error()
	g.lastReloadErr.Store(&msg)
	g.log.Error("reload refused; the previous config keeps serving", "error", err)
}

func (g *Gateway) reload(cfg *config.Config) error {
	old := g.snap.Load()
	next, err := buildSnapshot(cfg, old, g.reg, g.pol, g.llm, g.log, observer{})
	if err != nil {
		return err
	}
	if next.obs, err = buildObs(cfg, next, old, g.metrics); err != nil {
		next.discard()
		return err
	}
	if !reflect.DeepEqual(old.cfg.Admin, cfg.Admin) {
		g.log.Warn("admin settings changed; they take effect on restart")
	}
	g.clusterReloaded(old.cfg, cfg)

	// Listeners: keep unchanged ones, start new ones, replace changed ones, stop removed ones.
	oldByName := make(map[string]config.Listener, len(old.cfg.Listeners))
	for _, lc := range old.cfg.Listeners {
		oldByName[lc.Name] = lc
	}
	want := make(map[string]bool, len(cfg.Listeners))
	var retire []*listener
	started := map[string]*listener{}
	for _, lc := range cfg.Listeners {
		if lc.IsL4() {
			continue // reloadL4
		}
		want[lc.Name] = true
		if prev, ok := oldByName[lc.Name]; ok && sameListener(prev, lc) {
			continue
		}
		if cur, ok := g.listeners[lc.Name]; ok {
			// Release the address before binding it again.
			cur.closed.Store(true)
			cur.ln.Close()
			retire = append(retire, cur)
		}
		l, err := g.startListener(lc)
		if err != nil {
			for _, s := range started {
				s.closed.Store(true)
				s.ln.Close()
			}
			next.obs.closeNotIn(old.obs)
			next.discard()
			return err
		}
		started[lc.Name] = l
	}
	l4ch, err := g.reloadL4(cfg)
	if err != nil {
		for _, s := range started {
			s.closed.Store(true)
			s.ln.Close()
		}
		next.obs.closeNotIn(old.obs)
		next.discard()
		return err
	}
	for name, l := range g.listeners {
		if !want[name] {
			retire = append(retire, l)
			delete(g.listeners, name)
		}
	}
	for name, l := range started {
		g.listeners[name] = l
	}

	g.snap.Store(next)
	g.llm.pools.Track(next.llm)
	g.publishListeners()
	g.reg.Activate(next.livePools())
	startTPS(g.ctx, old, next)
	g.retire(old, next, retire)
	g.commitL4(l4ch, old.cfg.Shutdown.DrainTimeout.D())
	go g.retireObs(old.obs, next.obs, old.cfg.Shutdown.DrainTimeout.D())
	return nil
}

// retireObs closes the access log and tracer the new snapshot replaced once requests that
// started on the old one had time to finish (or at once when aya stops).
func (g *Gateway) retireObs(old, next *obsTables, drain time.Duration) {
	if old == nil || (old.logRes == next.logRes && old.traceRes == next.traceRes) {
		return
	}
	if drain <= 0 {
		drain = 30 * time.Second
	}
	t := time.NewTimer(drain)
	defer t.Stop()
	select {
	case <-t.C:
	case <-g.stopped:
	}
	old.closeNotIn(next)
}

// retire drains replaced listeners and closes pools the new snapshot dropped, in the
// background, once requests that started on the old snapshot had time to finish.
func (g *Gateway) retire(old, next *snapshot, ls []*listener) {
	drain := old.cfg.Shutdown.DrainTimeout.D()
	if drain <= 0 {
		drain = 30 * time.Second
	}
	g.draining.Add(1)
	go func() {
		defer g.draining.Done()
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		for _, l := range ls {
			l.shutdown(ctx)
		}
		// A request that loaded the old snapshot just before the swap may not have sent yet,
		// and a closed pool refuses it (with no other target to retry on, as its siblings are
		// closed too): the replaced pools close after the same grace as a removed target, or
		// at once when the gateway stops.
		t := time.NewTimer(upstream.RemovedTargetGrace)
		defer t.Stop()
		select {
		case <-t.C:
		case <-g.stopped:
		}
		closePoolsNotIn(old, next)
	}()
}

func sameListener(a, b config.Listener) bool {
	a.Line, b.Line = 0, 0
	if a.TLS != nil {
		t := *a.TLS
		t.Line = 0
		t.Certificates = stripCertLines(t.Certificates)
		a.TLS = &t
	}
	if b.TLS != nil {
		t := *b.TLS
		t.Line = 0
		t.Certificates = stripCertLines(t.Certificates)
		b.TLS = &t
	}
	return reflect.DeepEqual(a, b)
}

func stripCertLines(cs []config.Certificate) []config.Certificate {
	out := make([]config.Certificate, len(cs))
	for i, c := range cs {
		c.Line = 0
		out[i] = c
	}
	return out
}

// Shutdown stops accepting on every listener and drains in-flight requests until ctx ends.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shutting.Store(true)
	g.ready.Store(false)
	g.leaveCluster()
	l4done := make(chan error, 1)
	go func() { l4done <- g.shutdownL4(ctx) }()
	var wg sync.WaitGroup
	errs := make(chan error, len(g.listeners))
	for _, l := range g.listeners {
		wg.Add(1)
		go func(l *listener) {
			defer wg.Done()
			if err := l.shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("listener %q: %w", l.cfg.Name, err)
			}
		}(l)
	}
	wg.Wait()
	close(errs)
	err := <-l4done
	for e := range errs {
		err = errors.Join(err, e)
	}
	if g.admin != nil {
		g.admin.close()
	}
	g.reg.Close()
	for _, p := range g.snap.Load().pools {
		p.pool.Close()
	}
	stopTPS(g.snap.Load())
	if l := g.snap.Load().llm; l != nil {
		l.Close() // stops the metrics scrapers of least_loaded deployments
	}
	g.snap.Load().closePolicies()
	g.pol.close()
	g.closeCluster()
	g.closeStore()
	g.snap.Load().obs.closeNotIn(nil)
	g.stopOnce.Do(func() { close(g.stopped) })
	if g.cancel != nil {
		g.cancel()
	}
	return err
}

// Addr returns the bound address of a listener (useful with port 0), or "".
func (g *Gateway) Addr(name string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if l, ok := g.listeners[name]; ok {
		return l.ln.Addr().String()
	}
	return g.l4Addr(name)
}
