package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"

	"aya/internal/balance"
	"aya/internal/config"
	"aya/internal/h1"
	"aya/internal/httpx"
	"aya/internal/llm/serve"
	"aya/internal/proxy"
	"aya/internal/route"
	"aya/internal/upstream"
)

// snapshot is everything one config produces, immutable once built. A reload builds a new one
// beside the old and swaps a pointer; requests in flight finish on the snapshot they started on.
type snapshot struct {
	cfg      *config.Config
	table    *route.Table
	handlers []httpx.Handler // by route index, in config order
	routes   []string        // route names by index
	pools    map[string]*pooled
	trust    map[string]proxy.Trust // by listener name
	tps      map[string]*tpsPool    // by pool name
	obs      *obsTables             // metrics handles, access log, tracer
	llm      *serve.Handler         // the LLM API endpoints; nil without llm:
	// byListener holds, for listeners with default policies, every route's handler with those
	// defaults in its chain (by route index); nil when no listener has policies.
	byListener map[string][]httpx.Handler
	// closers release what policies hold (fetchers, workers) when the snapshot retires.
	closers []func()
	// traffic are the canary splits and mirrors, for their metrics.
	traffic trafficPolicies
}

// pooled is a pool with the config that built it, so a reload can tell whether an upstream
// changed and hand the pool (connections, balancer counters) over when it did not.
type pooled struct {
	cfg  config.Upstream
	pool *upstream.Pool
}

// buildSnapshot turns cfg into a runtime snapshot, reusing pools of unchanged upstreams from
// prev (may be nil). Errors name the config object and line.
func buildSnapshot(cfg *config.Config, prev *snapshot, reg *upstream.Registry, pol *policyState, llmSt *llmState, log *slog.Logger, obs proxy.Observer) (_ *snapshot, err error) {
	s := &snapshot{cfg: cfg, pools: make(map[string]*pooled, len(cfg.Upstreams)), trust: map[string]proxy.Trust{}}
	defer func() {
		if err != nil {
			s.discard()
		}
	}()
	for _, l := range cfg.Listeners {
		s.trust[l.Name] = proxy.Trust(l.TrustedProxies)
	}
	for i := range cfg.Upstreams {
		u := &cfg.Upstreams[i]
		if prev != nil {
			if old, ok := prev.pools[u.Name]; ok && reflect.DeepEqual(stripLines(old.cfg), stripLines(*u)) {
				s.pools[u.Name] = old
				continue
			}
		}
		p, err := buildPool(u, reg, log)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: upstream %q: %w", cfg.File, u.Line, u.Name, err)
		}
		s.pools[u.Name] = &pooled{cfg: *u, pool: p}
	}

	tpsPools, err := buildTPSPools(cfg, prev, log)
	if err != nil {
		return nil, err
	}
	s.tps = tpsPools
	if cfg.LLM != nil {
		if s.llm, err = buildLLM(cfg, llmSt, log); err != nil {
			return nil, err
		}
	}

	specs := make([]route.Spec, len(cfg.Routes))
	s.handlers = make([]httpx.Handler, len(cfg.Routes))
	s.routes = make([]string, len(cfg.Routes))
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		m := rc.Match
		specs[i] = route.Spec{
			Listeners: rc.Listeners,
			Host:      m.Host,
			Path:      m.Path,
			PathRegex: m.PathRegex,
			Methods:   m.Methods,
			Headers:   m.Headers,
			Query:     m.Query,
			ClientIP:  m.ClientIP,
			Country:   m.Country,
		}
		s.routes[i] = rc.Name
		h, err := routeTarget(s, cfg, rc, log, obs)
		if err != nil {
			return nil, err
		}
		b := &policyBuild{cfg: cfg, route: rc, snap: s, state: pol, log: log.With("route", rc.Name), obs: obs}
		if s.handlers[i], err = b.chain(h, rc.Policies); err != nil {
			return nil, err
		}
		for _, l := range cfg.Listeners {
			if len(l.Policies) == 0 || !slices.Contains(rc.Listeners, l.Name) {
				continue
			}
			eff := withDefaults(l.Policies, rc.Policies)
			lh, err := b.chain(h, eff)
			if err != nil {
				return nil, err
			}
			if s.byListener == nil {
				s.byListener = map[string][]httpx.Handler{}
			}
			if s.byListener[l.Name] == nil {
				// only routes that serve on the listener are ever dispatched from it
				s.byListener[l.Name] = make([]httpx.Handler, len(cfg.Routes))
			}
			s.byListener[l.Name][i] = lh
		}
	}
	countries, err := openGeo(cfg)
	if err != nil {
		return nil, err
	}
	t, err := route.CompileWith(specs, route.Options{Countries: countries})
	if err != nil {
		return nil, routeErrors(cfg, err)
	}
	s.table = t
	return s, nil
}

