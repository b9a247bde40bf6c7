package test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFaultInjection: a route's fault policy delays and aborts requests by header trigger and
// by percentage (the proxy unit tests check that the trigger header stays out of the upstream).
func TestFaultInjection(t *testing.T) {
	be := startSlowable(t)
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams: [{name: app, targets: ["http://%s"]}]
routes:
  - name: chaos
    match: {path: "/chaos/*"}
    upstream: app
    fault: {delay: {duration: 300ms}, abort: {status: 418, percent: 0}, header: X-Aya-Fault}
  - name: flaky
    match: {path: "/flaky/*"}
    upstream: app
    fault: {abort: {status: 503, percent: 20}, seed: 7}
  - {name: rest, match: {path: "/*"}, upstream: app}
admin: {address: "{{ADMIN}}"}
`, web, be.addr))
	get := func(path, fault string) (int, time.Duration, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+web+path, nil)
		if fault != "" {
			req.Header.Set("X-Aya-Fault", fault)
		}
		start := time.Now()
		resp, err := client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(start), resp.Header, string(b)
	}

	if s, d, _, _ := get("/chaos/a", ""); s != 200 || d > 250*time.Millisecond {
		t.Fatalf("no trigger: %d after %v", s, d)
	}
	if s, d, _, _ := get("/chaos/a", "delay"); s != 200 || d < 300*time.Millisecond {
		t.Fatalf("delay trigger: %d after %v", s, d)
	}
	if s, _, _, body := get("/chaos/a", "abort"); s != 418 || !strings.Contains(body, "fault injected by route chaos") {
		t.Fatalf("abort trigger: %d %s", s, body)
	}
	if s, d, _, _ := get("/chaos/a", "1"); s != 418 || d < 300*time.Millisecond {
		t.Fatalf("any value: %d after %v", s, d)
	}
	if s, _, _, _ := get("/other", "abort"); s != 200 {
		t.Fatalf("a route without faults: %d", s)
	}

	aborted := 0
	for range 500 {
		s, _, h, _ := get("/flaky/x", "")
		switch {
		case s == 503 && h.Get("Retry-After") == "1":
			aborted++
		case s != 200:
			t.Fatalf("status %d", s)
		}
	}
	t.Logf("20%% abort: %d of 500 aborted", aborted)
	if aborted < 60 || aborted > 140 {
		t.Fatalf("%d of 500 aborted at 20%%", aborted)
	}
}
