package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"aya/internal/balance"
	"aya/internal/config"
	"aya/internal/h1"
	"aya/internal/httpx"
	"aya/internal/upstream"
)

// fakeFactory builds targets named by URL over the given transports.
func fakeFactory(fakes ...upstream.Transport) upstream.TargetFactory {
	return func(tc config.Target) (*upstream.Target, error) {
		for _, f := range fakes {
			if n, ok := f.(interface{ id() string }); ok && n.id() == tc.URL {
				return &upstream.Target{Name: tc.URL, Host: tc.URL, Protocol: "h1", Balance: balance.NewTarget(tc.URL, 1), Transport: f}, nil
			}
		}
		return nil, errors.New("no fake target " + tc.URL)
	}
}

func rr() balance.Balancer {
	b, _ := balance.New("round_robin", balance.Options{})
	return b
}

// recorder is an in-memory ResponseWriter.
type recorder struct {
	h      httpx.Header
	status int
	body   []byte
}

func (w *recorder) Header() *httpx.Header { return &w.h }
func (w *recorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *recorder) Write(p []byte) (int, error) {
	w.WriteHeader(200)
	w.body = append(w.body, p...)
	return len(p), nil
}
func (w *recorder) Flush() error { return nil }

// fakeTarget answers from a script: each call takes the next step (the last repeats).
type fakeTarget struct {
	name  string
	steps []step

	mu     sync.Mutex
	calls  int
	bodies []string
}

type step struct {
	err    error
	status int
	delay  time.Duration
}

func (f *fakeTarget) Do(ctx context.Context, req *httpx.Request, resp *httpx.Response) error {
	f.mu.Lock()
	st := f.steps[min(f.calls, len(f.steps)-1)]
	f.calls++
	f.mu.Unlock()
	if req.ContentLength != 0 {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.bodies = append(f.bodies, string(b))
		f.mu.Unlock()
	}
	if st.delay > 0 {
		select {
		case <-time.After(st.delay):
		case <-ctx.Done():
			return &h1.Error{Kind: h1.KindCanceled, Op: "read response header", Err: ctx.Err()}
		}
	}
	if st.err != nil {
		return st.err
	}
	resp.Status = st.status
	resp.ContentLength = int64(len(f.name))
	resp.Body = io.NopCloser(strings.NewReader(f.name))
	return nil
}

func (f *fakeTarget) Close() {}

func (f *fakeTarget) id() string { return f.name }

var (
	errConnect = &h1.Error{Kind: h1.KindConnect, Op: "dial", Err: errors.New("connection refused")}
	errReset   = &h1.Error{Kind: h1.KindReset, Op: "read response header", Err: errors.New("connection reset")}
)

func retryPool(t *testing.T, r config.Retries, fakes ...*fakeTarget) *upstream.Pool {
	t.Helper()
	u := config.Upstream{Name: "u"}
	for _, f := range fakes {
		u.Targets = append(u.Targets, config.Target{URL: f.name})
	}
	reg := upstream.NewRegistry(slog.New(slog.DiscardHandler))
	t.Cleanup(reg.Close)
	if r.On == nil {
		r.On = []string{"connect_error", "reset", "503"}
	}
	if r.MaxBody == 0 {
		r.MaxBody = 1 << 10
	}
	u.Retries = r
	trs := make([]upstream.Transport, len(fakes))
	for i, f := range fakes {
		trs[i] = f
	}
	p, err := reg.Pool(&u, rr, fakeFactory(trs...))
	if err != nil {
		t.Fatal(err)
	}
	reg.Activate([]*upstream.Pool{p})
	return p
}