// routeErrors turns the route compiler's errors into config errors at each route's line.
func routeErrors(cfg *config.Config, err error) error {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return fmt.Errorf("%s: routes: %w", cfg.File, err)
	}
	var out config.Errors
	for _, e := range joined.Unwrap() {
		var se *route.SpecError
		if !errors.As(e, &se) || se.Index < 0 || se.Index >= len(cfg.Routes) {
			out = append(out, config.Error{File: cfg.File, Msg: e.Error()})
			continue
		}
		rc := &cfg.Routes[se.Index]
		line := rc.Match.Line
		if line == 0 {
			line = rc.Line
		}
		out = append(out, config.Error{File: cfg.File, Line: line, Msg: fmt.Sprintf("route %q: match.%s: %v", rc.Name, se.Field, se.Err)})
	}
	return out
}

// routeTrust is the union of the trusted proxies of the listeners the route serves on.
func routeTrust(cfg *config.Config, rc *config.Route) proxy.Trust {
	var t proxy.Trust
	for _, l := range cfg.Listeners {
		if len(rc.Listeners) == 0 || slices.Contains(rc.Listeners, l.Name) {
			t = append(t, l.TrustedProxies...)
		}
	}
	return t
}

// stripLines zeroes line numbers so moving an upstream in the file does not count as a change.
func stripLines(u config.Upstream) config.Upstream {
	u.Line = 0
	if u.TLS != nil {
		t := *u.TLS
		t.Line = 0
		u.TLS = &t
	}
	ts := make([]config.Target, len(u.Targets))
	for i, t := range u.Targets {
		t.Line = 0
		ts[i] = t
	}
	u.Targets = ts
	return u
}

// headerRules turns a config header edit into the proxy's ordered form. Map order is random, so
// names are sorted to make the applied order (and so the wire) deterministic.
func headerRules(h config.HeaderOps) proxy.HeaderRules {
	r := proxy.HeaderRules{Remove: h.Remove}
	r.Set = sortedFields(h.Set)
	r.Add = sortedFields(h.Add)
	return r
}

