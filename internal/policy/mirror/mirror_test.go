package mirror

import (
	"bytes"
	"io"
	"math"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"aya/internal/httpx"
)

// shadow records what the copies carried.
type shadow struct {
	mu     sync.Mutex
	got    []string // method path?query header body
	block  chan struct{}
	status int
}

func (s *shadow) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	b, _ := io.ReadAll(r.Body)
	if s.block != nil {
		select {
		case <-s.block:
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	s.got = append(s.got, r.Method+" "+r.Target+" "+r.Header.Get("X-Trace")+" "+string(b)+" "+r.ClientIP.String())
	s.mu.Unlock()
	if s.status != 0 {
		w.WriteHeader(s.status)
	}
	w.Write([]byte("shadow answer"))
}

func (s *shadow) copies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

type recorder struct {
	h      httpx.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() *httpx.Header { return &w.h }
func (w *recorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *recorder) Write(p []byte) (int, error) { w.WriteHeader(200); return w.body.Write(p) }
func (w *recorder) Flush() error                { return nil }

// primary reads the body and echoes its length.
var primary = httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Write([]byte("primary " + string(b)))
})

func request(method, target, body string) *httpx.Request {
	path, query, _ := strings.Cut(target, "?")
	r := &httpx.Request{Method: method, Target: target, Path: path, Query: query, Host: "example.com",
		ClientIP: netip.MustParseAddr("192.0.2.7"), ID: "req-1", Body: httpx.NoBody}
	r.Header.Add("X-Trace", "t1")
	if body != "" {
		r.Body, r.ContentLength = strings.NewReader(body), int64(len(body))
	}
	return r
}

func newMirror(t testing.TB, sh httpx.Handler, o Options) *Mirror {
	t.Helper()
	o.Shadow = sh
	if o.Percent == 0 {
		o.Percent = 1
	}
	if o.MaxBody == 0 {
		o.MaxBody = 64
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 10
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCopies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		req     func() *httpx.Request
		want    string // the shadow's record; "" when nothing is copied
		counted func(Stats) bool
	}{
		{"no body", func() *httpx.Request { return request("GET", "/a?x=1", "") }, "GET /a?x=1 t1  192.0.2.7", func(s Stats) bool { return s.Sent == 1 }},
		{"body", func() *httpx.Request { return request("POST", "/b", "hello") }, "POST /b t1 hello 192.0.2.7", func(s Stats) bool { return s.Sent == 1 }},
		{"chunked body within the bound", func() *httpx.Request {
			r := request("POST", "/c", "chunks")
			r.ContentLength = -1
			return r
		}, "POST /c t1 chunks 192.0.2.7", func(s Stats) bool { return s.Sent == 1 }},
		{"upgrade is not mirrored", func() *httpx.Request {
			r := request("GET", "/ws", "")
			r.Header.Add("Upgrade", "websocket")
			return r
		}, "", func(s Stats) bool { return s == Stats{} }},
		{"declared body too large", func() *httpx.Request { return request("POST", "/d", strings.Repeat("x", 65)) }, "", func(s Stats) bool { return s.TooLarge == 1 }},
		{"chunked body grows too large", func() *httpx.Request {
			r := request("POST", "/e", strings.Repeat("x", 100))
			r.ContentLength = -1
			return r
		}, "", func(s Stats) bool { return s.TooLarge == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh := &shadow{}
			m := newMirror(t, sh, Options{})
			h := m.Middleware()(primary)
			r := tc.req()
			w := &recorder{}
			h.ServeHTTPX(w, r)
			if !strings.HasPrefix(w.body.String(), "primary") {
				t.Fatalf("client got %q", w.body.String())
			}
			// The request's memory is reused once the handler returns; the copy must not care.
			r.Method, r.Target, r.Header[0].Value = "XXX", "/gone", "zz"
			m.Close()
			got := sh.copies()
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("shadow got %q, want nothing", got)
			case tc.want != "" && (len(got) != 1 || got[0] != tc.want):
				t.Errorf("shadow got %q, want %q", got, tc.want)
			}
			if !tc.counted(m.Stats()) {
				t.Errorf("stats %+v", m.Stats())
			}
		})
	}
}

