package test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestMetricsAfterTraffic drives requests of several kinds through the real binary and checks
// the counters, histograms and scrape-time gauges on /metrics, and that labels stay bounded.
func TestMetricsAfterTraffic(t *testing.T) {
	be := backends(t, 1)
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}", token: scrape-me}
upstreams:
  - name: app
    targets: ["http://%s"]
    health: {path: /status/200, interval: 200ms, timeout: 100ms}
routes:
  - {name: api, match: {path: "/api/*"}, upstream: app, strip_prefix: /api}
access_log: {enabled: false}
`, web, be[0]))
	c := client()
	send := func(method, path, body string) {
		req, _ := http.NewRequest(method, "http://"+web+path, strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for i := range 20 {
		send("GET", fmt.Sprintf("/api/item/%d?x=%d", i, i), "")
	}
	for range 5 {
		send("POST", "/api/upload", "0123456789")
	}
	for range 3 {
		send("GET", "/api/status/503", "")
	}
	for i := range 4 {
		send("GET", fmt.Sprintf("/unrouted/%d", i), "")
	}
	send("BREW", "/api/coffee", "")

	ss := parseMetrics(t, scrape(t, p.Admin, "scrape-me"))
	target := "http://" + be[0]
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"aya_requests_total", map[string]string{"route": "api", "upstream": "app", "method": "GET", "code_class": "2xx"}, 20},
		{"aya_requests_total", map[string]string{"route": "api", "method": "POST", "code_class": "2xx"}, 5},
		{"aya_requests_total", map[string]string{"route": "api", "method": "GET", "code_class": "5xx"}, 3},
		{"aya_requests_total", map[string]string{"route": "", "method": "GET", "code_class": "4xx"}, 4},
		{"aya_requests_total", map[string]string{"route": "api", "method": "other"}, 1},
		{"aya_request_duration_seconds_count", map[string]string{"route": "api", "upstream": "app"}, 29},
		{"aya_request_body_bytes_total", map[string]string{"route": "api"}, 50},
		{"aya_upstream_requests_total", map[string]string{"upstream": "app", "target": target}, 29},
		{"aya_upstream_requests_total", map[string]string{"upstream": "app", "target": target, "code_class": "5xx"}, 3},
		{"aya_upstream_request_duration_seconds_count", map[string]string{"upstream": "app", "target": target}, 29},
		{"aya_requests_in_flight", nil, 0},
		{"aya_upstream_target_state", map[string]string{"upstream": "app", "target": target, "state": "healthy"}, 1},
		{"aya_upstream_target_state", map[string]string{"upstream": "app", "target": target, "state": "unhealthy"}, 0},
		{"aya_upstream_circuit_breaker_state", map[string]string{"upstream": "app", "target": target, "state": "closed"}, 1},
		{"aya_upstream_target_ejections_total", map[string]string{"upstream": "app", "target": target}, 0},
		{"aya_config_reloads_total", map[string]string{"result": "failure"}, 0},
		{"aya_config_last_reload_successful", nil, 1},
		{"aya_access_log_dropped_total", nil, 0},
	}
	for _, c := range checks {
		got, ok := value(ss, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if v, ok := value(ss, "aya_response_body_bytes_total", map[string]string{"route": "api"}); !ok || v <= 0 {
		t.Errorf("response bytes %v", v)
	}
	if v, ok := value(ss, "aya_client_connections", map[string]string{"listener": "web", "protocol": "h1"}); !ok || v < 1 {
		t.Errorf("client connections %v %v (the test client keeps one open)", v, ok)
	}
	if v, ok := value(ss, "aya_upstream_connections", map[string]string{"upstream": "app", "state": "idle"}); !ok || v < 1 {
		t.Errorf("idle upstream connections %v %v", v, ok)
	}
	if _, ok := value(ss, "aya_config_last_reload_success_timestamp_seconds", nil); !ok {
		t.Error("no reload timestamp")
	}
	if _, ok := value(ss, "go_goroutines", nil); !ok {
		t.Error("no Go runtime metrics")
	}

	// Bounded labels: route, method and class from fixed sets, never a path or an address.
	if got := labelValues(ss, "method"); !slices.Equal(got, []string{"GET", "POST", "other"}) {
		t.Errorf("method label values %v", got)
	}
	if got := labelValues(ss, "route"); !slices.Equal(got, []string{"", "api"}) {
		t.Errorf("route label values %v", got)
	}
	for _, s := range ss {
		for k, v := range s.labels {
			if strings.Contains(v, "/item/") || strings.Contains(v, "/unrouted") || k == "path" || k == "client_ip" {
				t.Fatalf("unbounded label %s=%q on %s", k, v, s.name)
			}
		}
	}

	// Without the token the scrape is refused.
	resp, err := http.Get("http://" + p.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("scrape without token: %d", resp.StatusCode)
	}

	// A refused reload shows up.
	p.rewrite("listeners: [oops\n")
	if !p.waitOutput("reload refused", 5e9) {
		t.Fatal("reload not attempted")
	}
	ss = parseMetrics(t, scrape(t, p.Admin, "scrape-me"))
	if v, _ := value(ss, "aya_config_reloads_total", map[string]string{"result": "failure"}); v != 1 {
		t.Errorf("failed reloads %v", v)
	}
	if v, _ := value(ss, "aya_config_last_reload_successful", nil); v != 0 {
		t.Errorf("last reload successful = %v after a refused one", v)
	}
}