func sortedFields(m map[string]string) []httpx.Field {
	if len(m) == 0 {
		return nil
	}
	fs := make([]httpx.Field, 0, len(m))
	for k, v := range m {
		fs = append(fs, httpx.Field{Name: k, Value: v})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	return fs
}

func buildPool(u *config.Upstream, reg *upstream.Registry, log *slog.Logger) (*upstream.Pool, error) {
	opts := balance.Options{HashKey: u.HashKey.String()}
	if _, err := balance.New(u.Balance, opts); err != nil {
		return nil, err
	}
	// The pool needs one balancer per group of targets (priority level, zone); the algorithm
	// and options were just checked, so building more cannot fail.
	newBalancer := func() balance.Balancer {
		b, _ := balance.New(u.Balance, opts)
		return b
	}
	// Targets added while aya runs (admin API, DNS discovery) are built the same way.
	factory := func(tc config.Target) (*upstream.Target, error) { return buildTarget(u, tc, log) }
	return reg.Pool(u, newBalancer, factory)
}

// livePools lists the snapshot's pools, for the registry to run their health checks.
func (s *snapshot) livePools() []*upstream.Pool {
	ps := make([]*upstream.Pool, 0, len(s.pools))
	for _, p := range s.pools {
		ps = append(ps, p.pool)
	}
	return ps
}

func buildTarget(u *config.Upstream, tc config.Target, log *slog.Logger) (*upstream.Target, error) {
	to := u.Timeouts
	hostOnly := tc.Host
	if i := strings.LastIndexByte(hostOnly, ':'); i >= 0 {
		hostOnly = strings.Trim(hostOnly[:i], "[]")
	}
	t := &upstream.Target{
		Name:     tc.URL,
		Host:     hostHeader(tc),
		Protocol: tc.Protocol,
		Scheme:   tc.Scheme,
		Addr:     tc.Host,
		Balance:  balance.NewTarget(tc.URL, tc.Weight),
		Priority: tc.Priority,
		Backup:   tc.Backup,
		Zone:     tc.Zone,
	}
	switch {
	case tc.Scheme == config.SchemeH2C:
		t.Protocol = config.ProtocolH2
		t.Transport = upstream.NewH2(upstream.H2Options{Addr: tc.Host, DialTimeout: to.Connect.D(), ResponseHeader: to.ResponseHeader.D(), IdleTimeout: to.Idle.D()})
	case tc.Scheme == config.SchemeHTTPS && tc.Protocol == config.ProtocolH2:
		tcfg, err := upstreamTLS(u, hostOnly, log)
		if err != nil {
			return nil, err
		}
		t.TLS = tcfg
		t.Transport = upstream.NewH2(upstream.H2Options{Addr: tc.Host, TLS: tcfg, DialTimeout: to.Connect.D(), ResponseHeader: to.ResponseHeader.D(), IdleTimeout: to.Idle.D()})
	default:
		maxIdle := u.Pool.MaxIdle
		if maxIdle == 0 {
			maxIdle = -1 // config 0 means "keep none"; the client reads 0 as its default
		}
		c := &h1.Client{
			Addr:                  tc.Host,
			MaxIdle:               maxIdle,
			IdleTimeout:           to.Idle.D(),
			DialTimeout:           to.Connect.D(),
			TLSHandshakeTimeout:   to.TLSHandshake.D(),
			ResponseHeaderTimeout: to.ResponseHeader.D(),
			ReadTimeout:           to.Read.D(),
			WriteTimeout:          to.Write.D(),
		}
		if tc.Scheme == config.SchemeHTTPS {
			tcfg, err := upstreamTLS(u, hostOnly, log)
			if err != nil {
				return nil, err
			}
			tcfg.NextProtos = []string{"http/1.1"}
			c.TLS, t.TLS = tcfg, tcfg
		}
		t.Transport = h1Transport{c}
	}
	return t, nil
}

// hostHeader is the Host aya sends to a target: the port is left out when it is the scheme's
// default, as browsers do, since some servers route on the bare name.
func hostHeader(tc config.Target) string {
	h := tc.Host
	switch {
	case (tc.Scheme == config.SchemeHTTP || tc.Scheme == config.SchemeH2C) && strings.HasSuffix(h, ":80"):
		return strings.TrimSuffix(h, ":80")
	case tc.Scheme == config.SchemeHTTPS && strings.HasSuffix(h, ":443"):
		return strings.TrimSuffix(h, ":443")
	}
	return h
}

// h1Transport adapts the h1 client to upstream.Transport.
type h1Transport struct{ *h1.Client }

func (t h1Transport) Close() { t.Client.Close() }

// closePoolsNotIn releases pools of old that next no longer uses.
func closePoolsNotIn(old, next *snapshot) {
	if old == nil {
		return
	}
	old.closePolicies()
	if old.llm != nil && old.llm != next.llm {
		old.llm.Close() // a reload builds new providers; the old ones' idle connections go
	}
	for name, p := range old.pools {
		if n, ok := next.pools[name]; ok && n == p {
			continue
		}
		p.pool.Close()
	}
}

// faultOf turns a route's fault config into the proxy's form.
func faultOf(route string, c *config.Fault) proxy.Fault {
	f := proxy.Fault{Route: route, Header: c.Header, Seed: c.Seed}
	if d := c.Delay; d != nil {
		f.Delay, f.DelayPercent = d.Duration.D(), float64(d.Percent)
	}
	if a := c.Abort; a != nil {
		f.AbortStatus, f.AbortPercent = a.Status, float64(a.Percent)
	}
	return f
}

// closePolicies releases what the snapshot's policies hold.
func (s *snapshot) closePolicies() {
	for _, f := range s.closers {
		f()
	}
	s.closers = nil
}

// discard releases what a snapshot that will never serve started: its policies' workers and
// its LLM providers (metrics scrapers, idle connections). Pools are not touched: they may be
// the running snapshot's.
func (s *snapshot) discard() {
	s.closePolicies()
	if s.llm != nil {
		s.llm.Close()
	}
}
