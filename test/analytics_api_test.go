package test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAnalyticsAPI sends a known mix of requests through aya and reads it back from
// GET /analytics: per-second rollups of a route, per-target lists, recent requests filtered by
// status and duration, and one request by its id.
func TestAnalyticsAPI(t *testing.T) {
	addrs := backends(t, 2)
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: %q}]
upstreams:
  - name: app
    targets: ["http://%s", "http://%s"]
routes:
  - {name: api, match: {path: "/api/*"}, strip_prefix: /api, upstream: app}
admin: {address: "{{ADMIN}}", token: an4lytics}
`, web, addrs[0], addrs[1]))
	c := client()
	send := func(path, id string) {
		req, _ := http.NewRequest("GET", "http://"+web+path, nil)
		if id != "" {
			req.Header.Set("X-Request-ID", id)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for range 40 {
		send("/api/hello", "")
	}
	for range 10 {
		send("/api/status/503", "")
	}
	send("/api/hello?latency=150ms", "slow-one")
	send("/nowhere", "")

	admin := "http://" + p.Admin
	get := func(path string, want int, v any) {
		t.Helper()
		req, _ := http.NewRequest("GET", admin+path, nil)
		req.Header.Set("Authorization", "Bearer an4lytics")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, want, body)
		}
		if err := jsonDecode(resp, v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	type point struct {
		Requests uint64  `json:"requests"`
		P99      float64 `json:"p99"`
		Err5xx   float64 `json:"error_rate_5xx"`
	}
	// The store closes each second just after it ends; wait for the last one.
	var total struct {
		Summary point `json:"summary"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		get("/analytics?window=1m", 200, &total)
		if total.Summary.Requests >= 52 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if total.Summary.Requests != 52 {
		t.Fatalf("total %d requests, want 52 (one matched no route)", total.Summary.Requests)
	}
	var route struct {
		Summary point   `json:"summary"`
		Points  []point `json:"points"`
	}
	get("/analytics?dimension=route&name=api&window=1m", 200, &route)
	if route.Summary.Requests != 51 || len(route.Points) != 60 || route.Summary.Err5xx < 0.19 || route.Summary.Err5xx > 0.2 || route.Summary.P99 < 0.1 {
		t.Fatalf("route api over a minute: %+v (%d points)", route.Summary, len(route.Points))
	}
	var targets struct {
		Series []struct {
			Name    string `json:"name"`
			Summary point  `json:"summary"`
		} `json:"series"`
	}
	get("/analytics?dimension=target&window=1m", 200, &targets)
	var names []string
	for _, s := range targets.Series {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); !strings.Contains(got, addrs[0]) || !strings.Contains(got, addrs[1]) {
		t.Fatalf("targets %v", names)
	}

	type request struct {
		ID       string  `json:"id"`
		Path     string  `json:"path"`
		Status   int     `json:"status"`
		Route    string  `json:"route"`
		Target   string  `json:"target"`
		Duration float64 `json:"duration"`
	}
	var recent struct {
		Requests []request `json:"requests"`
	}
	get("/analytics/requests?status=5xx&route=api", 200, &recent)
	if len(recent.Requests) != 10 || recent.Requests[0].Status != 503 || recent.Requests[0].Path != "/api/status/503" {
		t.Fatalf("recent 5xx: %+v", recent.Requests)
	}
	get("/analytics/requests?min_duration=100ms", 200, &recent)
	if len(recent.Requests) != 1 || recent.Requests[0].ID != "slow-one" {
		t.Fatalf("slower than 100ms: %+v", recent.Requests)
	}
	var one request
	get("/analytics/requests/slow-one", 200, &one)
	if one.Route != "api" || one.Status != 200 || one.Duration < 0.15 || !strings.HasPrefix(one.Target, "http://127.0.0.1:") {
		t.Fatalf("request slow-one: %+v", one)
	}
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	get("/analytics/requests/never-sent", 404, &e)
	get("/analytics?window=3h", 400, &e)
	if !strings.Contains(e.Error.Message, "1h") {
		t.Fatalf("error for a 3h window: %q", e.Error.Message)
	}
	if resp, err := c.Get(admin + "/analytics"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("analytics without the token: %v %v", resp.StatusCode, err)
	}
}
