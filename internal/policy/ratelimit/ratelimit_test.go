package ratelimit

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/state"
	"aya/internal/state/memory"
)

// recorder is a ResponseWriter that keeps what a handler answered.
type recorder struct {
	h      httpx.Header
	status int
	body   strings.Builder
}

func (w *recorder) Header() *httpx.Header { return &w.h }
func (w *recorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(200)
	}
	return w.body.Write(p)
}
func (w *recorder) Flush() error { return nil }

type hijackRecorder struct{ recorder }

func (w *hijackRecorder) Hijack() (net.Conn, []byte, error) { return nil, nil, nil }

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var ok200 = httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte("ok"))
})

func newLimiter(t testing.TB, o Options, next httpx.Handler) httpx.Handler {
	t.Helper()
	if o.Store == nil {
		s := memory.New(memory.Options{})
		t.Cleanup(s.Close)
		o.Store = s
	}
	if o.ID == "" {
		o.ID = "test"
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m(next)
}

func request(ip string, headers ...string) *httpx.Request {
	r := &httpx.Request{Method: "GET", Path: "/", ID: "req-1", ClientIP: netip.MustParseAddr(ip)}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	r.SetContext(policy.WithState(context.Background(), &policy.State{Route: "api"}))
	return r
}

func serve(h httpx.Handler, r *httpx.Request) *recorder {
	w := &recorder{}
	h.ServeHTTPX(w, r)
	return w
}

func gcra(rate, burst int64) *state.Limit {
	return &state.Limit{Algorithm: state.GCRA, Count: rate, Period: time.Second, Burst: burst}
}

func TestBurstThen429(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	limited := 0
	h := newLimiter(t, Options{Key: Key{{Kind: IP}}, Rate: gcra(10, 3), Now: clk.now, OnLimited: func(quota bool) {
		if !quota {
			limited++
		}
	}}, ok200)
	for i, want := range []string{"2", "1", "0"} {
		w := serve(h, request("10.0.0.1"))
		if w.status != 200 || w.h.Get("RateLimit-Limit") != "3" || w.h.Get("RateLimit-Remaining") != want || w.h.Get("RateLimit-Reset") == "" {
			t.Fatalf("request %d: %d %v", i, w.status, w.h)
		}
		if w.h.Has("Retry-After") {
			t.Fatalf("request %d: Retry-After on an allowed answer", i)
		}
	}
	w := serve(h, request("10.0.0.1"))
	if w.status != 429 || w.h.Get("Retry-After") != "1" || w.h.Get("RateLimit-Remaining") != "0" || w.h.Get("Content-Type") != "application/json" {
		t.Fatalf("4th: %d %v", w.status, w.h)
	}
	if b := w.body.String(); !strings.Contains(b, `"code":429`) || !strings.Contains(b, `"request_id":"req-1"`) || !strings.Contains(b, "rate limit exceeded") {
		t.Fatalf("body %s", b)
	}
	if limited != 1 {
		t.Fatalf("OnLimited saw %d rate refusals, want 1", limited)
	}
	clk.t = clk.t.Add(100 * time.Millisecond)
	if w := serve(h, request("10.0.0.1")); w.status != 200 {
		t.Fatalf("after one refill interval: %d", w.status)
	}
}

func TestKeys(t *testing.T) {
	alice := &policy.Consumer{Name: "alice"}
	withConsumer := func(r *httpx.Request, c *policy.Consumer) *httpx.Request {
		policy.From(r).Consumer = c
		return r
	}
	tests := []struct {
		name string
		key  string
		a, b *httpx.Request // a is served first; then b: does it share a's counter?
		same bool
	}{
		{"ip: other IP", "ip", request("10.0.0.1"), request("10.0.0.2"), false},
		{"ip: same IP", "ip", request("10.0.0.1"), request("10.0.0.1"), true},
		{"header: other user", "header:X-User", request("10.0.0.1", "X-User", "a"), request("10.0.0.1", "x-user", "b"), false},
		{"header: same user from another IP", "header:X-User", request("10.0.0.1", "X-User", "a"), request("10.0.0.2", "X-User", "a"), true},
		{"header: missing falls back to IP", "header:X-User", request("10.0.0.1"), request("10.0.0.1"), true},
		{"header: missing vs present", "header:X-User", request("10.0.0.1"), request("10.0.0.1", "X-User", "a"), false},
		{"consumer: same consumer, other IPs", "consumer", withConsumer(request("10.0.0.1"), alice), withConsumer(request("10.0.0.2"), alice), true},
		{"consumer: anonymous by IP", "consumer", request("10.0.0.1"), request("10.0.0.2"), false},
		{"consumer: anonymous same IP", "consumer", request("10.0.0.1"), request("10.0.0.1"), true},
		{"consumer: named vs anonymous", "consumer", withConsumer(request("10.0.0.1"), alice), request("10.0.0.1"), false},
		{"route: everyone shares", "route", request("10.0.0.1"), request("10.0.0.2"), true},
		{"composite: same consumer other IP", "consumer,ip", withConsumer(request("10.0.0.1"), alice), withConsumer(request("10.0.0.2"), alice), false},
		{"long header values are hashed, still distinct", "header:X-User",
			request("10.0.0.1", "X-User", strings.Repeat("a", 500)), request("10.0.0.1", "X-User", strings.Repeat("a", 499)+"b"), false},
		{"long header values are hashed, same value same key", "header:X-User",
			request("10.0.0.1", "X-User", strings.Repeat("a", 500)), request("10.0.0.2", "X-User", strings.Repeat("a", 500)), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKey(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			h := newLimiter(t, Options{Key: k, Rate: &state.Limit{Algorithm: state.FixedWindow, Count: 1, Period: time.Hour}}, ok200)
			if w := serve(h, tc.a); w.status != 200 {
				t.Fatalf("first: %d", w.status)
			}
			shared := serve(h, tc.b).status == 429
			if shared != tc.same {
				t.Fatalf("shared counter: %v, want %v", shared, tc.same)
			}
		})
	}
}

func TestQuota(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	quota := &state.Limit{Algorithm: state.FixedWindow, Count: 3, Period: 24 * time.Hour}
	h := newLimiter(t, Options{Key: Key{{Kind: IP}}, Rate: gcra(1, 2), Quota: quota, Now: clk.now}, ok200)
	r := func() *recorder { return serve(h, request("10.0.0.1")) }
	// rate: 2 at once, then 1/s; quota: 3 a day
	if w := r(); w.status != 200 || w.h.Get("RateLimit-Limit") != "2" || w.h.Get("RateLimit-Remaining") != "1" {
		t.Fatalf("1st: %d %v (the rate is the tighter)", w.status, w.h)
	}
	r()
	if w := r(); w.status != 429 || !strings.Contains(w.body.String(), "rate limit") {
		t.Fatalf("3rd: %d %s, want the rate's 429", w.status, w.body.String())
	}
	clk.t = clk.t.Add(time.Second)
	if w := r(); w.status != 200 || w.h.Get("RateLimit-Limit") != "3" || w.h.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("after a second: %d %v (the quota has 0 left: the rate's denial did not count)", w.status, w.h)
	}
	clk.t = clk.t.Add(time.Hour)
	w := r()
	if w.status != 429 || !strings.Contains(w.body.String(), "quota exhausted") || w.h.Get("Retry-After") != "39599" || w.h.Get("RateLimit-Reset") != "39599" {
		t.Fatalf("quota spent: %d %v %s", w.status, w.h, w.body.String())
	}
	clk.t = time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)
	if w := r(); w.status != 200 {
		t.Fatalf("next day: %d", w.status)
	}
}

