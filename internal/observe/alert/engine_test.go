package alert

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"aya/internal/observe/analytics"
)

func TestRuleFiresAfterForDedupesAndResolves(t *testing.T) {
	m := &fakeMetrics{}
	log, logs := newLogger()
	e := New(Config{Rules: []Rule{
		{Name: "api-errors", Type: TypeErrorRate, Route: "api", Limit: 0.05, Window: time.Minute, For: 3 * time.Second, Severity: "critical"},
	}}, Options{Metrics: m, Logger: log})
	bad := analytics.Point{Requests: 200, Err5xx: 0.2}
	m.set(analytics.Route, "api", time.Minute, bad)
	for s := range 3 {
		e.Evaluate(at(s))
		if len(e.Firing()) != 0 {
			t.Fatalf("fired at %ds, before for: 3s", s)
		}
	}
	for s := 3; s < 10; s++ {
		e.Evaluate(at(s))
	}
	f := e.Firing()
	if len(f) != 1 || f[0].State != Firing || f[0].Value != 0.2 || !f[0].StartsAt.Equal(at(3)) || !f[0].UpdatedAt.Equal(at(9)) {
		t.Fatalf("firing %+v", f)
	}
	if !strings.Contains(f[0].Message, "route api: 20.0% of 200 requests failed with 5xx") {
		t.Errorf("message %q", f[0].Message)
	}
	if n := strings.Count(logs.String(), "alert firing"); n != 1 {
		t.Fatalf("logged firing %d times, want once:\n%s", n, logs)
	}
	m.set(analytics.Route, "api", time.Minute, analytics.Point{Requests: 200, Err5xx: 0.01})
	e.Evaluate(at(10))
	if len(e.Firing()) != 0 {
		t.Fatal("still firing after the error rate fell")
	}
	r := e.Resolved()
	if len(r) != 1 || r[0].State != Resolved || !r[0].EndsAt.Equal(at(10)) || !r[0].StartsAt.Equal(at(3)) {
		t.Fatalf("resolved %+v", r)
	}
	if !strings.Contains(logs.String(), "alert resolved") {
		t.Fatalf("no resolved log line:\n%s", logs)
	}
	// A condition that goes away while pending never fires.
	m.set(analytics.Route, "api", time.Minute, bad)
	e.Evaluate(at(20))
	m.set(analytics.Route, "api", time.Minute, analytics.Point{})
	e.Evaluate(at(25))
	if len(e.Resolved()) != 1 || len(e.Firing()) != 0 {
		t.Fatal("a pending condition fired or resolved")
	}
}

func TestTrafficRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rule  Rule
		set   map[time.Duration]analytics.Point
		fires bool
		msg   string
	}{
		{"error rate over", Rule{Type: TypeErrorRate, Limit: 0.1, Window: time.Minute},
			map[time.Duration]analytics.Point{time.Minute: {Requests: 50, Err5xx: 0.5}}, true, "all routes: 50.0% of 50 requests"},
		{"error rate with too few requests", Rule{Type: TypeErrorRate, Limit: 0.1, Window: time.Minute},
			map[time.Duration]analytics.Point{time.Minute: {Requests: 3, Err5xx: 1}}, false, ""},
		{"p99 over", Rule{Type: TypeP99, Limit: 0.5, Window: time.Minute},
			map[time.Duration]analytics.Point{time.Minute: {Requests: 50, P99: 0.8}}, true, "p99 latency 800ms over 1m0s (threshold 500ms)"},
		{"p99 under", Rule{Type: TypeP99, Limit: 0.5, Window: time.Minute},
			map[time.Duration]analytics.Point{time.Minute: {Requests: 50, P99: 0.3}}, false, ""},
		{"429 spike from nothing", Rule{Type: TypeRateLimitSpike, Limit: 1, Factor: 3, Window: time.Minute},
			map[time.Duration]analytics.Point{time.Minute: {Limited: 600}, time.Hour: {Limited: 600}}, true, "10.0 answers/s rejected with 429 over 1m0s, none the hour before"},
		{"429 steady", Rule{Type: TypeRateLimitSpike, Limit: 1, Factor: 3, Window: time.Minute},
			map[time.Duration]analytics.Point{time.Minute: {Limited: 600}, time.Hour: {Limited: 36000}}, false, ""},
		{"429 tripled", Rule{Type: TypeRateLimitSpike, Limit: 1, Factor: 3, Window: time.Minute},
			map[time.Duration]analytics.Point{time.Minute: {Limited: 600}, time.Hour: {Limited: 600 + 59*60*2}}, true, "5.0x the hour before"},
		{"429 under threshold", Rule{Type: TypeRateLimitSpike, Limit: 20, Factor: 3, Window: time.Minute},
			map[time.Duration]analytics.Point{time.Minute: {Limited: 600}, time.Hour: {Limited: 600}}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeMetrics{}
			for w, p := range tc.set {
				m.set(analytics.Total, "", w, p)
			}
			tc.rule.Name, tc.rule.Severity = "r", "warning"
			log, _ := newLogger()
			e := New(Config{Rules: []Rule{tc.rule}}, Options{Metrics: m, Logger: log})
			e.Evaluate(at(0))
			f := e.Firing()
			if (len(f) == 1) != tc.fires {
				t.Fatalf("firing %+v, want fires=%v", f, tc.fires)
			}
			if tc.fires && !strings.Contains(f[0].Message, tc.msg) {
				t.Fatalf("message %q, want %q", f[0].Message, tc.msg)
			}
		})
	}
}