func TestRetries(t *testing.T) {
	ok := step{status: 200}
	tests := []struct {
		name       string
		retries    config.Retries
		method     string
		body       string
		nonIdem    bool
		a, b       []step
		wantStatus int
		wantBody   string
		wantCalls  [2]int
	}{
		{"connect error goes to the other target", config.Retries{Attempts: 1}, "GET", "", false,
			[]step{{err: errConnect}}, []step{ok}, 200, "b", [2]int{1, 1}},
		{"connect error retried even for POST", config.Retries{Attempts: 1}, "POST", "hello", false,
			[]step{{err: errConnect}}, []step{ok}, 200, "b", [2]int{1, 1}},
		{"reset not retried for POST", config.Retries{Attempts: 1}, "POST", "hello", false,
			[]step{{err: errReset}}, []step{ok}, 502, "", [2]int{1, 0}},
		{"reset retried for POST when the route opts in, body replayed", config.Retries{Attempts: 1}, "POST", "hello", true,
			[]step{{err: errReset}}, []step{ok}, 200, "b", [2]int{1, 1}},
		{"503 retried, then passed through when retries run out", config.Retries{Attempts: 1}, "GET", "", false,
			[]step{{status: 503}}, []step{{status: 503}}, 503, "b", [2]int{1, 1}},
		{"attempts bound the tries", config.Retries{Attempts: 3}, "GET", "", false,
			[]step{{err: errConnect}}, []step{{err: errConnect}}, 502, "", [2]int{2, 2}},
		{"no retries: the error is answered", config.Retries{}, "GET", "", false,
			[]step{{err: errConnect}}, []step{ok}, 502, "", [2]int{1, 0}},
		{"a condition not listed is not retried", config.Retries{Attempts: 2, On: []string{"connect_error"}}, "GET", "", false,
			[]step{{status: 503}}, []step{ok}, 503, "a", [2]int{1, 0}},
		{"body larger than max_body is not replayed", config.Retries{Attempts: 1, MaxBody: 3}, "PUT", "hello", false,
			[]step{{err: errReset}}, []step{ok}, 502, "", [2]int{1, 0}},
		{"per-try timeout", config.Retries{Attempts: 1, On: []string{"timeout"}, PerTryTimeout: config.Duration(20 * time.Millisecond)}, "GET", "", false,
			[]step{{status: 200, delay: time.Second}}, []step{ok}, 200, "b", [2]int{1, 1}},
		{"per-try timeout on the last try answers 504", config.Retries{Attempts: 1, On: []string{"timeout"}, PerTryTimeout: config.Duration(20 * time.Millisecond)}, "GET", "", false,
			[]step{{status: 200, delay: time.Second}}, []step{{status: 200, delay: time.Second}}, 504, "", [2]int{1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := &fakeTarget{name: "a", steps: tc.a}, &fakeTarget{name: "b", steps: tc.b}
			pool := retryPool(t, tc.retries, a, b)
			p := New(Route{Name: "r", Pool: pool, RetryNonIdempotent: tc.nonIdem}, slog.New(slog.DiscardHandler), nil)
			r := &httpx.Request{Method: tc.method, Path: "/", Host: "x", Body: httpx.NoBody}
			if tc.body != "" {
				r.Body, r.ContentLength = strings.NewReader(tc.body), int64(len(tc.body))
			}
			w := &recorder{}
			p.ServeHTTPX(w, r)
			if w.status != tc.wantStatus || (tc.wantBody != "" && string(w.body) != tc.wantBody) {
				t.Fatalf("answer %d %q, want %d %q", w.status, string(w.body), tc.wantStatus, tc.wantBody)
			}
			if a.calls != tc.wantCalls[0] || b.calls != tc.wantCalls[1] {
				t.Fatalf("calls a=%d b=%d, want %v", a.calls, b.calls, tc.wantCalls)
			}
			if tc.body != "" && b.calls > 0 && (len(b.bodies) != 1 || b.bodies[0] != tc.body) {
				t.Fatalf("replayed body %q", b.bodies)
			}
		})
	}
}

func TestRetryBudget(t *testing.T) {
	f := &fakeTarget{name: "a", steps: []step{{status: 200}}}
	pool := retryPool(t, config.Retries{Attempts: 1}, f)
	budget := 0
	for pool.BeginRetry() {
		budget++
		if budget > 100 {
			t.Fatal("unbounded budget")
		}
	}
	if budget != 30 {
		t.Fatalf("an idle pool allowed %d retries, want the floor of 3 a second over 10 seconds", budget)
	}
	for range 100 {
		pool.Admit()
		pool.Release()
	}
	if !pool.BeginRetry() {
		t.Fatal("100 requests more did not make room for one more retry at a 50% budget")
	}
}

