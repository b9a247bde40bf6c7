package gateway

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"aya/internal/upstream"
)

// stateCollector reads on scrape what changes without requests: connections, target health,
// breakers and ejections, config reloads, TPS pools. Nothing here runs on the request path.
type stateCollector struct{ g *Gateway }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descClientConns = desc("aya_client_connections", "Open client connections, by listener and protocol (h1, h2).", "listener", "protocol")
	descUpConns     = desc("aya_upstream_connections", "Connections to HTTP/1.1 targets, active (carrying an exchange) or idle (pooled).", "upstream", "target", "state")
	descTargetState = desc("aya_upstream_target_state", "1 for the target's current state (healthy, half_open, open, ejected, unhealthy, draining), 0 for the others.", "upstream", "target", "state")
	descBreaker     = desc("aya_upstream_circuit_breaker_state", "1 for the target's circuit breaker state (closed, half_open, open), 0 for the others.", "upstream", "target", "state")
	descEjections   = desc("aya_upstream_target_ejections_total", "Times outlier detection ejected the target.", "upstream", "target")
	descTargetIn    = desc("aya_upstream_target_in_flight", "Requests in flight to the target.", "upstream", "target")
	descShedLimit   = desc("aya_upstream_concurrency_limit", "Load shedding's current limit on the upstream's concurrent requests (upstreams with load_shedding only).", "upstream")
	descPanic       = desc("aya_upstream_panic_mode", "1 while the upstream balances over all its targets because too few are usable.", "upstream")
	descReloads     = desc("aya_config_reloads_total", "Config reloads, by result (success, failure).", "result")
	descReloadTime  = desc("aya_config_last_reload_success_timestamp_seconds", "When the running config was loaded (Unix time).")
	descReloadOK    = desc("aya_config_last_reload_successful", "1 when the last reload succeeded (or none failed since start), 0 when it was refused.")

	descTPSCapacity  = desc("aya_tps_capacity", "Configured capacity of the TPS pool, requests per second.", "pool")
	descTPSEffective = desc("aya_tps_effective_capacity", "What the pool's shares add up to now (after margin, upstream 429s and rate-limit headers), requests per second.", "pool")
	descTPSShared    = desc("aya_tps_shared_capacity", "Capacity given to no service, open to any waiting request, requests per second.", "pool")
	descTPS429       = desc("aya_tps_upstream_429_total", "429 answers the pool's upstream gave.", "pool")
	descTPSAlloc     = desc("aya_tps_allocation_rps", "The service's share this tick, requests per second.", "pool", "service", "priority")
	descTPSDemand    = desc("aya_tps_demand_rps", "The service's demand over the last tick, requests per second.", "pool", "service", "priority")
	descTPSServed    = desc("aya_tps_served_rps", "Requests of the service admitted over the last tick, per second.", "pool", "service", "priority")
	descTPSRejected  = desc("aya_tps_rejected_rps", "Requests of the service rejected over the last tick, per second.", "pool", "service", "priority")
	descTPSQueued    = desc("aya_tps_queued", "Requests of the service waiting for capacity now.", "pool", "service", "priority")
	descTPSAdmitted  = desc("aya_tps_admitted_total", "Requests of the service admitted.", "pool", "service", "priority")
	descTPSRejTotal  = desc("aya_tps_rejected_total", "Requests of the service rejected by aya (429).", "pool", "service", "priority")
)

var targetStates = []string{upstream.StateHealthy, upstream.StateHalfOpen, upstream.StateOpen, upstream.StateEjected, upstream.StateUnhealthy, upstream.StateDraining}

var breakerStates = []string{"closed", "half_open", "open"}

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClientConns, descUpConns, descTargetState, descBreaker, descEjections, descTargetIn,
		descShedLimit, descPanic, descReloads, descReloadTime, descReloadOK, descTPSCapacity, descTPSEffective, descTPSShared, descTPS429,
		descTPSAlloc, descTPSDemand, descTPSServed, descTPSRejected, descTPSQueued, descTPSAdmitted, descTPSRejTotal} {
		ch <- d
	}
	describeTraffic(ch)
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	g := c.g
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, l := range g.liveListeners() {
		gauge(descClientConns, float64(l.h1.ActiveConns()), l.cfg.Name, "h1")
		gauge(descClientConns, float64(l.h2conns.Load()), l.cfg.Name, "h2")
	}

	s := g.snap.Load()
	collectTraffic(ch, &s.traffic)
	names := make([]string, 0, len(s.pools))
	for name := range s.pools {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := s.pools[name].pool
		gauge(descPanic, b2f(p.Panicking()), name)
		if limit, _, ok := p.ShedLimit(); ok {
			gauge(descShedLimit, float64(limit), name)
		}
		for _, t := range p.Targets() {
			st := t.State.Status()
			for _, state := range targetStates {
				gauge(descTargetState, b2f(st.State == state), name, t.Name, state)
			}
			for _, state := range breakerStates {
				gauge(descBreaker, b2f(st.Breaker == state), name, t.Name, state)
			}
			counter(descEjections, float64(st.Ejections), name, t.Name)
			gauge(descTargetIn, float64(t.Balance.InFlight()), name, t.Name)
			if h, ok := t.Transport.(h1Transport); ok {
				gauge(descUpConns, float64(h.ActiveConns()), name, t.Name, "active")
				gauge(descUpConns, float64(h.IdleConns()), name, t.Name, "idle")
			}
		}
	}

	counter(descReloads, float64(g.reloads.Load()), "success")
	counter(descReloads, float64(g.reloadErrors.Load()), "failure")
	if ns := g.lastReload.Load(); ns > 0 {
		gauge(descReloadTime, float64(ns)/1e9)
	}
	gauge(descReloadOK, b2f(g.lastReloadErr.Load() == nil))

	pools := make([]string, 0, len(s.tps))
	for name := range s.tps {
		pools = append(pools, name)
	}
	sort.Strings(pools)
	for _, name := range pools {
		snap := s.tps[name].pool.Snapshot()
		gauge(descTPSCapacity, snap.Capacity, name)
		gauge(descTPSEffective, snap.EffectiveCapacity, name)
		gauge(descTPSShared, snap.Shared, name)
		counter(descTPS429, float64(snap.Upstream429), name)
		for _, sv := range snap.Services {
			l := []string{name, sv.Name, sv.Priority.String()}
			gauge(descTPSAlloc, sv.Allocation, l...)
			gauge(descTPSDemand, sv.Demand, l...)
			gauge(descTPSServed, sv.Served, l...)
			gauge(descTPSRejected, sv.Rejected, l...)
			gauge(descTPSQueued, float64(sv.Queued), l...)
			counter(descTPSAdmitted, float64(sv.Admitted), l...)
			counter(descTPSRejTotal, float64(sv.RejectedTotal), l...)
		}
	}
}

// publishListeners records the serving listeners for liveListeners; called with g.mu held.
func (g *Gateway) publishListeners() {
	ls := make([]*listener, 0, len(g.listeners))
	for _, l := range g.listeners {
		ls = append(ls, l)
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].cfg.Name < ls[j].cfg.Name })
	g.live.Store(&ls)
}

func (g *Gateway) liveListeners() []*listener {
	if p := g.live.Load(); p != nil {
		return *p
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
