package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAssuranceDefaultsAndValues(t *testing.T) {
	cfg, err := parse("a.yaml", []byte(okListener+`upstreams:
  - name: app
    targets: ["http://127.0.0.1:9001"]
    health: {path: /healthz, expect_status: [200, 300-399], body: "/^ok$/", headers: {X-Probe: aya}}
    outlier: {consecutive_5xx: 7, failure_percentage: 30%}
    circuit_breaker: {error_ratio: 0.25, latency: 200ms}
    retries: {attempts: 2, on: [connect_error, reset, 502, 503, 504], budget: 20%, per_try_timeout: 1s}
  - name: bare
    targets: ["http://127.0.0.1:9002"]
    health: {type: tcp, expect_status: 204}
    sticky: {cookie: {ttl: 1h}}
    load_shedding: {}
`+okRoute), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	app, bare := cfg.Upstreams[0], cfg.Upstreams[1]
	h := app.Health
	if h.Type != HealthHTTP || h.Interval.D() != 2*time.Second || h.Timeout.D() != time.Second || h.Rise != 2 || h.Fall != 3 || h.Method != "GET" {
		t.Errorf("health defaults: %+v", h)
	}
	if !reflect.DeepEqual(h.ExpectStatus, StatusSet{{200, 200}, {300, 399}}) || !h.ExpectStatus.Contains(302) || h.ExpectStatus.Contains(204) {
		t.Errorf("expect_status %v", h.ExpectStatus)
	}
	if re, ok := BodyRegex(h.Body); !ok || re != "^ok$" {
		t.Errorf("body regex %q %v", re, ok)
	}
	if !reflect.DeepEqual(bare.Health.ExpectStatus, StatusSet{{204, 204}}) {
		t.Errorf("single expect_status %v", bare.Health.ExpectStatus)
	}
	o := app.Outlier
	if o.Consecutive5xx != 7 || o.ConsecutiveConnectFailures != 5 || o.BaseEjection.D() != 30*time.Second || o.MaxEjectedPercent != 0.5 || o.FailurePercentage != 0.3 || o.SuccessRateStdev != 1.9 {
		t.Errorf("outlier %+v", o)
	}
	b := app.CircuitBreaker
	if b.ErrorRatio != 0.25 || b.Window.D() != 10*time.Second || b.Latency.D() != 200*time.Millisecond || b.MaxRequests != 1000 || b.HalfOpenRequests != 3 {
		t.Errorf("breaker %+v", b)
	}
	r := app.Retries
	if r.Attempts != 2 || strings.Join(r.On, ",") != "connect_error,reset,502,503,504" || *r.Budget != 0.2 || r.PerTryTimeout.D() != time.Second || r.MaxBody != 64<<10 {
		t.Errorf("retries %+v", r)
	}
	if d := bare.Retries; d.Attempts != 1 || strings.Join(d.On, ",") != "connect_error" || d.Budget != nil || bare.Outlier != nil || bare.CircuitBreaker != nil {
		t.Errorf("default retries %+v", d)
	}
	if c := bare.Sticky.Cookie; c.Name != "aya_s" || !c.HTTPOnly || c.SameSite != "Lax" || c.Path != "/" || c.TTL.D() != time.Hour || c.Secure {
		t.Errorf("sticky cookie %+v", c)
	}
	if app.LoadShedding != nil {
		t.Errorf("load_shedding on by default")
	}
	if ls := bare.LoadShedding; ls.Algorithm != ShedGradient || ls.InitialLimit != 20 || ls.MinLimit != 5 || ls.MaxLimit != 1000 ||
		ls.Window.D() != 500*time.Millisecond || ls.Smoothing != 0.2 || ls.Tolerance != 1.5 || ls.Backoff != 0.9 || ls.Latency != 0 {
		t.Errorf("load_shedding defaults %+v", ls)
	}
	if app.PanicThreshold != 0.5 {
		t.Errorf("panic_threshold %v", app.PanicThreshold)
	}
}

func TestAssuranceBad(t *testing.T) {
	tests := []struct{ name, block, want string }{
		{"health type", `health: {type: icmp}`, `4: upstream "app" health: invalid type "icmp": use http, tcp or grpc`},
		{"health timeout", `health: {interval: 1s, timeout: 2s}`, `4: upstream "app" health: timeout 2s is longer than interval 1s`},
		{"health status", `health: {expect_status: [200, 700]}`, `4: upstream "app" health: expect_status #2: invalid status "700"`},
		{"health regex", `health: {body: "/(/"}`, `4: upstream "app" health: body regex /(/`},
		{"health rise", `health: {rise: 0}`, `4: upstream "app" health: rise must be at least 1, got 0`},
		{"outlier percent", `outlier: {max_ejected_percent: 150%}`, `4: upstream "app" outlier: max_ejected_percent must be from 0% to 100%, got 1.5`},
		{"outlier ejection", `outlier: {base_ejection: 1m, max_ejection: 30s}`, `4: upstream "app" outlier: max_ejection 30s is shorter than base_ejection 1m0s`},
		{"breaker ratio", `circuit_breaker: {error_ratio: 0}`, `4: upstream "app" circuit_breaker: error_ratio must be above 0`},
		{"retry condition", `retries: {on: [conect_error]}`, `4: upstream "app" retries: on: unknown condition "conect_error" (did you mean "connect_error"?)`},
		{"retry status", `retries: {on: [404]}`, `4: upstream "app" retries: on: status 404 cannot be retried`},
		{"retry attempts", `retries: {attempts: 50}`, `4: upstream "app" retries: attempts 50 is more than 10`},
		{"retry budget", `retries: {budget: abc}`, `4: upstream "app" retries: budget: invalid ratio "abc"`},
		{"all backups", `targets: [{url: "http://127.0.0.1:9002", backup: true}]`, `4: upstream "app": every target is a backup`},
		{"priority", `targets: [{url: "http://127.0.0.1:9002", priority: -1}]`, `4: upstream "app" target #1: priority must be from 0 to 100`},
		{"locality", `locality: {min_healthy: 50%}`, `4: upstream "app" locality: zone is required`},
		{"sticky without cookie", `sticky: {}`, `4: upstream "app" sticky: cookie is required`},
		{"sticky same_site none", `sticky: {cookie: {same_site: None}}`, `4: upstream "app" sticky cookie: same_site None needs secure: true`},
		{"panic", `panic_threshold: 2`, `4: upstream "app": panic_threshold must be from 0% to 100%`},
		{"discovery both", `discovery: {dns: {name: a.test}, file: {path: t.yaml}}`, `4: upstream "app" discovery: dns and file both set`},
		{"discovery file path", `discovery: {file: {refresh: 1s}}`, `4: upstream "app" discovery file: path is required`},
		{"shed algorithm", `load_shedding: {algorithm: vegas}`, `4: upstream "app" load_shedding: algorithm must be gradient or aimd, got "vegas"`},
		{"shed limits", `load_shedding: {min_limit: 10, max_limit: 5}`, `4: upstream "app" load_shedding: max_limit 5 is below min_limit 10`},
		{"shed initial", `load_shedding: {initial_limit: 2}`, `4: upstream "app" load_shedding: initial_limit 2 must be from min_limit 5 to max_limit 1000`},
		{"shed backoff", `load_shedding: {algorithm: aimd, backoff: 1}`, `4: upstream "app" load_shedding: backoff must be between 0 and 1`},
		{"shed tolerance", `load_shedding: {tolerance: 0.5}`, `4: upstream "app" load_shedding: tolerance must be at least 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			targets := `targets: ["http://127.0.0.1:9001"],`
			if strings.HasPrefix(tc.block, "targets:") {
				targets = ""
			}
			y := okListener + "upstreams:\n  - {name: app, " + targets + "\n     " + tc.block + "}\n" + okRoute
			_, err := parse("a.yaml", []byte(y), noEnv)
			if err == nil || !strings.Contains(err.Error(), "a.yaml:"+tc.want) {
				t.Fatalf("got %v\nwant a.yaml:%s", err, tc.want)
			}
		})
	}
}

func TestRatioText(t *testing.T) {
	for in, want := range map[string]Ratio{"0.5": 0.5, "50%": 0.5, "1.9": 1.9, " 20 % ": 0.2, "0": 0} {
		var r Ratio
		if err := r.UnmarshalText([]byte(in)); err != nil || r != want {
			t.Errorf("%q: %v %v", in, r, err)
		}
	}
	for _, bad := range []string{"", "-1", "x%", "NaN"} {
		var r Ratio
		if err := r.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if Ratio(0.2).String() != "20%" || Ratio(1.9).String() != "1.9" {
		t.Errorf("strings %s %s", Ratio(0.2), Ratio(1.9))
	}
}

func TestFallbackConfig(t *testing.T) {
	two := okListener + "upstreams: [{name: app, targets: [\"http://127.0.0.1:9001\"]}, {name: spare, targets: [\"http://127.0.0.1:9002\"]}]\n"
	cfg, err := parse("a.yaml", []byte(two+"routes: [{name: all, upstream: app, fallback: {body: sorry}}]\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if f := cfg.Routes[0].Fallback; f.Status != 503 || f.Body != "sorry" || f.ContentType != "text/plain; charset=utf-8" {
		t.Fatalf("fallback %+v", f)
	}
	for _, tc := range []struct{ route, want string }{
		{"{name: all, upstream: app, fallback: {upstream: nope}}", `fallback: upstream "nope" is not defined`},
		{"{name: all, upstream: app, fallback: {upstream: app}}", `is the route's own upstream`},
		{"{name: all, upstream: app, fallback: {upstream: spare, body: x}}", `upstream and body both set`},
		{"{name: all, upstream: app, fallback: {status: 42}}", `status must be from 200 to 599`},
	} {
		_, err := parse("a.yaml", []byte(two+"routes: ["+tc.route+"]\n"), noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.route, err, tc.want)
		}
	}
}

func TestFaultConfig(t *testing.T) {
	one := okListener + "upstreams: [{name: app, targets: [\"http://127.0.0.1:9001\"]}]\n"
	cfg, err := parse("a.yaml", []byte(one+`routes: [{name: all, upstream: app, fault: {delay: {duration: 200ms, percent: 10}, abort: {percent: "5%"}, header: X-Aya-Fault}}]`+"\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Routes[0].Fault
	if f.Delay.Duration.D() != 200*time.Millisecond || f.Delay.Percent != 10 || f.Abort.Status != 503 || f.Abort.Percent != 5 || f.Header != "X-Aya-Fault" || f.Seed != 0 {
		t.Fatalf("fault %+v %+v %+v", f, f.Delay, f.Abort)
	}
	for _, tc := range []struct{ fault, want string }{
		{"{}", `fault: set delay and/or abort`},
		{"{delay: {percent: 10}}", `fault delay: duration must be more than 0`},
		{"{abort: {status: 99, percent: 1}}", `fault abort: status must be from 200 to 599`},
		{"{abort: {percent: 101}}", `invalid percent "101"`},
		{"{abort: {status: 500}}", `no percent and no header`},
		{`{abort: {status: 500}, header: "X Bad"}`, `is not a valid header name`},
	} {
		_, err := parse("a.yaml", []byte(one+"routes: [{name: all, upstream: app, fault: "+tc.fault+"}]\n"), noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.fault, err, tc.want)
		}
	}
}

func TestParseTargets(t *testing.T) {
	ts, err := ParseTargets("t.yaml", []byte("- http://127.0.0.1:9001\n- {url: \"http://127.0.0.1:9002\", weight: 3, priority: 1, backup: true, zone: a}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Weight != 1 || ts[0].Host != "127.0.0.1:9001" || ts[1].Weight != 3 || ts[1].Priority != 1 || !ts[1].Backup || ts[1].Zone != "a" {
		t.Fatalf("%+v", ts)
	}
	js, err := ParseTargets("t.json", []byte(`[{"url": "h2c://127.0.0.1:9003"}]`))
	if err != nil || len(js) != 1 || js[0].Protocol != ProtocolH2 {
		t.Fatalf("%+v %v", js, err)
	}
	for in, want := range map[string]string{
		"{url: x}":                             "write a list of targets",
		"- ftp://x":                            "target #1",
		"- {url: \"http://a:1\", wieght: 2}":   `unknown key "wieght" (did you mean "weight"?)`,
		"- {weight: 2}":                        "url is required",
		"- {url: \"http://a:1\", weight: 1.5}": "weight must be a whole number",
		"- http://a:1\n- http://a:1":           "listed twice",
	} {
		if _, err := ParseTargets("t.yaml", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
