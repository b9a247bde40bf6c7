package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Alerts configures the alert rules, the automatic anomaly detector and where alerts go
// besides the log, GET /alerts and the dashboard.
type Alerts struct {
	Rules    []AlertRule    `yaml:"rules"`
	Webhooks []AlertWebhook `yaml:"webhooks"`
	Anomaly  AlertAnomaly   `yaml:"anomaly"`
}

// Alert rule types for AlertRule.Type.
const (
	AlertErrorRate      = "error_rate"       // share of 5xx over window > threshold ("5%")
	AlertP99            = "p99"              // 99th percentile latency over window > threshold ("500ms")
	AlertTargetDown     = "target_down"      // a target is not taking requests (unhealthy, ejected, open)
	AlertAllTargetsDown = "all_targets_down" // no target of an upstream takes requests
	AlertReloadFailed   = "reload_failed"    // the last config reload was refused
	// AlertRateLimitSpike: 429 answers over window, per second, above threshold ("5/s") and
	// above factor times their rate over the hour before.
	AlertRateLimitSpike = "rate_limit_spike"
)

var alertTypes = []string{AlertErrorRate, AlertP99, AlertTargetDown, AlertAllTargetsDown, AlertReloadFailed, AlertRateLimitSpike}

// Alert severities for AlertRule.Severity.
var alertSeverities = []string{"critical", "warning", "info"}

// AlertRule is one condition that raises an alert while it holds and resolves it after.
type AlertRule struct {
	Line int `yaml:"-"`

	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// Route scopes error_rate, p99 and rate_limit_spike to one route; empty: all traffic.
	Route string `yaml:"route"`
	// Upstream scopes target_down and all_targets_down to one upstream; empty: every upstream.
	Upstream string `yaml:"upstream"`
	// Threshold is a percentage for error_rate, a duration for p99 and a rate for
	// rate_limit_spike (default 1/s); validation parses it into Limit.
	Threshold string   `yaml:"threshold"`
	Window    Duration `yaml:"window" default:"1m"` // what the rate or percentile is measured over
	For       Duration `yaml:"for"`                 // how long the condition must hold before firing
	Factor    Ratio    `yaml:"factor" default:"3"`  // rate_limit_spike: times the hour-before rate
	Severity  string   `yaml:"severity"`            // critical, warning or info; default by type

	// Limit is Threshold parsed: a share (0..1), seconds, or requests per second.
	Limit float64 `yaml:"-"`
}

// AlertWebhook receives every alert that fires or resolves as a JSON POST.
type AlertWebhook struct {
	Line int `yaml:"-"`

	URL     string            `yaml:"url" shorthand:"true"`
	Timeout Duration          `yaml:"timeout" default:"5s"` // per attempt
	Retries int               `yaml:"retries" default:"3"`  // attempts after the first
	Headers map[string]string `yaml:"headers"`              // e.g. Authorization
}

// AlertAnomaly tunes the detector that flags sudden changes of each route's request rate,
// latency and error rate without a hand-set threshold.
type AlertAnomaly struct {
	Enabled  bool     `yaml:"enabled" default:"true"`
	Interval Duration `yaml:"interval" default:"5s"` // one sample per interval
	// Sensitivity is how many standard deviations from the smoothed baseline count as an
	// anomaly; higher is quieter.
	Sensitivity Ratio `yaml:"sensitivity" default:"4"`
	// MinRPS: routes quieter than this are not watched (too few samples to judge).
	MinRPS Rate `yaml:"min_rps" default:"1"`
}