// The counters belong to the ID, not the built middleware: a reload that rebuilds the policy
// with the same ID goes on counting.
func TestSameIDSharesCounters(t *testing.T) {
	s := memory.New(memory.Options{})
	defer s.Close()
	o := Options{ID: "route:api#0:abc", Key: Key{{Kind: IP}}, Rate: &state.Limit{Algorithm: state.FixedWindow, Count: 1, Period: time.Hour}, Store: s}
	first := newLimiter(t, o, ok200)
	serve(first, request("10.0.0.1"))
	again := newLimiter(t, o, ok200)
	if w := serve(again, request("10.0.0.1")); w.status != 429 {
		t.Fatalf("rebuilt with the same ID: %d, want the count carried over", w.status)
	}
	o.ID = "route:api#0:def"
	changed := newLimiter(t, o, ok200)
	if w := serve(changed, request("10.0.0.1")); w.status != 200 {
		t.Fatalf("another ID: %d, want fresh counters", w.status)
	}
}

// Headers are added as the head goes out, so a handler that resets the header (aya's error
// writer does) still answers with them.
func TestHeadersSurviveHandlerReset(t *testing.T) {
	next := httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		w.Header().Reset()
		w.WriteHeader(503)
	})
	h := newLimiter(t, Options{Key: Key{{Kind: IP}}, Rate: gcra(10, 10)}, next)
	if w := serve(h, request("10.0.0.1")); w.status != 503 || w.h.Get("RateLimit-Remaining") != "9" {
		t.Fatalf("%d %v", w.status, w.h)
	}
}