func TestHealthAndReloadRules(t *testing.T) {
	targets := []TargetHealth{
		{Upstream: "a", Target: "http://a1", State: "healthy", Up: true},
		{Upstream: "a", Target: "http://a2", State: "unhealthy", Reason: "connection refused"},
		{Upstream: "b", Target: "http://b1", State: "ejected"},
		{Upstream: "b", Target: "http://b2", State: "open"},
	}
	reloadErr := "aya.yaml:3: route \"x\": upstream \"y\" is not defined"
	log, _ := newLogger()
	e := New(Config{Rules: []Rule{
		{Name: "down", Type: TypeTargetDown, Severity: "warning"},
		{Name: "dead", Type: TypeAllTargetsDown, Severity: "critical"},
		{Name: "dead-a", Type: TypeAllTargetsDown, Upstream: "a", Severity: "critical"},
		{Name: "reload", Type: TypeReloadFailed, Severity: "critical"},
	}}, Options{Targets: func() []TargetHealth { return targets }, ReloadError: func() string { return reloadErr }, Logger: log})
	e.Evaluate(at(0))
	var keys []string
	for _, a := range e.Firing() {
		keys = append(keys, a.Key)
	}
	want := "dead/b reload down/a/http://a2 down/b/http://b1 down/b/http://b2"
	if strings.Join(keys, " ") != want {
		t.Fatalf("firing %v\nwant    %v", keys, want)
	}
	f := e.Firing()
	if f[0].Message != "upstream b: none of its 2 targets takes requests" || !strings.Contains(f[1].Message, reloadErr) ||
		f[2].Message != "upstream a: target http://a2 is unhealthy: connection refused" {
		t.Fatalf("messages %q / %q / %q", f[0].Message, f[1].Message, f[2].Message)
	}
	targets[1].Up, reloadErr = true, ""
	e.Evaluate(at(1))
	if n := len(e.Firing()); n != 3 {
		t.Fatalf("%d firing after a2 recovered and a reload passed, want 3", n)
	}
}

func TestHandler(t *testing.T) {
	log, _ := newLogger()
	e := New(Config{
		Rules:    []Rule{{Name: "reload", Type: TypeReloadFailed, Severity: "critical"}, {Name: "slow", Type: TypeP99, Limit: 0.5, Window: time.Minute, Severity: "warning"}},
		Webhooks: []Webhook{{URL: "http://user:secret@127.0.0.1:1/x?token=y"}},
		Anomaly:  Anomaly{Enabled: true, Interval: 5 * time.Second, Sensitivity: 4, MinRPS: 1},
	}, Options{ReloadError: func() string { return "bad" }, Logger: log})
	e.Evaluate(at(0))
	w := httptest.NewRecorder()
	e.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/alerts", nil))
	body := w.Body.String()
	var out struct {
		Firing   []Alert `json:"firing"`
		Resolved []Alert `json:"resolved"`
		Rules    []struct {
			Name, Window string
		} `json:"rules"`
		Anomaly struct {
			Interval string `json:"interval"`
		} `json:"anomaly"`
		Webhooks int `json:"webhooks"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Firing) != 1 || out.Firing[0].Key != "reload" || out.Resolved == nil || len(out.Rules) != 2 ||
		out.Rules[1].Window != "1m0s" || out.Anomaly.Interval != "5s" || out.Webhooks != 1 {
		t.Fatalf("GET /alerts: %s", body)
	}
	if strings.Contains(body, "secret") || strings.Contains(body, "token") {
		t.Fatalf("webhook credentials leaked: %s", body)
	}
}