func TestSampling(t *testing.T) {
	sh := &shadow{}
	m := newMirror(t, sh, Options{Percent: 0.1, MaxInFlight: 10000})
	h := m.Middleware()(primary)
	const n = 20000
	for range n {
		h.ServeHTTPX(&recorder{}, request("GET", "/", ""))
	}
	m.Close()
	share := float64(len(sh.copies())) / n
	if math.Abs(share-0.1) > 0.015 {
		t.Errorf("mirrored %.3f of requests, want about 0.10", share)
	}
}

// A shadow that never answers neither slows the client nor piles up: copies beyond
// max_in_flight are dropped, and Close cancels the ones waiting.
func TestSaturatedShadow(t *testing.T) {
	sh := &shadow{block: make(chan struct{})}
	m := newMirror(t, sh, Options{MaxInFlight: 3, Timeout: time.Minute})
	h := m.Middleware()(primary)
	done := make(chan struct{})
	go func() {
		for range 50 {
			w := &recorder{}
			h.ServeHTTPX(w, request("POST", "/", "x"))
			if w.body.String() != "primary x" {
				t.Errorf("client got %q", w.body.String())
			}
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("clients were held up by the shadow")
	}
	if s := m.Stats(); s.Dropped != 47 {
		t.Errorf("dropped %d, want 47 (stats %+v)", s.Dropped, s)
	}
	closed := make(chan struct{})
	go func() { m.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not cancel the copies under way")
	}
	if s := m.Stats(); s.Failed != 3 {
		t.Errorf("failed %d, want 3", s.Failed)
	}
	// After Close, copies are refused.
	h.ServeHTTPX(&recorder{}, request("GET", "/", ""))
	if s := m.Stats(); s.Dropped != 48 {
		t.Errorf("after Close: dropped %d, want 48", s.Dropped)
	}
}

func TestShadowTimeoutAndErrors(t *testing.T) {
	sh := &shadow{block: make(chan struct{})}
	m := newMirror(t, sh, Options{Timeout: 20 * time.Millisecond})
	m.Middleware()(primary).ServeHTTPX(&recorder{}, request("GET", "/", ""))
	deadline := time.Now().Add(5 * time.Second)
	for m.Stats().Failed != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s := m.Stats(); s.Failed != 1 {
		t.Errorf("a timed-out copy: stats %+v", s)
	}
	m.Close()

	bad := &shadow{status: 503}
	m = newMirror(t, bad, Options{})
	m.Middleware()(primary).ServeHTTPX(&recorder{}, request("GET", "/", ""))
	m.Close()
	if s := m.Stats(); s.Failed != 1 || s.Sent != 0 {
		t.Errorf("a 503 copy: stats %+v", s)
	}
}

func TestNewErrors(t *testing.T) {
	sh := &shadow{}
	for _, o := range []Options{
		{Percent: 0.1, MaxInFlight: 1, Timeout: time.Second},
		{Shadow: sh, Percent: 1.5, MaxInFlight: 1, Timeout: time.Second},
		{Shadow: sh, Percent: 0.1, MaxInFlight: 0, Timeout: time.Second},
		{Shadow: sh, Percent: 0.1, MaxInFlight: 1},
		{Shadow: sh, Percent: 0.1, MaxInFlight: 1, Timeout: time.Second, MaxBody: -1},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

func BenchmarkMiddleware(b *testing.B) {
	nop := httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {})
	for _, bc := range []struct {
		name    string
		percent float64
	}{{"not_sampled", 1e-9}, {"sampled", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			m := newMirror(b, nop, Options{Percent: bc.percent, MaxInFlight: 64})
			defer m.Close()
			h := m.Middleware()(nop)
			r := request("GET", "/api/items?page=2", "")
			r.Header.Add("User-Agent", "bench")
			w := &recorder{}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTPX(w, r)
			}
		})
	}
}