func TestHijackerPassesThrough(t *testing.T) {
	var sawHijacker bool
	next := httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		_, sawHijacker = w.(httpx.Hijacker)
	})
	h := newLimiter(t, Options{Key: Key{{Kind: IP}}, Rate: gcra(10, 10)}, next)
	h.ServeHTTPX(&hijackRecorder{}, request("10.0.0.1"))
	if !sawHijacker {
		t.Fatal("a hijackable connection lost Hijack behind the limiter")
	}
	h.ServeHTTPX(&recorder{}, request("10.0.0.1"))
	if sawHijacker {
		t.Fatal("Hijack offered over an engine that cannot")
	}
}

type failingStore struct{ err error }

func (f failingStore) Allow(context.Context, string, state.Limit, time.Time) (state.Decision, error) {
	return state.Decision{}, f.err
}

func TestStoreFailure(t *testing.T) {
	down := failingStore{errors.New("dial tcp 10.1.1.1:6379: connection refused")}
	open := newLimiter(t, Options{Key: Key{{Kind: IP}}, Rate: gcra(1, 1), Store: down}, ok200)
	if w := serve(open, request("10.0.0.1")); w.status != 200 || w.h.Has("RateLimit-Limit") {
		t.Fatalf("fail open: %d %v", w.status, w.h)
	}
	closed := newLimiter(t, Options{Key: Key{{Kind: IP}}, Rate: gcra(1, 1), Store: down, FailClosed: true}, ok200)
	w := serve(closed, request("10.0.0.1"))
	if w.status != 503 || strings.Contains(w.body.String(), "10.1.1.1") {
		t.Fatalf("fail closed: %d %s (the store's address must not reach the client)", w.status, w.body.String())
	}
	gone := newLimiter(t, Options{Key: Key{{Kind: IP}}, Rate: gcra(1, 1), Store: failingStore{context.Canceled}}, ok200)
	if w := serve(gone, request("10.0.0.1")); w.status != 0 {
		t.Fatalf("client gone: answered %d", w.status)
	}
}

func TestNewRejects(t *testing.T) {
	s := memory.New(memory.Options{})
	defer s.Close()
	tests := []struct {
		name string
		o    Options
	}{
		{"no store", Options{Key: Key{{Kind: IP}}, Rate: gcra(1, 1)}},
		{"no limit", Options{Key: Key{{Kind: IP}}, Store: s}},
		{"no key", Options{Rate: gcra(1, 1), Store: s}},
		{"bad limit", Options{Key: Key{{Kind: IP}}, Rate: gcra(1, 0), Store: s}},
	}
	for _, tc := range tests {
		if _, err := New(tc.o); err == nil {
			t.Errorf("%s: built", tc.name)
		}
	}
}

func TestMiddlewareZeroAllocs(t *testing.T) {
	k, _ := ParseKey("consumer,header:X-User,route")
	noContent := httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) { w.WriteHeader(204) })
	h := newLimiter(t, Options{Key: k, Rate: gcra(1e9, 1e6), Quota: &state.Limit{Algorithm: state.FixedWindow, Count: 1e9, Period: time.Hour}}, noContent)
	r := request("10.0.0.1", "X-User", "someone")
	w := &recorder{}
	h.ServeHTTPX(w, r)
	if n := testing.AllocsPerRun(200, func() {
		w.h.Reset()
		w.status = 0
		h.ServeHTTPX(w, r)
	}); n != 0 {
		t.Fatalf("%v allocs per request", n)
	}
}

func BenchmarkMiddleware(b *testing.B) {
	for _, tc := range []struct {
		name  string
		key   string
		quota bool
	}{{"ip", "ip", false}, {"consumer,ip+quota", "consumer,ip", true}, {"header", "header:X-User", false}} {
		b.Run(tc.name, func(b *testing.B) {
			k, _ := ParseKey(tc.key)
			o := Options{Key: k, Rate: gcra(1e9, 1e6)}
			if tc.quota {
				o.Quota = &state.Limit{Algorithm: state.FixedWindow, Count: 1e12, Period: time.Hour}
			}
			h := newLimiter(b, o, httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) { w.WriteHeader(204) }))
			r := request("10.0.0.1", "X-User", "someone")
			w := &recorder{}
			b.ReportAllocs()
			cpu, n := processCPU(), 0
			for b.Loop() {
				w.h.Reset()
				w.status = 0
				h.ServeHTTPX(w, r)
				n++
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(n), "cpu-ns/op")
		})
	}
}