func (v *validator) alerts(cfg *Config) {
	a := &cfg.Alerts
	routes := map[string]bool{}
	var routeNames []string
	for _, r := range cfg.Routes {
		routes[r.Name] = true
		routeNames = append(routeNames, r.Name)
	}
	ups := map[string]bool{}
	var upNames []string
	for _, u := range cfg.Upstreams {
		ups[u.Name] = true
		upNames = append(upNames, u.Name)
	}
	names := map[string]int{}
	for i := range a.Rules {
		r := &a.Rules[i]
		path := fmt.Sprintf("alerts.rules[%d]", i)
		if v.bad[path] {
			continue
		}
		v.name("alert rule", r.Name, i, path, r.Line, names)
		ctx := objName("alert rule", r.Name, i)
		if !slices.Contains(alertTypes, r.Type) {
			v.errAt(path+".type", r.Line, "%s: unknown type %q: use %s%s", ctx, r.Type, strings.Join(alertTypes, ", "), didYouMean(r.Type, alertTypes))
			continue
		}
		if r.Severity == "" {
			r.Severity = "warning"
			if r.Type == AlertAllTargetsDown || r.Type == AlertReloadFailed {
				r.Severity = "critical"
			}
		} else if !slices.Contains(alertSeverities, r.Severity) {
			v.errAt(path+".severity", r.Line, "%s: severity %q: use critical, warning or info", ctx, r.Severity)
		}
		scoped := r.Type == AlertErrorRate || r.Type == AlertP99 || r.Type == AlertRateLimitSpike
		if r.Route != "" {
			if !scoped {
				v.errAt(path+".route", r.Line, "%s: route does not apply to %s; remove it", ctx, r.Type)
			} else if !routes[r.Route] {
				v.errAt(path+".route", r.Line, "%s: route %q is not defined%s", ctx, r.Route, didYouMean(r.Route, routeNames))
			}
		}
		if r.Upstream != "" {
			if r.Type != AlertTargetDown && r.Type != AlertAllTargetsDown {
				v.errAt(path+".upstream", r.Line, "%s: upstream does not apply to %s; remove it", ctx, r.Type)
			} else if !ups[r.Upstream] {
				v.errAt(path+".upstream", r.Line, "%s: upstream %q is not defined%s", ctx, r.Upstream, didYouMean(r.Upstream, upNames))
			}
		}
		if scoped && (r.Window.D() < time.Second || r.Window.D() > time.Hour) {
			v.errAt(path+".window", r.Line, "%s: window must be from 1s to 1h, got %v", ctx, r.Window)
		}
		v.alertThreshold(r, path, ctx)
	}
	for i := range a.Webhooks {
		w := &a.Webhooks[i]
		path := fmt.Sprintf("alerts.webhooks[%d]", i)
		if v.bad[path] {
			continue
		}
		ctx := fmt.Sprintf("alert webhook #%d", i+1)
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errAt(path+".url", w.Line, "%s: url %q: want http:// or https://host[:port]/path", ctx, w.URL)
		}
		if w.Timeout.D() <= 0 {
			v.errAt(path+".timeout", w.Line, "%s: timeout must be more than 0", ctx)
		}
		if w.Retries < 0 || w.Retries > 10 {
			v.errAt(path+".retries", w.Line, "%s: retries must be from 0 to 10, got %d", ctx, w.Retries)
		}
	}
	an := &a.Anomaly
	if an.Interval.D() < time.Second || an.Interval.D() > 5*time.Minute {
		v.errAt("alerts.anomaly.interval", v.line("alerts.anomaly", 0), "alerts.anomaly: interval must be from 1s to 5m, got %v", an.Interval)
	}
	if an.Sensitivity < 2 || an.Sensitivity > 20 {
		v.errAt("alerts.anomaly.sensitivity", v.line("alerts.anomaly", 0), "alerts.anomaly: sensitivity must be from 2 to 20 standard deviations, got %v", float64(an.Sensitivity))
	}
}

// alertThreshold parses a rule's threshold by its type.
func (v *validator) alertThreshold(r *AlertRule, path, ctx string) {
	tp := path + ".threshold"
	switch r.Type {
	case AlertErrorRate:
		var x Ratio
		if err := x.UnmarshalText([]byte(r.Threshold)); err != nil || x > 1 || r.Threshold == "" {
			v.errAt(tp, r.Line, "%s: threshold %q: give the share of 5xx answers, like 5%%", ctx, r.Threshold)
			return
		}
		r.Limit = float64(x)
	case AlertP99:
		var d Duration
		if err := d.UnmarshalText([]byte(r.Threshold)); err != nil || d <= 0 {
			v.errAt(tp, r.Line, "%s: threshold %q: give a latency, like 500ms", ctx, r.Threshold)
			return
		}
		r.Limit = d.D().Seconds()
	case AlertRateLimitSpike:
		if r.Threshold == "" {
			r.Threshold = "1/s"
		}
		var x Rate
		if err := x.UnmarshalText([]byte(r.Threshold)); err != nil {
			v.errAt(tp, r.Line, "%s: threshold %q: give a rate of 429 answers, like 5/s", ctx, r.Threshold)
			return
		}
		r.Limit = float64(x)
		if r.Factor < 1 {
			v.errAt(path+".factor", r.Line, "%s: factor must be at least 1, got %v", ctx, float64(r.Factor))
		}
	default:
		if r.Threshold != "" {
			v.errAt(tp, r.Line, "%s: threshold does not apply to %s; remove it", ctx, r.Type)
		}
	}
}
