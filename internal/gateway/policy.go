package gateway

import (
	"fmt"
	"log/slog"

	"aya/internal/config"
	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/proxy"
)

// policyState is what policies keep across reloads (rate-limit counters, the response cache,
// consumers and subscriptions added through the admin API). The gateway makes one; every
// snapshot's policies are built over it.
type policyState struct {
	log     *slog.Logger
	auth    authState
	limit   limitState
	cache   cacheState
	metrics *policyMetrics
}

func newPolicyState(log *slog.Logger) *policyState {
	p := &policyState{log: log}
	p.auth.init(log)
	p.limit.init(log)
	p.cache.init(log)
	p.metrics = newPolicyMetrics(&p.cache)
	return p
}

// close releases what the state holds when the gateway shuts down.
func (p *policyState) close() {
	p.auth.close()
	p.limit.close()
	p.cache.close()
}

// policyBuild is what a policy builder gets for one route: the config, the snapshot being
// built (its pools), the long-lived state, and a way to reach other upstreams.
type policyBuild struct {
	cfg   *config.Config
	route *config.Route
	snap  *snapshot
	state *policyState
	log   *slog.Logger
	obs   proxy.Observer
}

// chain builds list's middlewares over h. Errors carry the policy's file:line.
func (b *policyBuild) chain(h httpx.Handler, list []config.Policy) (httpx.Handler, error) {
	if len(list) == 0 {
		return h, nil
	}
	ms := make([]policy.Middleware, 0, len(list))
	for i := range list {
		p := &list[i]
		m, err := b.build(p)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: route %q: %s: %w", b.cfg.File, p.Line, b.route.Name, p.Kind(), err)
		}
		ms = append(ms, m)
	}
	return policy.Chain(h, ms...), nil
}

func (b *policyBuild) build(p *config.Policy) (policy.Middleware, error) {
	switch {
	case p.Auth != nil:
		return b.auth(p.Auth)
	case p.ACL != nil:
		return b.acl(p.ACL)
	case p.RateLimit != nil:
		return b.rateLimit(p.RateLimit)
	case p.Transform != nil:
		return b.transform(p.Transform)
	case p.Rewrite != nil:
		return b.rewrite(p.Rewrite)
	case p.Redirect != nil:
		return b.redirect(p.Redirect)
	case p.Static != nil:
		return b.static(p.Static)
	case p.Aggregate != nil:
		return b.aggregate(p.Aggregate)
	case p.Canary != nil:
		return b.canary(p.Canary)
	case p.Mirror != nil:
		return b.mirror(p.Mirror)
	case p.Cache != nil:
		return b.cache(p.Cache)
	case p.Compress != nil:
		return b.compress(p.Compress)
	case p.CORS != nil:
		return b.cors(p.CORS)
	case p.IPFilter != nil:
		return b.ipFilter(p.IPFilter)
	case p.RequestLimits != nil:
		return b.requestLimits(p.RequestLimits)
	}
	return nil, fmt.Errorf("no policy named")
}

// onClose registers what to release when the snapshot retires (a reload or shutdown).
func (b *policyBuild) onClose(f func()) { b.snap.closers = append(b.snap.closers, f) }

// proxyTo is a handler that sends requests to the named upstream with the route's own proxy
// settings (headers, timeouts, strip_prefix), for policies that pick another upstream
// (canary, mirror, aggregate).
func (b *policyBuild) proxyTo(upstreamName string) (httpx.Handler, error) {
	p, ok := b.snap.pools[upstreamName]
	if !ok {
		return nil, fmt.Errorf("unknown upstream %q", upstreamName)
	}
	pr := routeProxy(b.cfg, b.route, p)
	return proxy.New(pr, b.log.With("upstream", upstreamName), b.obs), nil
}

// withDefaults is a listener's default policies followed by the route's own, leaving out the
// defaults of a kind the route lists itself.
func withDefaults(defaults, own []config.Policy) []config.Policy {
	kinds := make(map[string]bool, len(own))
	for i := range own {
		kinds[own[i].Kind()] = true
	}
	out := make([]config.Policy, 0, len(defaults)+len(own))
	for _, d := range defaults {
		if !kinds[d.Kind()] {
			out = append(out, d)
		}
	}
	return append(out, own...)
}

// routeProxy is the proxy configuration of route rc over pool p.
func routeProxy(cfg *config.Config, rc *config.Route, p *pooled) proxy.Route {
	preserve := p.cfg.PreserveHost
	if rc.PreserveHost != nil {
		preserve = *rc.PreserveHost
	}
	return proxy.Route{
		Name:            rc.Name,
		Pool:            p.pool,
		RequestHeaders:  headerRules(rc.RequestHeaders),
		ResponseHeaders: headerRules(rc.ResponseHeaders),
		PreserveHost:    preserve,
		StripPrefix:     rc.StripPrefix,
		Timeout:         rc.Timeout.D(),
		MaxBody:         int64(rc.MaxBody),
		Trust:           routeTrust(cfg, rc),

		RetryNonIdempotent: rc.RetryNonIdempotent,
	}
}

// routeTarget is what a route's chain ends in: its upstream behind fault injection and TPS
// admission, or (for a route whose policies answer every request) a 500 that names the gap.
func routeTarget(s *snapshot, cfg *config.Config, rc *config.Route, log *slog.Logger, obs proxy.Observer) (httpx.Handler, error) {
	if rc.Upstream == "" {
		msg := fmt.Sprintf("route %q has no upstream and its policies did not answer", rc.Name)
		return httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
			proxy.WriteError(w, r, 500, msg)
		}), nil
	}
	p, ok := s.pools[rc.Upstream]
	if !ok {
		return nil, fmt.Errorf("%s:%d: route %q: unknown upstream %q", cfg.File, rc.Line, rc.Name, rc.Upstream)
	}
	pr := routeProxy(cfg, rc, p)
	if f := rc.Fallback; f != nil {
		if f.Upstream != "" {
			fp := s.pools[f.Upstream]
			fpr := routeProxy(cfg, rc, fp)
			pr.Fallback = &proxy.Fallback{Handler: proxy.New(fpr, log.With("route", rc.Name, "fallback", f.Upstream), obs)}
		} else {
			pr.Fallback = proxy.NewStaticFallback(f.Status, f.Body, f.ContentType)
		}
	}
	var h httpx.Handler = proxy.New(pr, log.With("route", rc.Name), obs)
	if f := rc.Fault; f != nil {
		h = proxy.NewFault(faultOf(rc.Name, f), h)
	}
	if rc.TPS != nil {
		tp, ok := s.tps[rc.TPS.Pool]
		if !ok {
			return nil, fmt.Errorf("%s:%d: route %q: unknown tps pool %q", cfg.File, rc.Line, rc.Name, rc.TPS.Pool)
		}
		gate, err := newTPSGate(tp.pool, rc.TPS, h)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: route %q: %w", cfg.File, rc.Line, rc.Name, err)
		}
		h = gate
	}
	return h, nil
}
