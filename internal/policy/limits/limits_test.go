package limits

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"aya/internal/httpx"
	"aya/internal/proxy"
)

type rec struct {
	h      httpx.Header
	status int
	body   []byte
}

func (r *rec) Header() *httpx.Header { return &r.h }
func (r *rec) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *rec) Write(p []byte) (int, error) { r.body = append(r.body, p...); return len(p), nil }
func (r *rec) Flush() error                { return nil }

func TestCheck(t *testing.T) {
	o := Options{MaxBody: 100, MaxHeaderCount: 3, MaxHeaderBytes: 60, MaxQueryLength: 10}
	hdr := func(n int, size int) httpx.Header {
		var h httpx.Header
		for range n {
			h.Add("X", strings.Repeat("v", size))
		}
		return h
	}
	tests := []struct {
		name string
		r    httpx.Request
		want int
	}{
		{"within", httpx.Request{Query: "a=1", Header: hdr(3, 10), ContentLength: 100}, 0},
		{"query at limit", httpx.Request{Query: "0123456789"}, 0},
		{"query over", httpx.Request{Query: "0123456789a"}, 414},
		{"header count over", httpx.Request{Header: hdr(4, 1)}, 431},
		{"header bytes at limit", httpx.Request{Header: hdr(2, 25)}, 0}, // 2 × (1+25+4) = 60
		{"header bytes over", httpx.Request{Header: hdr(2, 26)}, 431},
		{"declared body over", httpx.Request{ContentLength: 101}, 413},
		{"unknown length passes the head check", httpx.Request{ContentLength: -1}, 0},
	}
	l := New(o)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := l.Check(&tt.r); got != tt.want {
				t.Errorf("Check = %d, want %d", got, tt.want)
			}
		})
	}
	if got, _ := New(Options{}).Check(&httpx.Request{Query: strings.Repeat("q", 1<<16), Header: hdr(1000, 100), ContentLength: 1 << 40}); got != 0 {
		t.Errorf("zero options limit: %d", got)
	}
}

func TestStreamedBody(t *testing.T) {
	l := New(Options{MaxBody: 10})
	var readErr error
	var read string
	h := l.Middleware()(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		b, err := io.ReadAll(r.Body)
		read, readErr = string(b), err
	}))
	for _, tt := range []struct {
		body    string
		wantErr bool
	}{
		{"0123456789", false},
		{"", false},
		{"0123456789x", true},
		{strings.Repeat("z", 1000), true},
	} {
		orig := strings.NewReader(tt.body)
		r := &httpx.Request{ContentLength: -1, Body: orig}
		h.ServeHTTPX(&rec{}, r)
		if tt.wantErr != errors.Is(readErr, proxy.ErrBodyTooLarge) {
			t.Errorf("body of %d bytes: err %v", len(tt.body), readErr)
		}
		if !tt.wantErr && read != tt.body {
			t.Errorf("read %q, want %q", read, tt.body)
		}
		if r.Body != orig {
			t.Error("the request's body was not put back")
		}
	}
}

func TestRefusals(t *testing.T) {
	l := New(Options{MaxBody: 10})
	called := false
	h := l.Middleware()(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) { called = true }))
	w := &rec{}
	h.ServeHTTPX(w, &httpx.Request{ContentLength: 11, ID: "x"})
	if called || w.status != 413 || !strings.Contains(string(w.body), `"code":413`) {
		t.Fatalf("status %d body %s called %v", w.status, w.body, called)
	}
}

func TestTimeout(t *testing.T) {
	l := New(Options{Timeout: 20 * time.Millisecond})
	type key struct{}
	base := context.WithValue(context.Background(), key{}, "kept")
	r := &httpx.Request{}
	r.SetContext(base)
	var deadline bool
	var value any
	h := l.Middleware()(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		_, deadline = r.Context().Deadline()
		value = r.Context().Value(key{})
		<-r.Context().Done()
	}))
	done := make(chan struct{})
	go func() { h.ServeHTTPX(&rec{}, r); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the timeout never fired")
	}
	if !deadline || value != "kept" {
		t.Errorf("deadline %v, value %v", deadline, value)
	}
	if r.Context() != base {
		t.Error("the request's context was not put back")
	}
}

func BenchmarkCheck(b *testing.B) {
	l := New(Options{MaxBody: 1 << 20, MaxHeaderCount: 50, MaxHeaderBytes: 8192, MaxQueryLength: 2048})
	r := &httpx.Request{Query: "page=2&sort=name", ContentLength: 512, Header: httpx.Header{
		{Name: "Host", Value: "api.example.com"}, {Name: "User-Agent", Value: "Mozilla/5.0 (X11; Linux x86_64)"},
		{Name: "Accept", Value: "application/json"}, {Name: "Authorization", Value: "Bearer abcdefghijklmnopqrstuvwxyz"},
		{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Length", Value: "512"},
	}}
	b.ReportAllocs()
	for b.Loop() {
		if s, _ := l.Check(r); s != 0 {
			b.Fatal(s)
		}
	}
}

// BenchmarkStreamedBody is the middleware over a chunked body: the counting reader is pooled.
func BenchmarkStreamedBody(b *testing.B) {
	l := New(Options{MaxBody: 1 << 20})
	h := l.Middleware()(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {}))
	r := &httpx.Request{ContentLength: -1, Body: httpx.NoBody}
	w := &rec{}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTPX(w, r)
	}
}
