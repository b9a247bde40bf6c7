package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"aya/internal/config"
	"aya/internal/httpx"
	"aya/internal/state"
)

type limitRecorder struct {
	h      httpx.Header
	status int
}

func (w *limitRecorder) Header() *httpx.Header { return &w.h }
func (w *limitRecorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *limitRecorder) Write(p []byte) (int, error) { w.WriteHeader(200); return len(p), nil }
func (w *limitRecorder) Flush() error                { return nil }

func limitConfig(t *testing.T, dir, backend, routePolicy string) *config.Config {
	t.Helper()
	text := `listeners:
  - name: web
    address: "127.0.0.1:0"
    policies:
      - rate_limit: {key: ip, rate: 1/h, burst: 3}
upstreams: [{name: app, targets: [{url: "` + backend + `"}]}]
routes:
  - name: api
    match: {path: "/api/*"}
    policies:
      - rate_limit: ` + routePolicy + `
    upstream: app
  - name: a
    match: {path: "/a"}
    upstream: app
  - name: b
    match: {path: "/b"}
    upstream: app
`
	cfg, err := config.Parse(filepath.Join(dir, "aya.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRateLimitPolicyGateway(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	dir := t.TempDir()
	g, err := New(limitConfig(t, dir, backend.URL, "{key: header:X-User, rate: 1/h, burst: 2}"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s := g.snap.Load()
		s.closePolicies()
		s.obs.closeNotIn(nil)
		g.pol.close()
	}()
	get := func(path, user, ip string) *limitRecorder {
		r := &httpx.Request{Method: "GET", Target: path, Path: path, Host: "example.com", Proto: "HTTP/1.1",
			ProtoMajor: 1, ProtoMinor: 1, Listener: "web", Body: httpx.NoBody,
			RemoteAddr: netip.AddrPortFrom(netip.MustParseAddr(ip), 40000)}
		if user != "" {
			r.Header.Add("X-User", user)
		}
		w := &limitRecorder{}
		g.disp.ServeHTTPX(w, r)
		return w
	}
	for i, want := range []int{200, 200, 429} {
		w := get("/api/x", "alice", "192.0.2.1")
		if w.status != want || w.h.Get("RateLimit-Limit") != "2" {
			t.Fatalf("alice #%d: %d %v, want %d with RateLimit headers", i, w.status, w.h, want)
		}
	}
	if w := get("/api/x", "bob", "192.0.2.1"); w.status != 200 {
		t.Fatalf("bob: %d, want his own counter", w.status)
	}

	// The same config again: the counters carry on.
	if err := g.Reload(limitConfig(t, dir, backend.URL, "{key: header:X-User, rate: 1/h, burst: 2}")); err != nil {
		t.Fatal(err)
	}
	if w := get("/api/x", "alice", "192.0.2.1"); w.status != 429 {
		t.Fatalf("after a reload with the same limit: %d, want the counter kept", w.status)
	}
	// A changed limit starts afresh.
	if err := g.Reload(limitConfig(t, dir, backend.URL, "{key: header:X-User, rate: 1/h, burst: 5}")); err != nil {
		t.Fatal(err)
	}
	if w := get("/api/x", "alice", "192.0.2.1"); w.status != 200 || w.h.Get("RateLimit-Remaining") != "4" {
		t.Fatalf("after a reload with a new limit: %d %v, want a fresh counter", w.status, w.h)
	}

	// The listener's default is one budget for the listener's routes (the api route has its
	// own rate_limit, which replaces the default there).
	for i, path := range []string{"/a", "/b", "/a"} {
		if w := get(path, "", "192.0.2.7"); w.status != 200 || w.h.Get("RateLimit-Remaining") != []string{"2", "1", "0"}[i] {
			t.Fatalf("%s #%d: %d %v", path, i, w.status, w.h)
		}
	}
	if w := get("/b", "", "192.0.2.7"); w.status != 429 {
		t.Fatalf("4th request across the listener's routes: %d, want 429", w.status)
	}
}

func TestRateOf(t *testing.T) {
	tests := []struct {
		name string
		c    config.RateLimitPolicy
		want state.Limit
	}{
		{"default burst is the count", config.RateLimitPolicy{Algorithm: "gcra", Rate: config.LimitRate{Count: 10, Per: time.Second}},
			state.Limit{Algorithm: state.GCRA, Count: 10, Period: time.Second, Burst: 10}},
		{"token_bucket is gcra", config.RateLimitPolicy{Algorithm: "token_bucket", Burst: 50, Rate: config.LimitRate{Count: 600, Per: time.Minute}},
			state.Limit{Algorithm: state.GCRA, Count: 600, Period: time.Minute, Burst: 50}},
		{"fractional rate", config.RateLimitPolicy{Algorithm: "gcra", Rate: config.LimitRate{Count: 0.5, Per: time.Second}},
			state.Limit{Algorithm: state.GCRA, Count: 1, Period: 2 * time.Second, Burst: 1}},
		{"window keeps its unit", config.RateLimitPolicy{Algorithm: "sliding_window", Rate: config.LimitRate{Count: 100, Per: time.Hour}},
			state.Limit{Algorithm: state.SlidingWindow, Count: 100, Period: time.Hour}},
	}
	for _, tc := range tests {
		got, err := rateOf(&tc.c)
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.name, got, err, tc.want)
		}
	}
	if q := quotaOf(&config.RateLimitQuota{Limit: 5, Per: "month"}); !q.Monthly || q.Algorithm != state.FixedWindow || q.Validate() != nil {
		t.Errorf("month quota: %+v", q)
	}
	if q := quotaOf(&config.RateLimitQuota{Limit: 5, Per: "day"}); q.Period != 24*time.Hour || q.Validate() != nil {
		t.Errorf("day quota: %+v", q)
	}
}
