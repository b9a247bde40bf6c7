package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hookReceiver is the webhook endpoint the alerts test starts: it fails its first call with
// 503 (aya must retry) and keeps every payload after.
type hookReceiver struct {
	mu       sync.Mutex
	calls    int
	payloads []hookPayload
	auth     []string
}

type hookPayload struct {
	Source string `json:"source"`
	Status string `json:"status"`
	Alert  struct {
		Key      string    `json:"key"`
		Rule     string    `json:"rule"`
		Type     string    `json:"type"`
		Severity string    `json:"severity"`
		Subject  string    `json:"subject"`
		Message  string    `json:"message"`
		StartsAt time.Time `json:"starts_at"`
		EndsAt   time.Time `json:"ends_at"`
	} `json:"alert"`
}

func startHookReceiver(t *testing.T) (*hookReceiver, string) {
	r := &hookReceiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls++
		if r.calls == 1 {
			w.WriteHeader(503)
			return
		}
		var p hookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("webhook body %q: %v", body, err)
		}
		r.payloads = append(r.payloads, p)
		r.auth = append(r.auth, req.Header.Get("Authorization"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r, "http://" + ln.Addr().String() + "/hook"
}

// wait returns the first payload with this status and rule, waiting up to limit.
func (r *hookReceiver) wait(t *testing.T, status, rule string, limit time.Duration) hookPayload {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, p := range r.payloads {
			if p.Status == status && p.Alert.Rule == rule {
				r.mu.Unlock()
				return p
			}
		}
		r.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("no %s webhook for rule %s within %v; got %+v", status, rule, limit, r.payloads)
	return hookPayload{}
}

const alertsConfig = `
listeners: [{name: web, address: %q}]
upstreams:
  - name: app
    targets: ["http://%s", "http://%s"]
    health: {path: /healthz, interval: 200ms, timeout: 200ms, fall: 2, rise: 2}
routes:
  - {name: api, match: {path: "/api/*"}, strip_prefix: /api, upstream: app}
alerts:
  rules:
    - {name: api-errors, type: error_rate, route: api, threshold: 20%%, window: 3s, severity: critical}
    - {name: target-down, type: target_down, upstream: app}
    - {name: reload, type: reload_failed}
  webhooks:
    - {url: %q, timeout: 1s, retries: 2, headers: {Authorization: "Bearer hook-secret"}}
  anomaly: {enabled: false}
admin: {address: "{{ADMIN}}"}
`

// TestAlertsToWebhook drives aya into each kind of trouble and back, and checks that every
// alert fires once and resolves at a webhook receiver the test runs (which fails its first
// call, so aya retries), in GET /alerts and in the log.
func TestAlertsToWebhook(t *testing.T) {
	recv, hook := startHookReceiver(t)
	b1 := startBackend(t, "b1", "127.0.0.1:0")
	b2 := startBackend(t, "b2", "127.0.0.1:0")
	web := freePort(t)
	config := fmt.Sprintf(alertsConfig, web, b1.addr, b2.addr, hook)
	p := startAya(t, config)
	c := client()
	send := func(path string, n int) {
		for range n {
			resp, err := c.Get("http://" + web + path)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}

	// Half the requests fail: the error-rate rule fires, once, however long it holds.
	start := time.Now()
	send("/api/status/503", 30)
	send("/api/hello", 30)
	fired := recv.wait(t, "firing", "api-errors", 5*time.Second)
	t.Logf("error rate alert at the webhook after %v: %s", time.Since(start).Round(time.Millisecond), fired.Alert.Message)
	if fired.Source != "aya" || fired.Alert.Severity != "critical" || fired.Alert.Subject != "route api" || !strings.Contains(fired.Alert.Message, "failed with 5xx") {
		t.Fatalf("firing payload %+v", fired)
	}
	var alerts struct {
		Firing []struct {
			Key   string `json:"key"`
			State string `json:"state"`
		} `json:"firing"`
		Resolved []struct {
			Key string `json:"key"`
		} `json:"resolved"`
	}
	if resp, err := c.Get("http://" + p.Admin + "/alerts"); err != nil {
		t.Fatal(err)
	} else if err := jsonDecode(resp, &alerts); err != nil || len(alerts.Firing) != 1 || alerts.Firing[0].Key != "api-errors" || alerts.Firing[0].State != "firing" {
		t.Fatalf("GET /alerts while firing: %+v %v", alerts, err)
	}
	// Clean traffic: the window moves past the errors and the alert resolves.
	send("/api/hello", 30)
	resolved := recv.wait(t, "resolved", "api-errors", 8*time.Second)
	if !resolved.Alert.StartsAt.Equal(fired.Alert.StartsAt) || resolved.Alert.EndsAt.Before(resolved.Alert.StartsAt) {
		t.Fatalf("resolved payload %+v", resolved)
	}

	// A target that stops answering its health checks.
	b2.stop()
	down := recv.wait(t, "firing", "target-down", 5*time.Second)
	if down.Alert.Subject != "target http://"+b2.addr || !strings.Contains(down.Alert.Message, "unhealthy") {
		t.Fatalf("target down payload %+v", down)
	}
	b2.start()
	recv.wait(t, "resolved", "target-down", 5*time.Second)

	// A config file that does not load: the running config keeps serving, and says so.
	p.rewrite(strings.Replace(config, "strip_prefix", "strip_prefx", 1))
	bad := recv.wait(t, "firing", "reload", 5*time.Second)
	if bad.Alert.Severity != "critical" || !strings.Contains(bad.Alert.Message, "strip_prefx") {
		t.Fatalf("reload payload %+v", bad)
	}
	p.rewrite(config)
	recv.wait(t, "resolved", "reload", 5*time.Second)

	recv.mu.Lock()
	defer recv.mu.Unlock()
	seen := map[string]int{}
	for i, pl := range recv.payloads {
		seen[pl.Status+" "+pl.Alert.Rule]++
		if recv.auth[i] != "Bearer hook-secret" {
			t.Errorf("payload %d came with Authorization %q", i, recv.auth[i])
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%q sent %d times, want once", k, n)
		}
	}
	if recv.calls != len(recv.payloads)+1 {
		t.Errorf("%d calls for %d payloads: the first (answered 503) was not retried exactly once", recv.calls, len(recv.payloads))
	}
	for _, want := range []string{"alert firing", "alert resolved"} {
		if !strings.Contains(p.out.String(), want) {
			t.Errorf("aya's log has no %q line", want)
		}
	}
	t.Logf("webhook payloads: %v", seen)
}

// TestAnomalyAlert configures no rule at all: after a steady stretch, a route suddenly failing
// half its requests is flagged by the anomaly detector, at the webhook and in GET /alerts.
func TestAnomalyAlert(t *testing.T) {
	recv, hook := startHookReceiver(t)
	addrs := backends(t, 1)
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: %q}]
upstreams: [{name: app, targets: ["http://%s"]}]
routes:
  - {name: api, match: {path: "/api/*"}, strip_prefix: /api, upstream: app}
alerts:
  webhooks: [%q]
  anomaly: {interval: 1s}
admin: {address: "{{ADMIN}}"}
`, web, addrs[0], hook))
	// 50 requests a second; once failing is set, every other one is a 503.
	var failing atomic.Bool
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := client()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			path := "/api/hello"
			if failing.Load() && i%2 == 0 {
				path = "/api/status/503"
			}
			if resp, err := c.Get("http://" + web + path); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	defer func() { close(stop); <-done }()

	// The detector learns the route's normal for 12 samples before it judges.
	time.Sleep(15 * time.Second)
	recv.mu.Lock()
	early := append([]hookPayload(nil), recv.payloads...)
	recv.mu.Unlock()
	if len(early) > 0 {
		t.Fatalf("alerts on steady traffic: %+v", early)
	}
	failing.Store(true)
	start := time.Now()
	a := recv.wait(t, "firing", "anomaly", 8*time.Second)
	t.Logf("anomaly at the webhook %v after the errors began: %s", time.Since(start).Round(time.Millisecond), a.Alert.Message)
	if a.Alert.Type != "anomaly" || a.Alert.Subject != "route api" || !strings.Contains(a.Alert.Key, "anomaly/errors/api") {
		t.Fatalf("anomaly payload %+v", a)
	}
	var alerts struct {
		Firing []struct {
			Key string `json:"key"`
		} `json:"firing"`
	}
	if resp, err := client().Get("http://" + p.Admin + "/alerts"); err != nil {
		t.Fatal(err)
	} else if err := jsonDecode(resp, &alerts); err != nil || len(alerts.Firing) == 0 {
		t.Fatalf("GET /alerts: %+v %v", alerts, err)
	}
}
