package redirect

import (
	"crypto/tls"
	"testing"

	"aya/internal/httpx"
	"aya/internal/policy/transform"
)

type recorder struct {
	h      httpx.Header
	status int
}

func (w *recorder) Header() *httpx.Header       { return &w.h }
func (w *recorder) WriteHeader(s int)           { w.status = s }
func (w *recorder) Write(p []byte) (int, error) { return len(p), nil }
func (w *recorder) Flush() error                { return nil }

func TestRedirect(t *testing.T) {
	tests := []struct {
		name       string
		o          Options
		host, path string
		query      string
		tls        bool
		status     int // 0: passed on
		loc        string
	}{
		{"to with path", Options{To: transform.MustCompile("https://example.com${path}"), Status: 301}, "a", "/x/y", "q=1", false, 301, "https://example.com/x/y"},
		{"to with query", Options{To: transform.MustCompile("https://example.com${path}?${query}"), Status: 302}, "a", "/x", "q=1", false, 302, "https://example.com/x?q=1"},
		{"relative cannot become protocol-relative", Options{To: transform.MustCompile("${path}"), Status: 302}, "a", "//evil.example/x", "", false, 302, "/evil.example/x"},
		{"backslash trick", Options{To: transform.MustCompile("${path}"), Status: 302}, "a", "/\\evil.example", "", false, 302, "/evil.example"},
		{"https upgrade", Options{HTTPS: true, Status: 308}, "example.com:8080", "/a", "b=c", false, 308, "https://example.com/a?b=c"},
		{"https upgrade with port", Options{HTTPS: true, Port: 8443, Status: 301}, "example.com", "/", "", false, 301, "https://example.com:8443/"},
		{"https upgrade ipv6", Options{HTTPS: true, Status: 308}, "[::1]:8080", "/", "", false, 308, "https://[::1]/"},
		{"already https passes on", Options{HTTPS: true, Status: 308}, "example.com", "/", "", true, 0, ""},
		{"no host", Options{HTTPS: true, Status: 308}, "", "/", "", false, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			passed := false
			h := m(httpx.HandlerFunc(func(httpx.ResponseWriter, *httpx.Request) { passed = true }))
			r := &httpx.Request{Method: "GET", Host: tc.host, Path: tc.path, Query: tc.query}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			w := &recorder{}
			h.ServeHTTPX(w, r)
			if tc.status == 0 {
				if !passed {
					t.Errorf("not passed on: %d", w.status)
				}
				return
			}
			if passed || w.status != tc.status || w.h.Get("Location") != tc.loc {
				t.Errorf("got %d Location %q (passed %v), want %d %q", w.status, w.h.Get("Location"), passed, tc.status, tc.loc)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, o := range []Options{{HTTPS: true, Status: 200}, {Status: 301}, {HTTPS: true, To: transform.MustCompile("x"), Status: 301}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

func BenchmarkRedirectTo(b *testing.B) {
	m, _ := New(Options{To: transform.MustCompile("https://example.com${path}"), Status: 301})
	h := m(nil)
	r := &httpx.Request{Method: "GET", Host: "a", Path: "/x/y"}
	w := &recorder{h: make(httpx.Header, 0, 4)}
	b.ReportAllocs()
	for b.Loop() {
		w.h = w.h[:0]
		h.ServeHTTPX(w, r)
	}
}
