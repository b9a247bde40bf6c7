package cache

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aya/internal/httpx"
)

// origin is a scripted upstream: it answers with reply(r), counting calls.
type origin struct {
	calls atomic.Int64
	reply func(w httpx.ResponseWriter, r *httpx.Request)
}

func (o *origin) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	o.calls.Add(1)
	o.reply(w, r)
}

// answer writes a response with the given fields and body, as the proxy would (Content-Length
// included).
func answer(w httpx.ResponseWriter, status int, body string, fields ...string) {
	h := w.Header()
	for i := 0; i+1 < len(fields); i += 2 {
		h.Add(fields[i], fields[i+1])
	}
	h.Add("Content-Length", itoa(len(body)))
	w.WriteHeader(status)
	if body != "" {
		w.Write([]byte(body))
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// recorder is a ResponseWriter that keeps what it is sent.
type recorder struct {
	mu     sync.Mutex
	header httpx.Header
	status int
	body   strings.Builder
}

func (rw *recorder) Header() *httpx.Header { return &rw.header }
func (rw *recorder) WriteHeader(s int) {
	if rw.status == 0 {
		rw.status = s
	}
}
func (rw *recorder) Write(p []byte) (int, error) {
	rw.WriteHeader(200)
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.body.Write(p)
}
func (rw *recorder) Flush() error { return nil }

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// rig is a cache over an origin with a fake clock.
type rig struct {
	t     testing.TB
	store *Store
	cache *Cache
	h     httpx.Handler
	o     *origin
	clock *fakeClock
}

func newRig(t testing.TB, o Options, reply func(w httpx.ResponseWriter, r *httpx.Request)) *rig {
	t.Helper()
	st, err := NewStore(16 << 20)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if o.TTL == 0 {
		o.TTL = time.Minute
	}
	if o.MaxEntrySize == 0 {
		o.MaxEntrySize = 1 << 20
	}
	if o.Route == "" {
		o.Route = "r"
	}
	o.clock = clk.now
	c := New(st, o)
	org := &origin{reply: reply}
	t.Cleanup(func() { c.Close(); st.Close() })
	return &rig{t: t, store: st, cache: c, h: c.Middleware()(org), o: org, clock: clk}
}

// do sends method target with header fields (name, value, ...) and returns the recording.
func (g *rig) do(method, target string, fields ...string) *recorder {
	g.t.Helper()
	r := request(method, target, fields...)
	rw := &recorder{}
	g.h.ServeHTTPX(rw, r)
	return rw
}

func request(method, target string, fields ...string) *httpx.Request {
	path, query, _ := strings.Cut(target, "?")
	r := &httpx.Request{Method: method, Target: target, Path: path, Query: query, Host: "example.com",
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Body: httpx.NoBody, ID: "req-1"}
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] == "Host" {
			r.Host = fields[i+1]
			continue
		}
		r.Header.Add(fields[i], fields[i+1])
	}
	r.SetContext(context.Background())
	return r
}

func (g *rig) expect(rw *recorder, status int, xcache, body string) {
	g.t.Helper()
	if rw.status != status || rw.header.Get("X-Cache") != xcache || rw.body.String() != body {
		g.t.Fatalf("got %d X-Cache=%q body %q, want %d %q %q (header %v)", rw.status, rw.header.Get("X-Cache"),
			rw.body.String(), status, xcache, body, rw.header)
	}
}
