package gateway

import (
	"context"
	"net/http"

	"aya/internal/admin"
	"aya/internal/config"
	"aya/internal/observe/alert"
	"aya/internal/observe/analytics"
	"aya/internal/upstream"
)

// insight is what an operator sees beyond metrics and logs: the analytics store (a sink of
// every request), the alert engine that watches it, and the dashboard with its sign-in.
type insight struct {
	store    *analytics.Store
	alerts   *alert.Engine
	sessions *admin.Sessions
}

// newInsight builds the store, the alert engine and the dashboard, registers the store as a
// request sink and mounts GET /analytics, GET /alerts and /ui/ on the admin API.
func newInsight(g *Gateway, cfg *config.Config) *insight {
	in := &insight{
		store:    analytics.New(analytics.Options{}),
		sessions: admin.NewSessions(cfg.Admin.Token, 0),
	}
	in.alerts = alert.New(alertConfig(cfg.Alerts), alert.Options{
		Metrics:     in.store,
		Targets:     g.targetHealth,
		ReloadError: g.reloadError,
		Logger:      g.log.With("component", "alerts"),
	})
	g.Sinks().Add(in.store)
	h := in.store.Handler()
	g.HandleAdmin("GET /analytics", h, false)
	g.HandleAdmin("GET /analytics/", h, false)
	g.HandleAdmin("GET /alerts", in.alerts.Handler(), false)
	g.HandleAdmin("/ui/", admin.NewUI(in.sessions, g.log), true)
	return in
}

// start runs the store's clock and the alert engine until ctx ends.
func (in *insight) start(ctx context.Context) {
	go in.store.Run(ctx)
	go in.alerts.Run(ctx)
}

// reconfigure takes the alert rules and webhooks of a reloaded config.
func (in *insight) reconfigure(cfg *config.Config) { in.alerts.SetConfig(alertConfig(cfg.Alerts)) }

// authorize lets a browser signed in to the dashboard through the admin token check.
func (in *insight) authorize(h http.Handler) http.Handler { return in.sessions.Authorize(h) }

func alertConfig(c config.Alerts) alert.Config {
	out := alert.Config{Anomaly: alert.Anomaly{
		Enabled: c.Anomaly.Enabled, Interval: c.Anomaly.Interval.D(),
		Sensitivity: float64(c.Anomaly.Sensitivity), MinRPS: float64(c.Anomaly.MinRPS),
	}}
	for _, r := range c.Rules {
		out.Rules = append(out.Rules, alert.Rule{
			Name: r.Name, Type: r.Type, Route: r.Route, Upstream: r.Upstream, Limit: r.Limit,
			Window: r.Window.D(), For: r.For.D(), Factor: float64(r.Factor), Severity: r.Severity,
		})
	}
	for _, w := range c.Webhooks {
		out.Webhooks = append(out.Webhooks, alert.Webhook{URL: w.URL, Timeout: w.Timeout.D(), Retries: w.Retries, Headers: w.Headers})
	}
	return out
}

// targetHealth is every target of the live snapshot, for the target_down rules. A draining
// target is not down: an operator chose to empty it.
func (g *Gateway) targetHealth() []alert.TargetHealth {
	s := g.snap.Load()
	var out []alert.TargetHealth
	for _, u := range s.cfg.Upstreams {
		p, ok := s.pools[u.Name]
		if !ok {
			continue
		}
		for _, t := range p.pool.Targets() {
			st := t.State.Status()
			up := st.State == upstream.StateHealthy || st.State == upstream.StateHalfOpen || st.State == upstream.StateDraining
			reason := st.LastError
			if st.EjectReason != "" {
				reason = st.EjectReason
			}
			out = append(out, alert.TargetHealth{Upstream: u.Name, Target: t.Name, State: st.State, Up: up, Reason: reason})
		}
	}
	return out
}

// reloadError is why the last reload was refused, "" when it was applied.
func (g *Gateway) reloadError() string {
	if e := g.lastReloadErr.Load(); e != nil {
		return *e
	}
	return ""
}
