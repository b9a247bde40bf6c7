package test

import (
	"fmt"
	"testing"
	"time"

	"aya/internal/demo"
)

// TestOutlierEjectsFlakyTarget: a target answering 500 to 30% of requests (its health check
// stays green) is ejected by passive outlier detection; retries of 5xx keep clients whole.
func TestOutlierEjectsFlakyTarget(t *testing.T) {
	good1, good2 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0")
	flaky := startBackend(t, "flaky", "127.0.0.1:0", func(o *demo.EchoOptions) { o.ErrorRate, o.Seed = 0.3, 7 })
	web := freePort(t)
	const interval = time.Second
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams:
  - name: app
    targets: ["%s", "%s", "%s"]
    health: {path: /healthz, interval: 500ms, timeout: 300ms}
    outlier: {consecutive_5xx: 0, interval: %v, failure_percentage: 20%%, failure_percentage_min_requests: 20, base_ejection: 30s}
    retries: {attempts: 2, on: [connect_error, 5xx]}
routes: [{name: r, match: {path: "/*"}, upstream: app}]
admin: {address: "{{ADMIN}}"}
`, web, good1.url(), good2.url(), flaky.url(), interval))

	l := startLoad(t, "http://"+web+"/x", 4, nil)
	took := waitState(t, p.Admin, "app", flaky.url(), "ejected", 3*interval)
	l.counts()
	time.Sleep(2 * time.Second)
	l.end()
	st := targetState(t, p.Admin, "app", flaky.url())
	if c := l.counts(); c["flaky"] != 0 {
		t.Fatalf("the ejected target still got traffic: %v", c)
	}
	t.Logf("scenario 2: %d requests, %d client errors; flaky target ejected after %v (sweep interval %v), reason %q",
		l.ok.Load()+l.failed.Load(), l.failed.Load(), took.Round(time.Millisecond), interval, st.EjectReason)
	if st.EjectReason != "failure percentage" || st.Ejections != 1 {
		t.Fatalf("status %+v", st)
	}
	if n := l.failed.Load(); n != 0 {
		t.Fatalf("%d client errors (first: %v)", n, l.firstErr.Load())
	}
}

// TestSlowTargetOpensBreaker: a target made slow gets less traffic under least_time, and its
// circuit breaker opens on latency, taking it out of rotation.
func TestSlowTargetOpensBreaker(t *testing.T) {
	fast1, fast2 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0")
	slow := startBackend(t, "slow", "127.0.0.1:0", func(o *demo.EchoOptions) { o.Latency = 300 * time.Millisecond })
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams:
  - name: app
    balance: least_time
    targets: ["%s", "%s", "%s"]
    circuit_breaker: {latency: 100ms, error_ratio: 0.5, min_requests: 3, window: 10s, open_duration: 30s}
routes: [{name: r, match: {path: "/*"}, upstream: app}]
admin: {address: "{{ADMIN}}"}
`, web, fast1.url(), fast2.url(), slow.url()))

	l := startLoad(t, "http://"+web+"/x", 8, nil)
	took := waitState(t, p.Admin, "app", slow.url(), "open", 10*time.Second)
	// Requests sent to the slow target before its breaker opened still finish within its
	// 300 ms; only what is sent after the opening must avoid it.
	time.Sleep(500 * time.Millisecond)
	before := l.counts()
	time.Sleep(2 * time.Second)
	l.end()
	after := l.counts()
	total := before["b1"] + before["b2"] + before["slow"]
	t.Logf("scenario 3: %d requests, %d client errors; slow target got %d of %d requests before its breaker opened after %v, %d after",
		l.ok.Load()+l.failed.Load(), l.failed.Load(), before["slow"], total, took.Round(time.Millisecond), after["slow"])
	if before["slow"]*10 > total {
		t.Fatalf("least_time sent the slow target %d of %d requests", before["slow"], total)
	}
	if after["slow"] != 0 {
		t.Fatalf("the slow target got traffic with its breaker open: %v", after)
	}
	if n := l.failed.Load(); n != 0 {
		t.Fatalf("%d client errors (first: %v)", n, l.firstErr.Load())
	}
}
