package rewrite

import (
	"regexp"
	"strings"
	"testing"

	"aya/internal/httpx"
)

type nopWriter struct{ h httpx.Header }

func (w *nopWriter) Header() *httpx.Header       { return &w.h }
func (w *nopWriter) WriteHeader(int)             {}
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) Flush() error                { return nil }

func TestRewrite(t *testing.T) {
	tests := []struct {
		name      string
		o         Options
		target    string
		wantPath  string
		wantQuery string
	}{
		{"prefix", Options{Prefix: &Prefix{From: "/old", To: "/new"}}, "/old/x?a=1", "/new/x", "a=1"},
		{"prefix exact", Options{Prefix: &Prefix{From: "/old", To: "/new"}}, "/old", "/new", ""},
		{"prefix whole segments only", Options{Prefix: &Prefix{From: "/old", To: "/new"}}, "/older", "/older", ""},
		{"prefix strip to root", Options{Prefix: &Prefix{From: "/api", To: "/"}}, "/api/users", "/users", ""},
		{"prefix strip exact to root", Options{Prefix: &Prefix{From: "/api/", To: "/"}}, "/api", "/", ""},
		{"prefix from root", Options{Prefix: &Prefix{From: "/", To: "/v2"}}, "/users", "/v2/users", ""},
		{"prefix to trailing slash", Options{Prefix: &Prefix{From: "/a", To: "/b/"}}, "/a/c", "/b/c", ""},
		{"regex", Options{Regex: regexp.MustCompile(`^/u/(\d+)$`), To: "/users/$1"}, "/u/42?full=1", "/users/42", "full=1"},
		{"regex named", Options{Regex: regexp.MustCompile(`^/u/(?P<id>\d+)`), To: "/users/${id}"}, "/u/42/posts", "/users/42/posts", ""},
		{"regex no match", Options{Regex: regexp.MustCompile(`^/u/(\d+)$`), To: "/users/$1"}, "/u/abc", "/u/abc", ""},
		{"regex adds query", Options{Regex: regexp.MustCompile(`^/s/(\w+)$`), To: "/search?q=$1"}, "/s/go?page=2", "/search", "q=go&page=2"},
		{"regex adds query alone", Options{Regex: regexp.MustCompile(`^/s/(\w+)$`), To: "/search?q=$1"}, "/s/go", "/search", "q=go"},
		{"regex result gets a slash", Options{Regex: regexp.MustCompile(`^/(\w+)$`), To: "$1"}, "/x", "/x", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			var gotPath, gotQuery string
			h := m(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
				gotPath, gotQuery = strings.Clone(r.Path), strings.Clone(r.Query)
			}))
			path, query, _ := strings.Cut(tc.target, "?")
			r := &httpx.Request{Method: "GET", Target: tc.target, Path: path, Query: query}
			h.ServeHTTPX(&nopWriter{}, r)
			if gotPath != tc.wantPath || gotQuery != tc.wantQuery {
				t.Errorf("got %q ? %q, want %q ? %q", gotPath, gotQuery, tc.wantPath, tc.wantQuery)
			}
			if r.Path != path || r.Query != query {
				t.Errorf("the client's path was not restored: %q ? %q", r.Path, r.Query)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, o := range []Options{{}, {Prefix: &Prefix{From: "a", To: "/b"}}, {Prefix: &Prefix{From: "/a", To: "/b"}, Regex: regexp.MustCompile("x")}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

func bench(b *testing.B, o Options, path string) {
	m, _ := New(o)
	h := m(httpx.HandlerFunc(func(httpx.ResponseWriter, *httpx.Request) {}))
	r := &httpx.Request{Method: "GET", Path: path, Query: "a=1"}
	w := &nopWriter{}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTPX(w, r)
	}
}

func BenchmarkRewritePrefix(b *testing.B) {
	bench(b, Options{Prefix: &Prefix{From: "/api/v1", To: "/v1"}}, "/api/v1/users/42")
}

func BenchmarkRewriteRegex(b *testing.B) {
	bench(b, Options{Regex: regexp.MustCompile(`^/u/(\d+)$`), To: "/users/$1"}, "/u/42")
}