// constBody is a response body that allocates nothing.
type constBody struct{ n int }

func (b *constBody) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, io.EOF
	}
	b.n = 0
	return copy(p, "ok"), nil
}
func (b *constBody) Close() error { return nil }

type benchTransport struct{ body constBody }

func (t *benchTransport) Do(_ context.Context, _ *httpx.Request, resp *httpx.Response) error {
	t.body.n = 2
	resp.Status, resp.ContentLength, resp.Body = 200, 2, &t.body
	return nil
}
func (t *benchTransport) Close() {}

func (t *benchTransport) id() string { return "a" }

// BenchmarkServeNoRetry is the whole proxy path (admit, pick, build, exchange, stream, report)
// with retries, outlier detection and breakers configured but not needed.
func BenchmarkServeNoRetry(b *testing.B) {
	tr := &benchTransport{}
	reg := upstream.NewRegistry(slog.New(slog.DiscardHandler))
	defer reg.Close()
	cb := &config.CircuitBreaker{ErrorRatio: 0.5, Window: config.Duration(10 * time.Second), MinRequests: 20,
		OpenDuration: config.Duration(5 * time.Second), HalfOpenRequests: 1, MaxRequests: 100}
	pool, err := reg.Pool(&config.Upstream{Name: "u", Targets: []config.Target{{URL: "a"}}, CircuitBreaker: cb, Outlier: &config.Outlier{Consecutive5xx: 5,
		Interval: config.Duration(time.Hour), BaseEjection: config.Duration(time.Second), MaxEjection: config.Duration(time.Second)},
		Retries: config.Retries{Attempts: 2, On: []string{"connect_error", "503"}, MaxBody: 1 << 10}}, rr, fakeFactory(tr))
	if err != nil {
		b.Fatal(err)
	}
	reg.Activate([]*upstream.Pool{pool})
	p := New(Route{Name: "r", Pool: pool}, slog.New(slog.DiscardHandler), nil)
	r := &httpx.Request{Method: "GET", Path: "/", Host: "x", Body: httpx.NoBody, ID: "01a214e5-3594-71d2-998e-0420f43d41de"}
	w := &recorder{h: make(httpx.Header, 0, 8)}
	b.ReportAllocs()
	for b.Loop() {
		w.h = w.h[:0]
		w.status = 0
		w.body = w.body[:0]
		p.ServeHTTPX(w, r)
	}
}

func TestFallback(t *testing.T) {
	dead := func() *upstream.Pool {
		return retryPool(t, config.Retries{Attempts: 1}, &fakeTarget{name: "a", steps: []step{{err: errConnect}}}, &fakeTarget{name: "b", steps: []step{{err: errConnect}}})
	}
	spare := &fakeTarget{name: "spare", steps: []step{{status: 200}}}
	quiet := slog.New(slog.DiscardHandler)
	tests := []struct {
		name       string
		fb         *Fallback
		wantStatus int
		wantBody   string
	}{
		{"static", NewStaticFallback(503, "sorry", "text/plain"), 503, "sorry"},
		{"other upstream", &Fallback{Handler: New(Route{Name: "r", Pool: retryPool(t, config.Retries{}, spare)}, quiet, nil)}, 200, "spare"},
		{"none", nil, 502, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Route{Name: "r", Pool: dead(), Fallback: tc.fb}, quiet, nil)
			w := &recorder{}
			p.ServeHTTPX(w, &httpx.Request{Method: "GET", Path: "/", Host: "x", Body: httpx.NoBody})
			if w.status != tc.wantStatus || tc.wantBody != "" && string(w.body) != tc.wantBody {
				t.Fatalf("answer %d %q", w.status, w.body)
			}
		})
	}
}
