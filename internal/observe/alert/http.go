package alert

import (
	"encoding/json"
	"net/http"
)

// ruleView is a rule as GET /alerts shows it, durations written as Go durations.
type ruleView struct {
	Name      string  `json:"name"`
	Type      string  `json:"type"`
	Route     string  `json:"route,omitempty"`
	Upstream  string  `json:"upstream,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`
	Window    string  `json:"window,omitempty"`
	For       string  `json:"for,omitempty"`
	Factor    float64 `json:"factor,omitempty"`
	Severity  string  `json:"severity"`
}

// Handler serves GET /alerts: the alerts firing now (most severe first), the last resolved
// ones (newest first), the rules and detector settings in force, and how many webhooks
// receive alerts (their URLs and headers may hold credentials, so they are not shown).
func (e *Engine) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg := e.Config()
		rules := make([]ruleView, 0, len(cfg.Rules))
		for _, r := range cfg.Rules {
			v := ruleView{Name: r.Name, Type: r.Type, Route: r.Route, Upstream: r.Upstream, Threshold: r.Limit, Factor: r.Factor, Severity: r.Severity}
			switch r.Type {
			case TypeErrorRate, TypeP99, TypeRateLimitSpike:
				v.Window = r.Window.String()
			}
			if r.For > 0 {
				v.For = r.For.String()
			}
			rules = append(rules, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(map[string]any{
			"firing": e.Firing(), "resolved": e.Resolved(), "rules": rules,
			"anomaly": map[string]any{
				"enabled": cfg.Anomaly.Enabled, "interval": cfg.Anomaly.Interval.String(),
				"sensitivity": cfg.Anomaly.Sensitivity, "min_rps": cfg.Anomaly.MinRPS,
			},
			"webhooks": len(cfg.Webhooks),
		})
	})
}
