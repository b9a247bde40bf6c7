package alert

import (
	"fmt"
	"time"

	"aya/internal/observe/analytics"
)

// minRequests is the least traffic in a window for error_rate and p99 to judge it: one slow or
// failed request out of three is not an outage.
const minRequests = 10

// evalRules returns the findings of every configured rule. Called with e.mu held.
func (e *Engine) evalRules(now time.Time) []finding {
	var out []finding
	var targets []TargetHealth
	targetsRead := false
	for _, r := range e.cfg.Rules {
		switch r.Type {
		case TypeErrorRate, TypeP99, TypeRateLimitSpike:
			if e.o.Metrics == nil {
				continue
			}
			if f, ok := e.traffic(r); ok {
				out = append(out, f)
			}
		case TypeTargetDown, TypeAllTargetsDown:
			if e.o.Targets == nil {
				continue
			}
			if !targetsRead {
				targets, targetsRead = e.o.Targets(), true
			}
			out = append(out, health(r, targets)...)
		case TypeReloadFailed:
			if e.o.ReloadError == nil {
				continue
			}
			if msg := e.o.ReloadError(); msg != "" {
				out = append(out, finding{
					key: r.Name, rule: r.Name, typ: r.Type, severity: r.Severity, subject: "config",
					message: "config reload refused; the previous config keeps serving: " + msg, value: 1, hold: r.For,
				})
			}
		}
	}
	return out
}

// traffic evaluates a rule over a route's (or all) traffic.
func (e *Engine) traffic(r Rule) (finding, bool) {
	dim, name, subject := analytics.Total, "", "all routes"
	if r.Route != "" {
		dim, name, subject = analytics.Route, r.Route, "route "+r.Route
	}
	p := e.o.Metrics.Summary(dim, name, r.Window)
	f := finding{key: r.Name, rule: r.Name, typ: r.Type, severity: r.Severity, subject: subject, threshold: r.Limit, hold: r.For}
	switch r.Type {
	case TypeErrorRate:
		if p.Requests < minRequests || p.Err5xx <= r.Limit {
			return f, false
		}
		f.value = p.Err5xx
		f.message = fmt.Sprintf("%s: %.1f%% of %d requests failed with 5xx over %v (threshold %.1f%%)", subject, 100*p.Err5xx, p.Requests, r.Window, 100*r.Limit)
	case TypeP99:
		if p.Requests < minRequests || p.P99 <= r.Limit {
			return f, false
		}
		f.value = p.P99
		f.message = fmt.Sprintf("%s: p99 latency %v over %v (threshold %v)", subject, seconds(p.P99), r.Window, seconds(r.Limit))
	case TypeRateLimitSpike:
		rate := float64(p.Limited) / r.Window.Seconds()
		if rate <= r.Limit {
			return f, false
		}
		// The baseline is the rest of the last hour, so a steady rate of 429s is not a spike.
		hour := e.o.Metrics.Summary(dim, name, time.Hour)
		var base float64
		if rest := time.Hour - r.Window; rest > 0 && hour.Limited > p.Limited {
			base = float64(hour.Limited-p.Limited) / rest.Seconds()
		}
		if rate <= r.Factor*base {
			return f, false
		}
		f.value = rate
		f.message = fmt.Sprintf("%s: %.1f answers/s rejected with 429 over %v, %.1fx the hour before (threshold %.1f/s)", subject, rate, r.Window, rate/max(base, 1e-9), r.Limit)
		if base == 0 {
			f.message = fmt.Sprintf("%s: %.1f answers/s rejected with 429 over %v, none the hour before (threshold %.1f/s)", subject, rate, r.Window, r.Limit)
		}
	}
	return f, true
}

// health evaluates target_down and all_targets_down.
func health(r Rule, targets []TargetHealth) []finding {
	var out []finding
	type tally struct{ all, down int }
	ups := map[string]*tally{}
	var order []string
	for _, t := range targets {
		if r.Upstream != "" && t.Upstream != r.Upstream {
			continue
		}
		c := ups[t.Upstream]
		if c == nil {
			c = &tally{}
			ups[t.Upstream] = c
			order = append(order, t.Upstream)
		}
		c.all++
		if t.Up {
			continue
		}
		c.down++
		if r.Type == TypeTargetDown {
			msg := fmt.Sprintf("upstream %s: target %s is %s", t.Upstream, t.Target, t.State)
			if t.Reason != "" {
				msg += ": " + t.Reason
			}
			out = append(out, finding{
				key: r.Name + "/" + t.Upstream + "/" + t.Target, rule: r.Name, typ: r.Type, severity: r.Severity,
				subject: "target " + t.Target, message: msg, value: 1, hold: r.For,
			})
		}
	}
	if r.Type == TypeAllTargetsDown {
		for _, name := range order {
			if c := ups[name]; c.down == c.all {
				out = append(out, finding{
					key: r.Name + "/" + name, rule: r.Name, typ: r.Type, severity: r.Severity, subject: "upstream " + name,
					message: fmt.Sprintf("upstream %s: none of its %d targets takes requests", name, c.all), value: float64(c.all), hold: r.For,
				})
			}
		}
	}
	return out
}

func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Microsecond)
}
