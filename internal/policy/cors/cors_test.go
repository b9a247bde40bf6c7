package cors

import (
	"testing"
	"time"

	"aya/internal/httpx"
)

type rec struct {
	h      httpx.Header
	status int
}

func (r *rec) Header() *httpx.Header { return &r.h }
func (r *rec) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *rec) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return len(p), nil
}
func (r *rec) Flush() error { return nil }

func TestAllowOrigin(t *testing.T) {
	tests := []struct {
		name    string
		allow   []string
		creds   bool
		origin  string
		want    string
		allowed bool
	}{
		{"exact", []string{"https://a.example"}, false, "https://a.example", "https://a.example", true},
		{"exact other scheme", []string{"https://a.example"}, false, "http://a.example", "", false},
		{"exact other port", []string{"https://a.example"}, false, "https://a.example:8443", "", false},
		{"exact with port", []string{"http://localhost:3000"}, false, "http://localhost:3000", "http://localhost:3000", true},
		{"exact case", []string{"https://A.Example"}, false, "https://a.example", "https://a.example", true},
		{"wildcard subdomain", []string{"*.example.com"}, false, "https://api.example.com", "https://api.example.com", true},
		{"wildcard deeper", []string{"*.example.com"}, false, "http://a.b.example.com", "http://a.b.example.com", true},
		{"wildcard not the apex", []string{"*.example.com"}, false, "https://example.com", "", false},
		{"wildcard suffix trick", []string{"*.example.com"}, false, "https://evilexample.com", "", false},
		{"wildcard other domain", []string{"*.example.com"}, false, "https://example.com.evil.net", "", false},
		{"wildcard empty label", []string{"*.example.com"}, false, "https://.example.com", "", false},
		{"wildcard port must match", []string{"*.example.com"}, false, "https://a.example.com:8443", "", false},
		{"wildcard with port", []string{"*.example.com:8443"}, false, "https://a.example.com:8443", "https://a.example.com:8443", true},
		{"wildcard with scheme", []string{"https://*.example.com"}, false, "http://a.example.com", "", false},
		{"wildcard odd scheme", []string{"*.example.com"}, false, "ftp://a.example.com", "", false},
		{"star", []string{"*"}, false, "https://anything.test", "*", true},
		{"star with credentials reflects", []string{"*"}, true, "https://anything.test", "https://anything.test", true},
		{"star without credentials, null", []string{"*"}, false, "null", "*", true},
		{"star with credentials refuses null", []string{"*"}, true, "null", "", false},
		{"null listed", []string{"null"}, true, "null", "null", true},
		{"not listed", []string{"https://a.example"}, false, "https://b.example", "", false},
		{"explicit beats star", []string{"*", "https://a.example"}, false, "https://a.example", "https://a.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Options{AllowOrigins: tt.allow, AllowCredentials: tt.creds})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := c.AllowOrigin(tt.origin)
			if got != tt.want || ok != tt.allowed {
				t.Errorf("AllowOrigin(%q) = %q, %v; want %q, %v", tt.origin, got, ok, tt.want, tt.allowed)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	bad := []Options{
		{},
		{AllowOrigins: []string{"https://a.example/path"}},
		{AllowOrigins: []string{"a.example"}},
		{AllowOrigins: []string{"ftp://a.example"}},
		{AllowOrigins: []string{"https://a.*.example"}},
		{AllowOrigins: []string{"*example.com"}},
		{AllowOrigins: []string{"*.*"}},
		{AllowOrigins: []string{"*"}, AllowMethods: []string{"GET POST"}},
		{AllowOrigins: []string{"*"}, AllowHeaders: []string{"X Bad"}},
		{AllowOrigins: []string{"*"}, ExposeHeaders: []string{"a:b"}},
		{AllowOrigins: []string{"*"}, MaxAge: -time.Second},
	}
	for _, o := range bad {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestPreflight(t *testing.T) {
	c, err := New(Options{
		AllowOrigins:     []string{"https://app.example", "*.example.com"},
		AllowMethods:     []string{"GET", "POST", "DELETE"},
		AllowCredentials: true,
		MaxAge:           90 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	upstream := false
	h := c.Middleware()(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) { upstream = true; w.WriteHeader(200) }))

	r := &httpx.Request{Method: "OPTIONS", Header: httpx.Header{
		{Name: "Origin", Value: "https://app.example"},
		{Name: "Access-Control-Request-Method", Value: "DELETE"},
		{Name: "Access-Control-Request-Headers", Value: "content-type, x-token"},
	}}
	w := &rec{}
	h.ServeHTTPX(w, r)
	want := map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "GET, POST, DELETE",
		"Access-Control-Allow-Headers":     "content-type, x-token",
		"Access-Control-Max-Age":           "90",
	}
	if upstream || w.status != 204 {
		t.Fatalf("status %d, upstream reached %v", w.status, upstream)
	}
	for k, v := range want {
		if got := w.h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !hasVaryOrigin(w.h) {
		t.Error("no Vary: Origin")
	}

	// A refused origin's preflight is answered too, without the headers that would allow it.
	r.Header[0].Value = "https://evil.test"
	w = &rec{}
	h.ServeHTTPX(w, r)
	if upstream || w.status != 204 || w.h.Has("Access-Control-Allow-Origin") {
		t.Fatalf("refused preflight: %d %v", w.status, w.h)
	}

	// OPTIONS without Access-Control-Request-Method is an ordinary request.
	w = &rec{}
	h.ServeHTTPX(w, &httpx.Request{Method: "OPTIONS", Header: httpx.Header{{Name: "Origin", Value: "https://app.example"}}})
	if !upstream || w.h.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("plain OPTIONS: upstream %v header %v", upstream, w.h)
	}
}

func TestPreflightFixedHeaders(t *testing.T) {
	c, _ := New(Options{AllowOrigins: []string{"*"}, AllowHeaders: []string{"Content-Type", "X-Token"}})
	w := &rec{}
	c.Middleware()(nil).ServeHTTPX(w, &httpx.Request{Method: "OPTIONS", Header: httpx.Header{
		{Name: "Origin", Value: "https://x.test"}, {Name: "Access-Control-Request-Method", Value: "PUT"},
		{Name: "Access-Control-Request-Headers", Value: "x-other"},
	}})
	if w.h.Get("Access-Control-Allow-Headers") != "Content-Type, X-Token" || w.h.Get("Access-Control-Allow-Origin") != "*" ||
		w.h.Has("Access-Control-Allow-Credentials") || w.h.Has("Access-Control-Max-Age") {
		t.Fatalf("header %v", w.h)
	}
}

func TestSimpleRequest(t *testing.T) {
	c, _ := New(Options{AllowOrigins: []string{"https://app.example"}, ExposeHeaders: []string{"X-Total"}})
	upstreamHeaders := httpx.Header{
		{Name: "Content-Type", Value: "application/json"},
		{Name: "Access-Control-Allow-Origin", Value: "*"}, // the upstream's own, overridden
		{Name: "Access-Control-Allow-Credentials", Value: "true"},
		{Name: "Vary", Value: "Accept-Encoding"},
	}
	h := c.Middleware()(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		*w.Header() = append(*w.Header(), upstreamHeaders...)
		w.Write([]byte("{}"))
	}))
	tests := []struct {
		name, origin, wantACAO string
	}{
		{"allowed", "https://app.example", "https://app.example"},
		{"refused", "https://evil.test", ""},
		{"no origin", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &httpx.Request{Method: "GET"}
			if tt.origin != "" {
				r.Header.Add("Origin", tt.origin)
			}
			w := &rec{}
			h.ServeHTTPX(w, r)
			if got := w.h.Get("Access-Control-Allow-Origin"); got != tt.wantACAO || w.h.Count("Access-Control-Allow-Origin") > 1 {
				t.Errorf("ACAO = %q (%d fields), want %q", got, w.h.Count("Access-Control-Allow-Origin"), tt.wantACAO)
			}
			if w.h.Has("Access-Control-Allow-Credentials") {
				t.Error("credentials allowed by a policy without allow_credentials")
			}
			if !hasVaryOrigin(w.h) || w.h.Get("Vary") != "Accept-Encoding" {
				t.Errorf("Vary: %v", w.h)
			}
			if (tt.wantACAO != "") != (w.h.Get("Access-Control-Expose-Headers") == "X-Total") {
				t.Errorf("expose headers %q", w.h.Get("Access-Control-Expose-Headers"))
			}
		})
	}
}

func TestUpgradeKeepsWriter(t *testing.T) {
	c, _ := New(Options{AllowOrigins: []string{"*"}})
	w := &rec{}
	var got httpx.ResponseWriter
	c.Middleware()(httpx.HandlerFunc(func(cw httpx.ResponseWriter, r *httpx.Request) { got = cw })).ServeHTTPX(w,
		&httpx.Request{Method: "GET", Header: httpx.Header{{Name: "Origin", Value: "https://x.test"}, {Name: "Upgrade", Value: "websocket"}}})
	if got != httpx.ResponseWriter(w) {
		t.Fatal("upgrade got a wrapped writer")
	}
}

func FuzzAllowOrigin(f *testing.F) {
	for _, s := range []string{"https://a.example.com", "http://[::1]:3000", "null", "https://", "://x", "https://a.example.com:"} {
		f.Add(s)
	}
	c, _ := New(Options{AllowOrigins: []string{"https://app.example", "*.example.com", "https://*.corp.test:8443"}, AllowCredentials: true})
	f.Fuzz(func(t *testing.T, origin string) {
		v, ok := c.AllowOrigin(origin)
		if ok && v != origin {
			t.Fatalf("allowed %q as %q", origin, v)
		}
	})
}

func BenchmarkSimpleRequest(b *testing.B) {
	c, _ := New(Options{AllowOrigins: []string{"https://app.example", "*.example.com"}, ExposeHeaders: []string{"X-Total"}})
	h := c.Middleware()(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) { w.WriteHeader(200) }))
	r := &httpx.Request{Method: "GET", Header: httpx.Header{{Name: "Origin", Value: "https://api.example.com"}}}
	w := &rec{h: make(httpx.Header, 0, 8)}
	b.ReportAllocs()
	for b.Loop() {
		w.h, w.status = w.h[:0], 0
		h.ServeHTTPX(w, r)
	}
}

func BenchmarkPreflight(b *testing.B) {
	c, _ := New(Options{AllowOrigins: []string{"https://app.example"}, MaxAge: time.Hour})
	h := c.Middleware()(nil)
	r := &httpx.Request{Method: "OPTIONS", Header: httpx.Header{
		{Name: "Origin", Value: "https://app.example"}, {Name: "Access-Control-Request-Method", Value: "POST"},
		{Name: "Access-Control-Request-Headers", Value: "content-type"},
	}}
	w := &rec{h: make(httpx.Header, 0, 8)}
	b.ReportAllocs()
	for b.Loop() {
		w.h, w.status = w.h[:0], 0
		h.ServeHTTPX(w, r)
	}
}
