package config

import (
	"strings"
	"testing"
	"time"
)

func TestAlertsDefaultsAndValues(t *testing.T) {
	cfg, err := parse("a.yaml", []byte(okListener+okUpstream+okRoute+`alerts:
  rules:
    - {name: errors, type: error_rate, route: all, threshold: 5%, window: 30s, for: 10s}
    - {name: slow, type: p99, threshold: 250ms}
    - {name: down, type: target_down, upstream: app}
    - {name: dead, type: all_targets_down}
    - {name: reload, type: reload_failed, severity: info}
    - {name: limited, type: rate_limit_spike}
  webhooks:
    - http://127.0.0.1:9/hook
    - {url: "https://hooks.example.com/aya", timeout: 2s, retries: 0, headers: {Authorization: "Bearer x"}}
  anomaly: {sensitivity: 5}
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Alerts
	r := a.Rules
	if r[0].Limit != 0.05 || r[0].Window.D() != 30*time.Second || r[0].For.D() != 10*time.Second || r[0].Severity != "warning" {
		t.Errorf("error_rate rule %+v", r[0])
	}
	if r[1].Limit != 0.25 || r[1].Window.D() != time.Minute || r[1].Route != "" {
		t.Errorf("p99 rule %+v", r[1])
	}
	if r[3].Severity != "critical" || r[4].Severity != "info" {
		t.Errorf("severities %q %q", r[3].Severity, r[4].Severity)
	}
	if r[5].Limit != 1 || r[5].Factor != 3 {
		t.Errorf("rate_limit_spike defaults %+v", r[5])
	}
	if w := a.Webhooks[0]; w.URL != "http://127.0.0.1:9/hook" || w.Timeout.D() != 5*time.Second || w.Retries != 3 {
		t.Errorf("webhook defaults %+v", w)
	}
	if w := a.Webhooks[1]; w.Retries != 0 || w.Timeout.D() != 2*time.Second || w.Headers["Authorization"] != "Bearer x" {
		t.Errorf("webhook %+v", w)
	}
	if an := a.Anomaly; !an.Enabled || an.Interval.D() != 5*time.Second || an.Sensitivity != 5 || an.MinRPS != 1 {
		t.Errorf("anomaly %+v", an)
	}

	none, err := parse("a.yaml", []byte(okListener+okUpstream+okRoute), noEnv)
	if err != nil || !none.Alerts.Anomaly.Enabled || len(none.Alerts.Rules) != 0 {
		t.Fatalf("no alerts key: %v %+v", err, none.Alerts)
	}
}

func TestAlertsBad(t *testing.T) {
	for _, tc := range []struct{ block, want string }{
		{"rules: [{name: x, type: error_rat, threshold: 5%}]", `5: alert rule "x": unknown type "error_rat": use error_rate`},
		{"rules: [{name: x, type: error_rate}]", `5: alert rule "x": threshold "": give the share of 5xx answers`},
		{"rules: [{name: x, type: error_rate, threshold: 150%}]", `5: alert rule "x": threshold "150%"`},
		{"rules: [{name: x, type: p99, threshold: fast}]", `5: alert rule "x": threshold "fast": give a latency`},
		{"rules: [{name: x, type: p99, threshold: 1s, route: nope}]", `5: alert rule "x": route "nope" is not defined`},
		{"rules: [{name: x, type: p99, threshold: 1s, upstream: app}]", `5: alert rule "x": upstream does not apply to p99`},
		{"rules: [{name: x, type: target_down, upstream: ap}]", `5: alert rule "x": upstream "ap" is not defined (did you mean "app"?)`},
		{"rules: [{name: x, type: target_down, route: all}]", `5: alert rule "x": route does not apply to target_down`},
		{"rules: [{name: x, type: reload_failed, threshold: 1}]", `5: alert rule "x": threshold does not apply to reload_failed`},
		{"rules: [{name: x, type: p99, threshold: 1s, window: 2h}]", `5: alert rule "x": window must be from 1s to 1h`},
		{"rules: [{name: x, type: p99, threshold: 1s, severity: page}]", `5: alert rule "x": severity "page"`},
		{"rules: [{name: x, type: rate_limit_spike, factor: 0.5}]", `5: alert rule "x": factor must be at least 1`},
		{"rules: [{name: x, type: reload_failed}, {name: x, type: reload_failed}]", `5: alert rule "x": duplicate name`},
		{"rules: [{type: reload_failed}]", `5: alert rule #1: name is required`},
		{"webhooks: [ftp://x]", `5: alert webhook #1: url "ftp://x"`},
		{"webhooks: [{url: http://x, retries: 11}]", `5: alert webhook #1: retries must be from 0 to 10`},
		{"webhooks: [{url: http://x, timeout: 0}]", `5: alert webhook #1: timeout must be more than 0`},
		{"anomaly: {sensitivity: 1}", `5: alerts.anomaly: sensitivity must be from 2 to 20`},
		{"anomaly: {interval: 10m}", `5: alerts.anomaly: interval must be from 1s to 5m`},
	} {
		_, err := parse("a.yaml", []byte(okListener+okUpstream+okRoute+"alerts:\n  "+tc.block+"\n"), noEnv)
		if err == nil || !strings.Contains(err.Error(), "a.yaml:"+tc.want) {
			t.Errorf("%s\n got %v\nwant a.yaml:%s", tc.block, err, tc.want)
		}
	}
}
