package static

import (
	"bytes"
	"testing"

	"aya/internal/httpx"
)

type recorder struct {
	h      httpx.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() *httpx.Header       { return &w.h }
func (w *recorder) WriteHeader(s int)           { w.status = s }
func (w *recorder) Write(p []byte) (int, error) { return w.body.Write(p) }
func (w *recorder) Flush() error                { return nil }

func TestStatic(t *testing.T) {
	tests := []struct {
		name, method string
		o            Options
		wantBody     string
		wantHeader   map[string]string
	}{
		{"body", "GET", Options{Status: 503, Body: "down for maintenance", ContentType: "text/plain", Headers: []httpx.Field{{Name: "Retry-After", Value: "60"}}},
			"down for maintenance", map[string]string{"Content-Type": "text/plain", "Content-Length": "20", "Retry-After": "60", "X-Request-ID": "r1"}},
		{"HEAD has no body", "HEAD", Options{Status: 200, Body: "ok", ContentType: "text/plain"},
			"", map[string]string{"Content-Length": "2"}},
		{"204", "GET", Options{Status: 204, ContentType: "text/plain"},
			"", map[string]string{"Content-Length": "", "Content-Type": ""}},
		{"empty body", "GET", Options{Status: 200, ContentType: "text/plain"},
			"", map[string]string{"Content-Length": "0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			w := &recorder{}
			m(nil).ServeHTTPX(w, &httpx.Request{Method: tc.method, ID: "r1"})
			if w.status != tc.o.Status || w.body.String() != tc.wantBody {
				t.Errorf("got %d %q", w.status, w.body.String())
			}
			for k, v := range tc.wantHeader {
				if got := w.h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	if _, err := New(Options{Status: 99}); err == nil {
		t.Error("status 99 accepted")
	}
}

func BenchmarkStatic(b *testing.B) {
	m, _ := New(Options{Status: 200, Body: `{"ok":true}`, ContentType: "application/json", Headers: []httpx.Field{{Name: "Cache-Control", Value: "no-store"}}})
	h := m(nil)
	r := &httpx.Request{Method: "GET", ID: "r1"}
	w := &recorder{h: make(httpx.Header, 0, 8)}
	b.ReportAllocs()
	for b.Loop() {
		w.h, w.status = w.h[:0], 0
		w.body.Reset()
		h.ServeHTTPX(w, r)
	}
}
