package cache

import (
	"strings"
	"testing"
	"time"

	"aya/internal/httpx"
)

// discardWriter is a ResponseWriter that keeps its header memory between requests, as the
// HTTP/1.1 engine does.
type discardWriter struct{ h httpx.Header }

func (d *discardWriter) Header() *httpx.Header       { return &d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) Flush() error                { return nil }

func benchHit(b *testing.B, o Options, fields ...string) {
	st, err := NewStore(64 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	o.Route, o.TTL, o.MaxEntrySize = "bench", time.Hour, 1<<20
	c := New(st, o)
	defer c.Close()
	body := strings.Repeat("x", 1024)
	h := c.Middleware()(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		answer(w, 200, body, "Content-Type", "application/json", "Cache-Control", "max-age=3600", "ETag", `"abc"`, "Vary", "Accept-Encoding")
	}))
	r := request("GET", "/api/products/42?lang=en", fields...)
	w := &discardWriter{}
	h.ServeHTTPX(w, r)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.h.Reset()
		h.ServeHTTPX(w, r)
	}
	if w.h.Get("X-Cache") != "HIT" {
		b.Fatalf("not a hit: %v", w.h)
	}
}

// BenchmarkHit is the cache's hot path: a stored, varying 1 KiB response answered from
// memory.
func BenchmarkHit(b *testing.B) {
	benchHit(b, Options{}, "Accept-Encoding", "gzip", "User-Agent", "bench")
}

func BenchmarkHitKeyedByHeader(b *testing.B) {
	benchHit(b, Options{KeyHeaders: []string{"X-Tenant"}, Query: QueryList, QueryParams: []string{"lang"}},
		"Accept-Encoding", "gzip", "X-Tenant", "acme")
}

func BenchmarkNotModifiedHit(b *testing.B) {
	benchHit(b, Options{}, "Accept-Encoding", "gzip", "If-None-Match", `"abc"`)
}
